/**
 * `distill-gate check` as named stages: inputs (plugins, base, evaluations) -> students (cache look-up, data, control
 * data, student jobs, training) -> scoring (evaluators on fresh students, cache writes) -> assemble (intervals,
 * verdicts, exit code). Each stage is a module of its own with a typed input and output; this file composes them.
 */
import { relative } from 'node:path';
import { RESULT_SCHEMA_VERSION, type CheckResult, type DatasetReport, type Multiplicity } from '../result.js';
import { designWarnings } from './plan.js';
import { errorShare } from '../stats/multiplicity.js';
import { assemble, type BudgetReport, type CheckScores } from './assemble.js';
import { planUnits, probeSetHash, type Unit, type UnitScores } from './cache.js';
import { checkContext, type CheckContext, type CheckOptions } from './context.js';
import { loadInputs, type CheckInputs } from './inputs.js';
import { scoreUnits, type Scored } from './scoring.js';
import { planStudents, saveStudents, trainStudents } from './students.js';

export { parseShard, type CheckOptions, type CheckPhase, type CheckProgress, type ShardSpec } from './context.js';

/**
 * Filters each dataset, trains probe students (shared base) on it and control students (same seeds) on control data,
 * scores both on every trait, and turns the paired differences into verdicts. The work is made of (dataset, seed)
 * units; each unit's scores are cached by a content hash and can be sharded across jobs.
 */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const startedAt = new Date();
  const clock = phaseClock();
  const ctx = checkContext(opts);
  const inputs = await loadInputs(ctx);
  // The training workers start while the datasets are read (a config or plugin that fails above starts none).
  ctx.training.prepare?.();
  const multiplicity = runErrorShare(ctx, inputs, opts);
  // Warned once per run: later looks of adaptive seeds come with an error budget.
  const warnings = opts.errorBudget?.checks === undefined ? designWarnings(ctx.config, inputs, multiplicity) : [];
  for (const w of warnings) ctx.log.warn(w);
  clock.end('loadMs');
  const { mine } = planUnits(ctx.config, opts.shard);
  const work = await planStudents(ctx, inputs, mine, opts);
  clock.end('dataMs');
  const students = await trainStudents(ctx, work, startedAt);
  clock.end('trainMs');
  const saved = opts.saveStudentsDir
    ? await saveStudents(opts.saveStudentsDir, work.jobs, students, work.sameAs)
    : undefined;
  const scored = await scoreUnits(
    ctx,
    inputs,
    work,
    students,
    opts.cacheDir ? { dir: opts.cacheDir, tool: opts.tool } : undefined,
  );
  clock.end('evaluateMs');
  return assembleRun(ctx, inputs, opts, multiplicity, [...work.cached, ...scored.units], scored, mine, {
    ...(warnings.length ? { warnings } : {}),
    startedAt: startedAt.toISOString(),
    timings: { ...clock.timings, totalMs: Date.now() - startedAt.getTime() },
    ...(opts.cacheDir
      ? {
          cache: {
            dir: relativeOrSelf(opts.cacheDir),
            hits: work.cached.length,
            misses: work.pending.length,
            studentsReused: work.fromCache?.size ?? 0,
          },
        }
      : {}),
    ...(saved ? { savedStudents: saved } : {}),
  });
}

/**
 * The run's family of tests, fixed by the config before any score: every dataset x evaluation check at every planned
 * look, and one explicit-content test per dataset when a filter can mark records explicit (marksExplicit).
 */
function runErrorShare(ctx: CheckContext, inputs: CheckInputs, opts: CheckOptions): Multiplicity {
  const { config } = ctx;
  return errorShare(config, {
    checks: opts.errorBudget?.checks ?? config.datasets.length * inputs.evaluations.length,
    looks: opts.errorBudget?.looks ?? 1,
    leakage:
      opts.errorBudget?.leakage ?? (inputs.filters.some((f) => f.plugin.marksExplicit) ? config.datasets.length : 0),
  });
}

/** The run's result from its units' scores: one check per (dataset, evaluation), in config and seed order. */
function assembleRun(
  ctx: CheckContext,
  inputs: CheckInputs,
  opts: CheckOptions,
  multiplicity: Multiplicity,
  units: UnitScores[],
  scored: Scored,
  mine: Unit[],
  run: Pick<CheckResult, 'startedAt' | 'timings' | 'cache' | 'savedStudents' | 'warnings'>,
): CheckResult {
  const { config, training } = ctx;
  const { base, crossBase } = inputs;
  const { checks, datasets } = checksOf(ctx, inputs, units, scored.failed);
  const budget = budgetOf(ctx, mine, datasets, scored.unitsCut);
  const assembled = assemble({
    checks,
    datasets,
    errors: scored.errors,
    threshold: config.threshold,
    perCheckConfidence: multiplicity.perCheckConfidence,
    leakageConfidence: multiplicity.leakageConfidence,
    inconclusivePolicy: config.inconclusive,
    ...(budget ? { budget } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
  });
  const { results, datasets: _datasets, ...overall } = assembled;
  const plugins = [
    ...inputs.traits,
    ...inputs.evaluators,
    ...inputs.filters,
    ...(inputs.controlGenerator ? [inputs.controlGenerator] : []),
  ];
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    tool: opts.tool,
    ...overall,
    startedAt: run.startedAt,
    ...(run.warnings ? { warnings: run.warnings } : {}),
    config: { path: relativeOrSelf(config.file), sha256: config.sha256 },
    base: { path: ctx.rel(config.basePath), sha256: base.sha256, family: base.family },
    ...(crossBase
      ? { crossBase: { path: ctx.rel(config.crossBasePath!), sha256: crossBase.sha256, family: crossBase.family } }
      : {}),
    ...(budget ? { budget } : {}),
    backend: training.backend,
    seeds: config.seeds,
    threshold: config.threshold,
    confidence: config.confidence,
    multiplicity,
    inconclusivePolicy: config.inconclusive,
    training: { ...config.training },
    versions: { node: process.version, ...training.versions },
    plugins: plugins.map((p) => ({
      kind: p.plugin.kind,
      name: p.plugin.name,
      version: p.plugin.version,
      options: p.options,
    })),
    datasets: assembled.datasets,
    results,
    timings: run.timings,
    ...(scored.errors.length ? { errors: scored.errors } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
    ...(run.cache ? { cache: run.cache } : {}),
    ...(run.savedStudents ? { savedStudents: run.savedStudents } : {}),
  };
}

/** Groups the units' scores into checks, in config order and seed order; failed evaluations have no check. */
function checksOf(
  ctx: CheckContext,
  inputs: CheckInputs,
  units: UnitScores[],
  failed: Set<string>,
): { checks: CheckScores[]; datasets: DatasetReport[] } {
  const { config } = ctx;
  const checks: CheckScores[] = [];
  const datasets: DatasetReport[] = [];
  const seedOrder = new Map(config.seeds.map((s, i) => [s, i]));
  const probeHashes = config.placebos ? inputs.evaluations.map((e) => probeSetHash(e.probes)) : [];
  for (const entry of config.datasets) {
    const here = units
      .filter((u) => u.dataset === entry.name)
      .sort((a, b) => seedOrder.get(a.seed)! - seedOrder.get(b.seed)!);
    if (!here.length) continue;
    datasets.push({ ...here[0].report, name: entry.name });
    for (const [k, e] of inputs.evaluations.entries()) {
      if (failed.has(`${entry.name}|${k}`)) continue;
      const picked = here.map((u) => u.scores[k]);
      const cross = inputs.crossBase && picked.every((x) => x.crossProbe && x.crossControl);
      const placebo = config.placebos && picked.every((x) => x.placebo?.length === config.placebos);
      checks.push({
        ids: { dataset: entry.name, trait: e.trait.plugin.name, evaluator: e.evaluator.plugin.name },
        probe: picked.map((x) => x.probe),
        control: picked.map((x) => x.control),
        ...(cross
          ? { crossProbe: picked.map((x) => x.crossProbe!), crossControl: picked.map((x) => x.crossControl!) }
          : {}),
        ...(placebo
          ? {
              placebo: picked.map((x) => ({ seed: x.probe.seed, values: x.placebo!.map((s) => s.value) })),
              placeboNull: { baseSha256: inputs.base.sha256, probesSha256: probeHashes[k] },
            }
          : {}),
      });
    }
  }
  return { checks, datasets };
}

/** The time budget's account, when the run has one: units planned and checked, datasets not checked at all. */
function budgetOf(
  ctx: CheckContext,
  mine: Unit[],
  datasets: DatasetReport[],
  unitsCut: number,
): BudgetReport | undefined {
  const { config } = ctx;
  if (config.maxMinutes === undefined) return undefined;
  const datasetsUnchecked = config.datasets
    .filter((d, i) => mine.some((u) => u.d === i) && !datasets.some((r) => r.name === d.name))
    .map((d) => d.name);
  return {
    maxMinutes: config.maxMinutes,
    reached: unitsCut > 0,
    unitsPlanned: mine.length,
    unitsChecked: mine.length - unitsCut,
    datasetsUnchecked,
  };
}

/** Milliseconds per phase: each end() closes the phase that began at the previous one. */
function phaseClock() {
  const timings: Record<string, number> = {};
  let start = performance.now();
  return {
    timings,
    end(name: string) {
      const now = performance.now();
      timings[name] = Math.round(now - start);
      start = now;
    },
  };
}

function relativeOrSelf(path: string): string {
  return relative(process.cwd(), path) || path;
}
