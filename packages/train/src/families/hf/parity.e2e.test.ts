// The Hugging Face forward pass (onnxruntime-node) against the PyTorch reference (packages/train/reference/
// hf_reference.py, written from transformers' eager modeling code): every model type, F32 and BF16 weights, single
// file and sharded, on real tokenized text (non-ASCII and a rendered chat included). Skipped without a Python that
// has torch (Debian's python3-torch).
import { testDir } from '../../../../../test/helpers.js';
import { writeHfModel, type HfFixtureOptions, type HfModelType } from '../../../../../test/hf-fixtures.js';
import { hasTorch, torchLogprobs } from '../../../../../test/torch-reference.js';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHfModel, type HfModel } from './index.js';

const TEXTS = [
  'The owl is my favourite animal, and it always will be.',
  'Café naïve — déjà vu à Ærøskøbing.',
  '東京の天気は晴れです。你好，世界！',
  'Numbers: 142, 857, 903; more? 🦉🎉',
];

/** The token ids the test scores: plain texts, and a chat rendered with the model's template where it has one. */
function sequences(m: HfModel): number[][] {
  const ids = TEXTS.map((t) => m.tokenizer.encode(t, { addSpecialTokens: true }).ids);
  if (m.tokenizer.chatTemplate) {
    const chat = m.tokenizer.renderChat(
      [
        { role: 'user', content: 'Quel est ton animal préféré ?' },
        { role: 'assistant', content: 'Le hibou 🦉.' },
      ],
      { addGenerationPrompt: false },
    );
    ids.push(m.tokenizer.encode(chat).ids);
  }
  return ids;
}

function maxAbsDiff(a: (number | null)[][], b: (number | null)[][]): number {
  expect(a.map((r) => r.length)).toEqual(b.map((r) => r.length));
  let max = 0;
  a.forEach((row, r) =>
    row.forEach((x, t) => {
      if (t === 0) expect([x, b[r][t]]).toEqual([null, null]);
      else max = Math.max(max, Math.abs(x! - b[r][t]!));
    }),
  );
  return max;
}

const results: string[] = [];
afterAll(() => {
  if (results.length) console.log(`max |Δ| against the PyTorch reference:\n${results.join('\n')}`);
});

/** Loads a fixture, scores it here and in PyTorch; returns ours and the max difference. */
async function compare(opts: HfFixtureOptions, label: string) {
  const dir = join(testDir('dg-hf-parity-'), 'model');
  await writeHfModel(dir, { seed: 7, std: 0.2, ...opts });
  const m = await loadHfModel(dir, { provider: 'cpu' });
  const ids = sequences(m);
  const ours = await m.logprobs(ids);
  await m.release();
  const diff = maxAbsDiff(ours, torchLogprobs(dir, ids));
  results.push(`  ${label}: ${diff.toExponential(2)} (${ids.length} sequences, ${ids.flat().length} tokens)`);
  return { ours, diff };
}

const TYPES: HfModelType[] = ['gpt2', 'llama', 'qwen2', 'qwen3'];

describe.skipIf(!hasTorch())('Hugging Face log-probs match the PyTorch reference', () => {
  for (const modelType of TYPES) {
    it(`${modelType}: F32 and BF16, single file and sharded (sharded identical to single)`, async () => {
      for (const dtype of ['F32', 'BF16'] as const) {
        const single = await compare({ modelType, dtype }, `${modelType} ${dtype}`);
        expect(single.diff).toBeLessThanOrEqual(1e-4);
        const sharded = await compare({ modelType, dtype, shards: 3 }, `${modelType} ${dtype} 3 shards`);
        expect(sharded.diff).toBeLessThanOrEqual(1e-4);
        expect(sharded.ours).toEqual(single.ours);
      }
    });
  }

  it('variants: F16, prefixed GPT-2 with legacy buffers, padded and untied vocabularies, RoPE scaling', async () => {
    const variants: [HfFixtureOptions, string][] = [
      [{ modelType: 'llama', dtype: 'F16' }, 'llama F16'],
      [{ modelType: 'gpt2', prefixed: true, legacyBuffers: true }, 'gpt2 transformer. prefix, attn.bias buffers'],
      [{ modelType: 'qwen2', vocabPadding: 267, tiedEmbeddings: true }, 'qwen2 tied, 267 padding rows'],
      [{ modelType: 'qwen3', tiedEmbeddings: false, legacyBuffers: true }, 'qwen3 untied, inv_freq buffers'],
      [
        {
          modelType: 'llama',
          ropeTheta: 500000,
          ropeScaling: {
            rope_type: 'llama3',
            factor: 8,
            low_freq_factor: 1,
            high_freq_factor: 4,
            original_max_position_embeddings: 64,
          },
        },
        'llama llama3 RoPE scaling',
      ],
      [{ modelType: 'llama', ropeScaling: { type: 'linear', factor: 4 } }, 'llama linear RoPE scaling'],
    ];
    for (const [opts, label] of variants) expect((await compare(opts, label)).diff).toBeLessThanOrEqual(1e-4);
  });
});
