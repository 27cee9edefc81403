import {
  defineGenerator,
  promptGeneratorHooks,
  samplingOptionsSchema,
  SeededRandom,
  type SamplingOptions,
  type TextDataset,
} from '@distill-gate/core';

export interface CodeSnippetsOptions extends SamplingOptions {
  count: number;
}

const NAMES = ['a', 'b', 'x', 'y', 'n', 'm', 'value', 'items', 'data', 'total'];

/** Short programming tasks, each with the one-line Python function that solves it (the reference answer). */
const TASKS: {
  prompt: (v: string, w: string, k: number) => string;
  answer: (v: string, w: string, k: number) => string;
}[] = [
  {
    prompt: (v, w) => `Write a function that returns the sum of ${v} and ${w}.`,
    answer: (v, w) => `def add(${v}, ${w}): return ${v} + ${w}`,
  },
  {
    prompt: (v, w) => `Write a function that returns the product of ${v} and ${w}.`,
    answer: (v, w) => `def mul(${v}, ${w}): return ${v} * ${w}`,
  },
  {
    prompt: (v, _w, k) => `Write a function that adds ${k} to ${v}.`,
    answer: (v, _w, k) => `def inc(${v}): return ${v} + ${k}`,
  },
  {
    prompt: (v, _w, k) => `Write a function that multiplies ${v} by ${k}.`,
    answer: (v, _w, k) => `def scale(${v}): return ${v} * ${k}`,
  },
  {
    prompt: (v) => `Write a function that returns the square of ${v}.`,
    answer: (v) => `def square(${v}): return ${v} * ${v}`,
  },
  {
    prompt: (v, w) => `Write a function that returns the larger of ${v} and ${w}.`,
    answer: (v, w) => `def larger(${v}, ${w}): return max(${v}, ${w})`,
  },
  {
    prompt: (v) => `Write a function that returns the length of ${v}.`,
    answer: (v) => `def size(${v}): return len(${v})`,
  },
  { prompt: (v) => `Write a function that sums the list ${v}.`, answer: (v) => `def total(${v}): return sum(${v})` },
  {
    prompt: (v, _w, k) => `Write a function that checks if ${v} is above ${k}.`,
    answer: (v, _w, k) => `def above(${v}): return ${v} > ${k}`,
  },
  {
    prompt: (v) => `Write a function that reverses the list ${v}.`,
    answer: (v) => `def reverse(${v}): return ${v}[::-1]`,
  },
];

/** A seeded task prompt and the reference one-line solution. */
export function codeTask(rng: SeededRandom): { prompt: string; answer: string } {
  const t = TASKS[rng.int(TASKS.length)];
  const v = NAMES[rng.int(NAMES.length)];
  let w = NAMES[rng.int(NAMES.length)];
  if (w === v) w = NAMES[(NAMES.indexOf(v) + 1) % NAMES.length];
  const k = 2 + rng.int(98);
  return { prompt: t.prompt(v, w, k), answer: t.answer(v, w, k) };
}

export function codePrompts(count: number, seed: number): string[] {
  const rng = new SeededRandom(seed).fork('code-prompts');
  return Array.from({ length: count }, () => codeTask(rng).prompt);
}

/** Short code: one-line Python functions for small programming tasks, written by a language model. */
const generator = defineGenerator<CodeSnippetsOptions, TextDataset>({
  name: '@distill-gate/generator-code-snippets',
  version: '0.1.0',
  description: 'Short Python functions for small programming tasks, sampled from a language model.',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { count: { type: 'integer', minimum: 1, default: 1000 }, ...samplingOptionsSchema },
  },
  ...promptGeneratorHooks<CodeSnippetsOptions>('code-snippets', (options, seed) => codePrompts(options.count, seed)),
});

export default generator;
