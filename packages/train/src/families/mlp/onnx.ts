/**
 * ONNX interop for the MLP family: export a probe student (or any MLP) to an ONNX file, import an MLP from one
 * (weights read from the graph's initializers), and run it in onnxruntime-node. ONNX files are built and read with
 * onnx-proto (protobufjs); onnxruntime-node is loaded lazily, only when a model is run through it.
 */
import { DistillGateError, writeFileAtomic } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import {
  decodeOnnx,
  floatInitializer,
  OPSET,
  ortOwned,
  readOnnxFile,
  tensorData,
  toInt,
  valueInfo,
  declaredDims,
  type OnnxGraph,
  type OnnxValueInfo,
  type OnnxNode,
} from '../../onnx/proto.js';
import { loadOnnxRuntime, type OrtProvider } from '../../onnx/runtime.js';
import type { MlpParameters } from './model.js';

const { onnx } = onnxProto;
type Ort = typeof import('onnxruntime-node');

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

/**
 * Reads an MLP from ONNX: a chain of MatMul (or Gemm) + Add + Relu layers from the graph input to its output, with
 * the weights as initializers. Anything else is a located error naming the operator.
 */
export function mlpFromOnnx(bytes: Uint8Array, file: string): MlpParameters {
  return mlpFromGraph(decodeOnnx(bytes, file).graph, file);
}

/** A MatMul's or Gemm's weight as [in, out] (a Gemm with transB holds it as [out, in]). */
function layerWeight(node: OnnxNode, w: { dims: number[]; data: Float32Array }) {
  const transB = node.opType === 'Gemm' && node.attribute.some((a) => a.name === 'transB' && toInt(a.i) === 1);
  const [rows, cols] = transB ? [w.dims[1], w.dims[0]] : w.dims;
  let data = w.data;
  if (transB) {
    data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = w.data[c * rows + r];
  }
  return { rows, cols, data };
}

export function mlpFromGraph(graph: OnnxGraph, file: string): MlpParameters {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const inputs = graph.input.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1)
    throw new DistillGateError(
      `an MLP has one input; this graph has ${inputs.length} (${inputs.map((i) => i.name).join(', ')})`,
      { file },
    );
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
      const { rows, cols, data } = layerWeight(node, weight(node.input[1]));
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
  const declared = (v: OnnxValueInfo, kind: string, width: number) => {
    const last = declaredDims(v)?.at(-1);
    if (last !== undefined && last !== width)
      throw new DistillGateError(`graph ${kind} "${v.name}" declares ${last} features; the layers give ${width}`, {
        file,
      });
  };
  declared(inputs[0], 'input', layers[0]);
  declared(graph.output[0], 'output', layers[layers.length - 1]);
  return { layers, tensors };
}

export async function loadMlpOnnx(path: string): Promise<MlpParameters> {
  return mlpFromGraph((await readOnnxFile(path)).graph, path);
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
