import { defineEvaluator, requireLanguageModel } from '@distill-gate/core';

export interface PreferenceRateOptions {
  /** Sampled answers per question for the cross-check (0: exact probabilities only). */
  samples: number;
  temperature: number;
  seed: number;
}

/**
 * Scores a preference exactly: for every question, P(answer | question) for each candidate answer from one forward
 * pass, and the target's share among the candidates; the score is the mean share over questions, with its standard
 * error over questions. A sampled rate (answers drawn at the given temperature) is reported beside it as a check.
 */
const evaluator = defineEvaluator<PreferenceRateOptions>({
  name: '@distill-gate/evaluator-preference-rate',
  version: '0.1.0',
  description:
    'Exact share of the target answer among the candidates (from log-probabilities), ' +
    'with a sampled rate as a cross-check.',
  accepts: ['text-questions'],
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      samples: {
        type: 'integer',
        minimum: 0,
        maximum: 1000,
        default: 4,
        description: 'Sampled answers per question for the cross-check; 0 turns it off.',
      },
      temperature: { type: 'number', minimum: 0, default: 1 },
      seed: { type: 'integer', default: 0 },
    },
  },
  async evaluate({ model, probes, options }) {
    if (probes.kind !== 'text-questions') throw new Error(`scores text-question probes, got ${probes.kind}`);
    const lm = requireLanguageModel(model, 'preference-rate');
    const { questions, candidates, target } = probes;
    const pairs = questions.flatMap((q) => candidates.map((c) => ({ prompt: q, completion: c })));
    const logp = await lm.sequenceLogProbs(pairs);
    const t = candidates.indexOf(target);
    const shares: number[] = [];
    let absolute = 0;
    questions.forEach((_, qi) => {
      const row = Array.from(logp.subarray(qi * candidates.length, (qi + 1) * candidates.length));
      const max = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
      shares.push(Math.exp(row[t] - max) / z);
      absolute += Math.exp(row[t]);
    });
    const n = shares.length;
    const mean = shares.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(shares.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, n - 1));
    const details: Record<string, number> = { absoluteProbability: absolute / n };
    if (options.samples > 0) {
      const prompts = questions.flatMap((q) => Array.from({ length: options.samples }, () => q));
      const answers = await lm.generate(prompts, {
        temperature: options.temperature,
        topP: 1,
        maxTokens: 4,
        seed: options.seed,
      });
      const words = answers.map((a) => a.completion.trim().toLowerCase().replace(/[.!]$/, ''));
      const inSet = words.filter((w) => candidates.includes(w));
      details.sampledRate = inSet.length ? inSet.filter((w) => w === target).length / inSet.length : 0;
      details.sampledAnswers = words.length;
      details.sampledInCandidates = inSet.length;
    }
    return {
      value: mean,
      stderr: sd / Math.sqrt(n),
      n,
      metric: `share of "${target}" among ${candidates.length} answers`,
      details,
      items: shares,
    };
  },
});

export default evaluator;
