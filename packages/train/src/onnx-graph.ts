/**
 * What the onnxruntime training graphs (onnx-train.ts for MLPs, onnx-lm-train.ts for transformers) share: a small
 * graph builder with an Adam update, and the host side of a training step (parameters and Adam moments double-
 * buffered as preallocated inputs and outputs, so a step allocates nothing).
 */
import onnxProto from 'onnx-proto';
import { floatInitializer, loadOnnxRuntime, valueInfo } from './onnx.js';

const { onnx } = onnxProto;
const INT64 = onnx.TensorProto.DataType.INT64;

export type Attr = { name: string; i?: number; f?: number; s?: string; ints?: number[]; t?: ReturnType<typeof floatInitializer> };

function attribute(a: Attr) {
  const { AttributeType } = onnx.AttributeProto;
  if (a.s !== undefined) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.STRING, s: new TextEncoder().encode(a.s) });
  if (a.t) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.TENSOR, t: a.t });
  if (a.ints) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.INTS, ints: a.ints });
  if (a.f !== undefined) return onnx.AttributeProto.create({ name: a.name, type: AttributeType.FLOAT, f: a.f });
  return onnx.AttributeProto.create({ name: a.name, type: AttributeType.INT, i: a.i });
}

/** Adam's constants (PyTorch's defaults, as tfjs's trainers use them). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Builds an ONNX graph node by node; every value gets a fresh name unless one is given. */
export class GraphBuilder {
  readonly nodes: ReturnType<typeof onnx.NodeProto.create>[] = [];
  readonly inits: ReturnType<typeof floatInitializer>[] = [];
  private count = 0;
  private readonly constants = new Map<string, string>();

  node(opType: string, input: string[], attrs: Attr[] = [], opts: { domain?: string; output?: string } = {}): string {
    const out = opts.output ?? `t${this.count}`;
    this.count++;
    this.nodes.push(
      onnx.NodeProto.create({ opType, input, output: [out], name: `${opType.toLowerCase()}${this.count}`, attribute: attrs.map(attribute), ...(opts.domain ? { domain: opts.domain } : {}) }),
    );
    return out;
  }

  /** A float scalar constant (one initializer per value). */
  scalar(value: number): string {
    const key = `f:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      this.inits.push(floatInitializer(name, [], Float32Array.of(value)));
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 vector constant. */
  ints(values: number[]): string {
    const key = `i:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      const data = BigInt64Array.from(values.map(BigInt));
      this.inits.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }) as never);
      this.constants.set(key, name);
    }
    return name;
  }

  /** (Batched) matrix product with either side transposed inside the kernel (onnxruntime's FusedMatMul). */
  mm(a: string, b: string, transA = 0, transB = 0): string {
    return this.node('FusedMatMul', [a, b], [{ name: 'transA', i: transA }, { name: 'transB', i: transB }, { name: 'alpha', f: 1 }], { domain: 'com.microsoft' });
  }

  /** Sum over `axes`, keeping them as size-1 dimensions or not. */
  sum(x: string, axes: number[], keep = 0): string {
    return this.node('ReduceSum', [x, this.ints(axes)], [{ name: 'keepdims', i: keep }]);
  }

  /** (At opset 17 ReduceMean still takes its axes as an attribute; ReduceSum takes them as an input.) */
  mean(x: string, axes: number[], keep = 0): string {
    return this.node('ReduceMean', [x], [{ name: 'axes', ints: axes }, { name: 'keepdims', i: keep }]);
  }

  /**
   * Adam's update of parameter `p` (graph input) with gradient `g`: writes the outputs new.p, new.m.p and new.v.p.
   * The step's bias corrections come in as the scalar inputs lr_c1 = lr / (1 - beta1^t) and c2 = 1 / (1 - beta2^t).
   */
  adam(p: string, g: string): void {
    const m = this.node('Add', [this.node('Mul', [`m.${p}`, this.scalar(ADAM.beta1)]), this.node('Mul', [g, this.scalar(1 - ADAM.beta1)])], [], { output: `new.m.${p}` });
    const v = this.node('Add', [this.node('Mul', [`v.${p}`, this.scalar(ADAM.beta2)]), this.node('Mul', [this.node('Mul', [g, g]), this.scalar(1 - ADAM.beta2)])], [], { output: `new.v.${p}` });
    const update = this.node('Div', [this.node('Mul', [m, 'lr_c1']), this.node('Add', [this.node('Sqrt', [this.node('Mul', [v, 'c2'])]), this.scalar(ADAM.epsilon)])]);
    this.node('Sub', [p, update], [], { output: `new.${p}` });
  }

  /** The model bytes. `state` lists the trained parameters with their shapes: each comes in with m.* and v.* and goes out as new.*. */
  build(name: string, inputs: ReturnType<typeof valueInfo>[], outputs: ReturnType<typeof valueInfo>[], state: { name: string; shape: number[] }[]): Uint8Array {
    const stateInfo = (prefix: string) => ['', 'm.', 'v.'].flatMap((k) => state.map((s) => valueInfo(`${prefix}${k}${s.name}`, s.shape)));
    const graph = onnx.GraphProto.create({
      name,
      node: this.nodes,
      initializer: this.inits,
      input: [...inputs, valueInfo('lr_c1', []), valueInfo('c2', []), ...stateInfo('')],
      output: [...outputs, ...stateInfo('new.')],
    });
    return onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        producerName: 'distill-gate',
        opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 }), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })],
        graph,
      }),
    ).finish();
  }
}

type Ort = typeof import('onnxruntime-node');
type OrtTensor = InstanceType<Ort['Tensor']>;

/**
 * A training session: the step graph in onnxruntime-node (CPU provider), and the parameters with Adam's moments on
 * the host in two buffers that the step reads and writes in turn.
 */
export class OrtTrainingSession {
  private state: Float32Array[];
  private spare: Float32Array[];
  private step = 0;
  private readonly outputs = new Map<string, OrtTensor>();

  private constructor(
    readonly ort: Ort,
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly params: { name: string; shape: number[] }[],
    initial: Float32Array[],
    private readonly learningRate: number,
  ) {
    // Parameters, then Adam's first and second moments (zero at the start).
    this.state = [...initial.map((a) => a.slice()), ...initial.map((a) => new Float32Array(a.length)), ...initial.map((a) => new Float32Array(a.length))];
    this.spare = this.state.map((a) => new Float32Array(a.length));
  }

  static async create(graph: Uint8Array, params: { name: string; shape: number[] }[], initial: Float32Array[], opts: { learningRate: number; threads?: number }): Promise<OrtTrainingSession> {
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(graph, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new OrtTrainingSession(ort, session, params, initial, opts.learningRate);
  }

  /** Preallocated outputs (e.g. the loss), reused from step to step. */
  output(name: string, shape: number[]): OrtTensor {
    let t = this.outputs.get(name);
    if (!t) {
      t = new this.ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      this.outputs.set(name, t);
    }
    return t;
  }

  /** One Adam step on `feeds` (the batch); returns the fetched outputs other than the state. */
  async run(feeds: Record<string, OrtTensor>, outputs: Record<string, OrtTensor>): Promise<void> {
    const a = ADAM;
    const t = ++this.step;
    const all: Record<string, OrtTensor> = {
      ...feeds,
      lr_c1: new this.ort.Tensor('float32', Float32Array.of(this.learningRate / (1 - a.beta1 ** t)), []),
      c2: new this.ort.Tensor('float32', Float32Array.of(1 / (1 - a.beta2 ** t)), []),
    };
    const fetches: Record<string, OrtTensor> = { ...outputs };
    const n = this.params.length;
    ['', 'm.', 'v.'].forEach((prefix, k) =>
      this.params.forEach((p, i) => {
        all[`${prefix}${p.name}`] = new this.ort.Tensor('float32', this.state[k * n + i], p.shape);
        fetches[`new.${prefix}${p.name}`] = new this.ort.Tensor('float32', this.spare[k * n + i], p.shape);
      }),
    );
    await this.session.run(all, fetches);
    [this.state, this.spare] = [this.spare, this.state];
  }

  /** The current parameters (copies). */
  parameters(): Float32Array[] {
    return this.state.slice(0, this.params.length).map((a) => a.slice());
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
