/**
 * A Hugging Face model folder's `config.json`, read per `model_type` into one normalised description of the
 * architecture that the weight mapping and the ONNX graph are built from. What distill-gate does not compute
 * exactly as Hugging Face does (RoPE scaling, sliding-window attention where it changes the result, cross attention)
 * is refused with the key and its value, never approximated.
 */
import { DistillGateError } from '@distill-gate/core';
import { pointerTo } from '../../safetensors.js';

/** The `model_type`s distill-gate reads. */
/** The largest size a config.json may give (vocabularies, widths, positions), and the most layers or heads. */
const HF_MAX_SIZE = 1 << 24;
const HF_MAX_LAYERS = 1 << 10;

export const HF_MODEL_TYPES = ['gpt2', 'llama', 'mistral', 'qwen2', 'qwen3'] as const;
export type HfModelType = (typeof HF_MODEL_TYPES)[number];

/** The activations of the feed-forward block: gelu_new is GPT-2's tanh approximation (gelu_pytorch_tanh too). */
export type HfActivation = 'gelu_new' | 'gelu' | 'relu' | 'silu';

/** One normalised description of a causal LM: what the weights' shapes and the graph follow from. */
export interface HfArchitecture {
  modelType: HfModelType;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  /** Rows of the embedding (config.json `vocab_size`; may exceed the tokenizer's vocabulary). */
  vocabSize: number;
  norm: { kind: 'layernorm' | 'rmsnorm'; eps: number };
  activation: HfActivation;
  /** GPT-2: learned position embeddings; Llama/Qwen/Mistral: rotary embeddings (rotate_half convention). */
  positions: { kind: 'learned' } | { kind: 'rope'; theta: number; scaling?: RopeScaling };
  maxPositions: number;
  /** The output head is the token embedding (no `lm_head.weight` of its own). */
  tiedEmbeddings: boolean;
  /** Which projections carry a bias. */
  bias: { qkv: boolean; o: boolean; mlp: boolean };
  /** Qwen3: RMSNorm of each head's queries and keys before RoPE. */
  qkNorm: boolean;
  /** GPT-2's scale_attn_weights (1/sqrt(headDim)) and scale_attn_by_inverse_layer_idx (also 1/(layer+1)). */
  attentionScale: { byHeadDim: boolean; byInverseLayer: boolean };
  /** Mistral: a token attends to at most this many positions (sequences longer than it are refused). */
  slidingWindow?: number;
}

/** Token ids config.json names (generation_config.json may add more end ids). */
export interface HfConfigTokenIds {
  bos?: number;
  eos: number[];
  pad?: number;
}

type Json = Record<string, unknown>;

/** Reads typed keys of one config.json, naming the file and the key in every error. */
class ConfigReader {
  constructor(
    readonly json: Json,
    readonly file: string,
    /** The keys leading to this object (`rope_scaling.`), for messages. */
    private readonly prefix = '',
  ) {}

  fail(key: string, why: string, hint?: string): never {
    const path = `${this.prefix}${key}`;
    throw new DistillGateError(
      `config.json "${path}" ${why}`,
      { file: this.file, pointer: pointerTo(...path.split('.')) },
      hint,
    );
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  /** Why a required key is missing. */
  private missing(key: string): never {
    const type = this.json.model_type;
    this.fail(key, `is missing${typeof type === 'string' ? ` (a ${type} model needs it)` : ''}`);
  }

  /**
   * A positive integer up to `max`; `fallback` where the key is absent (undefined: the key is required). The bound
   * keeps a config from making the reader list tensors without end before the checkpoint is compared with it.
   */
  int(key: string, fallback?: number, max = HF_MAX_SIZE): number {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback ?? this.missing(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
      this.fail(key, `must be a positive integer, got ${JSON.stringify(v)}`);
    if (v > max) this.fail(key, `must be at most ${max}, got ${v}`);
    return v;
  }

  /** A positive number; `fallback` where the key is absent (undefined: the key is required). */
  num(key: string, fallback?: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return fallback ?? this.missing(key);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      this.fail(key, `must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.json[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.json[key] ?? fallback;
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Refuses a key whose value changes what the model computes in a way distill-gate does not implement. */
  refuseUnless(key: string, ok: (v: unknown) => boolean, what: string): void {
    const v = this.json[key];
    if (v !== undefined && v !== null && !ok(v))
      this.fail(key, `is ${JSON.stringify(v)}: ${what} is not supported (distill-gate computes exact log-probs only)`);
  }

  /** An optional token id, or list of ids. */
  ids(key: string): number[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0))
      this.fail(key, `must be a token id or a list of token ids, got ${JSON.stringify(v)}`);
    return list as number[];
  }
}

const ACTIVATIONS: Record<string, HfActivation> = {
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  gelu_fast: 'gelu_new',
  gelu: 'gelu',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
};

function activation(r: ConfigReader, key: string, fallback: string): HfActivation {
  const name = r.str(key, fallback);
  const act = ACTIVATIONS[name];
  if (!act) r.fail(key, `is "${name}"; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  return act;
}

function gpt2Architecture(r: ConfigReader): HfArchitecture {
  r.refuseUnless('add_cross_attention', (v) => v === false, 'cross attention (an encoder-decoder GPT-2)');
  const hidden = r.int('n_embd');
  const heads = r.int('n_head', undefined, HF_MAX_LAYERS);
  if (hidden % heads) r.fail('n_head', `(${heads}) must divide n_embd (${hidden})`);
  return {
    modelType: 'gpt2',
    hidden,
    layers: r.int('n_layer', undefined, HF_MAX_LAYERS),
    heads,
    kvHeads: heads,
    headDim: hidden / heads,
    intermediate: r.int('n_inner', 4 * hidden),
    vocabSize: r.int('vocab_size'),
    norm: { kind: 'layernorm', eps: r.num('layer_norm_epsilon', 1e-5) },
    activation: activation(r, 'activation_function', 'gelu_new'),
    positions: { kind: 'learned' },
    maxPositions: r.int('n_positions'),
    tiedEmbeddings: r.bool('tie_word_embeddings', true),
    bias: { qkv: true, o: true, mlp: true },
    qkNorm: false,
    attentionScale: {
      byHeadDim: r.bool('scale_attn_weights', true),
      byInverseLayer: r.bool('scale_attn_by_inverse_layer_idx', false),
    },
  };
}

/** RoPE's frequency scaling: none, linear (frequencies / factor) or Llama 3.1's smooth per-wavelength blend. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

const ROPE_TYPES = ['default', 'linear', 'llama3'];

/**
 * RoPE's base and scaling: `rope_theta` and `rope_scaling`, or `rope_parameters` (newer configs). Only what changes
 * the frequencies alone is implemented (default, linear, llama3); dynamic, yarn, longrope... are refused.
 */
function ropeConfig(r: ConfigReader): { theta: number; scaling?: RopeScaling } {
  let theta = r.num('rope_theta', 10000);
  let scaling: RopeScaling | undefined;
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const v = r.json[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) r.fail(key, `must be an object, got ${JSON.stringify(v)}`);
    const sub = new ConfigReader(v as Json, r.file, `${key}.`);
    const typeKey = sub.json.rope_type !== undefined ? 'rope_type' : 'type';
    const type = sub.json[typeKey] ?? 'default';
    if (typeof type !== 'string' || !ROPE_TYPES.includes(type))
      sub.fail(
        typeKey,
        `is ${JSON.stringify(type)}: that RoPE scaling is not implemented (only ${ROPE_TYPES.join(', ')})`,
        'distill-gate refuses a RoPE variant it does not compute exactly',
      );
    if (sub.json.rope_theta !== undefined) theta = sub.num('rope_theta', theta);
    if (type === 'linear') scaling = { type, factor: sub.num('factor') };
    if (type === 'llama3')
      scaling = {
        type,
        factor: sub.num('factor'),
        lowFreqFactor: sub.num('low_freq_factor'),
        highFreqFactor: sub.num('high_freq_factor'),
        originalMaxPositions: sub.int('original_max_position_embeddings'),
      };
  }
  return { theta, ...(scaling ? { scaling } : {}) };
}

/** Llama and the families built like it (Mistral, Qwen2, Qwen3): RMSNorm, RoPE, SwiGLU, grouped-query attention. */
function llamaLikeArchitecture(r: ConfigReader, type: Exclude<HfModelType, 'gpt2'>): HfArchitecture {
  r.refuseUnless('partial_rotary_factor', (v) => v === 1, 'partial rotary embeddings');
  if (type === 'qwen2' || type === 'qwen3')
    r.refuseUnless('use_sliding_window', (v) => v === false, 'sliding-window attention');
  const hidden = r.int('hidden_size');
  const heads = r.int('num_attention_heads', undefined, HF_MAX_LAYERS);
  const kvHeads = r.int('num_key_value_heads', heads, HF_MAX_LAYERS);
  if (heads % kvHeads) r.fail('num_key_value_heads', `(${kvHeads}) must divide num_attention_heads (${heads})`);
  if (!r.has('head_dim') && type !== 'qwen3' && hidden % heads)
    r.fail('num_attention_heads', `(${heads}) must divide hidden_size (${hidden}) when head_dim is not given`);
  const headDim = r.int('head_dim', type === 'qwen3' ? 128 : hidden / heads);
  if (headDim % 2) r.fail('head_dim', `must be even for rotary embeddings, got ${headDim}`);
  const attentionBias = type === 'llama' || type === 'qwen3' ? r.bool('attention_bias', false) : false;
  const slidingWindow = type === 'mistral' && r.has('sliding_window') ? r.int('sliding_window') : undefined;
  return {
    modelType: type,
    hidden,
    layers: r.int('num_hidden_layers', undefined, HF_MAX_LAYERS),
    heads,
    kvHeads,
    headDim,
    intermediate: r.int('intermediate_size'),
    vocabSize: r.int('vocab_size'),
    norm: { kind: 'rmsnorm', eps: r.num('rms_norm_eps', 1e-6) },
    activation: activation(r, 'hidden_act', 'silu'),
    positions: { kind: 'rope', ...ropeConfig(r) },
    maxPositions: r.int('max_position_embeddings', { llama: 2048, mistral: 131072, qwen2: 32768, qwen3: 32768 }[type]),
    tiedEmbeddings: r.bool('tie_word_embeddings', false),
    // Qwen2 always biases q, k and v (not o); Llama and Qwen3 follow attention_bias for all four.
    bias: {
      qkv: type === 'qwen2' || attentionBias,
      o: attentionBias,
      mlp: type === 'llama' && r.bool('mlp_bias', false),
    },
    qkNorm: type === 'qwen3',
    attentionScale: { byHeadDim: true, byInverseLayer: false },
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
  };
}

/** The architecture config.json describes; a located exit-2 error for what distill-gate does not read. */
export function parseHfConfig(
  json: unknown,
  file: string,
): { architecture: HfArchitecture; tokenIds: HfConfigTokenIds } {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new DistillGateError('config.json must be a JSON object', { file });
  const r = new ConfigReader(json as Json, file);
  const type = r.json.model_type;
  if (type === undefined) r.fail('model_type', 'is missing: it names the architecture (gpt2, llama, qwen2, qwen3...)');
  if (!(HF_MODEL_TYPES as readonly unknown[]).includes(type))
    r.fail(
      'model_type',
      `is ${JSON.stringify(type)}; distill-gate reads ${HF_MODEL_TYPES.join(', ')}`,
      'a Hugging Face causal LM of another architecture needs its own graph in packages/train/src/families/hf/',
    );
  const modelType = type as HfModelType;
  const architecture = modelType === 'gpt2' ? gpt2Architecture(r) : llamaLikeArchitecture(r, modelType);
  const [bos] = r.ids('bos_token_id');
  const [pad] = r.ids('pad_token_id');
  return {
    architecture,
    tokenIds: {
      ...(bos !== undefined ? { bos } : {}),
      eos: r.ids('eos_token_id'),
      ...(pad !== undefined ? { pad } : {}),
    },
  };
}
