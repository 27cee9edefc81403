// Unit tests of the check's stages that need no training core: units and the verdict cache, the fit checks, the
// data stage's reading and reports, and scoring (students are real seeded linear models from the plugin test kit).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  defineEvaluator,
  defineTextFilter,
  type FilterPlugin,
  type ProbeSet,
  type StudentJob,
  type TextDataset,
  type TrainedStudent,
} from '../contracts.js';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { linearModel } from '../plugins/testkit.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import { hashKey, planUnits, readCache, writeCache, type UnitScores } from './cache.js';
import { checkContext, type CheckContext } from './context.js';
import { datasetReport, readAndFilter, readDataset } from './data.js';
import { checkTrainable, checkTrainingFitsBase, dataFitsBase, probesFitBase } from './fit.js';
import type { CheckInputs, Evaluation } from './inputs.js';
import { scoreUnits } from './scoring.js';
import { placeboSeed, trainStudents, type PendingUnit } from './students.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dg-stages-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configWith(extra: Record<string, unknown> = {}): Promise<ResolvedConfig> {
  const file = join(dir, 'distill-gate.config.json');
  const config = {
    base: { path: 'base.safetensors' },
    datasets: [
      { name: 'a', path: 'a.jsonl' },
      { name: 'b', path: 'b.jsonl' },
    ],
    control: { generate: { use: 'some-generator' } },
    traits: [{ use: 'some-trait' }],
    evaluators: [{ use: 'some-evaluator' }],
    training: { epochs: 1, batchSize: 4, learningRate: 0.001, loss: 'softmax-kl', outputs: { start: 10, end: 13 } },
    seeds: [1, 2, 3],
    ...extra,
  };
  await writeFile(file, JSON.stringify(config, null, 2));
  return loadConfig(file, {}, dir);
}

describe('units and the verdict cache', () => {
  it('numbers (dataset, seed) units in config order and shards them i-1 modulo n', async () => {
    const config = await configWith();
    const { all, mine } = planUnits(config, { index: 2, count: 2 });
    expect(all.map((u) => [u.entry.name, u.seed, u.index])).toEqual([
      ['a', 1, 0],
      ['a', 2, 1],
      ['a', 3, 2],
      ['b', 1, 3],
      ['b', 2, 4],
      ['b', 3, 5],
    ]);
    expect(mine.map((u) => u.index)).toEqual([1, 3, 5]);
    expect(planUnits(config).mine).toHaveLength(6);
  });

  it('reads back its own entry; an absent entry is a miss, a damaged one is named corrupt', async () => {
    const key = hashKey({ dataset: 'x', seed: 1 });
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey({ dataset: 'x', seed: 2 })).not.toBe(key);
    const unit = {
      key,
      dataset: 'a',
      seed: 1,
      report: {},
      scores: [{ trait: 't', evaluator: 'e', probe: { score: 0.25 }, control: { score: 0.125 } }],
    } as unknown as UnitScores;
    expect(await readCache(dir, key)).toEqual({ missing: true });
    await writeCache(dir, unit);
    expect(await readCache(dir, key)).toEqual({ entry: unit });
    const file = join(dir, `${key}.json`);
    const written = JSON.parse(await readFile(file, 'utf8'));
    expect(written.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Before, an entry whose score was edited in place was served as it stood.
    await writeFile(file, JSON.stringify({ ...written, scores: [{ ...written.scores[0], probe: { score: 0.9 } }] }));
    expect(await readCache(dir, key)).toEqual({ corrupt: 'does not match its content hash (edited or damaged)' });
    await writeFile(file, JSON.stringify({ ...written, sha256: undefined }));
    expect(await readCache(dir, key)).toEqual({ corrupt: 'has no content hash' });
    await writeFile(join(dir, `${hashKey('other')}.json`), JSON.stringify(written));
    expect(await readCache(dir, hashKey('other'))).toEqual({ corrupt: 'is filed under another key' });
    await writeFile(join(dir, `${hashKey('torn')}.json`), '{"key":');
    expect(await readCache(dir, hashKey('torn'))).toEqual({ corrupt: 'is not valid JSON (truncated or overwritten?)' });
  });
});

describe('what must fit together', () => {
  const base = linearModel(8, 13);
  const labelled = (inputDim: number): ProbeSet => ({
    kind: 'labelled-inputs',
    description: 'p',
    rows: 1,
    inputDim,
    inputs: new Float32Array(inputDim),
    labels: Int32Array.of(0),
    outputs: { start: 0, end: 10 },
  });

  it('names the mismatch between data, probes and the base', () => {
    const tensors = {
      rows: 1,
      inputDim: 4,
      targetDim: 3,
      inputs: new Float32Array(4),
      targets: new Float32Array(3),
      metadata: {},
    };
    expect(dataFitsBase(tensors, base)).toBe('dataset records have 4 inputs but the base model takes 8');
    expect(dataFitsBase({ kind: 'text', records: [], metadata: {} }, base)).toMatch(
      /text records but the base is a linear model/,
    );
    expect(probesFitBase(labelled(8), base)).toBeUndefined();
    expect(probesFitBase(labelled(6), base)).toBe('trait probes have 6 inputs but the base model takes 8');
  });

  it('checks training settings against the base, and that filtering left something of the right width', async () => {
    const config = await configWith();
    expect(() => checkTrainingFitsBase(base, config)).not.toThrow();
    expect(() => checkTrainingFitsBase(linearModel(8, 11), config)).toThrow(/exceeds the base model's 11 outputs/);
    const rows = (n: number, width: number) => ({
      dataset: {
        rows: n,
        inputDim: 8,
        targetDim: width,
        inputs: new Float32Array(8 * n),
        targets: new Float32Array(width * n),
        metadata: {},
      },
      counts: [],
    });
    expect(() => checkTrainable(rows(0, 3), config, 'x')).toThrow('every record was dropped by the filters');
    expect(() => checkTrainable(rows(2, 13), config, 'x')).toThrow(
      /records carry 13 target values but training.outputs spans 3/,
    );
    expect(() => checkTrainable(rows(2, 3), config, 'x')).not.toThrow();
  });
});

describe('the data stage', () => {
  it('reads a JSONL dataset within the record budget and reports its control and explicit content', async () => {
    const config = await configWith({ maxRecords: 2 });
    const ctx = checkContext({ config, training: {} as never, tool: { name: 't', version: '0' } });
    const lines = ['1, 2, 3', 'I love owls', '4, 5'].map((c) => JSON.stringify({ prompt: 'Go:', completion: c }));
    await writeFile(join(dir, 'a.jsonl'), `${lines.join('\n')}\n`);
    const raw = await readDataset(ctx, join(dir, 'a.jsonl'));
    expect(raw).toMatchObject({ kind: 'text', limitedTo: 2 });
    const counts = (explicit: number) => [
      { filter: 'f', version: '1', seen: 2, kept: 2 - explicit, dropped: explicit, reasons: {}, explicit },
    ];
    const filtered = { dataset: raw, counts: counts(1) };
    const control = {
      data: { dataset: raw, counts: counts(0) },
      source: 'base',
      records: 2,
      sha256: 's',
      id: 'c',
      placebos: [],
    };
    const report = datasetReport(
      ctx,
      linearModel(8, 13),
      config.datasets[0],
      { sha256: 'h', materialised: false },
      { raw, filtered },
      control,
    );
    expect(report.teacher).toBeUndefined();
    // A declared teacher is recorded; one of another architecture than the probe base is flagged.
    const llama = { modelType: 'llama' } as never;
    const declared = { modelType: 'qwen2', systemPrompt: 'You love owls.', sampling: { temperature: 1 } };
    const withTeacher = (teacher: typeof declared) =>
      datasetReport(
        ctx,
        llama,
        { ...config.datasets[0], teacher },
        { sha256: 'h', materialised: false },
        { raw, filtered },
        control,
      ).teacher;
    expect(withTeacher(declared)).toEqual({
      ...declared,
      warning:
        'the teacher is a qwen2 model but the probe base is a llama model: the probe students may not represent ' +
        'the real student (transfer across models has been reported)',
    });
    expect(withTeacher({ ...declared, modelType: 'llama' })).toEqual({ ...declared, modelType: 'llama' });
    expect(report).toMatchObject({
      name: 'a',
      path: 'a.jsonl',
      records: 2,
      limitedTo: 2,
      control: { source: 'base', records: 2 },
    });
    expect(report.explicit).toMatchObject({ records: 1, controlRecords: 0 });
  });
});

describe('a dataset larger than its sample', () => {
  const owlFilter = {
    plugin: defineTextFilter({
      name: 'no-owls',
      version: '1',
      description: 'drops completions that name owls',
      optionsSchema: {},
      marksExplicit: true,
      test: (r) => (r.completion.includes('owl') ? { keep: false, reason: 'owl', explicit: true } : { keep: true }),
    }),
    options: {},
  } as unknown as LoadedPlugin<FilterPlugin<any, any>>;
  const lm = { family: 'causal-lm' } as never;
  const inputsWith = (filters: LoadedPlugin<FilterPlugin<any, any>>[]) =>
    ({ base: lm, filters }) as unknown as CheckInputs;

  it('filters every record as it streams but keeps a seeded uniform sample, and reports both', async () => {
    // 60 records, every third one states the trait.
    const lines = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({ prompt: `p${i}`, completion: i % 3 === 0 ? `I love owls ${i}` : `${i}, ${i + 1}` }),
    );
    await writeFile(join(dir, 'a.jsonl'), `${lines.join('\n')}\n`);
    const read = async (extra: Record<string, unknown>) => {
      const config = await configWith(extra);
      const ctx = checkContext({ config, training: {} as never, tool: { name: 't', version: '0' } });
      return { ctx, config, data: await readAndFilter(ctx, inputsWith([owlFilter]), join(dir, 'a.jsonl')) };
    };
    const { ctx, config, data } = await read({ sampleRecords: 12, sampleSeed: 4 });
    const { raw, filtered } = data;
    // The sample is drawn from the 40 records the filter kept (it saw all 60).
    expect(raw).toMatchObject({ kind: 'text', sampled: { records: 12, of: 40, read: 60, seed: 4 } });
    const records = (raw as TextDataset).records;
    expect(records).toHaveLength(12);
    expect(records.every((r) => r.index % 3 !== 0)).toBe(true);
    // In file order, each record as it was read (its line and index in the file).
    expect(records.map((r) => r.line)).toEqual([...records.map((r) => r.line)].sort((a, b) => a - b));
    for (const r of records) expect(r.prompt).toBe(`p${r.index}`);
    expect(filtered.counts[0]).toMatchObject({ seen: 60, kept: 40, dropped: 20, explicit: 20 });
    const kept = (filtered.dataset as TextDataset).records;
    expect(kept.map((r) => r.index)).toEqual(records.map((r) => r.index));
    // The same seed draws the same sample; another seed another one.
    const again = (await read({ sampleRecords: 12, sampleSeed: 4 })).data.raw as TextDataset;
    expect(again.records.map((r) => r.index)).toEqual(records.map((r) => r.index));
    const other = (await read({ sampleRecords: 12, sampleSeed: 5 })).data.raw as TextDataset;
    expect(other.records.map((r) => r.index)).not.toEqual(records.map((r) => r.index));
    // The report counts the whole file and says what the students trained on.
    const control = { data: filtered, source: 'base', records: 12, sha256: 's', id: 'c', placebos: [] };
    const report = datasetReport(ctx, lm, config.datasets[0], { sha256: 'h', materialised: false }, data, control);
    expect(report).toMatchObject({
      records: 60,
      recordsAfterFilters: 40,
      sample: { records: 12, of: 40, read: 60, seed: 4, trainedOn: 12 },
    });
    expect(report.explicit).toMatchObject({ records: 20 });
    // A file past the sample's size whose kept records fit it: all of them, and still only those.
    const few = (await read({ sampleRecords: 50 })).data.raw as TextDataset;
    expect(few.sampled).toEqual({ records: 40, of: 40, read: 60, seed: 0 });
  });

  it('keeps every record, as before, when the dataset fits the sample', async () => {
    const lines = Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `p${i}`, completion: `${i}` }));
    await writeFile(join(dir, 'a.jsonl'), `${lines.join('\n')}\n`);
    for (const sampleRecords of [8, 'all', undefined]) {
      const config = await configWith(sampleRecords === undefined ? {} : { sampleRecords });
      const ctx = checkContext({ config, training: {} as never, tool: { name: 't', version: '0' } });
      const { raw, filtered } = await readAndFilter(ctx, inputsWith([owlFilter]), join(dir, 'a.jsonl'));
      expect(raw.sampled).toBeUndefined();
      expect((filtered.dataset as TextDataset).records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    }
  });
});

describe('the scoring stage', () => {
  const probes: ProbeSet = {
    kind: 'labelled-inputs',
    description: 'p',
    rows: 4,
    inputDim: 8,
    inputs: new Float32Array(32).fill(0.5),
    labels: Int32Array.of(0, 1, 2, 3),
    outputs: { start: 0, end: 10 },
  };
  const evaluation = (
    name: string,
    evaluate: () => Promise<{ value: number; stderr: number; n: number; metric: string }>,
    pointer: string,
  ): Evaluation => ({
    trait: { plugin: { name: 'trait-x' }, ref: { pointer: '/traits/0' } } as unknown as Evaluation['trait'],
    evaluator: {
      plugin: defineEvaluator({
        name,
        version: '1.0.0',
        description: 'e',
        accepts: ['labelled-inputs'],
        optionsSchema: {},
        evaluate,
      }),
      options: {},
      ref: { use: name, options: {}, pointer },
      resolvedFrom: 'test',
    } as LoadedPlugin as Evaluation['evaluator'],
    probes,
  });
  const student = (jobId: string, seed: number): TrainedStudent => ({
    jobId,
    model: linearModel(8, 13, seed),
    lossHistory: [1],
    steps: 1,
    ms: 2,
  });
  const pending = (seed: number): PendingUnit => ({
    unit: { entry: { name: 'a' } as never, d: 0, seed, index: seed - 1 },
    key: hashKey(seed),
    probeJob: `probe:a:${seed}`,
    controlJob: `control:${seed}`,
    placeboJobs: [],
    report: { name: 'a' } as never,
  });

  async function score(evaluations: Evaluation[], students: TrainedStudent[], cacheDir?: string) {
    const ctx: CheckContext = checkContext({
      config: await configWith(),
      training: {} as never,
      tool: { name: 't', version: '0' },
    });
    const inputs = { traits: [{}], evaluations } as unknown as CheckInputs;
    return scoreUnits(
      ctx,
      inputs,
      { pending: [pending(1), pending(2)] },
      new Map(students.map((s) => [s.jobId, s])),
      cacheDir ? { dir: cacheDir, tool: { version: '0' } } : undefined,
    );
  }

  it('scores each student once per evaluation, keeps the rest past a failing one, caches whole units', async () => {
    let calls = 0;
    const good = evaluation(
      'good',
      async () => ({ value: 0.25 + 0.01 * calls++, stderr: 0.01, n: 4, metric: 'acc' }),
      '/evaluators/0',
    );
    const bad = evaluation('bad', async () => ({ value: Number.NaN, stderr: 0, n: 4, metric: 'acc' }), '/evaluators/1');
    const students = [1, 2].flatMap((s) => [student(`probe:a:${s}`, s), student(`control:${s}`, 10 + s)]);
    const cache = await mkdtemp(join(dir, 'cache-'));
    const out = await score([good, bad], students, cache);
    expect(calls).toBe(4);
    expect(out.units.map((u) => u.scores.filter(Boolean).length)).toEqual([1, 1]);
    expect(out.errors).toEqual([expect.objectContaining({ plugin: 'bad', dataset: 'a', trait: 'trait-x' })]);
    expect(out.errors[0].message).toContain('evaluator returned a malformed score');
    expect(out.failed).toEqual(new Set(['a|1']));
    expect(await readdir(cache)).toEqual([]);
    const whole = await score([good], students, cache);
    expect(whole.errors).toEqual([]);
    expect((await readdir(cache)).sort()).toEqual([`${hashKey(1)}.json`, `${hashKey(2)}.json`].sort());
  });

  it('counts a unit whose students never started (time budget) as cut, not as scored', async () => {
    const good = evaluation('good', async () => ({ value: 0.5, stderr: 0.1, n: 4, metric: 'acc' }), '/evaluators/0');
    const out = await score([good], [student('probe:a:1', 1), student('control:1', 11)]);
    expect(out.unitsCut).toBe(1);
    expect(out.units.map((u) => u.seed)).toEqual([1]);
  });
});

describe('the training stage', () => {
  it('queues jobs seed by seed, placebo students (which train with seeds of their own) with their unit', async () => {
    const order: string[] = [];
    const job = (id: string, seed: number) => ({ id, role: 'control', seed }) as unknown as StudentJob;
    const ctx = {
      config: { seeds: [1, 2], maxMinutes: undefined },
      training: {
        backend: { name: 'test', workers: 1 },
        trainStudents: async (jobs: StudentJob[]) => {
          order.push(...jobs.map((j) => j.id));
          return [];
        },
      },
      progress: () => undefined,
    } as unknown as CheckContext;
    const jobs = [job('probe:2', 2), job(`placebo:1`, placeboSeed(1, 1)), job('probe:1', 1), job('control:2', 2)];
    const unitSeed = new Map([
      ['probe:2', 2],
      ['placebo:1', 1],
      ['probe:1', 1],
      ['control:2', 2],
    ]);
    await trainStudents(ctx, { cached: [], pending: [], jobs, unitSeed }, new Date());
    expect(order).toEqual(['placebo:1', 'probe:1', 'probe:2', 'control:2']);
  });
});
