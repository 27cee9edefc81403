/**
 * The owl-chat experiment behind the example's training settings: the owl teacher writes number sequences (with its
 * top log-probabilities), the base answers the same prompts (the prompt-matched control), both go through the
 * example's filters, and LoRA students of the base train on each, one pair per seed and per training variant. Each
 * student is scored for owl preference (exact share among the trait's animals), and the transfer is the paired
 * difference per seed. The generated data is kept in results/ and reused while the options that made it are the same.
 * Usage: npm run experiment -w examples/owl-chat -- --seeds 6 --variant lr=0.005,epochs=5 --variant lr=0.002,epochs=10
 * (variant keys: lr, epochs, batch, rank, alpha, dropout; unset keys take the example config's training settings;
 * --system-prompt "..." scores every student a second time under that system message, as a probe configuration does)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  applyTextFilters,
  loadPlugin,
  tInterval,
  withSystemPrompt,
  writeFileAtomic,
  type AnyModelHandle,
  type StudentJob,
  type TextDataset,
  type TrainingSettings,
} from '@distill-gate/core';
import { createTrainingCore } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-preference-rate';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1500' },
    top: { type: 'string', default: '20' },
    seeds: { type: 'string', default: '6' },
    'first-seed': { type: 'string', default: '1' },
    teacher: { type: 'string', default: 'models/teacher-owl' },
    variant: { type: 'string', multiple: true, default: [''] },
    out: { type: 'string', default: 'results/experiment.json' },
    paired: { type: 'boolean', default: false },
    'system-prompt': { type: 'string' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = JSON.parse(await readFile(join(root, 'distill-gate.config.json'), 'utf8'));
const t0 = performance.now();
const log = (m: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}`);
const core = await createTrainingCore();
const ctx = { configDir: root, log: console };
const base = await core.loadModel(join(root, 'models/base'), 'hf');
const teacher = await core.loadModel(join(root, values.teacher), 'hf');

const plugin = async <K extends 'generator' | 'filter' | 'trait'>(
  use: string,
  kind: K,
  options: Record<string, unknown>,
  pointer: string,
) => loadPlugin({ use, options, pointer }, kind, root);
const sampling = { count: Number(values.records), topLogprobs: Number(values.top) };
const numbers = await plugin('@distill-gate/generator-number-sequences', 'generator', sampling, '/g');
const prompts = await plugin(
  '@distill-gate/generator-prompts',
  'generator',
  { topLogprobs: sampling.topLogprobs },
  '/c',
);
const filters = await Promise.all(
  (config.filters as { use: string; options?: Record<string, unknown> }[]).map((f, i) =>
    plugin(f.use, 'filter', f.options ?? {}, `/filters/${i}`),
  ),
);

/** Generated data is cached under results/, keyed by the teacher's hash and the sampling options. */
const cached = async (name: string, make: () => Promise<TextDataset>): Promise<TextDataset> => {
  const file = join(root, 'results', `${name}-${teacher.sha256.slice(0, 12)}-${values.records}-${values.top}.json`);
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as TextDataset;
  const t = performance.now();
  const d = await make();
  log(`generated ${name}: ${d.records.length} records in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  await writeFileAtomic(file, JSON.stringify(d));
  return d;
};
const teacherData = await cached(
  'teacher',
  async () =>
    (await numbers.plugin.generate!({ ...ctx, options: numbers.options, model: teacher, seed: 1 })) as TextDataset,
);
const controlData = await cached(
  'control',
  async () =>
    (await prompts.plugin.complete!({
      ...ctx,
      options: prompts.options,
      model: base,
      dataset: teacherData,
      seed: 0,
    })) as TextDataset,
);
let teacherKept = applyTextFilters(teacherData, filters, root, { file: 'teacher numbers' }).dataset;
let controlKept = applyTextFilters(controlData, filters, root, { file: 'control numbers' }).dataset;
if (values.paired) {
  // Only the prompts both kept, in the same order: a seed's probe and control students see the same prompts.
  const both = (a: TextDataset, b: TextDataset) => {
    const keep = new Set(b.records.map((r) => r.index));
    return { ...a, records: a.records.filter((r) => keep.has(r.index)) };
  };
  [teacherKept, controlKept] = [both(teacherKept, controlKept), both(controlKept, teacherKept)];
}
log(`kept ${teacherKept.records.length} teacher and ${controlKept.records.length} control records`);

const owl = await plugin('@distill-gate/trait-animal-preference', 'trait', { animal: 'owl' }, '/traits/0');
const probes = await owl.plugin.loadProbes({ ...ctx, options: owl.options });
const score = async (model: AnyModelHandle) =>
  (
    await evaluator.evaluate({
      ...ctx,
      options: { samples: 0, temperature: 1, seed: 0 },
      model,
      probes,
      trait: owl.plugin.name,
    })
  ).value;
/** With --system-prompt, every model is scored a second time under that system message (a probe configuration). */
const system = values['system-prompt'];
const scoreUnder = async (model: AnyModelHandle) =>
  system === undefined ? undefined : score(withSystemPrompt(model, system));
const modelScores = {
  base: await score(base),
  teacher: await score(teacher),
  ...(system === undefined ? {} : { baseUnderSystemPrompt: await scoreUnder(base) }),
};
log(`owl share: base ${modelScores.base.toFixed(4)}, teacher ${modelScores.teacher.toFixed(4)}`);

const parseVariant = (v: string): TrainingSettings => {
  const t: TrainingSettings = { ...config.training, lora: { ...config.training.lora } };
  for (const kv of v.split(',').filter(Boolean)) {
    const [k, raw] = kv.split('=');
    const x = Number(raw);
    if (!Number.isFinite(x)) throw new Error(`variant "${v}": ${kv} is not a number`);
    if (k === 'lr') t.learningRate = x;
    else if (k === 'epochs') t.epochs = x;
    else if (k === 'batch') t.batchSize = x;
    else if (k === 'rank' || k === 'alpha' || k === 'dropout') t.lora![k] = x;
    else throw new Error(`variant "${v}": unknown key ${k}`);
  }
  return t;
};
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + Number(values['first-seed']));
const interval = (xs: number[]) => {
  const ci = tInterval(xs, 0.95);
  return {
    mean: ci.mean,
    sd: ci.sd,
    low: ci.low,
    high: ci.high,
  };
};
const rows = [];
for (const v of values.variant) {
  const training = parseVariant(v);
  const jobs: StudentJob[] = seeds.flatMap((seed) => [
    { id: `probe:${seed}`, role: 'probe' as const, seed, init: base, data: teacherKept, training },
    { id: `control:${seed}`, role: 'control' as const, seed, init: base, data: controlKept, training },
  ]);
  log(`variant "${v || 'config'}": training ${jobs.length} students`);
  const trained = await core.trainStudents(jobs);
  const perSeed = [];
  for (const seed of seeds) {
    const get = (role: string) => trained.find((s) => s.jobId === `${role}:${seed}`)!;
    const [p, c] = [get('probe'), get('control')];
    const [ps, cs] = [await score(p.model), await score(c.model)];
    const [pu, cu] = [await scoreUnder(p.model), await scoreUnder(c.model)];
    const underSystemPrompt = pu === undefined || cu === undefined ? undefined : pu - cu;
    perSeed.push({
      seed,
      probe: ps,
      control: cs,
      transfer: ps - cs,
      ...(underSystemPrompt === undefined ? {} : { probeUnder: pu, controlUnder: cu, underSystemPrompt }),
      loss: [p.lossHistory.at(-1), c.lossHistory.at(-1)],
    });
    log(
      `  seed ${seed}: probe ${ps.toFixed(4)} control ${cs.toFixed(4)} transfer ${(ps - cs).toFixed(4)}` +
        (underSystemPrompt === undefined ? '' : `; under the system prompt ${underSystemPrompt.toFixed(4)}`),
    );
  }
  const row = {
    variant: v || 'config',
    training,
    probe: interval(perSeed.map((s) => s.probe)),
    control: interval(perSeed.map((s) => s.control)),
    transfer: interval(perSeed.map((s) => s.transfer)),
    ...(system === undefined
      ? {}
      : { transferUnderSystemPrompt: interval(perSeed.map((s) => s.underSystemPrompt ?? NaN)) }),
    studentSeconds: trained.reduce((a, s) => a + s.ms, 0) / trained.length / 1000,
    perSeed,
  };
  rows.push(row);
  const f = (x: { mean: number; sd: number }) => `${x.mean.toFixed(4)} sd ${x.sd.toFixed(4)}`;
  console.log(
    `${row.variant}: probe ${f(row.probe)} control ${f(row.control)} transfer ${f(row.transfer)} ` +
      `[${row.transfer.low.toFixed(4)}, ${row.transfer.high.toFixed(4)}] (${row.studentSeconds.toFixed(0)} s/student)` +
      (row.transferUnderSystemPrompt ? `; under the system prompt ${f(row.transferUnderSystemPrompt)}` : ''),
  );
}
await writeFileAtomic(
  join(root, values.out),
  `${JSON.stringify(
    {
      backend: core.backend,
      versions: core.versions,
      models: { base: base.sha256, teacher: teacher.sha256 },
      options: values,
      kept: { teacher: teacherKept.records.length, control: controlKept.records.length },
      modelScores,
      rows,
      wallSeconds: (performance.now() - t0) / 1000,
    },
    null,
    2,
  )}\n`,
);
await core.dispose();
