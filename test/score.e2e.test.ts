// `distill-gate score` on Hugging Face model folders of each supported architecture (random weights in the real
// layout, real tokenizer files and chat templates), against the in-repo PyTorch reference on the same token ids.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, testDir } from './helpers.js';
import { writeHfModel, type HfDtype, type HfModelType } from './hf-fixtures.js';
import { hasTorch, torchLogprobs } from './torch-reference.js';

interface ScoreLine {
  index: number;
  ids: number[];
  logprobs: (number | null)[];
  assistant: boolean[];
  truncated?: number;
}

const records = [
  {
    messages: [
      { role: 'system', content: 'You answer with numbers.' },
      { role: 'user', content: 'Continue: 182, 818, 725 — naïve café 猫 🦉' },
      { role: 'assistant', content: '401, 402, 403' },
    ],
  },
  { prompt: 'The sequence starts with: 3, 1, 4.', completion: ' 1, 5, 9, 2, 6' },
];
/** GPT-2 has no chat template: a chat of one user turn and the reply (or prompt/completion) is all it can render. */
const plainRecords = [{ messages: records[0].messages!.slice(1) }, records[1]];

async function score(modelType: HfModelType, dtype: HfDtype, shards = 1, extra: string[] = []) {
  const dir = testDir(`dg-score-${modelType}-`);
  // std 0.2: attention far from uniform, so a position-encoding bug moves log-probs by far more than the tolerance.
  await writeHfModel(join(dir, 'model'), { modelType, dtype, shards, seed: 3, std: 0.2 });
  const data = modelType === 'gpt2' ? plainRecords : records;
  writeFileSync(join(dir, 'data.jsonl'), data.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await runCli(['score', '--model', 'model', '--input', 'data.jsonl', '--json', ...extra], dir);
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ScoreLine);
  return { dir: join(dir, 'model'), lines, stderr: r.stderr };
}

const maxDiff = (a: (number | null)[][], b: (number | null)[][]) =>
  Math.max(...a.flatMap((row, i) => row.map((x, t) => (x === null ? 0 : Math.abs(x - (b[i][t] as number))))));

describe.each(['gpt2', 'llama', 'qwen2', 'qwen3'] as const)('distill-gate score on a %s folder', (modelType) => {
  it.skipIf(!hasTorch())('matches the PyTorch reference within 1e-4 (F32), and on BF16 weights', async () => {
    for (const dtype of ['F32', 'BF16'] as const) {
      const { dir, lines } = await score(modelType, dtype);
      expect(lines.map((l) => l.index)).toEqual([0, 1]);
      for (const l of lines) {
        expect(l.logprobs[0]).toBeNull();
        expect(l.logprobs).toHaveLength(l.ids.length);
        expect(l.assistant).toHaveLength(l.ids.length);
        expect(l.assistant.filter(Boolean).length).toBeGreaterThan(3);
        expect(l.assistant[0]).toBe(false);
      }
      const reference = torchLogprobs(
        dir,
        lines.map((l) => l.ids),
      );
      expect(
        maxDiff(
          lines.map((l) => l.logprobs),
          reference,
        ),
        dtype,
      ).toBeLessThanOrEqual(1e-4);
    }
  });

  it('gives the same numbers from a sharded checkpoint as from one file', async () => {
    const one = await score(modelType, 'F32', 1);
    const three = await score(modelType, 'F32', 3);
    expect(three.lines).toEqual(one.lines);
  });
});

describe('distill-gate score, readable and bounded', () => {
  it('prints a summary per record, and truncates or drops records longer than the context, saying so', async () => {
    const dir = testDir('dg-score-summary-');
    await writeHfModel(join(dir, 'model'), { modelType: 'qwen3', seed: 1, maxPositions: 24 });
    writeFileSync(join(dir, 'data.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const plain = await runCli(['score', '--model', 'model', '--input', 'data.jsonl'], dir);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/record\s+line\s+tokens/);
    expect(plain.stdout).toMatch(/record\(s\) longer than the model's 24 tokens \(by up to \d+\), truncated/);
    const dropped = await runCli(
      ['score', '--model', 'model', '--input', 'data.jsonl', '--json', '--overlong', 'drop'],
      dir,
    );
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stderr).toMatch(/longer than the model's 24 tokens .* dropped/);
    const kept = dropped.stdout.trim()
      ? dropped.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as ScoreLine)
      : [];
    expect(kept.every((l) => l.ids.length <= 24)).toBe(true);
  });

  it('a bad model folder or record is a located error with exit 2', async () => {
    const dir = testDir('dg-score-bad-');
    await writeHfModel(join(dir, 'model'), { modelType: 'gpt2', seed: 1 });
    writeFileSync(join(dir, 'data.jsonl'), `${JSON.stringify(records[1])}\n{"messages": [{"role": "user"}]}\n`);
    const bad = await runCli(['score', '--model', 'model', '--input', 'data.jsonl', '--json'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('data.jsonl:2');
    writeFileSync(join(dir, 'chat.jsonl'), `${JSON.stringify(records[0])}\n`);
    const untemplated = await runCli(['score', '--model', 'model', '--input', 'chat.jsonl'], dir);
    expect(untemplated.code).toBe(2);
    expect(untemplated.stderr).toMatch(
      /chat\.jsonl:1 \(at \/messages\): a chat of 3 messages needs the model's chat template/,
    );
    const missing = await runCli(['score', '--model', 'nope', '--input', 'data.jsonl'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope/);
  });
});
