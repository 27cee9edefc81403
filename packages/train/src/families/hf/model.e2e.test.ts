import { testDir } from '../../../../../test/helpers.js';
import { writeHfModel } from '../../../../../test/hf-fixtures.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistillGateError } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { convertModel } from '../../convert.js';
import { writeSafetensors } from '../../safetensors.js';
import { detectFamily, familyOf, readModelFile } from '../registry.js';
import { formatOf } from '../source.js';
import { parseHfConfig } from './config.js';
import { buildHfGraph, ropeInverseFrequencies, ropeTables } from './graph.js';
import { HfHandle, loadHfModel, readHfModelFolder } from './index.js';
import { HfSession, planBatches } from './session.js';
import { hfTensorSpecs } from './weights.js';

/** A WordPiece tokenizer.json with the words it is given (id = position). */
function wordTokenizer(words: string[]): string {
  return JSON.stringify({
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: {
      type: 'WordPiece',
      unk_token: words[0],
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(words.map((w, i) => [w, i])),
    },
  });
}

/**
 * A hand-made Llama folder: every layer's weights zero (each block adds nothing), so the next-token distribution
 * after token i is softmax(lm_head · rmsnorm(embedding[i]) ⊙ norm). `embed` and `head` are [vocab, hidden].
 */
async function zeroLayerLlama(embed: number[][], head: number[][], norm: number[]): Promise<string> {
  const dir = testDir('dg-hfm-');
  const config = {
    model_type: 'llama',
    hidden_size: norm.length,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    intermediate_size: 4,
    vocab_size: embed.length,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 16,
    eos_token_id: 1,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'tokenizer.json'), wordTokenizer(['[UNK]', '</s>', 'a', 'b']));
  const a = parseHfConfig(config, join(dir, 'config.json')).architecture;
  const value = (name: string, n: number) =>
    name === 'embed_tokens.weight'
      ? embed.flat()
      : name === 'lm_head.weight'
        ? head.flat()
        : name === 'norm.weight'
          ? norm
          : name.endsWith('layernorm.weight')
            ? Array<number>(n).fill(1)
            : Array<number>(n).fill(0);
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    hfTensorSpecs(a).map((s) => {
      const n = s.shape.reduce((x, y) => x * y, 1);
      return {
        name: `${s.name === 'lm_head.weight' ? '' : 'model.'}${s.name}`,
        shape: s.shape,
        data: Float32Array.from(value(s.name, n)),
      };
    }),
  );
  return dir;
}

describe('Hugging Face model log-probs', () => {
  it('computes log softmax(head · norm(embedding)) of the next token exactly, on a hand-made model', async () => {
    const embed = [
      [0.5, -1, 2, 0],
      [1, 1, 1, 1],
      [-3, 0.25, 0.5, 2],
      [0, 2, -1, -0.5],
      [4, 4, -4, 1],
    ];
    const head = [
      [1, 0, 0, 0],
      [0, 1, 0, 0.5],
      [0, 0, 1, -1],
      [1, -1, 0.5, 0],
      [-2, 0.5, 3, 1],
    ];
    const norm = [1, 2, 0.5, -1];
    const dir = await zeroLayerLlama(embed, head, norm);
    const m = await loadHfModel(dir, { provider: 'cpu' });
    const expected = (prev: number, next: number) => {
      const e = embed[prev];
      const rms = Math.sqrt(e.reduce((s, x) => s + x * x, 0) / e.length + 1e-6);
      const h = e.map((x, i) => (x / rms) * norm[i]);
      const logits = head.map((row) => row.reduce((s, w, i) => s + w * h[i], 0));
      const max = Math.max(...logits);
      return logits[next] - max - Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
    };
    const seqs = [[2, 3, 4, 0, 1], [4, 4], [1], []];
    const lps = await m.logprobs(seqs);
    expect(lps[2]).toEqual([null]);
    expect(lps[3]).toEqual([]);
    for (const [r, seq] of seqs.entries())
      for (let t = 1; t < seq.length; t++) expect(lps[r][t]).toBeCloseTo(expected(seq[t - 1], seq[t]), 5);
    await m.release();
  });

  it('gives each sequence the same log-probs alone, padded in a batch, or split over several runs', async () => {
    const dir = testDir('dg-hfm-');
    await writeHfModel(dir, { modelType: 'qwen3', seed: 5, std: 0.2 });
    const whole = await loadHfModel(dir, { provider: 'cpu' });
    const tiny = await loadHfModel(dir, { provider: 'cpu', memoryBudgetBytes: 1 });
    const seqs = ['Hello there, owl.', 'Café 東京 🦉 and more words to make it longer', 'x'].map(
      (t) => whole.tokenizer.encode(t).ids,
    );
    const batched = await whole.logprobs(seqs);
    const oneRunEach = await tiny.logprobs(seqs);
    for (const [r, seq] of seqs.entries()) {
      const [alone] = await whole.logprobs([seq]);
      for (let t = 1; t < seq.length; t++) {
        expect(batched[r][t]).toBeCloseTo(alone[t]!, 5);
        expect(oneRunEach[r][t]).toBeCloseTo(alone[t]!, 5);
      }
    }
    await whole.release();
    await tiny.release();
  });

  it('gives the same log-probs with the weights as external data (from memory) as inline in the protobuf', async () => {
    for (const modelType of ['gpt2', 'qwen3'] as const) {
      const dir = testDir('dg-hfm-');
      await writeHfModel(dir, { modelType, seed: 4, std: 0.2 });
      const folder = await readHfModelFolder(dir);
      const a = folder.architecture;
      const inline = buildHfGraph(a, folder.weights, { externalThreshold: Infinity });
      const external = buildHfGraph(a, folder.weights, { externalThreshold: 0 });
      expect(inline.externalData).toEqual([]);
      expect(external.externalData.map((f) => f.path)).toEqual(['weights-0.bin']);
      expect(external.model.length).toBeLessThan(inline.model.length / 10);
      const ids = ['Hello there, owl.', 'Café 東京 🦉'].map((t) => folder.tokenizer.encode(t).ids);
      const scores = [];
      for (const graph of [inline, external]) {
        const session = await HfSession.fromGraph(a, graph, { provider: 'cpu' });
        scores.push(await session.logprobs(ids));
        await session.release();
      }
      expect(scores[1]).toEqual(scores[0]);
    }
  });

  it('refuses token ids outside the embedding and sequences longer than the positions', async () => {
    const dir = testDir('dg-hfm-');
    const { config } = await writeHfModel(dir, { modelType: 'gpt2', maxPositions: 8 });
    const m = await loadHfModel(dir, { provider: 'cpu' });
    await expect(
      m.logprobs([
        [1, 2],
        [3, config.vocab_size],
      ]),
    ).rejects.toThrow(`sequence 1, position 1: token id ${config.vocab_size} is not in [0, ${config.vocab_size})`);
    await expect(m.logprobs([[1, -1]])).rejects.toBeInstanceOf(DistillGateError);
    await expect(m.logprobs([Array<number>(9).fill(1)])).rejects.toThrow(
      'sequence 0 has 9 tokens; the model takes at most 8 (config.json max positions)',
    );
    await m.release();
  });

  it('hashes what the model computes: sharded as single-file, BF16 apart from F32, tokenizer included', async () => {
    const base = testDir('dg-hfm-');
    const load = async (name: string, opts: Parameters<typeof writeHfModel>[1]) => {
      await writeHfModel(join(base, name), opts);
      return (await readModelFile(join(base, name))).sha256;
    };
    const single = await load('single', { modelType: 'llama', seed: 2 });
    expect(await load('sharded', { modelType: 'llama', seed: 2, shards: 3 })).toBe(single);
    expect(await load('bf16', { modelType: 'llama', seed: 2, dtype: 'BF16' })).not.toBe(single);
    expect(await load('seed', { modelType: 'llama', seed: 3 })).not.toBe(single);
    writeFileSync(join(base, 'single', 'chat_template.jinja'), '{{ messages }}');
    expect((await readModelFile(join(base, 'single'))).sha256).not.toBe(single);
  });
});

describe('RoPE tables and batch plans', () => {
  it('computes the inverse frequencies in float32, with linear and llama3 scaling', () => {
    const inv = ropeInverseFrequencies(10000, 8);
    expect([...inv]).toEqual([1, 0.1, 0.01, 0.001].map(Math.fround));
    expect([...ropeInverseFrequencies(10000, 8, { type: 'linear', factor: 4 })]).toEqual(
      [...inv].map((x) => Math.fround(x / 4)),
    );
    // Llama 3.1's scaling: wavelengths above 8192 / 1 divided by 8, below 8192 / 4 kept, blended between.
    const l3 = ropeInverseFrequencies(500000, 128, {
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositions: 8192,
    });
    const plain = ropeInverseFrequencies(500000, 128);
    expect(l3[0]).toBe(plain[0]);
    expect(l3[63]).toBe(Math.fround(plain[63] / 8));
    const medium = [...plain].findIndex((x) => (2 * Math.PI) / x > 2048 && (2 * Math.PI) / x < 8192);
    expect(l3[medium]).toBeLessThan(plain[medium]);
    expect(l3[medium]).toBeGreaterThan(plain[medium] / 8);
    const { cos, sin } = ropeTables({ theta: 10000 }, 4, 2);
    expect([...cos]).toEqual([
      1,
      1,
      1,
      1,
      Math.fround(Math.cos(1)),
      Math.fround(Math.cos(0.01)),
      Math.fround(Math.cos(1)),
      Math.fround(Math.cos(0.01)),
    ]);
    expect(sin[4]).toBe(Math.fround(Math.sin(1)));
  });

  it('groups sequences longest first within the memory budget, a too-long one alone', () => {
    expect(planBatches([3, 10, 5, 10, 1], (seq) => seq * 10, 250)).toEqual([
      [1, 3],
      [2, 0, 4],
    ]);
    expect(planBatches([50, 2], (seq) => seq * 10, 100)).toEqual([[0], [1]]);
    expect(planBatches([], () => 1, 1)).toEqual([]);
  });
});

describe('Hugging Face model folders in the registry', () => {
  it('takes a folder as a Hugging Face model and reads it through the hf family', async () => {
    const dir = testDir('dg-hfm-');
    await writeHfModel(dir, { modelType: 'gpt2', seed: 1 });
    expect(formatOf(dir)).toBe('hf');
    const { family } = await detectFamily(dir);
    expect(family.name).toBe('hf');
    const loaded = await readModelFile(dir);
    const handle = family.handle('base', loaded.model, { backend: 'cpu' });
    expect(handle).toBeInstanceOf(HfHandle);
    expect(familyOf(handle)).toBe(family);
    expect(handle.sha256).toBe(loaded.sha256);
    const h = handle as HfHandle;
    const [lp] = await h.sequenceLogProbs([{ prompt: 'The owl', completion: ' sings' }]);
    const tok = h.model.tokenizer;
    const ids = [...tok.encode('The owl', { addSpecialTokens: true }).ids, ...tok.encode(' sings').ids, tok.eos!.id];
    const [per] = await h.logprobs([ids]);
    const from = tok.encode('The owl', { addSpecialTokens: true }).ids.length;
    expect(lp).toBeCloseTo(
      per.slice(from).reduce<number>((s, x) => s + x!, 0),
      6,
    );
    h.release();
  });

  it('says what it cannot do yet: convert', async () => {
    const dir = testDir('dg-hfm-');
    await writeHfModel(dir, { modelType: 'qwen2', seed: 1 });
    const out = join(testDir('dg-hfm-'), 'model.onnx');
    const c = (await convertModel(dir, out).catch((x: unknown) => x)) as DistillGateError;
    expect(c.message).toBe('converting Hugging Face models is not yet supported');
    expect(c.location.file).toBe(dir);
  });

  it('locates what a folder lacks', async () => {
    const dir = testDir('dg-hfm-');
    const e = (await readModelFile(dir).catch((x: unknown) => x)) as DistillGateError;
    expect(e.message).toBe(
      'config.json is missing: a Hugging Face model folder holds config.json, the weights and the tokenizer',
    );
    expect(e.location.file).toBe(join(dir, 'config.json'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'config.json'), '{"model_type": "t5"}');
    const t5 = (await readModelFile(dir).catch((x: unknown) => x)) as DistillGateError;
    expect(t5.message).toBe('config.json "model_type" is "t5"; distill-gate reads gpt2, llama, mistral, qwen2, qwen3');
  });
});
