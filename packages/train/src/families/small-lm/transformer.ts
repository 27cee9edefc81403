import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import { batchMatMulFor, gatherRows, matMulFor } from '../../ops.js';

/** A small GPT-style causal LM: pre-norm blocks, learned positions, ReLU feed-forward, untied output head. */
export interface TransformerConfig {
  vocabSize: number;
  /** Longest sequence (prompt + completion + specials) the model reads. */
  contextLength: number;
  dModel: number;
  layers: number;
  heads: number;
  /** Feed-forward hidden width. */
  ffn: number;
}

export interface TransformerParameters {
  config: TransformerConfig;
  tensors: Float32Array[];
}

export interface ParameterSpec {
  name: string;
  shape: number[];
  init: 'normal' | 'residual' | 'ones' | 'zeros';
}

/** Names and shapes in storage order (the order of `TransformerParameters.tensors`). */
export function transformerSpec(c: TransformerConfig): ParameterSpec[] {
  const { vocabSize: v, contextLength: t, dModel: d, ffn: f } = c;
  const spec: ParameterSpec[] = [
    { name: 'embed.tokens', shape: [v, d], init: 'normal' },
    { name: 'embed.positions', shape: [t, d], init: 'normal' },
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `blocks.${l}`;
    spec.push(
      { name: `${p}.ln1.gain`, shape: [d], init: 'ones' },
      { name: `${p}.ln1.bias`, shape: [d], init: 'zeros' },
      { name: `${p}.attn.query`, shape: [d, d], init: 'normal' },
      { name: `${p}.attn.key`, shape: [d, d], init: 'normal' },
      { name: `${p}.attn.value`, shape: [d, d], init: 'normal' },
      { name: `${p}.attn.out`, shape: [d, d], init: 'residual' },
      { name: `${p}.ln2.gain`, shape: [d], init: 'ones' },
      { name: `${p}.ln2.bias`, shape: [d], init: 'zeros' },
      { name: `${p}.ffn.in`, shape: [d, f], init: 'normal' },
      { name: `${p}.ffn.in_bias`, shape: [f], init: 'zeros' },
      { name: `${p}.ffn.out`, shape: [f, d], init: 'residual' },
      { name: `${p}.ffn.out_bias`, shape: [d], init: 'zeros' },
    );
  }
  spec.push(
    { name: 'final_ln.gain', shape: [d], init: 'ones' },
    { name: 'final_ln.bias', shape: [d], init: 'zeros' },
    { name: 'head.weight', shape: [d, v], init: 'normal' },
    { name: 'head.bias', shape: [v], init: 'zeros' },
  );
  return spec;
}

/**
 * The largest value each size may take: far above any model this family is for, and small enough that a config
 * cannot make the reader build an unbounded layer list or tensor table (a fuzzed `layers: 1.8e308` did) before
 * the weights file's size is compared with what the config promises.
 */
const TRANSFORMER_LIMITS = {
  vocabSize: 1 << 24,
  contextLength: 1 << 20,
  dModel: 1 << 16,
  layers: 1 << 10,
  heads: 1 << 10,
  ffn: 1 << 18,
} as const;

export function checkTransformerConfig(c: TransformerConfig): string | undefined {
  if (!c || typeof c !== 'object') return 'must be an object';
  for (const k of ['vocabSize', 'contextLength', 'dModel', 'layers', 'heads', 'ffn'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) return `${k} must be a positive integer, got ${c[k]}`;
    if (c[k] > TRANSFORMER_LIMITS[k]) return `${k} must be at most ${TRANSFORMER_LIMITS[k]}, got ${c[k]}`;
  }
  if (c.dModel % c.heads !== 0) return `dModel ${c.dModel} is not divisible by heads ${c.heads}`;
  return undefined;
}

/** Seeded GPT-2-style initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 * layers). */
export function initTransformer(config: TransformerConfig, seed: number): TransformerParameters {
  const problem = checkTransformerConfig(config);
  if (problem) throw new Error(`transformer config: ${problem}`);
  const rng = new SeededRandom(seed).fork('transformer-init');
  const tensors = transformerSpec(config).map((p) => {
    const a = new Float32Array(p.shape.reduce((x, y) => x * y, 1));
    if (p.init === 'ones') a.fill(1);
    else if (p.init === 'normal') rng.fillNormal(a, 0.02);
    else if (p.init === 'residual') rng.fillNormal(a, 0.02 / Math.sqrt(2 * config.layers));
    return a;
  });
  return { config: { ...config }, tensors };
}

/** Keys (transposed, [batch, dh, t]) and values ([batch, t, dh]) per layer and head, for incremental decoding. */
export interface KvCache {
  length: number;
  keysT: tf.Tensor3D[];
  values: tf.Tensor3D[];
}

export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keysT, ...cache.values]);
  cache.keysT = [];
  cache.values = [];
}

/**
 * A live transformer whose parameters are tfjs variables. Written for the wasm backend's strengths: tokens are
 * embedded as matMul(oneHot, E) (gather has no gradient there), attention heads are computed from column slices of
 * the projection weights so no 4-D head transposes are needed, and every matMul uses explicit transposes.
 */
export class TransformerModel {
  readonly params: tf.Variable[];
  private readonly byName: Map<string, tf.Variable>;
  private readonly mm: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
  private readonly bmm: (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;
  private readonly masks = new Map<number, tf.Tensor2D>();

  constructor(
    readonly config: TransformerConfig,
    tensors: Float32Array[],
    backend: string,
    trainable = true,
  ) {
    const spec = transformerSpec(config);
    if (tensors.length !== spec.length)
      throw new Error(`expected ${spec.length} parameter tensors, got ${tensors.length}`);
    this.params = tensors.map((t, i) => tf.tidy(() => tf.variable(tf.tensor(t, spec[i].shape), trainable)));
    this.byName = new Map(spec.map((s, i) => [s.name, this.params[i]]));
    this.mm = matMulFor(backend);
    this.bmm = batchMatMulFor(backend);
  }

  private p(name: string): tf.Tensor {
    return this.byName.get(name)!;
  }

  /** Additive causal mask [s, s]: 0 on and below the diagonal, -1e9 above. Cached per length. */
  private causalMask(s: number): tf.Tensor2D {
    let m = this.masks.get(s);
    if (!m) {
      const a = new Float32Array(s * s);
      for (let i = 0; i < s; i++) for (let j = i + 1; j < s; j++) a[i * s + j] = -1e9;
      m = tf.keep(tf.tensor2d(a, [s, s]));
      this.masks.set(s, m);
    }
    return m;
  }

  private layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
    return tf.add(tf.mul(normed, this.p(`${prefix}.gain`)), this.p(`${prefix}.bias`)) as tf.Tensor2D;
  }

  /**
   * Final hidden states [batch * s, dModel] for token ids [batch, s]. With a cache, the ids are the next s tokens
   * after `cache.length` tokens already seen (incremental decoding); the cache is extended in place.
   */
  hidden(ids: tf.Tensor2D | { host: Int32Array; rows: number; s: number }, cache?: KvCache): tf.Tensor2D {
    const [b, s] = 'host' in ids ? [ids.rows, ids.s] : ids.shape;
    const { dModel: d, heads, vocabSize: v } = this.config;
    const offset = cache?.length ?? 0;
    if (offset + s > this.config.contextLength) {
      throw new Error(`sequence of ${offset + s} tokens exceeds the context length ${this.config.contextLength}`);
    }
    const dh = d / heads;
    const table = this.p('embed.tokens') as tf.Tensor2D;
    // With the ids on the host, embed by gather with a matMul gradient; else by matMul(oneHot, E), which works
    // everywhere (gather alone has no gradient on wasm).
    const tok = tf.reshape(
      'host' in ids
        ? gatherRows(table, ids.host)
        : this.mm(tf.cast(tf.oneHot(tf.reshape(ids, [b * s]) as tf.Tensor1D, v), 'float32') as tf.Tensor2D, table),
      [b, s, d],
    );
    const pos = tf.slice(this.p('embed.positions'), [offset, 0], [s, d]);
    let x = tf.reshape(tf.add(tok, pos), [b * s, d]) as tf.Tensor2D;
    const mask = offset ? this.offsetMask(offset, s) : this.causalMask(s);
    const scale = 1 / Math.sqrt(dh);
    for (let l = 0; l < this.config.layers; l++) {
      const pre = `blocks.${l}`;
      const h = this.layerNorm(x, `${pre}.ln1`);
      let attn: tf.Tensor2D | undefined;
      for (let k = 0; k < heads; k++) {
        const cols = (name: string) => tf.slice(this.p(`${pre}.attn.${name}`), [0, k * dh], [d, dh]) as tf.Tensor2D;
        const q = tf.reshape(this.mm(h, cols('query')), [b, s, dh]) as tf.Tensor3D;
        let keyT = tf.transpose(tf.reshape(this.mm(h, cols('key')), [b, s, dh]), [0, 2, 1]) as tf.Tensor3D;
        let val = tf.reshape(this.mm(h, cols('value')), [b, s, dh]) as tf.Tensor3D;
        if (cache) {
          const slot = l * heads + k;
          if (offset) {
            keyT = tf.concat([cache.keysT[slot], keyT], 2);
            val = tf.concat([cache.values[slot], val], 1);
            tf.dispose([cache.keysT[slot], cache.values[slot]]);
          }
          cache.keysT[slot] = tf.keep(keyT);
          cache.values[slot] = tf.keep(val);
        }
        const scores = tf.add(tf.mul(this.bmm(q, keyT), scale), mask);
        const o = tf.reshape(this.bmm(tf.softmax(scores) as tf.Tensor3D, val), [b * s, dh]) as tf.Tensor2D;
        const rows = tf.slice(this.p(`${pre}.attn.out`), [k * dh, 0], [dh, d]) as tf.Tensor2D;
        const contribution = this.mm(o, rows);
        attn = attn ? (tf.add(attn, contribution) as tf.Tensor2D) : contribution;
      }
      x = tf.add(x, attn!) as tf.Tensor2D;
      const h2 = this.layerNorm(x, `${pre}.ln2`);
      const f = tf.relu(
        tf.add(this.mm(h2, this.p(`${pre}.ffn.in`) as tf.Tensor2D), this.p(`${pre}.ffn.in_bias`)),
      ) as tf.Tensor2D;
      x = tf.add(
        x,
        tf.add(this.mm(f, this.p(`${pre}.ffn.out`) as tf.Tensor2D), this.p(`${pre}.ffn.out_bias`)),
      ) as tf.Tensor2D;
    }
    if (cache) cache.length = offset + s;
    return this.layerNorm(x, 'final_ln');
  }

  /** Mask for s new tokens after `offset` cached ones: each sees the cache and the new tokens up to itself. */
  private offsetMask(offset: number, s: number): tf.Tensor2D {
    const a = new Float32Array(s * (offset + s));
    for (let i = 0; i < s; i++) for (let j = offset + i + 1; j < offset + s; j++) a[i * (offset + s) + j] = -1e9;
    return tf.tensor2d(a, [s, offset + s]);
  }

  newCache(): KvCache {
    return { length: 0, keysT: [], values: [] };
  }

  /** Output logits for hidden states [rows, dModel] -> [rows, vocab]. */
  head(h: tf.Tensor2D): tf.Tensor2D {
    return tf.add(this.mm(h, this.p('head.weight') as tf.Tensor2D), this.p('head.bias')) as tf.Tensor2D;
  }

  /** Logits [batch * s, vocab] for every position of ids [batch, s]. */
  forward(ids: tf.Tensor2D): tf.Tensor2D {
    return this.head(this.hidden(ids));
  }

  read(): Float32Array[] {
    return this.params.map((p) => p.dataSync().slice() as Float32Array);
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}
