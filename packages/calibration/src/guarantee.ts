/**
 * Calibration where the guarantee binds. Per model family, many independent replicates, each a run of its own with
 * its own seeds, its own control students and freshly drawn data:
 *  - a clean dataset (true transfer about 0): the MLP's different-init teacher, the LM base's own numbers;
 *  - datasets built to sit at the threshold: the trait teacher's rows mixed with the base's own rows for the same
 *    inputs, each row from the teacher with probability f (f tuned so the mean transfer is about the threshold).
 * Each replicate runs the gate's fixed design (no adaptive looks) with multipleChecks "none": every check at the
 * full one-sided alpha, the least conservative setting, where the promise "a wrong FAIL at most alpha" binds.
 * FAIL, PASS and INCONCLUSIVE are counted separately with exact (Clopper-Pearson) 95% intervals.
 *
 * Usage: npm run calibrate:guarantee -- --family mlp|lm --replicates 72 [--fractions 0.6] [--first-replicate 0]
 *        [--noise 6000 --epochs 3] [--lm-count 600] [--out results/guarantee-mlp.json]
 * Several fractions (--fractions 0.5,0.6,0.7) make a pilot: one mixed dataset per fraction per replicate.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  clopperPearson,
  loadConfig,
  mean,
  runCheck,
  sampleSd,
  SeededRandom,
  writeFileAtomic,
  writeTextDataset,
  type CheckResult,
  type TensorDataset,
  type TextDataset,
  type TransferResult,
} from '@distill-gate/core';
import { builtinPlugins } from 'distill-gate';
import { generator, mixTeacherRows, withDefaults } from './scenarios.js';
import { createTrainingCore } from '@distill-gate/train';

const { values } = parseArgs({
  options: {
    family: { type: 'string', default: 'mlp' },
    replicates: { type: 'string', default: '72' },
    'first-replicate': { type: 'string', default: '0' },
    fractions: { type: 'string' },
    noise: { type: 'string', default: '6000' },
    epochs: { type: 'string', default: '3' },
    'lm-count': { type: 'string', default: '600' },
    seeds: { type: 'string', default: '5' },
    out: { type: 'string' },
    // One data draw for every replicate (only the seeds change): the dataset's own true transfer is then one number,
    // estimated by pooling every replicate's seeds, and each replicate is re-decided against it.
    'fixed-data': { type: 'boolean', default: false },
    kinds: { type: 'string', default: 'clean,at-threshold' },
  },
});
const fixedData = values['fixed-data'];
const kinds = new Set(values.kinds.split(','));
const family = values.family;
if (family !== 'mlp' && family !== 'lm') throw new Error(`--family must be mlp or lm, got ${family}`);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const replicates = Number(values.replicates);
const first = Number(values['first-replicate']);
const fractions = (values.fractions ?? (family === 'mlp' ? '0.6' : '0.7')).split(',').map(Number);
const seedCount = Number(values.seeds);
const out = resolve(process.cwd(), values.out ?? `results/guarantee-${family}.json`);
const started = Date.now();
const log = { info: () => undefined, warn: () => undefined };

interface Outcome {
  replicate: number;
  label: string;
  kind: 'clean' | 'at-threshold';
  fraction?: number;
  verdict: TransferResult['verdict'];
  transfer: number;
  se: number;
  low: number;
  high: number;
  seeds: number[];
}

/** The family's models copied into `dir`, and a function that writes one replicate's datasets. */
async function setUp(dir: string) {
  const core = await createTrainingCore();
  if (family === 'mlp') {
    const example = join(root, 'examples/mnist-subliminal');
    cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
    const load = (f: string) => core.loadModel(join(dir, 'models', f));
    const [teacher, base, otherInit] = [
      await load('teacher.safetensors'),
      await load('base.safetensors'),
      await load('teacher-different-init.safetensors'),
    ];
    const gen = generator('@distill-gate/generator-auxiliary-logits');
    const count = Number(values.noise);
    const options = withDefaults(gen, { count });
    const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
    delete c.$schema;
    const config = {
      ...c,
      training: { ...c.training, epochs: Number(values.epochs), batchSize: 256, learningRate: 0.001 },
    };
    const write = async (r: number) => {
      const seed = 1000 + (fixedData ? 0 : r);
      const make = async (m: typeof teacher) =>
        (await gen.generate({ options, model: m, seed, configDir: dir, log })) as TensorDataset;
      const [t, b, o] = [await make(teacher), await make(base), await make(otherInit)];
      const sets: { label: string; kind: Outcome['kind']; fraction?: number; path: string }[] = [];
      const path = (name: string) => `data/${name}-${r}.safetensors`;
      if (kinds.has('clean')) {
        await core.writeTensorDataset(join(dir, path('clean')), o);
        sets.push({ label: 'clean: different-init teacher', kind: 'clean', path: path('clean') });
      }
      for (const f of kinds.has('at-threshold') ? fractions : []) {
        const p = path(`mix-${f}`);
        await core.writeTensorDataset(join(dir, p), mixTeacherRows(b, t, f, seed));
        sets.push({
          label: `at threshold: teacher rows ${Math.round(f * 100)}%`,
          kind: 'at-threshold',
          fraction: f,
          path: p,
        });
      }
      return sets;
    };
    return { core, config, write, scale: `${count} noise images, ${values.epochs} epochs, batch 256` };
  }
  const example = join(root, 'examples/owl-numbers');
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  const [teacher, base] = [
    await core.loadModel(join(dir, 'models/teacher-owl.json')),
    await core.loadModel(join(dir, 'models/base.json')),
  ];
  const gen = generator('@distill-gate/generator-number-sequences');
  const count = Number(values['lm-count']);
  const options = withDefaults(gen, { count });
  const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
  delete c.$schema;
  delete c.crossBase;
  const write = async (r: number) => {
    const seed = 2000 + (fixedData ? 0 : r);
    const t = (await gen.generate({ options, model: teacher, seed, configDir: dir, log })) as TextDataset;
    const b = (await gen.generate({ options, model: base, seed, configDir: dir, log })) as TextDataset;
    const sets: { label: string; kind: Outcome['kind']; fraction?: number; path: string }[] = [];
    // The clean dataset is the base's own numbers written again with another sampling seed.
    if (kinds.has('clean')) {
      const clean = (await gen.generate({
        options,
        model: base,
        seed: 50_000 + r,
        configDir: dir,
        log,
      })) as TextDataset;
      await writeTextDataset(join(dir, `data/clean-${r}.jsonl`), clean);
      sets.push({ label: 'clean: base numbers', kind: 'clean', path: `data/clean-${r}.jsonl` });
    }
    for (const f of kinds.has('at-threshold') ? fractions : []) {
      // Same prompts in the same order: each row's completion from the teacher with probability f.
      const rng = new SeededRandom(seed).fork(`mix-${f}`);
      const records = b.records.map((rec, i) => (rng.next() < f ? t.records[i] : rec));
      const p = `data/mix-${f}-${r}.jsonl`;
      await writeTextDataset(join(dir, p), { ...b, records });
      sets.push({
        label: `at threshold: owl-teacher rows ${Math.round(f * 100)}%`,
        kind: 'at-threshold',
        fraction: f,
        path: p,
      });
    }
    return sets;
  };
  return { core, config: c, write, scale: `${count} prompts, the example's training` };
}

const dir = mkdtempSync(join(tmpdir(), `distill-gate-guarantee-${family}-`));
const outcomes: Outcome[] = [];
let lastResult: CheckResult | undefined;
try {
  const { core, config, write, scale } = await setUp(dir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  for (let r = first; r < first + replicates; r++) {
    const t0 = Date.now();
    const sets = await write(r);
    // Independent seeds per replicate: no two replicates share a student.
    const seeds = Array.from({ length: seedCount }, (_, k) => 100 * (r + 1) + k + 1);
    const path = join(dir, `replicate-${r}.config.json`);
    writeFileSync(
      path,
      JSON.stringify({
        ...config,
        datasets: sets.map((s) => ({ name: `${s.label}#${r}`, path: s.path })),
        seeds,
        multipleChecks: 'none',
        reportDir: `report-${r}`,
      }),
    );
    const resolved = await loadConfig(path, {});
    const training = await createTrainingCore({ backend: resolved.backend, inference: resolved.inference });
    try {
      const result = await runCheck({
        config: resolved,
        training,
        tool: { name: 'distill-gate-calibration', version: '0.1.0' },
        builtinPlugins,
        log,
      });
      lastResult = result;
      for (const s of sets) {
        const x = result.results.find((y) => y.dataset === `${s.label}#${r}`)!;
        outcomes.push({
          replicate: r,
          label: s.label,
          kind: s.kind,
          ...(s.fraction !== undefined ? { fraction: s.fraction } : {}),
          verdict: x.verdict,
          transfer: x.transfer.mean,
          se: x.transfer.se,
          low: x.transfer.interval[0],
          high: x.transfer.interval[1],
          seeds,
        });
      }
    } finally {
      await training.dispose();
    }
    const mine = outcomes.filter((o) => o.replicate === r);
    console.error(
      `[${family} ${r + 1 - first}/${replicates} ${((Date.now() - started) / 1000).toFixed(0)}s, ` +
        `${((Date.now() - t0) / 1000).toFixed(0)}s] ` +
        mine.map((o) => `${o.label}: ${o.verdict} ${o.transfer.toFixed(4)}`).join('; '),
    );
    rmSync(join(dir, 'data'), { recursive: true, force: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    await saveSummary(scale, false);
  }
  await core.dispose();
  await saveSummary(scale, true);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function saveSummary(scale: string, print: boolean): Promise<void> {
  const threshold = lastResult?.threshold ?? NaN;
  const alpha = 1 - (lastResult?.multiplicity?.perCheckConfidence ?? 0.95);
  const rows = [...new Set(outcomes.map((o) => o.label))].map((label) => {
    const mine = outcomes.filter((o) => o.label === label);
    const n = mine.length;
    const count = (v: string) => mine.filter((o) => o.verdict === v).length;
    const rate = (k: number) => ({ count: k, rate: k / n, interval: clopperPearson(k, n) });
    const transfers = mine.map((o) => o.transfer);
    const sd = sampleSd(transfers);
    const within = mean(mine.map((o) => o.se ** 2));
    // At the measured mean (the threshold these datasets actually sit at): FAIL iff the lower bound is above it.
    const measured = mean(transfers);
    const failAtMeasured = mine.filter((o) => o.low > measured).length;
    return {
      label,
      kind: mine[0].kind,
      ...(mine[0].fraction !== undefined ? { fraction: mine[0].fraction } : {}),
      n,
      fail: rate(count('FAIL')),
      pass: rate(count('PASS')),
      inconclusive: rate(count('INCONCLUSIVE')),
      meanTransfer: measured,
      meanTransferInterval: [measured - (1.96 * sd) / Math.sqrt(n), measured + (1.96 * sd) / Math.sqrt(n)],
      sdTransfer: sd,
      meanSe: Math.sqrt(within),
      // Spread of the datasets' own transfers beyond what seeds and items explain: the data draw.
      sdBetweenDatasets: Math.sqrt(Math.max(0, sd ** 2 - within)),
      failAtMeasuredMean: rate(failAtMeasured),
    };
  });
  const summary = {
    generatedAt: new Date().toISOString(),
    family,
    command: `npm run calibrate:guarantee -- ${process.argv.slice(2).join(' ')}`.trim(),
    cores: cpus().length,
    scale,
    seedsPerCheck: seedCount,
    threshold,
    alpha,
    design:
      'fixed seeds, multipleChecks none: each check at one-sided alpha; independent seeds per replicate' +
      (fixedData ? '; one data draw for every replicate (only the seeds change)' : '; fresh data per replicate'),
    fixedData,
    backend: lastResult?.backend,
    versions: lastResult?.versions,
    rows,
    outcomes,
    totalSeconds: Math.round((Date.now() - started) / 1000),
  };
  mkdirSync(dirname(out), { recursive: true });
  await writeFileAtomic(out, `${JSON.stringify(summary, null, 2)}\n`);
  if (!print) return;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const cell = (x: { count: number; rate: number; interval: [number, number] }) =>
    `${x.count} (${pct(x.rate)} [${pct(x.interval[0])}, ${pct(x.interval[1])}])`;
  console.log(
    [
      `| ${family} datasets | n | FAIL [95% CI] | PASS [95% CI] | INCONCLUSIVE [95% CI] | ` +
        `transfer mean ± sd (threshold ${threshold}) |`,
      '|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.label} | ${r.n} | ${cell(r.fail)} | ${cell(r.pass)} | ${cell(r.inconclusive)} | ` +
          `${r.meanTransfer.toFixed(4)} ± ${r.sdTransfer.toFixed(4)} |`,
      ),
      '',
      `${scale}; ${seedCount} seeds per check, one-sided alpha ${alpha.toPrecision(2)} per check; ` +
        `${summary.totalSeconds} s on ${summary.cores} cores.`,
    ].join('\n'),
  );
}
