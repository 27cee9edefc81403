import { testDir } from '../../../../../test/helpers.js';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistillGateError } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { openSafetensorsCheckpoint, writeSafetensors } from '../../safetensors.js';
import { parseHfConfig, type HfArchitecture } from './config.js';
import {
  availableMemory,
  checkVocabulary,
  estimateLoadPeak,
  hfTensorSpecs,
  planHfWeights,
  readHfWeights,
  type HfTensorSpec,
} from './weights.js';

const gpt2 = parseHfConfig(
  { model_type: 'gpt2', n_embd: 8, n_layer: 1, n_head: 2, n_positions: 6, vocab_size: 11 },
  'config.json',
).architecture;
const qwen2 = parseHfConfig(
  {
    model_type: 'qwen2',
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    intermediate_size: 12,
    vocab_size: 11,
  },
  'config.json',
).architecture;

/** A single-file checkpoint of the given tensors (values 0, 1, 2... per tensor). */
async function checkpoint(tensors: { name: string; shape: number[] }[]): Promise<string> {
  const dir = testDir('dg-hfw-');
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    tensors.map(({ name, shape }) => ({
      name,
      shape,
      data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i),
    })),
  );
  return dir;
}

const named = (specs: HfTensorSpec[], prefix: string) =>
  specs.map((s) => ({ ...s, name: s.name === 'lm_head.weight' ? s.name : prefix + s.name }));

async function refused(a: HfArchitecture, dir: string): Promise<DistillGateError> {
  const e = await readHfWeights(a, await openSafetensorsCheckpoint(dir)).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(DistillGateError);
  return e as DistillGateError;
}

describe('mapping Hugging Face tensors', () => {
  it('reads GPT-2 with or without the transformer. prefix, skipping the attention-mask buffers', async () => {
    for (const prefix of ['', 'transformer.']) {
      const buffers = [
        { name: `${prefix}h.0.attn.bias`, shape: [1, 1, 6, 6] },
        { name: `${prefix}h.0.attn.masked_bias`, shape: [] },
      ];
      const dir = await checkpoint([...named(hfTensorSpecs(gpt2), prefix), ...buffers]);
      const w = await readHfWeights(gpt2, await openSafetensorsCheckpoint(dir));
      expect([...w.tensors.keys()]).toEqual(hfTensorSpecs(gpt2).map((s) => s.name));
      // Conv1D keeps its [in, out] layout: c_attn is [8, 24].
      expect(w.specs.find((s) => s.name === 'h.0.attn.c_attn.weight')!.shape).toEqual([8, 24]);
      expect(w.tensors.get('h.0.attn.c_attn.weight')!.length).toBe(8 * 24);
    }
  });

  it('reads Qwen2 (q/k/v bias, grouped kv heads) under model., own lm_head, or a tied head saved anyway', async () => {
    const specs = hfTensorSpecs(qwen2);
    expect(specs.map((s) => `${s.name} [${s.shape}]`)).toContain('layers.0.self_attn.k_proj.bias [4]');
    expect(specs.map((s) => s.name)).toContain('lm_head.weight');
    expect(specs.map((s) => s.name)).not.toContain('layers.0.self_attn.o_proj.bias');
    const dir = await checkpoint([
      ...named(specs, 'model.'),
      { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [2] },
    ]);
    expect((await readHfWeights(qwen2, await openSafetensorsCheckpoint(dir))).tensors.size).toBe(specs.length);
    const tied = { ...qwen2, tiedEmbeddings: true };
    const both = await checkpoint(named(specs, 'model.'));
    expect((await readHfWeights(tied, await openSafetensorsCheckpoint(both))).tensors.has('lm_head.weight')).toBe(
      false,
    );
  });

  it('names a missing tensor, with the shape it needs (and why an untied head is needed)', async () => {
    const specs = named(hfTensorSpecs(qwen2), 'model.');
    const noK = await refused(
      qwen2,
      await checkpoint(specs.filter((s) => s.name !== 'model.layers.0.self_attn.k_proj.weight')),
    );
    expect(noK.message).toBe(
      'tensor "model.layers.0.self_attn.k_proj.weight" is missing: ' +
        'a qwen2 model with this config.json needs it, shape [4,8]',
    );
    const noHead = await refused(qwen2, await checkpoint(specs.filter((s) => s.name !== 'lm_head.weight')));
    expect(noHead.message).toMatch(/^tensor "lm_head.weight" is missing/);
    expect(noHead.hint).toBe('config.json says the output head is not tied (tie_word_embeddings)');
  });

  it('names a tensor whose shape differs from what config.json implies: file, tensor, both shapes', async () => {
    const specs = named(hfTensorSpecs(gpt2), '').map((s) =>
      s.name === 'h.0.mlp.c_fc.weight' ? { ...s, shape: [32, 8] } : s,
    );
    const dir = await checkpoint(specs);
    const e = await refused(gpt2, dir);
    expect(e.message).toBe('tensor "h.0.mlp.c_fc.weight" has shape [32,8]; config.json implies [8,32]');
    expect(e.location).toEqual({ file: join(dir, 'model.safetensors'), pointer: '/h.0.mlp.c_fc.weight' });
  });

  it('refuses a tensor the architecture does not use (config.json and the weights disagree)', async () => {
    const dir = await checkpoint([
      ...named(hfTensorSpecs(qwen2), 'model.'),
      { name: 'model.layers.0.self_attn.o_proj.bias', shape: [8] },
    ]);
    const e = await refused(qwen2, dir);
    expect(e.message).toBe(
      'tensor "model.layers.0.self_attn.o_proj.bias" is not part of a qwen2 model with this config.json ' +
        '(config.json declares no such layer, bias or norm)',
    );
  });

  it('accepts an embedding with more rows than the tokenizer has tokens, and refuses one with fewer', () => {
    expect(() => checkVocabulary(qwen2, 9, '/m/config.json')).not.toThrow();
    expect(() => checkVocabulary(qwen2, 11, '/m/config.json')).not.toThrow();
    const e = (() => {
      try {
        checkVocabulary(qwen2, 12, '/m/config.json');
      } catch (x) {
        return x as DistillGateError;
      }
    })()!;
    expect(e.message).toBe(
      'the tokenizer has 12 tokens but the embedding has only 11 rows (config.json "vocab_size"): ' +
        'token ids past it have no embedding',
    );
    expect(e.location).toEqual({ file: '/m/config.json', pointer: '/vocab_size' });
  });

  /** A BF16 checkpoint whose data section is a sparse hole: its header is all that is read before a refusal. */
  function sparseCheckpoint(a: HfArchitecture): string {
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const s of hfTensorSpecs(a)) {
      const bytes = s.shape.reduce((x, y) => x * y, 1) * 2;
      header[s.name] = { dtype: 'BF16', shape: s.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const dir = testDir('dg-hfw-');
    const file = join(dir, 'model.safetensors');
    writeFileSync(file, Buffer.concat([len, json]));
    truncateSync(file, 8 + json.length + offset);
    return dir;
  }

  it('refuses, before reading any tensor, weights whose load would not fit in memory, naming both', async () => {
    const big = { ...gpt2, vocabSize: 400_000, hidden: 1024, headDim: 512, intermediate: 16 };
    const dir = sparseCheckpoint(big);
    const e = await readHfWeights(big, await openSafetensorsCheckpoint(dir), { memory: 4e9 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DistillGateError);
    expect((e as DistillGateError).message).toBe(
      'the weights take 1.66 GB as float32; loading them takes about 5.50 GB of memory ' +
        '(3x the float32 weights + 0.54 GB) and this machine has 4.00 GB',
    );
    expect((e as DistillGateError).location).toEqual({ file: join(dir, 'model.safetensors') });
    expect(estimateLoadPeak(1.66e9)).toBeGreaterThan(4e9);
    expect(availableMemory()).toBeGreaterThan(0);
  });

  it('plans weights over 2 GB as float32 (no ONNX graph size limit) where memory allows', async () => {
    const huge = { ...gpt2, vocabSize: 600_000, hidden: 1024, headDim: 512, intermediate: 16 };
    const ckpt = await openSafetensorsCheckpoint(sparseCheckpoint(huge));
    const { specs } = planHfWeights(huge, ckpt, 1e12);
    const bytes = specs.reduce((n, s) => n + s.shape.reduce((x, y) => x * y, 1) * 4, 0);
    expect(bytes).toBeGreaterThan(2 ** 31);
    expect(() => planHfWeights(huge, ckpt, estimateLoadPeak(bytes) - 1)).toThrow(/loading them takes about/);
  });
});
