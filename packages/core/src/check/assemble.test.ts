import { describe, expect, it } from 'vitest';
import type { CheckResult, DatasetReport, StudentScore } from '../result.js';
import { assemble, scoresOf, type CheckScores } from './assemble.js';
import { mergeResults } from './merge.js';
import { combine } from './sequential.js';

const seeds = [1, 2, 3, 4];

/** Per-seed scores: 50 per-item 0/1 outcomes each, whose mean is the given one (to 1/50). */
function scores(role: 'probe' | 'control', means: number[], firstSeed = 1): StudentScore[] {
  return means.map((m, i) => {
    const items = Array.from({ length: 50 }, (_, j): number => (j < Math.round(m * 50) ? 1 : 0));
    const value = items.reduce((a, b) => a + b, 0) / 50;
    return {
      value,
      stderr: Math.sqrt((value * (1 - value)) / 50),
      n: 50,
      metric: 'accuracy',
      items,
      seed: firstSeed + i,
      role,
      lossHistory: [0.5],
      trainMs: 1,
    };
  });
}

function check(dataset: string, probe: number[], control: number[]): CheckScores {
  return {
    ids: { dataset, trait: 'trait-x', evaluator: 'evaluator-y' },
    probe: scores('probe', probe),
    control: scores('control', control),
  };
}

function report(name: string, extra: Partial<DatasetReport> = {}): DatasetReport {
  return {
    name,
    path: `${name}.safetensors`,
    sha256: 'f'.repeat(64),
    materialised: false,
    records: 100,
    recordsAfterFilters: 100,
    filters: [],
    control: { source: 'generated', records: 100, recordsAfterFilters: 100, filters: [], sha256: 'e'.repeat(64) },
    ...extra,
  };
}

const settings = { threshold: 0.05, perCheckConfidence: 0.95, inconclusivePolicy: 'fail' };
const teacher = () => check('teacher', [0.7, 0.72, 0.68, 0.7], [0.1, 0.1, 0.12, 0.1]);
const clean = () => check('clean', [0.1, 0.1, 0.12, 0.1], [0.1, 0.1, 0.12, 0.1]);
const pluginFailure = { plugin: 'flaky-evaluator', dataset: 'clean', trait: 'trait-x', message: 'boom' };

/** A whole result, as runCheck writes it, around assembled checks. */
function resultOf(checks: CheckScores[], extra: Partial<CheckResult> = {}): CheckResult {
  const datasets = checks.map((c) => report(c.ids.dataset));
  const a = assemble({ checks, datasets, errors: extra.errors ?? [], ...settings });
  return {
    schemaVersion: 1,
    tool: { name: 'distill-gate', version: '0.0.0' },
    ...a,
    startedAt: '2026-01-01T00:00:00.000Z',
    config: { path: 'c.json', sha256: 'a'.repeat(64) },
    base: { path: 'base', sha256: 'b'.repeat(64), family: 'mlp' },
    backend: { name: 'wasm', reason: 'test', workers: 1 } as CheckResult['backend'],
    seeds,
    threshold: settings.threshold,
    confidence: 0.95,
    multiplicity: {
      method: 'one check, one look',
      across: 'bonferroni',
      checks: 1,
      looks: 1,
      familyConfidence: 0.95,
      perCheckConfidence: settings.perCheckConfidence,
    } as CheckResult['multiplicity'],
    inconclusivePolicy: settings.inconclusivePolicy,
    training: {},
    versions: {},
    plugins: [],
    datasets,
    timings: { totalMs: 1 },
    ...extra,
  };
}

describe('assemble: the one result assembler', () => {
  it('FAILs a transfer far above the threshold and PASSes none, with exit 1', () => {
    const a = assemble({ checks: [teacher(), clean()], datasets: [], errors: [], ...settings });
    expect(a.results.map((r) => r.verdict)).toEqual(['FAIL', 'PASS']);
    expect(a.verdict).toBe('FAIL');
    expect(a.exitCode).toBe(1);
    expect(a.results[0].transfer.interval[0]).toBeGreaterThan(0.05);
    expect(a.summary).toMatch(/^1 of 2 dataset x trait check\(s\) transfer above the threshold 0.05: teacher/);
  });

  it('a plugin failure exits 2 whatever the verdicts, and names the plugin', () => {
    const a = assemble({ checks: [clean()], datasets: [], errors: [pluginFailure], ...settings });
    expect(a.verdict).toBe('PASS');
    expect(a.exitCode).toBe(2);
    expect(a.summary).toMatch(/^1 evaluation\(s\) failed \(flaky-evaluator\); of the rest: all 1/);
  });

  it('a time budget that left a dataset unchecked cannot PASS, and the summary says what was checked', () => {
    const budget = { maxMinutes: 1, reached: true, unitsPlanned: 8, unitsChecked: 4, datasetsUnchecked: ['late'] };
    const a = assemble({ checks: [clean()], datasets: [], errors: [], budget, ...settings });
    expect(a.verdict).toBe('INCONCLUSIVE');
    expect(a.exitCode).toBe(1); // inconclusive policy "fail"
    expect(a.summary).toMatch(
      /^time budget of 1 min reached: 4 of 8 \(dataset, seed\) unit\(s\) checked, late not at all/,
    );
  });

  it('notes skipped and limited records, and a shard exits 0 with a partial verdict', () => {
    const datasets = [report('clean', { skipped: { count: 3, examples: [] }, limitedTo: 50 })];
    const a = assemble({ checks: [teacher()], datasets, errors: [], shard: { index: 1, count: 2 }, ...settings });
    expect(a.exitCode).toBe(0);
    expect(a.summary).toMatch(/^shard 1\/2, partial/);
    expect(a.summary).toContain('(3 malformed record(s) skipped in clean; clean checked on 50 records (maxRecords))');
    // A verdict that is not FAIL on a subset of the records says the rest could change it.
    const passing = assemble({
      checks: [clean()],
      datasets: [report('clean', { limitedTo: 6000, totalRecords: 60000 })],
      errors: [],
      ...settings,
    });
    expect(passing.summary).toContain(
      'clean checked on 6,000 of 60,000 records (maxRecords): the records left out could change this verdict',
    );
    const sampled = assemble({
      checks: [clean()],
      datasets: [
        report('clean', { sample: { records: 10_000, of: 250_000, read: 300_000, seed: 0, trainedOn: 9_000 } }),
      ],
      errors: [],
      ...settings,
    });
    expect(sampled.summary).toContain(
      '(clean trained on a sample of 10,000 of its 250,000 filtered records (sampleRecords))',
    );
  });

  it('adds the cross base and placebos only when their scores are whole', () => {
    const c = teacher();
    const withCross = { ...c, crossProbe: scores('probe', [0.1, 0.1, 0.1, 0.1]), crossControl: c.control };
    const [r] = assemble({ checks: [withCross], datasets: [], errors: [], ...settings }).results;
    expect(r.mechanism).toBe('subliminal');
    const partial = { ...c, crossProbe: withCross.crossProbe.slice(0, 2), crossControl: c.control };
    expect(assemble({ checks: [partial], datasets: [], errors: [], ...settings }).results[0].crossBase).toBeUndefined();
    const placebo = seeds.map((seed) => ({ seed, values: [0.1, 0.11] }));
    const [p] = assemble({ checks: [{ ...c, placebo }], datasets: [], errors: [], ...settings }).results;
    expect(p.placebo?.pValue).toBeCloseTo(1 / 3);
  });

  it('decides leakage at the level the run gives its explicit-content tests', () => {
    const explicit = {
      records: 4,
      controlRecords: 0,
      rate: 0.04,
      controlRate: 0,
      pValue: 0.03,
      leakage: true,
      method: 'exact conditional binomial test',
    };
    const datasets = [report('teacher', { explicit })];
    const alone = assemble({ checks: [clean()], datasets, errors: [], ...settings, leakageConfidence: 0.95 });
    expect(alone.datasets[0].explicit).toMatchObject({ leakage: true, alpha: expect.closeTo(0.05, 12) });
    expect(alone.verdict).toBe('FAIL');
    const shared = assemble({ checks: [clean()], datasets, errors: [], ...settings, leakageConfidence: 1 - 0.05 / 6 });
    expect(shared.datasets[0].explicit?.leakage).toBe(false);
    expect(shared.verdict).toBe('PASS');
  });

  it('placebos: the smallest attainable p is stated, and too few placebos say so', () => {
    const c = teacher();
    const placebo = seeds.map((seed) => ({ seed, values: [0.1, 0.11] }));
    const null2 = { baseSha256: 'b'.repeat(64), probesSha256: 'c'.repeat(64) };
    const [p] = assemble({
      checks: [{ ...c, placebo, placeboNull: null2 }],
      datasets: [],
      errors: [],
      ...settings,
    }).results;
    expect(p.placebo).toMatchObject({ smallestP: 1 / 3, alpha: expect.closeTo(0.05, 12), ...null2 });
    expect(p.placebo?.warning).toMatch(
      /smallest attainable p is 0\.33, above the check's level 0\.050: .* 19 placebos/,
    );
    const many = seeds.map((seed) => ({ seed, values: Array.from({ length: 19 }, () => 0.1) }));
    const [q] = assemble({ checks: [{ ...c, placebo: many }], datasets: [], errors: [], ...settings }).results;
    expect(q.placebo?.warning).toBeUndefined();
    expect(q.placebo?.pValue).toBeCloseTo(1 / 20, 12);
  });

  it('scoresOf gives back the scores a result was assembled from: assembling again changes nothing', () => {
    const first = assemble({ checks: [teacher(), clean()], datasets: [], errors: [], ...settings });
    const again = assemble({ checks: first.results.map(scoresOf), datasets: [], errors: [], ...settings });
    expect(again).toEqual(first);
  });
});

describe('a plugin failure ends in exit 2 through every path', () => {
  it('the single run', () => {
    const r = resultOf([clean()], { errors: [pluginFailure] });
    expect(r.exitCode).toBe(2);
  });

  it('the merge of shards, where one shard had the failure', () => {
    const halves = (c: CheckScores, part: 0 | 1): CheckScores => ({
      ...c,
      probe: c.probe.filter((_, i) => i % 2 === part),
      control: c.control.filter((_, i) => i % 2 === part),
    });
    const shard = (index: number, part: 0 | 1, extra: Partial<CheckResult> = {}) => {
      const r = resultOf([halves(clean(), part)], { ...extra, shard: { index, count: 2 } });
      return {
        ...r,
        ...assemble({
          checks: r.results.map(scoresOf),
          datasets: r.datasets,
          errors: r.errors ?? [],
          shard: r.shard,
          ...settings,
        }),
      };
    };
    const one = shard(1, 0, { errors: [pluginFailure] });
    const two = shard(2, 1);
    expect([one.exitCode, two.exitCode]).toEqual([0, 0]);
    const merged = mergeResults([one, two]);
    expect(merged.exitCode).toBe(2);
    expect(merged.errors).toEqual([pluginFailure]);
    expect(merged.results[0].probe.map((s) => s.seed)).toEqual(seeds);
    expect(merged.results[0].transfer).toEqual(resultOf([clean()]).results[0].transfer);
  });

  it('the rounds of adaptive seeds, where the failure happened in the first round', () => {
    const before = resultOf([teacher(), clean()], { errors: [{ ...pluginFailure, dataset: 'teacher' }] });
    const after = resultOf([check('clean', [0.1, 0.1, 0.12, 0.1], [0.1, 0.1, 0.12, 0.1])]);
    const combined = combine(before, after, new Set(['clean']));
    expect(combined.exitCode).toBe(2);
    expect(combined.results.map((r) => [r.dataset, r.verdict])).toEqual([
      ['teacher', 'FAIL'],
      ['clean', 'PASS'],
    ]);
    expect(combined.summary).toMatch(/^1 evaluation\(s\) failed \(flaky-evaluator\)/);
  });

  it('the rounds of adaptive seeds, where the failure happened in a later round', () => {
    const before = resultOf([teacher(), clean()]);
    const after = resultOf([clean()], { errors: [pluginFailure] });
    expect(combine(before, after, new Set(['clean'])).exitCode).toBe(2);
  });
});
