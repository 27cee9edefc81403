/**
 * ONNX proto helpers shared by the model families: initializers, attributes and value infos for the graphs
 * distill-gate writes, and decoding (a located error when a file is not an ONNX model). Built on onnx-proto
 * (protobufjs); nothing here needs onnxruntime-node.
 */
import { readFile } from 'node:fs/promises';
import { DistillGateError, refuseIrregular } from '@distill-gate/core';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The ONNX operator set distill-gate's graphs are written for. */
export const OPSET = 17;

export function floatInitializer(name: string, dims: number[], data: Float32Array) {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}

export function int64Initializer(name: string, values: number[]) {
  const data = BigInt64Array.from(values.map(BigInt));
  return onnx.TensorProto.create({
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    rawData: new Uint8Array(data.buffer),
  });
}

/** A node attribute: string, tensor, ints, float or (otherwise) int. */
export type Attr = {
  name: string;
  i?: number;
  f?: number;
  s?: string;
  ints?: number[];
  t?: ReturnType<typeof floatInitializer>;
};

export function attribute(a: Attr) {
  const { AttributeType } = onnx.AttributeProto;
  if (a.s !== undefined)
    return onnx.AttributeProto.create({ name: a.name, type: AttributeType.STRING, s: new TextEncoder().encode(a.s) });
  if (a.t) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.TENSOR, t: a.t });
  if (a.ints) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.INTS, ints: a.ints });
  if (a.f !== undefined) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.FLOAT, f: a.f });
  return onnx.AttributeProto.create({ name: a.name, type: AttributeType.INT, i: a.i });
}

/**
 * onnxruntime-node refuses arrays in shared memory ("Invalid argument"), where the training core keeps datasets for
 * its workers: such an array is copied, any other is passed as it is.
 */
export function ortOwned(a: Float32Array): Float32Array {
  return a.buffer instanceof SharedArrayBuffer ? a.slice() : a;
}

export function valueInfo(name: string, dims: (number | string)[], elemType: number = onnx.TensorProto.DataType.FLOAT) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

/** The parts of a decoded ONNX graph that the importer reads (protobufjs fills repeated fields with arrays). */
export interface OnnxTensor {
  name: string;
  dims: (number | { toNumber(): number })[];
  dataType: number;
  rawData?: Uint8Array;
  floatData: number[];
}
export interface OnnxNode {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: { name: string; i?: number | { toNumber(): number }; f?: number }[];
}
export interface OnnxGraph {
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

/** A graph input or output: its name and, when the file declares it, its tensor shape. */
export interface OnnxValueInfo {
  name: string;
  type?: {
    tensorType?: { shape?: { dim?: { dimValue?: number | { toNumber(): number } | null }[] } | null } | null;
  } | null;
}

/**
 * The declared shape of a graph input or output: a number per fixed dimension, undefined for a symbolic one and for
 * a value below 1 (exporters write -1 for "any", as onnxruntime reads it). Declared shapes are only compared with
 * what the weights say, never used to allocate.
 */
export function declaredDims(v: OnnxValueInfo): (number | undefined)[] | undefined {
  const dims = v.type?.tensorType?.shape?.dim;
  return dims?.map((d) => {
    const n = d.dimValue === undefined || d.dimValue === null ? undefined : toInt(d.dimValue);
    return n !== undefined && n >= 1 ? n : undefined;
  });
}

/** int64 fields decode to numbers or Long objects depending on whether long.js is present. */
export function toInt(v: number | { toNumber(): number } | undefined): number {
  return v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();
}

/** An initializer's float32 values: dims non-negative integers, the byte count as they say, every value finite. */
export function tensorData(t: OnnxTensor, file: string): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new DistillGateError(
      `initializer "${t.name}" has data type ${onnx.TensorProto.DataType[t.dataType] ?? t.dataType}; ` +
        'only FLOAT is supported',
      { file },
    );
  }
  const dims = t.dims.map(toInt);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new DistillGateError(`initializer "${t.name}" has dims [${dims}]: each must be a non-negative integer`, {
      file,
    });
  const count = dims.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (t.rawData && t.rawData.length) {
    if (t.rawData.length !== count * 4)
      throw new DistillGateError(`initializer "${t.name}" holds ${t.rawData.length} bytes for ${count} floats`, {
        file,
      });
    const copy = new Uint8Array(t.rawData);
    data = new Float32Array(copy.buffer);
  } else {
    if (t.floatData.length !== count)
      throw new DistillGateError(`initializer "${t.name}" holds ${t.floatData.length} floats, its dims say ${count}`, {
        file,
      });
    data = Float32Array.from(t.floatData);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw new DistillGateError(`initializer "${t.name}" holds a non-finite value (${data[i]}) at flat index ${i}`, {
        file,
      });
  }
  return data;
}

export interface DecodedOnnx {
  graph: OnnxGraph;
  metadata: Map<string, string>;
}

/** Decodes ONNX bytes; a located error when they are not a model with a graph. */
export function decodeOnnx(bytes: Uint8Array, file: string): DecodedOnnx {
  let model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new DistillGateError(`not an ONNX model: ${(e as Error).message}`, { file });
  }
  const graph = model.graph as unknown as OnnxGraph | null;
  if (!graph) throw new DistillGateError('the ONNX model has no graph', { file });
  return { graph, metadata: new Map(model.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])) };
}

export async function readOnnxFile(path: string): Promise<DecodedOnnx> {
  let bytes: Buffer;
  // Protobuf cannot hold more than 2 GiB: larger ONNX models keep their weights in external data files.
  refuseIrregular(path, 'an ONNX model', 2 ** 31);
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DistillGateError(`cannot read the model: ${(e as Error).message}`, { file: path });
  }
  return decodeOnnx(bytes, path);
}
