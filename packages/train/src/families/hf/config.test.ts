import { DistillGateError } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { parseHfConfig } from './config.js';

const FILE = '/models/m/config.json';

const llama = {
  model_type: 'llama',
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 1000,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  max_position_embeddings: 2048,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: [2, 3],
};

function refused(json: unknown): DistillGateError {
  try {
    parseHfConfig(json, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(DistillGateError);
    expect((e as DistillGateError).exitCode).toBe(2);
    expect((e as DistillGateError).location.file).toBe(FILE);
    return e as DistillGateError;
  }
  throw new Error('parseHfConfig accepted it');
}

describe('config.json per model_type', () => {
  it('reads GPT-2 with its defaults (n_inner null, tied head, gelu_new, scaled attention)', () => {
    const { architecture, tokenIds } = parseHfConfig(
      { model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, vocab_size: 500, n_inner: null },
      FILE,
    );
    expect(architecture).toEqual({
      modelType: 'gpt2',
      hidden: 64,
      layers: 2,
      heads: 4,
      kvHeads: 4,
      headDim: 16,
      intermediate: 256,
      vocabSize: 500,
      norm: { kind: 'layernorm', eps: 1e-5 },
      activation: 'gelu_new',
      positions: { kind: 'learned' },
      maxPositions: 128,
      tiedEmbeddings: true,
      bias: { qkv: true, o: true, mlp: true },
      qkNorm: false,
      attentionScale: { byHeadDim: true, byInverseLayer: false },
    });
    expect(tokenIds).toEqual({ eos: [] });
  });

  it('reads Llama (grouped-query attention, RoPE base, tied head, end ids)', () => {
    const { architecture, tokenIds } = parseHfConfig(llama, FILE);
    expect(architecture).toMatchObject({
      modelType: 'llama',
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      norm: { kind: 'rmsnorm', eps: 1e-5 },
      activation: 'silu',
      positions: { kind: 'rope', theta: 500000 },
      tiedEmbeddings: true,
      bias: { qkv: false, o: false, mlp: false },
      qkNorm: false,
    });
    expect(tokenIds).toEqual({ bos: 1, eos: [2, 3] });
    const biased = parseHfConfig({ ...llama, attention_bias: true, mlp_bias: true }, FILE).architecture;
    expect(biased.bias).toEqual({ qkv: true, o: true, mlp: true });
  });

  it('gives Qwen2 its q/k/v bias, Qwen3 its q/k norm and own head_dim, Mistral its sliding window', () => {
    const qwen2 = parseHfConfig({ ...llama, model_type: 'qwen2', use_sliding_window: false }, FILE).architecture;
    expect(qwen2.bias).toEqual({ qkv: true, o: false, mlp: false });
    expect(qwen2.tiedEmbeddings).toBe(true);
    const qwen3 = parseHfConfig({ ...llama, model_type: 'qwen3', head_dim: 32 }, FILE).architecture;
    expect(qwen3).toMatchObject({ qkNorm: true, headDim: 32, bias: { qkv: false, o: false, mlp: false } });
    const untied = { ...llama, model_type: 'qwen3' } as Record<string, unknown>;
    delete untied.tie_word_embeddings;
    expect(parseHfConfig(untied, FILE).architecture).toMatchObject({ headDim: 128, tiedEmbeddings: false });
    const mistral = parseHfConfig({ ...llama, model_type: 'mistral', sliding_window: 4096 }, FILE).architecture;
    expect(mistral).toMatchObject({ modelType: 'mistral', slidingWindow: 4096, bias: { qkv: false } });
    expect(
      parseHfConfig({ ...llama, model_type: 'mistral', sliding_window: null }, FILE).architecture,
    ).not.toHaveProperty('slidingWindow');
  });

  it('implements linear and llama3 RoPE scaling, and reads rope_parameters', () => {
    const scaling = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4 };
    const l3 = parseHfConfig({ ...llama, rope_scaling: { ...scaling, original_max_position_embeddings: 8192 } }, FILE);
    expect(l3.architecture.positions).toEqual({
      kind: 'rope',
      theta: 500000,
      scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
    });
    const linear = parseHfConfig({ ...llama, rope_scaling: { type: 'linear', factor: 2 } }, FILE);
    expect(linear.architecture.positions).toEqual({
      kind: 'rope',
      theta: 500000,
      scaling: { type: 'linear', factor: 2 },
    });
    const v5 = { ...llama, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } };
    expect(parseHfConfig(v5, FILE).architecture.positions).toEqual({ kind: 'rope', theta: 1e6 });
    const missing = refused({ ...llama, rope_scaling: scaling });
    expect(missing.message).toBe('config.json "rope_scaling.original_max_position_embeddings" is missing');
  });
});

describe('config.json refusals', () => {
  it('refuses a model_type it does not read, or none, naming the supported ones', () => {
    const e = refused({ ...llama, model_type: 'gemma2' });
    expect(e.message).toBe(
      'config.json "model_type" is "gemma2"; distill-gate reads gpt2, llama, mistral, qwen2, qwen3',
    );
    expect(e.location.pointer).toBe('/model_type');
    expect(refused({ hidden_size: 4 }).message).toMatch(/^config.json "model_type" is missing/);
    expect(refused([1]).message).toBe('config.json must be a JSON object');
  });

  it('names a missing or malformed key', () => {
    const { hidden_size: _, ...noHidden } = llama;
    const e = refused(noHidden);
    expect(e.message).toBe('config.json "hidden_size" is missing (a llama model needs it)');
    expect(e.location.pointer).toBe('/hidden_size');
    expect(refused({ ...llama, num_hidden_layers: 2.5 }).message).toBe(
      'config.json "num_hidden_layers" must be a positive integer, got 2.5',
    );
    // Bounded, so that a config cannot make the reader list a billion layers' tensors (it ran out of memory).
    expect(refused({ ...llama, num_hidden_layers: 1e9 }).message).toBe(
      'config.json "num_hidden_layers" must be at most 1024, got 1000000000',
    );
    expect(refused({ ...llama, vocab_size: 2 ** 40 }).message).toBe(
      'config.json "vocab_size" must be at most 16777216, got 1099511627776',
    );
    expect(refused({ ...llama, rms_norm_eps: '1e-5' }).message).toBe(
      'config.json "rms_norm_eps" must be a positive number, got "1e-5"',
    );
    expect(refused({ ...llama, num_key_value_heads: 3 }).message).toBe(
      'config.json "num_key_value_heads" (3) must divide num_attention_heads (4)',
    );
    expect(refused({ model_type: 'gpt2', n_embd: 64, n_layer: 1, n_head: 4, vocab_size: 9 }).message).toBe(
      'config.json "n_positions" is missing (a gpt2 model needs it)',
    );
    expect(refused({ ...llama, hidden_act: 'gelu_10' }).message).toMatch(
      /^config.json "hidden_act" is "gelu_10"; supported: /,
    );
    expect(refused({ ...llama, eos_token_id: 'x' }).message).toBe(
      'config.json "eos_token_id" must be a token id or a list of token ids, got "x"',
    );
  });

  it('refuses RoPE scaling it does not implement, naming the key and the value', () => {
    for (const [key, typeKey] of [
      ['rope_scaling', 'rope_type'],
      ['rope_scaling', 'type'],
      ['rope_parameters', 'rope_type'],
    ]) {
      const e = refused({ ...llama, [key]: { [typeKey]: 'yarn', factor: 4 } });
      expect(e.message).toBe(
        `config.json "${key}.${typeKey}" is "yarn": ` +
          'that RoPE scaling is not implemented (only default, linear, llama3)',
      );
      expect(e.location.pointer).toBe(`/${key}/${typeKey}`);
    }
    expect(refused({ ...llama, rope_scaling: { rope_type: 'dynamic', factor: 2 } }).message).toMatch(/"dynamic"/);
  });

  it('refuses sliding-window attention, partial rotary embeddings and cross attention', () => {
    expect(refused({ ...llama, model_type: 'qwen2', use_sliding_window: true }).message).toBe(
      'config.json "use_sliding_window" is true: sliding-window attention is not supported ' +
        '(distill-gate computes exact log-probs only)',
    );
    expect(refused({ ...llama, partial_rotary_factor: 0.5 }).message).toMatch(/"partial_rotary_factor" is 0.5/);
    const gpt2 = { model_type: 'gpt2', n_embd: 8, n_layer: 1, n_head: 2, n_positions: 8, vocab_size: 9 };
    expect(refused({ ...gpt2, add_cross_attention: true }).message).toMatch(/"add_cross_attention" is true/);
    expect(refused({ ...gpt2, n_head: 3 }).message).toBe('config.json "n_head" (3) must divide n_embd (8)');
  });
});
