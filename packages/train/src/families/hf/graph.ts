/**
 * The ONNX inference graph of a Hugging Face causal LM, built with the project's graph builder from the loaded
 * weights (as initializers). One graph serves scoring and generation. For scoring it computes, for the positions
 * asked for of a right-padded batch, the log-probability of the token given to follow: the head runs on those
 * positions only, and its logits are reduced to their logsumexp and the one gathered logit, so a 150k-token
 * vocabulary never leaves the graph as a [batch, seq, vocab] output. For generation it takes the keys and values of
 * the tokens before (a KV cache, time-major: the host appends to one buffer whose leading part is the past) and
 * returns this run's keys and values only, with the log-probabilities of the next token after the last position.
 * (onnxruntime-node copies every output into a new buffer, so returning the whole extended cache copied all of it
 * out at every step.)
 *
 *   inputs   input_ids int64 [batch, seq]; score_positions int64 [m] (flat indices batch * seq + t of the
 *            positions to score) and targets int64 [m] (the token that follows each); attention_bias float
 *            [b, 1, seq, past + seq] (b = batch or 1: 0 where a position may attend, the lowest float32 where not:
 *            causal, and left padding when generating); GPT-2: position_ids int64 [b, seq]; RoPE models: rope_cos,
 *            rope_sin float [b, 1, seq, head_dim]; past_key.L, past_value.L float [past, batch, kv_heads, head_dim]
 *            per layer L (past = 0 when scoring); with LoRA, the adapters lora.<projection>.A and .B
 *   outputs  logprobs float [m] = log softmax(logits at score position i)[targets i];
 *            next_logprobs float [batch, vocab] = log softmax(logits at the last position), next_probs their exp
 *            (what sampling at temperature 1 draws from);
 *            new_key.L, new_value.L float [seq, batch, kv_heads, head_dim] (this run's, to append to the past)
 *
 * Right padding needs no mask beyond the causal one: a real position never sees a later (padding) position.
 * GPT-2: learned positions, LayerNorm, Conv1D projections ([in, out]), gelu_new. Llama, Mistral, Qwen2, Qwen3:
 * RMSNorm, RoPE (rotate_half), SwiGLU, grouped-query attention, Qwen2's q/k/v bias, Qwen3's per-head q/k RMSNorm
 * before RoPE. Everything is float32, as Hugging Face's eager path computes a float32 model.
 *
 * Weights larger than the external threshold (1 MiB) are not copied into the protobuf (which cannot exceed 2 GB):
 * they are external data referencing their place in the weights' arena, handed to onnxruntime from memory.
 */
import onnxProto from 'onnx-proto';
import { EXTERNAL_THRESHOLD_BYTES, externalFloatInitializer, type ExternalDataFile } from '../../onnx/external.js';
import { valueInfo } from '../../onnx/proto.js';
import type { Tape } from '../../onnx/tape.js';
import { GraphBuilder } from '../../onnx/training.js';
import type { LoraSettings } from '@distill-gate/core';
import type { HfArchitecture, RopeScaling } from './config.js';
import type { HfWeights } from './weights.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** The lowest float32: what Hugging Face adds to (or puts in place of) a masked attention score. */
export const MASKED = -3.4028234663852886e38;

/** LoRA adapters on a graph's projections: per adapted projection, the inputs that hold A [r, in] and B [out, r]. */
export interface GraphLora {
  /** alpha / rank: what the adapter's product is multiplied by. */
  scale: number;
  /**
   * The adapter of a projection (its weight's name less `.weight`) and its place in the adapter list, or undefined
   * to leave the projection frozen alone.
   */
  adapter(projection: string): { a: string; b: string; index: number; in: number } | undefined;
  /** Training with dropout on each adapter's input: the rate (masks from the graph input `lora_dropout_seed`). */
  dropout?: number;
}

/**
 * LoRA dropout's masks, computed in the graph from integers so that any implementation can reproduce them exactly
 * (the PyTorch reference does): element (row, col) of adapter k's input [rows, in] is kept when h >= rate * P, where
 * P = 2^31 - 1, h = (idx * 2654435761 + seed * 40503 + k * 1000003) mod P for idx = row * in + col, then three rounds
 * of h = (h * h + 1013904223) mod P. Kept elements are scaled by 1 / (1 - rate), as torch.nn.Dropout does.
 */
export const DROPOUT_HASH = {
  P: 2147483647,
  idx: 2654435761,
  seed: 40503,
  adapter: 1000003,
  add: 1013904223,
  rounds: 3,
};

/**
 * The forward pass of a Hugging Face causal LM in ONNX nodes. With a tape (training), every layer that depends on a
 * parameter records its vector-Jacobian product, so that the same forward pass is differentiated (onnx/tape.ts);
 * with LoRA, the adapted projections add their adapters' product.
 */
export class HfGraph {
  readonly g: GraphBuilder;
  /** [batch, seq] of input_ids, and the shapes [batch, seq, heads, headDim] and [batch, seq, kvHeads, headDim]. */
  readonly bt: string;
  private readonly qShape: string;
  private readonly kvShape: string;
  private readonly added = new Set<string>();
  /** The external-data locations the graph references. */
  readonly external = new Set<string>();
  /** With trainWeights: the weights, as the graph's parameters, in the order the graph first uses them. */
  readonly weightParams: { name: string; shape: number[] }[] = [];

  constructor(
    readonly a: HfArchitecture,
    readonly w: HfWeights,
    private readonly threshold: number,
    private readonly opts: {
      tape?: Tape;
      lora?: GraphLora;
      cache?: boolean;
      builder?: GraphBuilder;
      /** Training every weight: the weights are inputs (parameters), not initializers. */
      trainWeights?: boolean;
    } = {},
  ) {
    const g = (this.g = opts.builder ?? new GraphBuilder());
    this.bt = g.node('Shape', ['input_ids']);
    const concat = (dims: number[]) => g.node('Concat', [this.bt, g.ints(dims)], [{ name: 'axis', i: 0 }]);
    this.qShape = concat([a.heads, a.headDim]);
    this.kvShape = concat([a.kvHeads, a.headDim]);
  }

  private record(outputs: string[], inputs: string[], vjp: (dy: (string | undefined)[]) => (string | undefined)[]) {
    this.opts.tape?.record(outputs, inputs, vjp);
  }

  private needs(x: string): boolean {
    return this.opts.tape?.needs(x) ?? false;
  }

  /**
   * A weight as an initializer (added once): external data at its place in the arena when it is larger than the
   * threshold, else inline (its bytes referenced, not copied, until the graph is encoded).
   */
  weight(name: string): string {
    if (!this.added.has(name)) {
      const data = this.w.tensors.get(name);
      const spec = this.w.specs.find((s) => s.name === name);
      if (!data || !spec) throw new Error(`graph: no weight "${name}"`);
      if (this.opts.trainWeights) {
        this.weightParams.push({ name, shape: spec.shape });
        this.opts.tape!.param(name);
        this.added.add(name);
        return name;
      }
      const where = data.byteLength > this.threshold ? this.w.arena?.locate(data) : undefined;
      if (where) this.external.add(where.path);
      this.g.inits.push(
        where
          ? externalFloatInitializer(name, spec.shape, where)
          : onnx.TensorProto.create({
              name,
              dims: spec.shape,
              dataType: FLOAT,
              rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
            }),
      );
      this.added.add(name);
    }
    return name;
  }

  /** The gradient of a per-feature weight `w` [d]: the sum of x [..., d] over every position. */
  private rowSum(x: string, w: string): string {
    const g = this.g;
    const d = this.w.specs.find((s) => s.name === w)!.shape[0];
    return g.sum(g.node('Reshape', [x, g.ints([-1, d])]), [0]);
  }

  /** Rows of a table (an embedding) picked by ids; the table's gradient adds up each row's gradients. */
  private gather(table: string, ids: string): string {
    const g = this.g;
    const y = g.node('Gather', [table, ids]);
    this.record([y], [table], ([dy]) => [
      g.node(
        'ScatterND',
        [this.zerosLike(table), g.node('Unsqueeze', [ids, g.ints([-1])]), dy!],
        [{ name: 'reduction', s: 'add' }],
      ),
    ]);
    return y;
  }

  zerosLike(x: string): string {
    const g = this.g;
    return g.node(
      'ConstantOfShape',
      [g.node('Shape', [x])],
      [{ name: 'value', t: onnx.TensorProto.create({ dims: [1], dataType: FLOAT, floatData: [0] }) as never }],
    );
  }

  /** a + b; a value that needs a gradient has the sum's shape (only frozen values are broadcast). */
  add(a: string, b: string): string {
    const y = this.g.node('Add', [a, b]);
    this.record([y], [a, b], ([dy]) => [dy, dy]);
    return y;
  }

  /** a * b elementwise; as for add, only a frozen factor may be broadcast. */
  mul(a: string, b: string): string {
    const g = this.g;
    const y = g.node('Mul', [a, b]);
    this.record([y], [a, b], ([dy]) => [
      this.needs(a) ? g.node('Mul', [dy!, b]) : undefined,
      this.needs(b) ? g.node('Mul', [dy!, a]) : undefined,
    ]);
    return y;
  }

  /** x times a constant. */
  scale(x: string, c: number): string {
    const g = this.g;
    const y = g.node('Mul', [x, g.scalar(c)]);
    this.record([y], [x], ([dy]) => [g.node('Mul', [dy!, g.scalar(c)])]);
    return y;
  }

  reshape(x: string, shape: string): string {
    const g = this.g;
    const y = g.node('Reshape', [x, shape]);
    this.record([y], [x], ([dy]) => [g.node('Reshape', [dy!, g.node('Shape', [x])])]);
    return y;
  }

  transpose(x: string, perm: number[]): string {
    const g = this.g;
    const y = g.node('Transpose', [x], [{ name: 'perm', ints: perm }]);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    this.record([y], [x], ([dy]) => [g.node('Transpose', [dy!], [{ name: 'perm', ints: inverse }])]);
    return y;
  }

  /** Batched a @ b, either side transposed in the kernel. */
  matmul(a: string, b: string, transB = 0): string {
    const g = this.g;
    const y = g.mm(a, b, 0, transB);
    this.record([y], [a, b], ([dy]) => [
      // y = a b: da = dy b^T, db = a^T dy; y = a b^T: da = dy b, db = dy^T a.
      this.needs(a) ? g.mm(dy!, b, 0, transB ? 0 : 1) : undefined,
      this.needs(b) ? (transB ? g.mm(dy!, a, 1, 0) : g.mm(a, dy!, 1, 0)) : undefined,
    ]);
    return y;
  }

  softmax(x: string): string {
    const g = this.g;
    const y = g.node('Softmax', [x], [{ name: 'axis', i: -1 }]);
    this.record([y], [x], ([dy]) => [
      g.node('Mul', [y, g.node('Sub', [dy!, g.sum(g.node('Mul', [dy!, y]), [-1], 1)])]),
    ]);
    return y;
  }

  /**
   * x [n, in] times a weight: [in, out] (GPT-2's Conv1D) or [out, in] (a Linear, transposed in the kernel), plus its
   * LoRA adapter where there is one: scale * (x A^T) B^T.
   */
  project(x: string, name: string, layout: 'in-out' | 'out-in', bias: boolean): string {
    const g = this.g;
    const w = this.weight(`${name}.weight`);
    const transB = layout === 'out-in' ? 1 : 0;
    const b = bias ? this.weight(`${name}.bias`) : undefined;
    let y = g.node('Gemm', [x, w, ...(b ? [b] : [])], [{ name: 'transB', i: transB }]);
    this.record([y], [x, w, ...(b ? [b] : [])], ([dy]) => [
      this.needs(x) ? g.node('Gemm', [dy!, w], [{ name: 'transB', i: 1 - transB }]) : undefined,
      // y = x W^T: dW = dy^T x; y = x W: dW = x^T dy.
      this.needs(w) ? g.node('Gemm', transB ? [dy!, x] : [x, dy!], [{ name: 'transA', i: 1 }]) : undefined,
      b && this.needs(b) ? g.sum(dy!, [0]) : undefined,
    ]);
    const adapter = this.opts.lora?.adapter(name);
    if (adapter) {
      const { a, b } = adapter;
      const scale = this.opts.lora!.scale;
      const rate = this.opts.lora!.dropout;
      if (rate) x = this.dropout(x, rate, adapter.index, adapter.in);
      const h = g.node('Gemm', [x, a], [{ name: 'transB', i: 1 }]);
      const d = g.node(
        'Gemm',
        [h, b],
        [
          { name: 'transB', i: 1 },
          { name: 'alpha', f: scale },
        ],
      );
      this.record([d], [x, a, b], ([dd]) => {
        const dh = g.node('Gemm', [dd!, b], [{ name: 'alpha', f: scale }]);
        return [
          this.needs(x) ? g.node('Gemm', [dh, a]) : undefined,
          g.node('Gemm', [dh, x], [{ name: 'transA', i: 1 }]),
          g.node(
            'Gemm',
            [dd!, h],
            [
              { name: 'transA', i: 1 },
              { name: 'alpha', f: scale },
            ],
          ),
        ];
      });
      y = this.add(y, d);
    }
    return y;
  }

  /** x [rows, width] times adapter `index`'s dropout mask (see DROPOUT_HASH), recorded on the tape. */
  private dropout(x: string, rate: number, index: number, width: number): string {
    const g = this.g;
    const H = DROPOUT_HASH;
    const rows = g.node('Gather', [g.node('Shape', [x]), g.ints([0])]);
    const rowIds = g.node('Range', [g.ints([0]), rows, g.ints([1])]);
    const cols = g.ints(Array.from({ length: width }, (_, i) => i));
    const idx = g.node('Add', [g.node('Mul', [g.node('Unsqueeze', [rowIds, g.ints([1])]), g.ints([width])]), cols]);
    const salt = g.node('Add', [g.node('Mul', ['lora_dropout_seed', g.ints([H.seed])]), g.ints([index * H.adapter])]);
    const mod = (v: string) => g.node('Mod', [v, g.ints([H.P])]);
    let h = mod(g.node('Add', [g.node('Mul', [idx, g.ints([H.idx])]), salt]));
    for (let r = 0; r < H.rounds; r++) h = mod(g.node('Add', [g.node('Mul', [h, h]), g.ints([H.add])]));
    const keep = g.node('GreaterOrEqual', [h, g.ints([Math.round(rate * H.P)])]);
    const mask = g.node('Mul', [g.node('Cast', [keep], [{ name: 'to', i: 1 }]), g.scalar(1 / (1 - rate))]);
    const y = g.node('Mul', [x, mask]);
    this.record([y], [x], ([dy]) => [g.node('Mul', [dy!, mask])]);
    return y;
  }

  layerNorm(x: string, name: string): string {
    const g = this.g;
    const w = this.weight(`${name}.weight`);
    const [y, mean, inv] = [
      `${name}.ln${g.nodes.length}`,
      `${name}.mean${g.nodes.length}`,
      `${name}.inv${g.nodes.length}`,
    ];
    g.node(
      'LayerNormalization',
      [x, w, this.weight(`${name}.bias`)],
      [
        { name: 'axis', i: -1 },
        { name: 'epsilon', f: this.a.norm.eps },
      ],
      { outputs: this.opts.tape ? [y, mean, inv] : [y] },
    );
    // dx = inv (g - mean(g) - xhat mean(g xhat)), g = dy * weight, xhat = (x - mean) inv.
    const bias = `${name}.bias`;
    this.record([y], [x, w, bias], ([dy]) => {
      const xhat = g.node('Mul', [g.node('Sub', [x, mean]), inv]);
      const gw = g.node('Mul', [dy!, w]);
      const centred = g.node('Sub', [gw, g.mean(gw, [-1], 1)]);
      const along = g.node('Mul', [xhat, g.mean(g.node('Mul', [gw, xhat]), [-1], 1)]);
      return [
        this.needs(x) ? g.node('Mul', [inv, g.node('Sub', [centred, along])]) : undefined,
        this.needs(w) ? this.rowSum(g.node('Mul', [dy!, xhat]), w) : undefined,
        this.needs(bias) ? this.rowSum(dy!, bias) : undefined,
      ];
    });
    return y;
  }

  /** RMSNorm over the last axis: weight * x / sqrt(mean(x^2) + eps). */
  rmsNorm(x: string, name: string): string {
    const g = this.g;
    const w = this.weight(`${name}.weight`);
    const variance = g.mean(g.node('Mul', [x, x]), [-1], 1);
    const inv = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [variance, g.scalar(this.a.norm.eps)])])]);
    const xhat = g.node('Mul', [x, inv]);
    const y = g.node('Mul', [w, xhat]);
    // dx = inv (g - xhat mean(g xhat)), g = dy * weight.
    this.record([y], [x, w], ([dy]) => {
      const gw = g.node('Mul', [dy!, w]);
      const along = g.node('Mul', [xhat, g.mean(g.node('Mul', [gw, xhat]), [-1], 1)]);
      return [
        this.needs(x) ? g.node('Mul', [inv, g.node('Sub', [gw, along])]) : undefined,
        this.needs(w) ? this.rowSum(g.node('Mul', [dy!, xhat]), w) : undefined,
      ];
    });
    return y;
  }

  activation(x: string): string {
    const g = this.g;
    const one = () => g.scalar(1);
    let y: string;
    let slope: () => string;
    switch (this.a.activation) {
      case 'relu':
        y = g.node('Relu', [x]);
        slope = () => g.node('Cast', [g.node('Greater', [x, g.scalar(0)])], [{ name: 'to', i: FLOAT }]);
        break;
      case 'silu': {
        const sig = g.node('Sigmoid', [x]);
        y = g.node('Mul', [x, sig]);
        // sig + x sig (1 - sig)
        slope = () => g.node('Add', [sig, g.node('Mul', [y, g.node('Sub', [one(), sig])])]);
        break;
      }
      case 'gelu': {
        const cdf = g.node('Mul', [
          g.scalar(0.5),
          g.node('Add', [one(), g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)])])]),
        ]);
        y = g.node('Mul', [x, cdf]);
        // cdf + x pdf, pdf = exp(-x^2 / 2) / sqrt(2 pi)
        slope = () => {
          const pdf = g.node('Mul', [
            g.scalar(1 / Math.sqrt(2 * Math.PI)),
            g.node('Exp', [g.node('Mul', [g.scalar(-0.5), g.node('Mul', [x, x])])]),
          ]);
          return g.node('Add', [cdf, g.node('Mul', [x, pdf])]);
        };
        break;
      }
      default: {
        // gelu_new: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        const c = Math.sqrt(2 / Math.PI);
        const cube = g.node('Mul', [g.scalar(0.044715), g.node('Pow', [x, g.scalar(3)])]);
        const tanh = g.node('Tanh', [g.node('Mul', [g.scalar(c), g.node('Add', [x, cube])])]);
        y = g.node('Mul', [g.node('Mul', [g.scalar(0.5), x]), g.node('Add', [one(), tanh])]);
        // 0.5 (1 + tanh) + 0.5 x (1 - tanh^2) c (1 + 3 * 0.044715 x^2)
        slope = () => {
          const sech2 = g.node('Sub', [one(), g.node('Mul', [tanh, tanh])]);
          const inner = g.node('Mul', [
            g.scalar(c),
            g.node('Add', [one(), g.node('Mul', [g.scalar(3 * 0.044715), g.node('Mul', [x, x])])]),
          ]);
          const right = g.node('Mul', [g.node('Mul', [g.scalar(0.5), x]), g.node('Mul', [sech2, inner])]);
          return g.node('Add', [g.node('Mul', [g.scalar(0.5), g.node('Add', [one(), tanh])]), right]);
        };
      }
    }
    this.record([y], [x], ([dy]) => [g.node('Mul', [dy!, slope()])]);
    return y;
  }

  /** x [b, h, t, d] rotated by RoPE: x cos + rotate_half(x) sin, rotate_half(x) = [-x2, x1]. */
  rope(x: string): string {
    const g = this.g;
    const axis = [{ name: 'axis', i: -1 }];
    const halves = (v: string) => {
      const parts = [`${v}.half1`, `${v}.half2`];
      g.node('Split', [v], axis, { outputs: parts });
      return parts;
    };
    const [x1, x2] = halves(x);
    const rotated = g.node('Concat', [g.node('Neg', [x2]), x1], axis);
    const y = g.node('Add', [g.node('Mul', [x, 'rope_cos']), g.node('Mul', [rotated, 'rope_sin'])]);
    // The rotation's transpose: d/dx of rotate_half(x) . s is [s2, -s1].
    this.record([y], [x], ([dy]) => {
      const [s1, s2] = halves(g.node('Mul', [dy!, 'rope_sin']));
      return [g.node('Add', [g.node('Mul', [dy!, 'rope_cos']), g.node('Concat', [s2, g.node('Neg', [s1])], axis)])];
    });
    return y;
  }

  /** [n, heads * d] as [b, heads, t, d], normalised per head (Qwen3) and rotated (RoPE models) where they are. */
  heads(x: string, kind: 'q' | 'k' | 'v', l: number): string {
    const g = this.g;
    let h = this.reshape(x, kind === 'q' ? this.qShape : this.kvShape);
    if (this.a.qkNorm && kind !== 'v') h = this.rmsNorm(h, `layers.${l}.self_attn.${kind}_norm`);
    h = this.transpose(h, [0, 2, 1, 3]);
    if (this.a.positions.kind === 'rope' && kind !== 'v') h = this.rope(h);
    if (kind === 'q') return h;
    if (this.opts.cache !== false) {
      // The cache holds keys and values as computed (after RoPE, before grouped-query repetition), time-major.
      const cache = kind === 'k' ? 'key' : 'value';
      // (Inference only: no gradient is recorded.)
      const perm = (ints: number[]) => [{ name: 'perm', ints }];
      const fresh = g.node('Transpose', [h], perm([2, 0, 1, 3]), { output: `new_${cache}.${l}` });
      const all = g.node('Concat', [`past_${cache}.${l}`, fresh], [{ name: 'axis', i: 0 }]);
      h = g.node('Transpose', [all], perm([1, 2, 0, 3]));
    }
    const groups = this.a.heads / this.a.kvHeads;
    if (groups === 1) return h;
    // Grouped-query attention: each key/value head serves `groups` consecutive query heads (repeat_kv).
    const { heads, kvHeads, headDim } = this.a;
    const expanded = g.node('Expand', [g.node('Unsqueeze', [h, g.ints([2])]), g.ints([1, 1, groups, 1, 1])]);
    const y = g.node('Reshape', [expanded, g.ints([0, heads, -1, headDim])]);
    // Each key/value head's gradient is the sum over the query heads it served.
    this.record([y], [h], ([dy]) => [g.sum(g.node('Reshape', [dy!, g.ints([0, kvHeads, groups, -1, headDim])]), [2])]);
    return y;
  }

  /** Causal self-attention of layer l from the projected q, k, v ([n, *]); returns [n, heads * headDim]. */
  attention(q: string, k: string, v: string, l: number): string {
    const a = this.a;
    let scores = this.matmul(this.heads(q, 'q', l), this.heads(k, 'k', l), 1);
    if (a.modelType === 'gpt2') {
      if (a.attentionScale.byHeadDim) scores = this.scale(scores, 1 / Math.sqrt(a.headDim));
      if (a.attentionScale.byInverseLayer) scores = this.scale(scores, 1 / (l + 1));
    } else {
      scores = this.scale(scores, a.headDim ** -0.5);
    }
    const probs = this.softmax(this.add(scores, 'attention_bias'));
    const mixed = this.matmul(probs, this.heads(v, 'v', l));
    return this.reshape(this.transpose(mixed, [0, 2, 1, 3]), this.g.ints([-1, a.heads * a.headDim]));
  }

  gpt2Block(x: string, l: number): string {
    const g = this.g;
    const p = `h.${l}`;
    const qkv = this.project(this.layerNorm(x, `${p}.ln_1`), `${p}.attn.c_attn`, 'in-out', true);
    const parts = [`${qkv}.q`, `${qkv}.k`, `${qkv}.v`];
    g.node('Split', [qkv], [{ name: 'axis', i: 1 }], { outputs: parts });
    this.record(parts, [qkv], (dy) => [
      g.node(
        'Concat',
        dy.map((d) => d!),
        [{ name: 'axis', i: 1 }],
      ),
    ]);
    const [q, k, v] = parts;
    const attn = this.project(this.attention(q, k, v, l), `${p}.attn.c_proj`, 'in-out', true);
    const mid = this.add(x, attn);
    const up = this.project(this.layerNorm(mid, `${p}.ln_2`), `${p}.mlp.c_fc`, 'in-out', true);
    return this.add(mid, this.project(this.activation(up), `${p}.mlp.c_proj`, 'in-out', true));
  }

  llamaBlock(x: string, l: number): string {
    const p = `layers.${l}`;
    const { qkv, o, mlp } = this.a.bias;
    const h = this.rmsNorm(x, `${p}.input_layernorm`);
    const q = this.project(h, `${p}.self_attn.q_proj`, 'out-in', qkv);
    const k = this.project(h, `${p}.self_attn.k_proj`, 'out-in', qkv);
    const v = this.project(h, `${p}.self_attn.v_proj`, 'out-in', qkv);
    const mid = this.add(x, this.project(this.attention(q, k, v, l), `${p}.self_attn.o_proj`, 'out-in', o));
    const h2 = this.rmsNorm(mid, `${p}.post_attention_layernorm`);
    const gate = this.activation(this.project(h2, `${p}.mlp.gate_proj`, 'out-in', mlp));
    const up = this.project(h2, `${p}.mlp.up_proj`, 'out-in', mlp);
    return this.add(mid, this.project(this.mul(gate, up), `${p}.mlp.down_proj`, 'out-in', mlp));
  }

  /** The embedding table, and the output head's weight [vocab, hidden]. */
  get embedding(): string {
    return this.weight(this.a.modelType === 'gpt2' ? 'wte.weight' : 'embed_tokens.weight');
  }
  get head(): string {
    return this.a.tiedEmbeddings ? this.embedding : this.weight('lm_head.weight');
  }

  /** The final hidden states [batch * seq, hidden] (after the last norm). */
  hidden(): string {
    const g = this.g;
    const a = this.a;
    const gpt2 = a.modelType === 'gpt2';
    let x = this.gather(this.embedding, 'input_ids');
    if (gpt2) {
      // Positions [1, seq] are shared by the batch's rows: their gradient is summed over the rows.
      const pos = this.gather(this.weight('wpe.weight'), 'position_ids');
      const sum = g.node('Add', [x, pos]);
      this.record([sum], [x, pos], ([dy]) => [dy, this.needs(pos) ? g.sum(dy!, [0], 1) : undefined]);
      x = sum;
    }
    x = this.reshape(x, g.ints([-1, a.hidden]));
    for (let l = 0; l < a.layers; l++) x = gpt2 ? this.gpt2Block(x, l) : this.llamaBlock(x, l);
    return gpt2 ? this.layerNorm(x, 'ln_f') : this.rmsNorm(x, 'norm');
  }

  /** The whole inference graph's nodes: the [batch, seq] log-probabilities, the next token's and the extended cache. */
  build(): void {
    const g = this.g;
    const hidden = this.hidden();
    const logSoftmaxAt = (rows: string) => {
      const logits = g.node('Gemm', [rows, this.head], [{ name: 'transB', i: 1 }]);
      const lse = g.node(
        'ReduceLogSumExp',
        [logits],
        [
          { name: 'axes', ints: [1] },
          { name: 'keepdims', i: 1 },
        ],
      );
      return { logits, lse };
    };
    // Scoring: the head on the positions asked for only (a 150k-token vocabulary makes it the largest product).
    const scored = logSoftmaxAt(g.node('Gather', [hidden, 'score_positions'], [{ name: 'axis', i: 0 }]));
    const picked = g.node(
      'GatherElements',
      [scored.logits, g.node('Unsqueeze', ['targets', g.ints([1])])],
      [{ name: 'axis', i: 1 }],
    );
    g.node('Reshape', [g.node('Sub', [picked, scored.lse]), g.ints([-1])], [], { output: 'logprobs' });
    // Generation: the next token's distribution after each row's last position.
    const axis0 = [{ name: 'axis', i: 0 }];
    const byRow = g.node('Reshape', [hidden, g.node('Concat', [this.bt, g.ints([-1])], axis0)]);
    const lastRows = g.node('Reshape', [
      g.node('Slice', [byRow, g.ints([-1]), g.ints([2 ** 31]), g.ints([1])]),
      g.ints([-1, this.a.hidden]),
    ]);
    const next = logSoftmaxAt(lastRows);
    g.node('Exp', [g.node('Sub', [next.logits, next.lse], [], { output: 'next_logprobs' })], [], {
      output: 'next_probs',
    });
  }
}

/** An encoded graph and the in-memory external data it references (views of the weights' arena, not copies). */
export interface HfGraphBytes {
  model: Uint8Array;
  externalData: ExternalDataFile[];
}

/**
 * The ONNX model of the log-prob graph: weights over `externalThreshold` bytes (default 1 MiB) as external data in
 * the weights' arena, the others copied into the protobuf.
 */
export function buildHfGraph(
  a: HfArchitecture,
  w: HfWeights,
  opts: { externalThreshold?: number; lora?: LoraSettings } = {},
): HfGraphBytes {
  const lora = opts.lora && loraInputs(a, w, opts.lora);
  const graph = new HfGraph(a, w, opts.externalThreshold ?? EXTERNAL_THRESHOLD_BYTES, {
    ...(lora ? { lora: lora.graph } : {}),
  });
  graph.build();
  const cache = (kind: 'past' | 'new', length: string) =>
    Array.from({ length: a.layers }, (_, l) =>
      (['key', 'value'] as const).map((kv) => valueInfo(`${kind}_${kv}.${l}`, [length, 'batch', a.kvHeads, a.headDim])),
    ).flat();
  const inputs = [
    valueInfo('input_ids', ['batch', 'seq'], INT64),
    valueInfo('score_positions', ['m'], INT64),
    valueInfo('targets', ['m'], INT64),
    valueInfo('attention_bias', ['bias_batch', 1, 'seq', 'total']),
    ...(a.positions.kind === 'learned'
      ? [valueInfo('position_ids', ['position_batch', 'seq'], INT64)]
      : [
          valueInfo('rope_cos', ['position_batch', 1, 'seq', a.headDim]),
          valueInfo('rope_sin', ['position_batch', 1, 'seq', a.headDim]),
        ]),
    ...cache('past', 'past'),
    ...(lora?.inputs ?? []),
  ];
  const outputs = [
    valueInfo('logprobs', ['m']),
    valueInfo('next_logprobs', ['batch', 'vocab']),
    valueInfo('next_probs', ['batch', 'vocab']),
    ...cache('new', 'seq'),
  ];
  const model = graph.g.build(`hf-${a.modelType}-causal-lm`, inputs, outputs, []);
  const externalData = (w.arena?.files ?? []).filter((f) => graph.external.has(f.path));
  return { model, externalData };
}

/** Every projection of the model in the order the graph applies them, with its weight's layout. */
export function hfProjections(a: HfArchitecture): { name: string; layout: 'in-out' | 'out-in' }[] {
  const names =
    a.modelType === 'gpt2'
      ? ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((n) => (l: number) => `h.${l}.${n}`)
      : ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj']
          .concat(['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'])
          .map((n) => (l: number) => `layers.${l}.${n}`);
  const layout: 'in-out' | 'out-in' = a.modelType === 'gpt2' ? 'in-out' : 'out-in';
  return Array.from({ length: a.layers }, (_, l) => names.map((name) => ({ name: name(l), layout }))).flat();
}

/** One LoRA adapter: the projection it adapts and the shapes of A [rank, in] and B [out, rank]. */
export interface LoraAdapterSpec {
  projection: string;
  in: number;
  out: number;
}

/** The adapters a LoRA configuration puts on a model, in the graph's order; an Error when none matches. */
export function loraAdapterSpecs(a: HfArchitecture, w: HfWeights, settings: LoraSettings): LoraAdapterSpec[] {
  const specs = hfProjections(a)
    .filter(
      ({ name }) => settings.targets === 'all' || settings.targets.includes(name.slice(name.lastIndexOf('.') + 1)),
    )
    .map(({ name, layout }) => {
      const shape = w.specs.find((s) => s.name === `${name}.weight`)!.shape;
      const [inDim, outDim] = layout === 'in-out' ? shape : [shape[1], shape[0]];
      return { projection: name, in: inDim, out: outDim };
    });
  if (!specs.length) {
    const names = [...new Set(hfProjections(a).map(({ name }) => name.slice(name.lastIndexOf('.') + 1)))];
    throw new Error(
      `no projection of this ${a.modelType} model matches the LoRA targets ${JSON.stringify(settings.targets)} ` +
        `(its projections: ${names.join(', ')})`,
    );
  }
  return specs;
}

/** The parameter (or input) names of an adapter. */
export function adapterParams(projection: string): { a: string; b: string } {
  return { a: `lora.${projection}.A`, b: `lora.${projection}.B` };
}

/** An inference graph's LoRA: the adapters as inputs (one session serves the base and every student). */
function loraInputs(a: HfArchitecture, w: HfWeights, settings: LoraSettings) {
  const specs = loraAdapterSpecs(a, w, settings);
  const byName = new Map(specs.map((s, index) => [s.projection, { ...adapterParams(s.projection), index, in: s.in }]));
  return {
    graph: { scale: settings.alpha / settings.rank, adapter: (p: string) => byName.get(p) },
    inputs: specs.flatMap((s) => {
      const p = adapterParams(s.projection);
      return [valueInfo(p.a, [settings.rank, s.in]), valueInfo(p.b, [s.out, settings.rank])];
    }),
  };
}

/**
 * RoPE's inverse frequencies in float32 as Hugging Face computes them: 1 / theta^(2i / d), then the scaling (linear:
 * divided by the factor; llama3: long wavelengths divided by the factor, short ones kept, a smooth blend between).
 */
export function ropeInverseFrequencies(theta: number, headDim: number, scaling?: RopeScaling): Float32Array {
  const f = Math.fround;
  const inv = Float32Array.from({ length: headDim / 2 }, (_, i) => f(1 / f(theta ** f((2 * i) / headDim))));
  if (!scaling) return inv;
  if (scaling.type === 'linear') return inv.map((x) => f(x / scaling.factor));
  const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: old } = scaling;
  return inv.map((x) => {
    const wavelen = f((2 * Math.PI) / x);
    const scaled = wavelen > old / low ? f(x / factor) : x;
    if (wavelen < old / high || wavelen > old / low) return scaled;
    const smooth = f(f(f(old / wavelen) - low) / (high - low));
    return f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
  });
}

/** RoPE's cos and sin for positions 0..seq-1, [seq, headDim] (angles position * inv_freq in float32, two halves). */
export function ropeTables(
  positions: { theta: number; scaling?: RopeScaling },
  headDim: number,
  seq: number,
): { cos: Float32Array; sin: Float32Array } {
  const invFreq = ropeInverseFrequencies(positions.theta, headDim, positions.scaling);
  const half = headDim / 2;
  const cos = new Float32Array(seq * headDim);
  const sin = new Float32Array(seq * headDim);
  for (let t = 0; t < seq; t++)
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(t * invFreq[i]);
      cos[t * headDim + i] = cos[t * headDim + half + i] = Math.cos(angle);
      sin[t * headDim + i] = sin[t * headDim + half + i] = Math.sin(angle);
    }
  return { cos, sin };
}
