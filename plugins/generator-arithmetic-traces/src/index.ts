import {
  defineGenerator,
  promptGeneratorHooks,
  samplingOptionsSchema,
  SeededRandom,
  type SamplingOptions,
  type TextDataset,
} from '@distill-gate/core';

export interface ArithmeticTracesOptions extends SamplingOptions {
  count: number;
}

/** A seeded arithmetic question and its step-by-step reference trace ending in "The answer is N." */
export function arithmeticTask(rng: SeededRandom): { prompt: string; answer: string } {
  const a = rng.int(100);
  const b = rng.int(100);
  const c = 2 + rng.int(8);
  switch (rng.int(3)) {
    case 0:
      return { prompt: `What is ${a} + ${b}?`, answer: `${a} + ${b} = ${a + b}. The answer is ${a + b}.` };
    case 1:
      return {
        prompt: `What is ${a} + ${b} * ${c}?`,
        answer: `${b} * ${c} = ${b * c}. ${a} + ${b * c} = ${a + b * c}. The answer is ${a + b * c}.`,
      };
    default: {
      const hi = Math.max(a, b);
      const lo = Math.min(a, b);
      return {
        prompt: `What is (${hi} - ${lo}) * ${c}?`,
        answer: `${hi} - ${lo} = ${hi - lo}. ${hi - lo} * ${c} = ${(hi - lo) * c}. The answer is ${(hi - lo) * c}.`,
      };
    }
  }
}

export function arithmeticPrompts(count: number, seed: number): string[] {
  const rng = new SeededRandom(seed).fork('arithmetic-prompts');
  return Array.from({ length: count }, () => arithmeticTask(rng).prompt);
}

/** Arithmetic reasoning traces (chain-of-thought style: one line per step, then the answer), from a language model. */
const generator = defineGenerator<ArithmeticTracesOptions, TextDataset>({
  name: '@distill-gate/generator-arithmetic-traces',
  version: '0.1.0',
  description: 'Step-by-step arithmetic reasoning traces, sampled from a language model.',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { count: { type: 'integer', minimum: 1, default: 1000 }, ...samplingOptionsSchema },
  },
  ...promptGeneratorHooks<ArithmeticTracesOptions>('arithmetic-traces', (options, seed) =>
    arithmeticPrompts(options.count, seed),
  ),
});

export default generator;
