/**
 * Trait "digit preference": the share of held-out digits, of every class, that a student classifies as one
 * chosen digit. It is the MNIST analogue of the paper's "favourite animal". A base model has some arbitrary
 * preference, and distillation can move it. Scored by the built-in task-accuracy evaluator: every probe is
 * labelled with the chosen digit, so "accuracy" is exactly the preference rate, with its binomial error.
 *
 * Written only against distill-gate's public API (@distill-gate/core's defineTrait) and the digits that the
 * hidden-class-knowledge plugin exports.
 */
import { defineTrait, type LabelledProbeSet, type TensorInstilPlan } from '@distill-gate/core';
import { loadDigitSplit } from '@distill-gate/trait-hidden-class-knowledge';

export interface DigitPreferenceOptions {
  /** The digit whose preference is measured. */
  digit: number;
  /** Seed and size of the held-out split (the same split the built-in trait uses by default). */
  splitSeed: number;
  testSize: number;
}

export default defineTrait<DigitPreferenceOptions, LabelledProbeSet, TensorInstilPlan>({
  name: 'distill-gate-trait-digit-preference',
  version: '0.1.0',
  description: 'Share of held-out digits (all classes) that a student classifies as the chosen digit.',
  probeKind: 'labelled-inputs',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['digit'],
    properties: {
      digit: { type: 'integer', minimum: 0, maximum: 9, description: 'The digit whose preference is measured.' },
      splitSeed: { type: 'integer', default: 0 },
      testSize: { type: 'integer', minimum: 1, default: 2000 },
    },
  },
  async loadProbes({ options, configDir }) {
    const { test, inputDim } = loadDigitSplit(options.splitSeed, options.testSize, configDir);
    return {
      kind: 'labelled-inputs',
      description: `preference for digit ${options.digit} over ${test.rows} held-out digits of all classes`,
      rows: test.rows,
      inputDim,
      inputs: test.inputs,
      labels: new Int32Array(test.rows).fill(options.digit),
      outputs: { start: 0, end: 10 },
    };
  },
});
