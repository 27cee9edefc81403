/**
 * ONNX interop for the MLP family: export a probe student (or any MLP) to an ONNX file, import an MLP from one
 * (weights read from the graph's initializers), and run it in onnxruntime-node. ONNX files are built and read with
 * onnx-proto (protobufjs); onnxruntime-node is loaded lazily, only when a model is run through it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DistillGateError, writeFileAtomic } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import type { MlpParameters } from './mlp.js';

const { onnx } = onnxProto;
const OPSET = 17;

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

/** The ONNX bytes of an MLP: input "x" [rows, in], MatMul + Add (+ Relu between layers), output "logits". */
export function mlpToOnnx(params: MlpParameters, producer = 'distill-gate'): Uint8Array {
  const { layers, tensors } = params;
  const nodes = [];
  const initializers = [];
  let h = 'x';
  for (let l = 0; l + 1 < layers.length; l++) {
    const w = `layers.${l}.weight`;
    const b = `layers.${l}.bias`;
    initializers.push(
      floatInitializer(w, [layers[l], layers[l + 1]], tensors[2 * l]),
      floatInitializer(b, [layers[l + 1]], tensors[2 * l + 1]),
    );
    const last = l + 2 === layers.length;
    nodes.push(onnx.NodeProto.create({ opType: 'MatMul', input: [h, w], output: [`mm${l}`], name: `matmul${l}` }));
    nodes.push(
      onnx.NodeProto.create({
        opType: 'Add',
        input: [`mm${l}`, b],
        output: [last ? 'logits' : `z${l}`],
        name: `add${l}`,
      }),
    );
    if (!last)
      nodes.push(onnx.NodeProto.create({ opType: 'Relu', input: [`z${l}`], output: [`h${l}`], name: `relu${l}` }));
    h = `h${l}`;
  }
  const graph = onnx.GraphProto.create({
    name: 'mlp',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('x', ['rows', layers[0]])],
    output: [valueInfo('logits', ['rows', layers[layers.length - 1]])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: producer,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

export async function saveMlpOnnx(path: string, params: MlpParameters): Promise<void> {
  await writeFileAtomic(path, mlpToOnnx(params));
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
  input: { name: string }[];
  output: { name: string }[];
}

/** int64 fields decode to numbers or Long objects depending on whether long.js is present. */
export function toInt(v: number | { toNumber(): number } | undefined): number {
  return v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();
}

export function tensorData(t: OnnxTensor, file: string): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new DistillGateError(
      `initializer "${t.name}" has data type ${onnx.TensorProto.DataType[t.dataType] ?? t.dataType}; only FLOAT is supported`,
      { file },
    );
  }
  const count = t.dims.reduce<number>((a, b) => a * toInt(b), 1);
  if (t.rawData && t.rawData.length) {
    if (t.rawData.length !== count * 4)
      throw new DistillGateError(`initializer "${t.name}" holds ${t.rawData.length} bytes for ${count} floats`, {
        file,
      });
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer);
  }
  if (t.floatData.length !== count)
    throw new DistillGateError(`initializer "${t.name}" holds ${t.floatData.length} floats, its dims say ${count}`, {
      file,
    });
  return Float32Array.from(t.floatData);
}

/**
 * Reads an MLP from ONNX: a chain of MatMul (or Gemm) + Add + Relu layers from the graph input to its output, with
 * the weights as initializers. Anything else is a located error naming the operator.
 */
export function mlpFromOnnx(bytes: Uint8Array, file: string): MlpParameters {
  return mlpFromGraph(decodeOnnx(bytes, file).graph, file);
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
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DistillGateError(`cannot read the model: ${(e as Error).message}`, { file: path });
  }
  return decodeOnnx(bytes, path);
}

export function mlpFromGraph(graph: OnnxGraph, file: string): MlpParameters {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const inputs = graph.input.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1)
    throw new DistillGateError(
      `an MLP has one input; this graph has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`,
      { file },
    );
  const producers = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of graph.node) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const weight = (name: string) => {
    const t = inits.get(name);
    if (!t)
      throw new DistillGateError(`"${name}" is not an initializer (weights must be constants in the file)`, { file });
    return { dims: t.dims.map(toInt), data: tensorData(t, file) };
  };
  const layers: number[] = [];
  const tensors: Float32Array[] = [];
  let current = inputs[0].name;
  const next = (name: string) => {
    const users = consumers.get(name) ?? [];
    if (users.length > 1)
      throw new DistillGateError(`"${name}" feeds ${users.length} nodes; an MLP is a single chain`, { file });
    return users[0];
  };
  for (let node = next(current); node; node = next(current)) {
    if (node.opType === 'MatMul' || node.opType === 'Gemm') {
      const w = weight(node.input[1]);
      const transB = node.opType === 'Gemm' && node.attribute.some((a) => a.name === 'transB' && toInt(a.i) === 1);
      const [rows, cols] = transB ? [w.dims[1], w.dims[0]] : w.dims;
      let data = w.data;
      if (transB) {
        data = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = w.data[c * rows + r];
      }
      if (
        node.attribute.some((a) => (a.name === 'alpha' || a.name === 'beta') && a.f !== 1) ||
        node.attribute.some((a) => a.name === 'transA' && toInt(a.i) === 1)
      ) {
        throw new DistillGateError(`Gemm "${node.name}" with alpha/beta/transA is not supported`, { file });
      }
      if (!layers.length) layers.push(rows);
      else if (layers[layers.length - 1] !== rows)
        throw new DistillGateError(
          `layer "${node.name}" takes ${rows} inputs but the previous layer gives ${layers[layers.length - 1]}`,
          { file },
        );
      layers.push(cols);
      tensors.push(data);
      let bias: Float32Array = new Float32Array(cols);
      if (node.opType === 'Gemm' && node.input[2]) bias = weight(node.input[2]).data;
      current = node.output[0];
      const add = next(current);
      if (node.opType === 'MatMul' && add?.opType === 'Add') {
        const b = add.input.find((i) => i !== current)!;
        bias = weight(b).data;
        current = add.output[0];
      }
      if (bias.length !== cols)
        throw new DistillGateError(`the bias of layer "${node.name}" has ${bias.length} values, expected ${cols}`, {
          file,
        });
      tensors.push(bias);
    } else if (node.opType === 'Relu') {
      if (!tensors.length) throw new DistillGateError('Relu before the first layer is not an MLP', { file });
      current = node.output[0];
    } else {
      throw new DistillGateError(
        `unsupported operator "${node.opType}" (node "${node.name}"): an MLP is MatMul/Gemm, Add and Relu`,
        { file },
      );
    }
  }
  if (current !== graph.output[0]?.name)
    throw new DistillGateError(`the chain ends at "${current}", not at the graph output "${graph.output[0]?.name}"`, {
      file,
    });
  if (layers.length < 2) throw new DistillGateError('no MatMul/Gemm layer found', { file });
  // Relu must sit between every pair of layers and nowhere else: check by rebuilding the expected op sequence.
  const relus = graph.node.filter((n) => n.opType === 'Relu').length;
  if (relus !== layers.length - 2)
    throw new DistillGateError(
      `an MLP has ReLU between layers (${layers.length - 2} expected), this graph has ${relus}`,
      { file },
    );
  return { layers, tensors };
}

export async function loadMlpOnnx(path: string): Promise<MlpParameters> {
  return mlpFromGraph((await readOnnxFile(path)).graph, path);
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | undefined;

/** The onnxruntime-node version distill-gate is built and tested against (what the GitHub Action installs). */
export const ONNXRUNTIME_NODE_VERSION = '1.30.0';

/**
 * Where onnxruntime-node is resolved from: the folder named by DISTILL_GATE_ONNXRUNTIME_DIR (one holding
 * node_modules/onnxruntime-node, such as the one the GitHub Action installs into the runner's tool cache), else
 * this package's own dependencies.
 */
function ortRequire(): NodeJS.Require {
  const dir = process.env.DISTILL_GATE_ONNXRUNTIME_DIR;
  return createRequire(dir ? join(resolve(dir), 'package.json') : import.meta.url);
}

/** onnxruntime-node, imported on first use; a clear error where it is not installed. */
export function loadOnnxRuntime(): Promise<Ort> {
  const from = process.env.DISTILL_GATE_ONNXRUNTIME_DIR;
  ortModule ??= (
    from ? Promise.resolve().then(() => ortRequire()('onnxruntime-node') as Ort) : import('onnxruntime-node')
  ).catch((e: Error) => {
    ortModule = undefined;
    throw new DistillGateError(
      `onnxruntime-node is not available (${e.message.split('\n')[0]})`,
      {},
      'npm install onnxruntime-node (set ONNXRUNTIME_NODE_INSTALL=skip where its CUDA download cannot reach the internet)',
    );
  });
  return ortModule;
}

export type OrtProvider = 'cpu' | 'cuda';

/** What onnxruntime-node offers on this machine, and why the CUDA provider is or is not usable. */
export interface OrtAvailability {
  version: string;
  /** The provider distill-gate uses: cuda where it works, else cpu. */
  provider: OrtProvider;
  cuda: { available: boolean; reason: string };
}

let availability: Promise<OrtAvailability> | undefined;

/**
 * Detects the execution providers: CPU is always bundled; CUDA needs onnxruntime's CUDA provider library (not on
 * npm: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` downloads it), an NVIDIA driver, and a session that starts on it.
 */
export function detectOrtProviders(): Promise<OrtAvailability> {
  availability ??= (async () => {
    const ort = await loadOnnxRuntime();
    const version = ort.env.versions?.node ?? 'unknown';
    const cuda = await (async (): Promise<OrtAvailability['cuda']> => {
      const listed = ort.listSupportedBackends().find((b) => b.name === 'cuda');
      if (!listed)
        return {
          available: false,
          reason: `this onnxruntime-node build (${process.platform}-${process.arch}) has no CUDA provider`,
        };
      const binDir = join(
        dirname(ortRequire().resolve('onnxruntime-node')),
        '..',
        'bin',
        'napi-v6',
        process.platform,
        process.arch,
      );
      if (!existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'))) {
        return {
          available: false,
          reason:
            'the CUDA provider library is not installed (reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci on a machine that can download it)',
        };
      }
      if (!existsSync('/proc/driver/nvidia/version'))
        return { available: false, reason: 'no NVIDIA driver on this machine (/proc/driver/nvidia/version is absent)' };
      try {
        const probe = await ort.InferenceSession.create(
          mlpToOnnx({ layers: [1, 1], tensors: [Float32Array.of(1), Float32Array.of(0)] }),
          { executionProviders: ['cuda'] },
        );
        await probe.release();
        return { available: true, reason: 'the CUDA provider started a session' };
      } catch (e) {
        return {
          available: false,
          reason: `the CUDA provider failed to start: ${(e as Error).message.split('\n')[0]}`,
        };
      }
    })();
    return { version, provider: cuda.available ? 'cuda' : 'cpu', cuda };
  })();
  return availability;
}

/** An MLP session in onnxruntime-node; `predict` matches MlpModel.predict. */
export class OnnxMlpSession {
  private constructor(
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly ort: Ort,
    readonly inputDim: number,
    readonly outputDim: number,
    readonly executionProvider: string,
  ) {}

  static async create(
    params: MlpParameters,
    opts: { threads?: number; provider?: OrtProvider } = {},
  ): Promise<OnnxMlpSession> {
    const ort = await loadOnnxRuntime();
    const provider = opts.provider ?? 'cpu';
    const session = await ort.InferenceSession.create(mlpToOnnx(params), {
      executionProviders: [provider],
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    });
    return new OnnxMlpSession(session, ort, params.layers[0], params.layers[params.layers.length - 1], provider);
  }

  async predict(inputs: Float32Array, rows: number, chunk = 8192): Promise<Float32Array> {
    const out = new Float32Array(rows * this.outputDim);
    for (let r = 0; r < rows; r += chunk) {
      const n = Math.min(chunk, rows - r);
      const x = new this.ort.Tensor('float32', ortOwned(inputs.subarray(r * this.inputDim, (r + n) * this.inputDim)), [
        n,
        this.inputDim,
      ]);
      const result = await this.session.run({ x });
      out.set(result.logits.data as Float32Array, r * this.outputDim);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
