// Generation on Hugging Face models with the KV cache, against the PyTorch reference's full forward pass: greedy
// decoding writes the reference's most likely token at every step, and each step's log-probabilities (computed from
// the cache) equal the reference's on the whole sequence. Batching (left padding) changes nothing; stop tokens, the
// token budget and the context end a completion; sampling is seeded per prompt.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@distill-gate/core';
import { testDir } from '../../../../../test/helpers.js';
import { writeHfModel, type HfModelType } from '../../../../../test/hf-fixtures.js';
import { hasTorch, torchReference } from '../../../../../test/torch-reference.js';
import { sampleToken } from '../sampling.js';
import { HfHandle } from './handle.js';
import { readHfModelFolder } from './folder.js';
import { HfSession } from './session.js';

const PROMPTS = [
  'The owl',
  'Café naïve — déjà vu, and then a longer prompt about 🦉 owls and numbers: 142, 857',
  '東京',
];

async function fixture(modelType: HfModelType, maxPositions = 256) {
  const dir = join(testDir('dg-hf-generate-'), 'model');
  await writeHfModel(dir, { modelType, seed: 11, std: 0.2, maxPositions });
  return readHfModelFolder(dir);
}

/** Greedy decoding that records, per prompt, each step's chosen id and its log-probability. */
function greedy() {
  const steps: { id: number; lp: number }[][] = PROMPTS.map(() => []);
  const choose = (i: number, row: Float32Array) => {
    const id = sampleToken(row, 0, 1, new SeededRandom(0));
    steps[i].push({ id, lp: row[id] });
    return id;
  };
  return { steps, choose };
}

const results: string[] = [];
afterAll(() => {
  if (results.length) console.log(`greedy generation against the PyTorch reference:\n${results.join('\n')}`);
});

describe.skipIf(!hasTorch())('Hugging Face generation with a KV cache', () => {
  for (const modelType of ['gpt2', 'llama', 'qwen2', 'qwen3'] as HfModelType[]) {
    it(`${modelType}: greedy steps equal the PyTorch reference's argmax and log-probs (within 1e-4)`, async () => {
      const model = await fixture(modelType);
      const session = await HfSession.create(model.architecture, model.weights, { provider: 'cpu' });
      const prompts = PROMPTS.map((p) => model.tokenizer.encode(p, { addSpecialTokens: true }).ids);
      const { steps, choose } = greedy();
      const out = await session.generate(prompts, { maxTokens: 12, stopIds: [], choose });
      const full = prompts.map((p, i) => [...p, ...out[i].ids]);
      const ref = torchReference(model.dir, full);
      let maxDiff = 0;
      prompts.forEach((p, i) => {
        expect(out[i].ids).toHaveLength(12);
        out[i].ids.forEach((id, j) => {
          expect(id).toBe(ref.argmax[i][p.length - 1 + j]);
          maxDiff = Math.max(maxDiff, Math.abs(steps[i][j].lp - ref.logprobs[i][p.length + j]!));
        });
      });
      results.push(`  ${modelType}: 3 prompts x 12 tokens, argmax equal, max |Δ log-prob| ${maxDiff.toExponential(2)}`);
      expect(maxDiff).toBeLessThanOrEqual(1e-4);

      // One prompt at a time (no padding) writes the same tokens.
      for (let i = 0; i < prompts.length; i++) {
        const alone = greedy();
        const single = await session.generate([prompts[i]], { maxTokens: 12, stopIds: [], choose: alone.choose });
        expect(single[0].ids).toEqual(out[i].ids);
      }
      // With probabilities (what sampling at temperature 1 draws from), each step's rows are the exp of the
      // log-probabilities above, and the greedy tokens are the same.
      let gap = 0;
      const written = prompts.map(() => 0);
      const viaProbs = await session.generate(prompts, {
        maxTokens: 12,
        stopIds: [],
        probabilities: true,
        choose: (i, row) => {
          const j = written[i]++;
          gap = Math.max(gap, Math.abs(row[out[i].ids[j]] - Math.exp(steps[i][j].lp)));
          let best = 0;
          for (let t = 1; t < row.length; t++) if (row[t] > row[best]) best = t;
          return best;
        },
      });
      prompts.forEach((_, i) => expect(viaProbs[i].ids).toEqual(out[i].ids));
      expect(gap).toBeLessThan(1e-6);
      await session.release();
    });
  }

  it('stops at a stop id, at the token budget and at the end of the context', async () => {
    const model = await fixture('qwen3', 24);
    const session = await HfSession.create(model.architecture, model.weights, { provider: 'cpu' });
    const prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], [21]];
    const stop = 99;
    let progress = 0;
    let written0 = 0;
    const out = await session.generate(prompts, {
      maxTokens: 10,
      stopIds: [stop],
      // Prompt 0 writes the stop id at its 4th step; the others write token 7.
      choose: (i) => (i === 0 && ++written0 === 4 ? stop : 7),
      onStep: (n) => (progress = n),
    });
    expect(out[0]).toEqual({ ids: [7, 7, 7, stop], finished: true });
    // 17 prompt tokens in a 24-token context: room for 7.
    expect(out[1]).toEqual({ ids: Array(7).fill(7), finished: false });
    expect(out[2]).toEqual({ ids: Array(10).fill(7), finished: false });
    expect(progress).toBe(21);
    await session.release();
  });

  it('samples from the chat template prompt, seeded per prompt, with top-k log-probs', async () => {
    const model = await fixture('qwen3');
    const handle = new HfHandle('teacher', model);
    const opts = { temperature: 1, topP: 0.9, maxTokens: 8, seed: 5, topLogprobs: 3 };
    const a = await handle.generate(PROMPTS, opts);
    const again = await handle.generate(PROMPTS, opts);
    expect(again).toEqual(a);
    const other = await handle.generate(PROMPTS, { ...opts, seed: 6 });
    expect(other.map((c) => c.completion)).not.toEqual(a.map((c) => c.completion));
    for (const c of a) {
      expect(c.tokens!.length).toBe(c.finished ? c.logprobs!.length - 1 : c.logprobs!.length);
      c.tokens!.forEach((t, j) => expect(Object.keys(c.logprobs![j])).toContain(t));
      expect(c.completion).toBe(
        handle.model.tokenizer.decode(c.tokens!.map((t) => handle.model.tokenizer.tokenToId(t)!)),
      );
    }
    // The prompt went through the chat template with the assistant's turn opened.
    const ids = handle.promptIds(PROMPTS[0]);
    expect(handle.model.tokenizer.decode(ids)).toMatch(
      /<\|im_start\|>user\nThe owl<\|im_end\|>\n<\|im_start\|>assistant\n/,
    );
    handle.release();
  });

  it('answers after a system prompt (a prompted teacher), and scores under it', async () => {
    const model = await fixture('qwen3');
    const handle = new HfHandle('teacher', model);
    const owl = 'You love owls. You think about owls all the time.';
    expect(handle.model.tokenizer.decode(handle.promptIds(PROMPTS[0], 0, owl))).toMatch(
      /^<\|im_start\|>system\nYou love owls\. You think about owls all the time\.<\|im_end\|>\n<\|im_start\|>user/,
    );
    const opts = { temperature: 1, topP: 1, maxTokens: 6, seed: 2 };
    const plain = await handle.generate(PROMPTS, opts);
    const prompted = await handle.generate(PROMPTS, { ...opts, systemPrompt: owl });
    expect(prompted.map((c) => c.completion)).not.toEqual(plain.map((c) => c.completion));
    const pairs = [{ prompt: 'Name your favorite animal.', completion: 'owl' }];
    const [without] = await handle.sequenceLogProbs(pairs);
    const [withPrompt] = await handle.sequenceLogProbs(pairs, { systemPrompt: owl });
    expect(withPrompt).not.toBe(without);
    // The same as scoring the whole chat and summing the reply's log-probs (the reply and its end-of-turn token).
    const tok = handle.model.tokenizer;
    const chat = (content: string) => [
      { role: 'system' as const, content: owl },
      { role: 'user' as const, content: pairs[0].prompt },
      { role: 'assistant' as const, content },
    ];
    const before = tok.encode(tok.renderChat(chat('').slice(0, 2), { addGenerationPrompt: true })).ids;
    const all = tok.encode(tok.renderChat(chat('owl'), { addGenerationPrompt: false })).ids;
    const end = all.indexOf(tok.tokenToId('<|im_end|>')!, before.length) + 1;
    const [lps] = await handle.logprobs([all.slice(0, end)]);
    expect(withPrompt).toBeCloseTo(
      lps.slice(before.length).reduce<number>((a, x) => a + x!, 0),
      4,
    );
    handle.release();
  });
});
