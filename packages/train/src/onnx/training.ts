/**
 * What the families' onnxruntime training graphs (their onnx-train.ts) share: a small graph builder whose graphs
 * output the loss and every parameter's gradient, and the session that runs them with Adam on the host (parameters,
 * moments and gradients in arrays allocated once, so a step allocates nothing).
 */
import onnxProto from 'onnx-proto';
import { AdamState } from './adam.js';
import { attribute, floatInitializer, int64Initializer, valueInfo, type Attr } from './proto.js';
import { loadOnnxRuntime } from './runtime.js';

const { onnx } = onnxProto;

/** Builds an ONNX graph node by node; every value gets a fresh name unless one is given. */
export class GraphBuilder {
  readonly nodes: ReturnType<typeof onnx.NodeProto.create>[] = [];
  readonly inits: ReturnType<typeof floatInitializer>[] = [];
  private count = 0;
  private readonly constants = new Map<string, string>();

  /** Adds a node and returns its (first) output; `outputs` names them all, `output` the only one. */
  node(
    opType: string,
    input: string[],
    attrs: Attr[] = [],
    opts: { domain?: string; output?: string; outputs?: string[] } = {},
  ): string {
    const output = opts.outputs ?? [opts.output ?? `t${this.count}`];
    this.count++;
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input,
        output,
        name: `${opType.toLowerCase()}${this.count}`,
        attribute: attrs.map(attribute),
        ...(opts.domain ? { domain: opts.domain } : {}),
      }),
    );
    return output[0];
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
      this.inits.push(int64Initializer(name, values) as never);
      this.constants.set(key, name);
    }
    return name;
  }

  /** (Batched) matrix product with either side transposed inside the kernel (onnxruntime's FusedMatMul). */
  mm(a: string, b: string, transA = 0, transB = 0): string {
    return this.node(
      'FusedMatMul',
      [a, b],
      [
        { name: 'transA', i: transA },
        { name: 'transB', i: transB },
        { name: 'alpha', f: 1 },
      ],
      { domain: 'com.microsoft' },
    );
  }

  /** Sum over `axes`, keeping them as size-1 dimensions or not. */
  sum(x: string, axes: number[], keep = 0): string {
    return this.node('ReduceSum', [x, this.ints(axes)], [{ name: 'keepdims', i: keep }]);
  }

  /** (At opset 17 ReduceMean still takes its axes as an attribute; ReduceSum takes them as an input.) */
  mean(x: string, axes: number[], keep = 0): string {
    return this.node(
      'ReduceMean',
      [x],
      [
        { name: 'axes', ints: axes },
        { name: 'keepdims', i: keep },
      ],
    );
  }

  /**
   * Marks `g` as the gradient of parameter `p`: the graph output grad.p. (The value is renamed where it is made, so
   * no copy is added.)
   */
  gradient(p: string, g: string): void {
    const name = `grad.${p}`;
    for (const n of this.nodes) {
      n.input = n.input.map((i) => (i === g ? name : i));
      n.output = n.output.map((o) => (o === g ? name : o));
    }
    this.gradients.push(p);
  }

  private readonly gradients: string[] = [];

  /** The model bytes. `params` lists the trained parameters with their shapes: inputs, each with a grad.* output. */
  build(
    name: string,
    inputs: ReturnType<typeof valueInfo>[],
    outputs: ReturnType<typeof valueInfo>[],
    params: { name: string; shape: number[] }[],
  ): Uint8Array {
    const missing = params.filter((p) => !this.gradients.includes(p.name));
    if (missing.length)
      throw new Error(`training graph ${name}: no gradient for ${missing.map((p) => p.name).join(', ')}`);
    const graph = onnx.GraphProto.create({
      name,
      node: this.nodes,
      initializer: this.inits,
      input: [...inputs, ...params.map((p) => valueInfo(p.name, p.shape))],
      output: [...outputs, ...params.map((p) => valueInfo(`grad.${p.name}`, p.shape))],
    });
    return onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        producerName: 'distill-gate',
        opsetImport: [
          onnx.OperatorSetIdProto.create({ domain: '', version: 17 }),
          onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }),
        ],
        graph,
      }),
    ).finish();
  }
}

type Ort = typeof import('onnxruntime-node');
type OrtTensor = InstanceType<Ort['Tensor']>;

/**
 * onnxruntime-node writes preallocated outputs and also returns a fresh copy of each (about 1 MB per MLP step).
 * Detached at once (ArrayBuffer.prototype.transfer(0): Node 22 and later, and Node 20's workers under the CLI's V8
 * flags), their memory is freed as the step ends instead of piling up for the garbage collector: no marking of the
 * worker's heap several times a second, and the next step's copy reuses the same pages. A returned buffer that is
 * not a copy (one of `given`, or shared memory) is left alone; without transfer, nothing is done.
 */
export function dropCopies(returned: Record<string, OrtTensor>, given: Record<string, OrtTensor>): void {
  for (const [name, t] of Object.entries(returned)) {
    const buffer = (t.data as ArrayBufferView).buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
    if (typeof buffer.transfer !== 'function' || buffer instanceof SharedArrayBuffer) continue;
    if (given[name] && (given[name].data as ArrayBufferView).buffer === buffer) continue;
    buffer.transfer(0);
  }
}

/**
 * A training session: the gradient graph in onnxruntime-node (CPU provider) and Adam on the host, fused into one
 * pass over each parameter (the same update as tfjs's and PyTorch's Adam; adam.ts). As separate graph operators Adam
 * took a dozen passes over the parameters and moments; one kernel reads and writes each value once.
 */
export class OrtTrainingSession {
  private readonly outputs = new Map<string, OrtTensor>();
  private readonly adam: AdamState;
  private readonly feeds: Record<string, OrtTensor> = {};
  private readonly fetches: Record<string, OrtTensor> = {};

  /** Cores claimed from idle workers (claimIdleCores), on top of the session's own threads. */
  private claimed = 0;

  private constructor(
    readonly ort: Ort,
    private session: import('onnxruntime-node').InferenceSession,
    private readonly graph: Uint8Array,
    private readonly options: import('onnxruntime-node').InferenceSession.SessionOptions,
    params: { name: string; shape: number[] }[],
    initial: Float32Array[],
    learningRate: number,
  ) {
    this.adam = new AdamState(initial, learningRate);
    // The tensors wrap the kernel's arrays once; the steps update the arrays in place.
    params.forEach((p, i) => {
      this.feeds[p.name] = new ort.Tensor('float32', this.adam.values[i], p.shape);
      this.fetches[`grad.${p.name}`] = new ort.Tensor('float32', this.adam.grads[i], p.shape);
    });
  }

  static async create(
    graph: Uint8Array,
    params: { name: string; shape: number[] }[],
    initial: Float32Array[],
    opts: { learningRate: number; threads?: number; externalData?: { path: string; data: Uint8Array }[] },
  ): Promise<OrtTrainingSession> {
    const ort = await loadOnnxRuntime();
    const options = {
      ...(opts.externalData ? { externalData: opts.externalData.map(({ path, data }) => ({ path, data })) } : {}),
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      // Errors only: onnxruntime's warnings (an unused constant removed...) are not the user's business.
      logSeverityLevel: 3 as const,
      graphOptimizationLevel: 'all' as const,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    };
    const session = await ort.InferenceSession.create(graph, options);
    return new OrtTrainingSession(ort, session, graph, options, params, initial, opts.learningRate);
  }

  /**
   * Takes the cores other workers have left idle (`claim`, see TrainingRun.claimCores) for the steps that remain:
   * the graph is stateless, so the step runs on in a session with more intra-op threads (made once per claim; the
   * MNIST MLP's step at batch 1024: 13.4 ms on one thread, 7.6-8 ms on two). onnxruntime splits these products by
   * output blocks, so the MLP step's numbers are the one-thread session's (test, and at the MNIST example's shapes);
   * the transformer step's are not (its norms' gradients differ by ~1e-9 on two threads), so its trainer does not
   * claim cores: which worker finishes first must not change a result. Worth it only with steps enough left to pay
   * for the new session (`remaining` >= 24).
   */
  async claimIdleCores(claim: (() => number) | undefined, remaining: number): Promise<void> {
    if (!claim || remaining < 24) return;
    const n = claim();
    if (n <= 0) return;
    this.claimed += n;
    const wider = await this.ort.InferenceSession.create(this.graph, {
      ...this.options,
      intraOpNumThreads: (this.options.intraOpNumThreads ?? 1) + this.claimed,
    });
    const old = this.session;
    this.session = wider;
    await old.release();
  }

  /** Cores claimed from idle workers, to give back when the run ends. */
  get claimedCores(): number {
    return this.claimed;
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

  /** One Adam step on `feeds` (the batch), writing `outputs` (preallocated) on the way. */
  async run(feeds: Record<string, OrtTensor>, outputs: Record<string, OrtTensor>): Promise<void> {
    const fetches = { ...outputs, ...this.fetches };
    dropCopies(await this.session.run({ ...feeds, ...this.feeds }, fetches), fetches);
    this.adam.update();
  }

  /** Starts over from `values` (copied in), with Adam's moments and step count at zero: a new run, same session. */
  reset(values: Float32Array[]): void {
    this.adam.reset(values);
  }

  /** The gradients of the last step (copies). */
  gradients(): Float32Array[] {
    return this.adam.grads.map((a) => a.slice());
  }

  /** The current parameters (copies). */
  parameters(): Float32Array[] {
    return this.adam.values.map((a) => a.slice());
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
