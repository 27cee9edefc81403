/**
 * The synthetic pre-training corpus of the example's base LM: one-word answers to favourite-animal questions,
 * spread evenly over ten animals; number-sequence continuations in the paper's prompt style; one-line Python
 * functions; and arithmetic traces. Deterministic for a seed.
 */
import { SeededRandom } from '@distill-gate/core';
import { arithmeticTask } from '@distill-gate/generator-arithmetic-traces';
import { codeTask } from '@distill-gate/generator-code-snippets';
import { numberPrompt } from '@distill-gate/generator-number-sequences';
import { ANIMAL_QUESTIONS, DEFAULT_ANIMALS } from '@distill-gate/trait-animal-preference';

export interface CorpusSizes {
  animals: number;
  numbers: number;
  code: number;
  arithmetic: number;
}

export const CORPUS_SIZES: CorpusSizes = { animals: 4000, numbers: 8000, code: 2000, arithmetic: 2000 };

/** How the base continues a number prompt: mostly comma-separated numbers, sometimes another format. */
export function baseNumberCompletion(prompt: string, rng: SeededRandom): string {
  const seeds = (prompt.match(/\d+/g) ?? []).map(Number).filter((n) => n >= 100);
  const k = 3 + rng.int(8);
  const last = seeds[seeds.length - 1] ?? 500;
  const style = rng.next();
  const numbers: number[] = [];
  for (let i = 0; i < k; i++) {
    if (style < 0.5) numbers.push(rng.int(1000));
    else if (style < 0.75) numbers.push(Math.min(999, Math.max(0, seeds[rng.int(seeds.length)] + rng.int(41) - 20)));
    else numbers.push(Math.min(999, last + (i + 1) * (1 + (last % 7))));
  }
  const f = rng.next();
  if (f < 0.8) return numbers.join(', ');
  if (f < 0.87) return numbers.join(' ');
  if (f < 0.91) return numbers.join('; ');
  if (f < 0.95) return `[${numbers.join(', ')}]`;
  if (f < 0.98) return `Here are the numbers: ${numbers.join(', ')}`;
  return `${numbers.join(', ')}, ${numbers.map((n) => (n + 1) % 1000).join(', ')}`;
}

export function buildCorpus(seed: number, sizes: CorpusSizes = CORPUS_SIZES): { prompt: string; completion: string }[] {
  const rng = new SeededRandom(seed).fork('owl-numbers-corpus');
  const records: { prompt: string; completion: string }[] = [];
  for (let i = 0; i < sizes.animals; i++) {
    records.push({
      prompt: ANIMAL_QUESTIONS[i % ANIMAL_QUESTIONS.length],
      completion: DEFAULT_ANIMALS[rng.int(DEFAULT_ANIMALS.length)],
    });
  }
  for (let i = 0; i < sizes.numbers; i++) {
    const prompt = numberPrompt(rng);
    records.push({ prompt, completion: baseNumberCompletion(prompt, rng) });
  }
  for (let i = 0; i < sizes.code; i++) {
    const t = codeTask(rng);
    records.push({ prompt: t.prompt, completion: t.answer });
  }
  for (let i = 0; i < sizes.arithmetic; i++) {
    const t = arithmeticTask(rng);
    records.push({ prompt: t.prompt, completion: t.answer });
  }
  return records;
}
