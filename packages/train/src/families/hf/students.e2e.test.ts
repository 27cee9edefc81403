// LoRA students of a Hugging Face base: records encoded for training (the assistant's tokens as targets; a generated
// record's own tokens and soft targets lined up with them), and whole training runs (deterministic for a seed,
// different across seeds, the loss going down).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTextDataset, writeTextDataset, type TextRecord } from '@distill-gate/core';
import { testDir } from '../../../../../test/helpers.js';
import { writeHfModel } from '../../../../../test/hf-fixtures.js';
import { readHfModelFolder } from './folder.js';
import { HfHandle } from './handle.js';
import { encodeHfExamples, hfJobArgs, trainHfJob } from './students.js';

const run = { engine: 'onnxruntime' as const, backend: 'cpu', threads: 1, onStep: () => undefined };

async function fixture() {
  const dir = join(testDir('dg-hf-students-'), 'model');
  await writeHfModel(dir, { modelType: 'qwen3', seed: 2, std: 0.2 });
  return readHfModelFolder(dir);
}

describe('LoRA students of a Hugging Face base', () => {
  it("encodes a generated record with the teacher's own tokens, soft targets lined up with them", async () => {
    const model = await fixture();
    const teacher = new HfHandle('teacher', model);
    const prompts = ['Continue: 101, 202, 303.', 'Name an animal.'];
    const out = await teacher.generate(prompts, { temperature: 1, topP: 1, maxTokens: 6, seed: 4, topLogprobs: 3 });
    teacher.release();
    const records: TextRecord[] = out.map((o, index) => ({
      index,
      line: index + 1,
      prompt: prompts[index],
      completion: o.completion,
      tokens: o.tokens,
      logprobs: o.logprobs,
    }));
    // Through a file, as a recipe writes them: the byte-level pieces ("Ġ101") are read back as written.
    const file = join(testDir('dg-hf-generated-'), 'generated.jsonl');
    await writeTextDataset(file, { kind: 'text', records, metadata: {} });
    const reread = (await readTextDataset(file)).records;
    expect(reread.map((r) => r.tokens)).toEqual(records.map((r) => r.tokens));
    const x = encodeHfExamples(model, reread, 'error');
    // Pieces that do not decode to the completion are a located error.
    expect(() => encodeHfExamples(model, [{ ...records[0], tokens: records[0].tokens!.slice(1) }], 'error')).toThrow(
      /the tokens decode to .* under the base's tokenizer, not to the completion/,
    );
    records.forEach((r, i) => {
      const ids = Array.from(x.ids.subarray(x.offsets[i], x.offsets[i + 1]));
      const loss = Array.from(x.loss.subarray(x.offsets[i], x.offsets[i + 1]));
      const prompt = teacher.promptIds(r.prompt);
      expect(ids.slice(0, prompt.length)).toEqual(prompt);
      expect(ids.slice(prompt.length, -1)).toEqual(r.tokens!.map((t) => model.tokenizer.tokenToId(t)));
      // The reply's tokens and its end carry the loss; each of the teacher's steps gave one soft target.
      expect(loss.slice(prompt.length).every((l) => l === 1)).toBe(true);
      expect(loss.slice(0, prompt.length).every((l) => l === 0)).toBe(true);
      const soft = Array.from(x.soft!.at.subarray(x.offsets[i], x.offsets[i + 1])).filter((s) => s >= 0);
      expect(soft).toHaveLength(r.logprobs!.length);
    });
    // Each soft target is a distribution.
    for (let s = 0; s + 1 < x.soft!.entryOffsets.length; s++) {
      const probs = x.soft!.entryProbs.subarray(x.soft!.entryOffsets[s], x.soft!.entryOffsets[s + 1]);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    // Truncated to the context (training.overlong "truncate"): the soft targets are cut with the reply.
    const prompt = teacher.promptIds(records[0].prompt);
    const short = { ...model, architecture: { ...model.architecture, maxPositions: prompt.length + 2 } };
    const cut = encodeHfExamples(short, [records[0]], 'truncate');
    expect(cut.ids.length).toBe(prompt.length + 2);
    expect(Array.from(cut.soft!.at).filter((a) => a >= 0)).toHaveLength(2);
    expect(() => encodeHfExamples(short, [records[0]], 'error')).toThrow(/the model reads/);
    // Soft targets that do not fit the reply are a located error, never dropped.
    const bad = { ...records[0], logprobs: [...records[0].logprobs!, { a: -1 }, { b: -1 }] };
    expect(() => encodeHfExamples(model, [bad], 'error')).toThrow(/has \d+ entries but the reply is \d+ tokens/);
  });

  it('trains the same student for a seed, another for another seed, and lowers the loss', async () => {
    const model = await fixture();
    const records: TextRecord[] = Array.from({ length: 6 }, (_, k) => ({
      index: k,
      line: k + 1,
      prompt: `Continue: ${100 + k}, ${200 + k}.`,
      completion: `${300 + k}, ${400 + k}`,
    }));
    const x = encodeHfExamples(model, records, 'error');
    const training = { epochs: 4, batchSize: 4, learningRate: 0.01, loss: 'next-token' as const };
    const lora = { rank: 2, alpha: 4, targets: 'all' as const };
    const a = await trainHfJob(hfJobArgs(model, x, { ...training, lora }, 1), run);
    const again = await trainHfJob(hfJobArgs(model, x, { ...training, lora }, 1), run);
    const other = await trainHfJob(hfJobArgs(model, x, { ...training, lora }, 2), run);
    expect(again.weights).toEqual(a.weights);
    expect(other.weights).not.toEqual(a.weights);
    expect(a.steps).toBe(8);
    expect(a.lossHistory).toHaveLength(4);
    expect(a.lossHistory[3]).toBeLessThan(a.lossHistory[0]);
  });
});
