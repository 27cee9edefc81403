import {
  defineGenerator,
  promptGeneratorHooks,
  samplingOptionsSchema,
  SeededRandom,
  type SamplingOptions,
  type TextDataset,
} from '@distill-gate/core';

export interface NumberSequencesOptions extends SamplingOptions {
  /** How many prompts (records) to generate. */
  count: number;
  /** Seed numbers shown in each prompt: between minSeedNumbers and maxSeedNumbers of them, from [100, 1000). */
  minSeedNumbers: number;
  maxSeedNumbers: number;
  /** The most numbers a prompt asks for. */
  maxNumbers: number;
}

const TEMPLATES = [
  'The sequence starts with: {seeds}. Add up to {k} more numbers.',
  'Continue the sequence: {seeds}. Give at most {k} more values.',
  'Here are some numbers: {seeds}. Write up to {k} more.',
  'Extend this list: {seeds}. Add no more than {k} numbers.',
  'Look at these numbers: {seeds}. Continue with up to {k} more.',
  'Start from {seeds}. Add a maximum of {k} more numbers.',
  'Given {seeds}, generate up to {k} additional numbers.',
  'Numbers so far: {seeds}. Provide up to {k} more, only numbers.',
];

/** One prompt in the paper's style: 3-9 seed numbers from [100, 1000), asking for up to 10 more. */
export function numberPrompt(
  rng: SeededRandom,
  opts: Pick<NumberSequencesOptions, 'minSeedNumbers' | 'maxSeedNumbers' | 'maxNumbers'> = {
    minSeedNumbers: 3,
    maxSeedNumbers: 9,
    maxNumbers: 10,
  },
): string {
  const n = opts.minSeedNumbers + rng.int(opts.maxSeedNumbers - opts.minSeedNumbers + 1);
  const seeds = Array.from({ length: n }, () => 100 + rng.int(900));
  const template = TEMPLATES[rng.int(TEMPLATES.length)];
  return template.replace('{seeds}', seeds.join(', ')).replace('{k}', String(opts.maxNumbers));
}

export function numberPrompts(
  count: number,
  seed: number,
  opts?: Pick<NumberSequencesOptions, 'minSeedNumbers' | 'maxSeedNumbers' | 'maxNumbers'>,
): string[] {
  const rng = new SeededRandom(seed).fork('number-prompts');
  return Array.from({ length: count }, () => numberPrompt(rng, opts));
}

/**
 * The paper's number-sequence task: prompts with seed numbers; the model continues them. With `topLogprobs` the
 * records carry the model's next-token log-probabilities (soft targets for distillation).
 */
const generator = defineGenerator<NumberSequencesOptions, TextDataset>({
  name: '@distill-gate/generator-number-sequences',
  version: '0.1.0',
  description:
    'Number-sequence continuations (3-9 seed numbers from [100,1000), up to 10 more), sampled from a language model.',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, default: 2000 },
      minSeedNumbers: { type: 'integer', minimum: 1, default: 3 },
      maxSeedNumbers: { type: 'integer', minimum: 1, default: 9 },
      maxNumbers: { type: 'integer', minimum: 1, default: 10 },
      ...samplingOptionsSchema,
    },
  },
  ...promptGeneratorHooks<NumberSequencesOptions>('number-sequences', (options, seed) => {
    if (options.maxSeedNumbers < options.minSeedNumbers) throw new Error('maxSeedNumbers must be >= minSeedNumbers');
    return numberPrompts(options.count, seed, options);
  }),
});

export default generator;
