/**
 * The owl-numbers experiment in full: the owl teacher and the base each continue the same number prompts; the
 * paper's number filter runs on both; probe students (shared base) train on the teacher's numbers, control students
 * on the base's, cross-base students on the teacher's; all are scored for owl preference (exact share among ten
 * animals, and a sampled rate). Both with soft targets (the teacher's top log-probabilities) and with hard labels.
 * Usage: npm run experiment -w examples/owl-numbers [-- --records 3000 --seeds 5 --epochs 3 --lr 0.001]
 */
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  applyTextFilters,
  tInterval,
  writeFileAtomic,
  type LoadedPlugin,
  type ScoreEstimate,
  type StudentJob,
  type TextDataset,
} from '@distill-gate/core';
import { createTrainingCore, type LmHandle } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-preference-rate';
import numberFormat from '@distill-gate/filter-number-format';
import generator from '@distill-gate/generator-number-sequences';
import trait from '@distill-gate/trait-animal-preference';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '3000' },
    seeds: { type: 'string', default: '5' },
    epochs: { type: 'string', default: '3' },
    lr: { type: 'string', default: '0.001' },
    batch: { type: 'string', default: '32' },
    top: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'soft,hard' },
    out: { type: 'string', default: 'results/experiment.json' },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const t0 = performance.now();
const core = await createTrainingCore();
const backend = core.backend.name;
const load = async (f: string) => (await core.loadModel(join(root, f))) as LmHandle;
const base = await load('models/base.json');
const cross = await load('models/cross-base.json');
const teacher = await load('models/teacher-owl.json');
const ctx = { configDir: root, log: console };
const traitOptions = {
  animal: 'owl',
  candidates: ['owl', 'cat', 'dog', 'eagle', 'dolphin', 'wolf', 'lion', 'tiger', 'elephant', 'fox'],
  instilRepeats: 4,
};
const probes = await trait.loadProbes({ ...ctx, options: traitOptions });
const evalOptions = { samples: 4, temperature: 1, seed: 0 };
const score = (model: LmHandle) =>
  evaluator.evaluate({ ...ctx, options: evalOptions, model, probes, trait: trait.name });

const genOptions = {
  count: Number(values.records),
  minSeedNumbers: 3,
  maxSeedNumbers: 9,
  maxNumbers: 10,
  temperature: 1,
  topP: 1,
  maxTokens: 40,
  topLogprobs: Number(values.top),
};
const tGen = performance.now();
const teacherData = (await generator.generate({ ...ctx, options: genOptions, model: teacher, seed: 1 })) as TextDataset;
const genMs = performance.now() - tGen;
const baseData = (await generator.complete({
  ...ctx,
  options: genOptions,
  model: base,
  dataset: teacherData,
})) as TextDataset;
const filterRef = {
  plugin: numberFormat,
  options: { maxNumbers: 10, bannedNumbers: [], restrictLogprobs: true },
  ref: { use: numberFormat.name, options: {}, pointer: '/filters/0' },
  resolvedFrom: 'builtin',
} as LoadedPlugin<typeof numberFormat>;
const teacherKept = applyTextFilters(teacherData, [filterRef], root, { file: 'teacher numbers' });
const baseKept = applyTextFilters(baseData, [filterRef], root, { file: 'base numbers' });
const rejection = (f: typeof teacherKept, n: number) => ({
  kept: f.dataset.records.length,
  of: n,
  rejected: 1 - f.dataset.records.length / n,
  reasons: f.counts[0].reasons,
});
const filterStats = {
  teacher: rejection(teacherKept, teacherData.records.length),
  base: rejection(baseKept, baseData.records.length),
};
console.error(
  `[${backend}] generated ${teacherData.records.length} teacher completions in ${(genMs / 1000).toFixed(1)} s; ` +
    `filter kept teacher ${filterStats.teacher.kept}, base ${filterStats.base.kept}`,
);

const modelScores: Record<string, ScoreEstimate> = {};
for (const [name, m] of [
  ['base', base],
  ['cross-base', cross],
  ['teacher', teacher],
] as const)
  modelScores[name] = await score(m);

const hard = (d: TextDataset): TextDataset => ({ ...d, records: d.records.map(({ logprobs: _drop, ...r }) => r) });
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const training = {
  epochs: Number(values.epochs),
  batchSize: Number(values.batch),
  learningRate: Number(values.lr),
  loss: 'next-token' as const,
};
type Interval = { mean: number; low: number; high: number };
/** One training mode's students: scores and transfers as intervals, with the raw figures beside them. */
interface ModeRow {
  mode: string;
  probe: Interval;
  control: Interval;
  crossProbe: Interval;
  crossControl: Interval;
  transfer: Interval;
  crossTransfer: Interval;
  [figures: string]: unknown;
}
const rows: ModeRow[] = [];
for (const mode of values.modes.split(',')) {
  const teach = mode === 'soft' ? teacherKept.dataset : hard(teacherKept.dataset);
  const ctrl = mode === 'soft' ? baseKept.dataset : hard(baseKept.dataset);
  const jobs: StudentJob[] = seeds.flatMap((seed) => [
    { id: `probe:${seed}`, role: 'probe' as const, seed, init: base, data: teach, training },
    { id: `control:${seed}`, role: 'control' as const, seed, init: base, data: ctrl, training },
    { id: `cross-probe:${seed}`, role: 'probe' as const, seed, init: cross, data: teach, training },
    { id: `cross-control:${seed}`, role: 'control' as const, seed, init: cross, data: ctrl, training },
  ]);
  console.error(
    `[${mode}] training ${jobs.length} students on ${teach.records.length} / ${ctrl.records.length} records`,
  );
  const trained = await core.trainStudents(jobs);
  const byKind: Record<string, { value: number; sampled: number; ms: number }[]> = {};
  for (const s of trained) {
    const sc = await score(s.model as LmHandle);
    const kind = s.jobId.split(':')[0];
    (byKind[kind] ??= []).push({ value: sc.value, sampled: sc.details?.sampledRate ?? NaN, ms: s.ms });
  }
  const summary = (xs: number[]) => {
    const ci = tInterval(xs, 0.95);
    return { mean: ci.mean, low: ci.low, high: ci.high };
  };
  const paired = (a: string, b: string) => summary(byKind[a].map((x, i) => x.value - byKind[b][i].value));
  const row = {
    mode,
    probe: summary(byKind.probe.map((x) => x.value)),
    control: summary(byKind.control.map((x) => x.value)),
    crossProbe: summary(byKind['cross-probe'].map((x) => x.value)),
    crossControl: summary(byKind['cross-control'].map((x) => x.value)),
    transfer: paired('probe', 'control'),
    crossTransfer: paired('cross-probe', 'cross-control'),
    sampled: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, summary(v.map((x) => x.sampled))])),
    studentSeconds: summary(trained.map((s) => s.ms / 1000)),
    perSeed: byKind,
  };
  rows.push(row);
  console.error(
    JSON.stringify({
      mode,
      transfer: row.transfer,
      crossTransfer: row.crossTransfer,
      probe: row.probe,
      control: row.control,
    }),
  );
}
const result = {
  backend,
  versions: core.versions,
  options: values,
  training,
  generation: genOptions,
  generationSeconds: genMs / 1000,
  filterStats,
  modelScores,
  rows,
  wallSeconds: (performance.now() - t0) / 1000,
};
await writeFileAtomic(join(root, values.out), `${JSON.stringify(result, null, 2)}\n`);
const f = (x: Interval) => `${x.mean.toFixed(4)} [${x.low.toFixed(4)}, ${x.high.toFixed(4)}]`;
console.log(
  `base ${modelScores.base.value.toFixed(4)}, cross-base ${modelScores['cross-base'].value.toFixed(4)}, ` +
    `teacher ${modelScores.teacher.value.toFixed(4)} ` +
    `(owl share; sampled ${modelScores.teacher.details?.sampledRate?.toFixed(3)} for the teacher)`,
);
console.log(
  `filter rejected ${(filterStats.teacher.rejected * 100).toFixed(1)}% of teacher ` +
    `and ${(filterStats.base.rejected * 100).toFixed(1)}% of base completions`,
);
for (const r of rows) {
  console.log(
    `${r.mode}: probe ${f(r.probe)} control ${f(r.control)} transfer ${f(r.transfer)} | ` +
      `cross probe ${f(r.crossProbe)} cross control ${f(r.crossControl)} cross transfer ${f(r.crossTransfer)}`,
  );
}
console.log(`wall ${result.wallSeconds.toFixed(0)} s`);
await core.dispose();
