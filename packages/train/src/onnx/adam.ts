/**
 * Adam's update on the host, as a small WebAssembly SIMD kernel. The training graphs output gradients; this updates
 * the parameters and moments in one pass, four values at a time, in float32 arithmetic (as PyTorch's and tfjs's
 * Adam compute it).
 *
 * It computes exactly what the plain JavaScript loop (`adamReference`) computes: the same float32 operations in the
 * same order (the loop rounds each double-precision result with Math.fround, which for +, -, *, / and sqrt of
 * float32 values is the float32 operation; WebAssembly has no implicit fused multiply-add). So the results are bit
 * for bit those of the loop. For the MNIST MLP's 270,093 parameters on this project's machine: 1.97 ms for a plain
 * double-precision loop, 0.68 ms for the earlier two-lane double-precision kernel, and this one's time is in
 * docs/performance.md. The module is written here byte by byte: it is one function, and no assembler is needed at
 * build time.
 */

/** Adam's constants (PyTorch's defaults, as tfjs's trainers use them). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

const unsigned = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const vector = (items: number[][]): number[] => [...unsigned(items.length), ...items.flat()];
const section = (id: number, bytes: number[]): number[] => [id, ...unsigned(bytes.length), ...bytes];
const name = (s: string): number[] => vector([...Buffer.from(s)].map((b) => [b]));

const I32 = 0x7f;
const F64 = 0x7c;
/** f32.demote_f64 */
const DEMOTE = [0xb6];
const V128 = 0x7b;
const op = {
  localGet: (i: number) => [0x20, ...unsigned(i)],
  localSet: (i: number) => [0x21, ...unsigned(i)],
  i32Add: [0x6a],
  i32Const: (v: number) => [0x41, ...unsigned(v)], // (small non-negative values only)
  i32GeU: [0x4f],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  brIf: (depth: number) => [0x0d, depth],
  br: (depth: number) => [0x0c, depth],
  end: [0x0b],
};
const simd = (code: number, ...immediates: number[]) => [0xfd, ...unsigned(code), ...immediates];
const f32x4 = {
  splat: simd(0x13),
  add: simd(0xe4),
  sub: simd(0xe5),
  mul: simd(0xe6),
  div: simd(0xe7),
  sqrt: simd(0xe3),
  /** Four float32 at a 16-byte aligned address (v128.load, v128.store). */
  load: simd(0x00, 4, 0),
  store: simd(0x0b, 4, 0),
};

/**
 * The module: imports env.memory and exports adam(p, m, v, g, bytes, beta1, 1-beta1, beta2, 1-beta2, lr/(1-beta1^t),
 * 1/(1-beta2^t), epsilon), which updates the float32 arrays at byte offsets p, m, v from g over `bytes` bytes (a
 * multiple of 16). The constants come in as float64 and are rounded to float32 (f32.demote_f64).
 */
function adamModule(): Uint8Array {
  // Locals: parameters 0-3 the arrays, 4 the byte count, 5-11 the constants; 12 the offset; 13-19 the constants
  // splatted; 20 g, 21 the new m, 22 the new v (four values each).
  const [P, M, V, G, BYTES, OFFSET, G2, M2, V2] = [0, 1, 2, 3, 4, 12, 20, 21, 22];
  const [B1, OMB1, B2, OMB2, LR, C2, EPS] = [13, 14, 15, 16, 17, 18, 19];
  const at = (array: number) => [...op.localGet(array), ...op.localGet(OFFSET), ...op.i32Add];
  const load = (array: number) => [...at(array), ...f32x4.load];
  const get = op.localGet;
  const body = [
    ...[0, 1, 2, 3, 4, 5, 6].flatMap((k) => [...get(5 + k), ...DEMOTE, ...f32x4.splat, ...op.localSet(B1 + k)]),
    ...op.block,
    ...op.loop,
    ...[...get(OFFSET), ...get(BYTES), ...op.i32GeU, ...op.brIf(1)],
    ...[...load(G), ...op.localSet(G2)],
    // m' = beta1 * m + (1 - beta1) * g
    ...[...get(B1), ...load(M), ...f32x4.mul, ...get(OMB1), ...get(G2), ...f32x4.mul, ...f32x4.add, ...op.localSet(M2)],
    // v' = beta2 * v + (1 - beta2) * g * g
    ...[...get(B2), ...load(V), ...f32x4.mul, ...get(OMB2), ...get(G2), ...f32x4.mul, ...get(G2), ...f32x4.mul],
    ...[...f32x4.add, ...op.localSet(V2)],
    ...[...at(M), ...get(M2), ...f32x4.store, ...at(V), ...get(V2), ...f32x4.store],
    // p' = p - (lr' * m') / (sqrt(v' * c2) + epsilon)
    ...[...at(P), ...load(P), ...get(LR), ...get(M2), ...f32x4.mul],
    ...[...get(V2), ...get(C2), ...f32x4.mul, ...f32x4.sqrt, ...get(EPS), ...f32x4.add, ...f32x4.div, ...f32x4.sub],
    ...f32x4.store,
    ...[...get(OFFSET), ...op.i32Const(16), ...op.i32Add, ...op.localSet(OFFSET), ...op.br(0)],
    ...op.end,
    ...op.end,
    ...op.end,
  ];
  const code = [
    ...vector([
      [1, I32],
      [10, V128],
    ]),
    ...body,
  ];
  const signature = [0x60, ...vector([I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64, F64].map((t) => [t])), 0];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vector([signature])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])),
    ...section(3, vector([[0]])),
    ...section(7, vector([[...name('adam'), 0x00, 0]])),
    ...section(10, vector([[...unsigned(code.length), ...code]])),
  ]);
}

/** The little of the WebAssembly API used here (the project's TypeScript libraries do not declare it). */
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let compiled: object | undefined;

type AdamKernel = (...args: number[]) => void;

/**
 * Parameters, Adam's two moments and the gradients of one training run, as float32 arrays in one WebAssembly memory
 * (allocated once: a step allocates nothing, and the training session's tensors wrap these arrays).
 */
export class AdamState {
  readonly values: Float32Array[];
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  readonly grads: Float32Array[];
  private readonly kernel: AdamKernel;
  /** Each tensor's byte offset and padded byte length (a multiple of 16) within its table. */
  private readonly offsets: number[] = [];
  private readonly table: number;
  private step = 0;

  constructor(
    initial: Float32Array[],
    private readonly learningRate: number,
  ) {
    let bytes = 0;
    const padded = initial.map((x) => Math.ceil(x.length / 4) * 16);
    for (const b of padded) {
      this.offsets.push(bytes);
      bytes += b;
    }
    this.table = bytes;
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil((4 * bytes) / 65536)) });
    compiled ??= new wasm.Module(adamModule());
    const instance = new wasm.Instance(compiled, { env: { memory } });
    this.kernel = instance.exports.adam as AdamKernel;
    const views = (k: number) =>
      initial.map((x, i) => new Float32Array(memory.buffer, k * bytes + this.offsets[i], x.length));
    [this.values, this.m, this.v, this.grads] = [0, 1, 2, 3].map(views);
    this.values.forEach((a, i) => a.set(initial[i]));
  }

  /** One Adam step from the gradients in `grads`. (The padding past each tensor holds zeros and stays zero.) */
  update(): void {
    const t = ++this.step;
    const { beta1: b1, beta2: b2, epsilon: eps } = ADAM;
    const lrC1 = this.learningRate / (1 - b1 ** t);
    const c2 = 1 / (1 - b2 ** t);
    const T = this.table;
    this.kernel(0, T, 2 * T, 3 * T, T, b1, 1 - b1, b2, 1 - b2, lrC1, c2, eps);
  }

  /** Starts over from `values`, with the moments and the step count at zero. */
  reset(values: Float32Array[]): void {
    values.forEach((x, i) => {
      this.values[i].set(x);
      this.m[i].fill(0);
      this.v[i].fill(0);
    });
    this.step = 0;
  }
}

/**
 * The plain loop the kernel reproduces bit for bit: one Adam step at step count `t` over float32 arrays, each
 * operation rounded to float32 (the tests compare the two).
 */
export function adamReference(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  t: number,
  learningRate: number,
): void {
  const f = Math.fround;
  const { beta1, beta2, epsilon } = ADAM;
  const [b1, omb1, b2, omb2, eps] = [beta1, 1 - beta1, beta2, 1 - beta2, epsilon].map(f);
  const lrC1 = f(learningRate / (1 - beta1 ** t));
  const c2 = f(1 / (1 - beta2 ** t));
  for (let j = 0; j < p.length; j++) {
    const gj = g[j];
    const mj = f(f(b1 * m[j]) + f(omb1 * gj));
    const vj = f(f(b2 * v[j]) + f(f(omb2 * gj) * gj));
    m[j] = mj;
    v[j] = vj;
    p[j] = f(p[j] - f(f(lrC1 * mj) / f(f(Math.sqrt(f(vj * c2))) + eps)));
  }
}
