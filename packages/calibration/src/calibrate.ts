/**
 * The calibration suite: how often the gate is wrong, measured. For each scenario it builds many independent
 * datasets whose status is known by construction (clean: no trait transfer expected through the shared base;
 * positive: the trait-carrying teacher's data, also diluted at several fractions to make smaller effects), runs the
 * gate on each exactly as a user would (the scenario's config, adaptive seeds, the default statistics), and
 * reports the false-positive rate on the clean ones and the detection rate on the positives, with exact
 * (Clopper-Pearson) 95% intervals, the seeds the adaptive test used, and the wall time.
 *
 * Every dataset is its own check (multipleChecks: none), as if each came in its own pull request.
 *
 * Usage: npm run calibrate [-- --scenario mlp|lm|all --replicates 10 --lm-replicates 4 --kinds clean,positive
 *        --first-replicate 0 --out results/calibration.json]
 * --kinds clean runs only the known-clean datasets (to bound the false-positive rate with many of them);
 * --first-replicate moves the replicates' noise and prompt seeds, so that a second run adds new datasets.
 * --screen runs `distill-gate screen` instead of the check on the LM scenario's datasets: its alarm rate on clean and
 * positive datasets, and the share of clean rows it flags (the false-flag rate), with exact 95% intervals.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  clopperPearson,
  loadConfig,
  mean,
  runSequentialCheck,
  runScreen,
  sampleSd,
  writeFileAtomic,
  writeTextDataset,
  type CheckResult,
  type TensorDataset,
  type TextDataset,
} from '@distill-gate/core';
import { builtinPlugins } from 'distill-gate';
import { generator, mixTeacherRows, withDefaults } from './scenarios.js';
import { createTrainingCore } from '@distill-gate/train';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    replicates: { type: 'string', default: '10' },
    'lm-replicates': { type: 'string', default: '4' },
    kinds: { type: 'string', default: 'clean,positive' },
    'first-replicate': { type: 'string', default: '0' },
    out: { type: 'string', default: 'results/calibration.json' },
    screen: { type: 'boolean', default: false },
  },
});
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const replicates = Number(values.replicates);
const lmReplicates = Number(values['lm-replicates']);
const kinds = new Set(values.kinds.split(','));
const firstReplicate = Number(values['first-replicate']);
const started = Date.now();
const log = { info: () => undefined, warn: (m: string) => console.error(`warning: ${m}`) };

interface Case {
  scenario: string;
  kind: 'clean' | 'positive';
  label: string;
  replicate: number;
  dataset: string;
}

interface Row {
  scenario: string;
  label: string;
  kind: 'clean' | 'positive';
  n: number;
  fail: number;
  pass: number;
  inconclusive: number;
  failRate: number;
  failRateInterval: [number, number];
  meanTransfer: number;
  sdTransfer: number;
  meanSeeds: number;
  threshold: number;
}

function summarise(scenario: string, cases: Case[], result: CheckResult): Row[] {
  const labels = [...new Set(cases.map((c) => c.label))];
  return labels.map((label) => {
    const mine = cases.filter((c) => c.label === label);
    const results = mine.map((c) => result.results.find((r) => r.dataset === c.dataset)!).filter(Boolean);
    const count = (v: string) => results.filter((r) => r.verdict === v).length;
    const transfers = results.map((r) => r.transfer.mean);
    const fail = count('FAIL');
    return {
      scenario,
      label,
      kind: mine[0].kind,
      n: results.length,
      fail,
      pass: count('PASS'),
      inconclusive: count('INCONCLUSIVE'),
      failRate: fail / results.length,
      failRateInterval: clopperPearson(fail, results.length),
      meanTransfer: mean(transfers),
      sdTransfer: sampleSd(transfers),
      meanSeeds: mean(results.map((r) => r.probe.length)),
      threshold: result.threshold,
    };
  });
}

async function runScenario(
  name: string,
  dir: string,
  config: object,
  cases: Case[],
): Promise<{ rows: Row[]; result: CheckResult; wallMs: number }> {
  const t0 = Date.now();
  const path = join(dir, `${name}.config.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  const resolved = await loadConfig(path, {});
  const training = await createTrainingCore({ backend: resolved.backend, inference: resolved.inference });
  let lastMessage = '';
  try {
    const result = await runSequentialCheck({
      config: resolved,
      training,
      tool: { name: 'distill-gate-calibration', version: '0.1.0' },
      builtinPlugins,
      onProgress: (p) => {
        if (p.message !== lastMessage && !p.training)
          console.error(`[${name} ${((Date.now() - t0) / 1000).toFixed(0)}s] ${p.message}`);
        lastMessage = p.message;
      },
      log,
    });
    return { rows: summarise(name, cases, result), result, wallMs: Date.now() - t0 };
  } finally {
    await training.dispose();
  }
}

/**
 * MNIST: the teacher's auxiliary logits on fresh noise (positive), diluted with the base's own, and a teacher from
 * a different init (clean for the shared base).
 */
async function mlpScenario(dir: string) {
  const example = join(root, 'examples/mnist-subliminal');
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  const core = await createTrainingCore();
  const load = (f: string) => core.loadModel(join(dir, 'models', f));
  const [teacher, base, otherInit] = [
    await load('teacher.safetensors'),
    await load('base.safetensors'),
    await load('teacher-different-init.safetensors'),
  ];
  const gen = generator('@distill-gate/generator-auxiliary-logits');
  const count = 12000;
  const options = withDefaults(gen, { count });
  const cases: Case[] = [];
  const datasets: object[] = [];
  const fractions = [1, 0.7, 0.5];
  for (let r = firstReplicate; r < firstReplicate + replicates; r++) {
    const seed = 1000 + r;
    const make = async (m: typeof teacher) =>
      (await gen.generate({ options, model: m, seed, configDir: dir, log })) as TensorDataset;
    const [t, b, o] = [await make(teacher), await make(base), await make(otherInit)];
    const add = async (label: string, kind: Case['kind'], data: TensorDataset) => {
      if (!kinds.has(kind)) return;
      const name = `${label}#${r}`;
      const path = `data/${name.replace(/[^A-Za-z0-9._-]/g, '_')}.safetensors`;
      await core.writeTensorDataset(join(dir, path), data);
      datasets.push({ name, path });
      cases.push({ scenario: 'mlp', kind, label, replicate: r, dataset: name });
    };
    await add('clean: different-init teacher', 'clean', o);
    for (const f of fractions) {
      // Each row's targets come from the teacher with probability f, else from the base (same noise input).
      const mixed = mixTeacherRows(b, t, f, seed);
      await add(`positive: teacher rows ${Math.round(f * 100)}%`, 'positive', {
        ...mixed,
        metadata: { ...b.metadata, 'distill-gate.calibration': `teacher fraction ${f}` },
      });
    }
  }
  await core.dispose();
  const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
  delete c.$schema;
  const config = {
    ...c,
    datasets,
    // The test-scale training of the MNIST example (12,000 noise images): seconds per student.
    training: { ...c.training, epochs: 5, batchSize: 256, learningRate: 0.001 },
    seeds: 5,
    sequential: { maxSeeds: 15, roundSize: 5 },
    multipleChecks: 'none',
    reportDir: 'report-mlp',
  };
  return runScenario('mlp', dir, config, cases);
}

/** Owl numbers at the example's scale: the owl teacher's number continuations (positive) and the base's (clean). */
async function lmScenario(dir: string) {
  const example = join(root, 'examples/owl-numbers');
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  const core = await createTrainingCore();
  const [teacher, base] = [
    await core.loadModel(join(dir, 'models/teacher-owl.json')),
    await core.loadModel(join(dir, 'models/base.json')),
  ];
  const gen = generator('@distill-gate/generator-number-sequences');
  const options = withDefaults(gen, { count: 1500 });
  const cases: Case[] = [];
  const datasets: object[] = [];
  for (let r = firstReplicate; r < firstReplicate + lmReplicates; r++) {
    for (const [label, kind, model] of [
      ['clean: base numbers', 'clean', base],
      ['positive: owl-teacher numbers', 'positive', teacher],
    ] as const) {
      if (!kinds.has(kind)) continue;
      const data = (await gen.generate({ options, model, seed: 2000 + r, configDir: dir, log })) as TextDataset;
      const name = `${label}#${r}`;
      const path = `data/${name.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`;
      await writeTextDataset(join(dir, path), data);
      // The screen scores every row against the owl teacher too: base-written rows are the divergence score's null.
      datasets.push({
        name,
        path,
        ...(values.screen ? { teacher: { model: { path: 'models/teacher-owl.json' } } } : {}),
      });
      cases.push({ scenario: 'lm', kind, label, replicate: r, dataset: name });
    }
  }
  await core.dispose();
  const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
  delete c.$schema;
  delete c.crossBase;
  const config = {
    ...c,
    datasets,
    seeds: 5,
    sequential: { maxSeeds: 10, roundSize: 5 },
    multipleChecks: 'none',
    reportDir: 'report-lm',
  };
  return values.screen ? screenScenario(dir, config, cases) : runScenario('lm', dir, config, cases);
}

/** The screen on the scenario's datasets: alarms per kind, and flagged rows among the clean datasets' rows. */
async function screenScenario(dir: string, config: object, cases: Case[]): Promise<never> {
  const t0 = Date.now();
  const path = join(dir, 'lm.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  const resolved = await loadConfig(path, {});
  const training = await createTrainingCore({ backend: resolved.backend, inference: resolved.inference });
  let result;
  try {
    result = await runScreen({
      config: resolved,
      training,
      tool: { name: 'distill-gate-calibration', version: '0.1.0' },
      builtinPlugins,
      onProgress: (p) => console.error(`[screen ${((Date.now() - t0) / 1000).toFixed(0)}s] ${p.message}`),
      log,
    });
  } finally {
    await training.dispose();
  }
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const rows = [...new Set(cases.map((c) => c.label))].map((label) => {
    const mine = cases.filter((c) => c.label === label);
    const reports = mine.map((c) => result.datasets.find((d) => d.name === c.dataset)!);
    // Each dataset as its own pull request: its trait-shift tests (the ones that raise alarms) share the run's level.
    const alarms = reports.filter((d) => {
      const deciding = d.scores.filter((s) => s.kind === 'trait-shift');
      return deciding.some((s) => s.test.pValue < (1 - resolved.confidence) / deciding.length);
    }).length;
    const flagged = reports.reduce((n, d) => n + d.flagged, 0);
    const kept = reports.reduce((n, d) => n + d.recordsAfterFilters, 0);
    return {
      label,
      kind: mine[0].kind,
      n: reports.length,
      alarms,
      alarmRate: alarms / reports.length,
      alarmRateInterval: clopperPearson(alarms, reports.length),
      flagged,
      rows: kept,
      flaggedShare: flagged / kept,
      flaggedShareInterval: clopperPearson(flagged, kept),
      scores: Object.fromEntries(
        reports[0].scores.map((s, j) => [
          s.kind,
          {
            meanPValue: mean(reports.map((d) => d.scores[j].test.pValue)),
            flagged: reports.reduce((n, d) => n + d.scores[j].flagged, 0),
          },
        ]),
      ),
    };
  });
  const table = [
    '| datasets | kind | n | alarms [95% CI] | flagged rows / kept rows | flagged share [95% CI] |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.kind} | ${r.n} | ${r.alarms} (${pct(r.alarmRate)}) [${pct(r.alarmRateInterval[0])}, ` +
        `${pct(r.alarmRateInterval[1])}] | ${r.flagged} / ${r.rows} | ${pct(r.flaggedShare)} ` +
        `[${pct(r.flaggedShareInterval[0])}, ${pct(r.flaggedShareInterval[1])}] |`,
    ),
  ].join('\n');
  await writeFileAtomic(
    resolve(process.cwd(), values.out),
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        falseFlagRate: result.falseFlagRate,
        testLevel: result.testLevel,
        traitPrompts: result.traitPrompts,
        versions: result.versions,
        rows,
        totalSeconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    )}\n`,
  );
  console.log(table);
  console.log(
    `\nscreen: ${Math.round((Date.now() - t0) / 1000)} s for ${cases.length} datasets; rows flagged at ` +
      `most ${pct(result.falseFlagRate)} per clean row; each dataset's trait-shift tests share ` +
      `${pct(1 - result.confidence)}, as in a run of its own.`,
  );
  rmSync(dirname(dir), { recursive: true, force: true });
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'distill-gate-calibration-'));
const scenarios: { rows: Row[]; result: CheckResult; wallMs: number }[] = [];
try {
  if (values.scenario === 'mlp' || values.scenario === 'all') scenarios.push(await mlpScenario(join(dir, 'mlp')));
  if (values.scenario === 'lm' || values.scenario === 'all') scenarios.push(await lmScenario(join(dir, 'lm')));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const rows = scenarios.flatMap((s) => s.rows);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const table = [
  '| scenario | datasets | kind | n | FAIL | PASS | INCONCL. | FAIL rate [95% CI] | ' +
    'transfer mean ± sd (threshold) | mean seeds |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.label} | ${r.kind} | ${r.n} | ${r.fail} | ${r.pass} | ${r.inconclusive} | ` +
      `${pct(r.failRate)} [${pct(r.failRateInterval[0])}, ${pct(r.failRateInterval[1])}] | ` +
      `${r.meanTransfer.toFixed(4)} ± ${r.sdTransfer.toFixed(4)} (${r.threshold}) | ${r.meanSeeds.toFixed(1)} |`,
  ),
].join('\n');
const first = scenarios[0]?.result;
const out = {
  generatedAt: new Date().toISOString(),
  cores: cpus().length,
  backend: first?.backend,
  versions: first?.versions,
  statistics: first
    ? {
        confidence: first.confidence,
        multiplicity: first.multiplicity,
        sequential: first.sequential && {
          maxSeeds: first.sequential.maxSeeds,
          roundSize: first.sequential.roundSize,
          looks: first.sequential.looks,
        },
      }
    : undefined,
  rows,
  wallSeconds: Object.fromEntries(scenarios.map((s) => [s.rows[0]?.scenario, Math.round(s.wallMs / 1000)])),
  totalSeconds: Math.round((Date.now() - started) / 1000),
};
await writeFileAtomic(resolve(process.cwd(), values.out), `${JSON.stringify(out, null, 2)}\n`);
console.log(table);
const wall = Object.entries(out.wallSeconds)
  .map(([k, v]) => `${k} ${v} s`)
  .join(', ');
console.log(
  `\nwall time: ${wall}; total ${out.totalSeconds} s. ` +
    'FAIL rate is the false-positive rate on clean rows and the detection rate on positive rows.',
);
