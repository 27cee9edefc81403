import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck, type CheckOptions } from './index.js';
import { DistillGateError } from '../errors.js';
import type { CheckResult } from '../result.js';
import { assemble, scoresOf, type BudgetReport } from './assemble.js';

/**
 * `check` with adaptive seeds (the config's `sequential`): the first seeds are trained for every dataset; datasets
 * with an INCONCLUSIVE check get `roundSize` more seeds, and so on, until every check is decided or `maxSeeds` (or
 * the time budget) is reached. The number of looks L = 1 + ceil((maxSeeds - first seeds) / roundSize) is fixed in
 * advance and every look's one-sided bounds take alpha / m with m = checks x L + explicit-content tests (see
 * stats/multiplicity.ts), so the family-wise error rate holds however the looks turn out. Earlier seeds are never
 * retrained: each round reads them from the verdict cache (a temporary one when the run has none).
 */
export async function runSequentialCheck(opts: CheckOptions): Promise<CheckResult> {
  const { config } = opts;
  const plan = config.sequential;
  if (!plan) return runCheck(opts);
  if (opts.shard) {
    throw new DistillGateError(
      'adaptive seeds ("sequential") decide the seeds as the run goes, so they cannot be split into shards: ' +
        'shard a fixed seed list instead',
      config.locate('/sequential'),
    );
  }
  const looks = 1 + Math.ceil((plan.maxSeeds - config.seeds.length) / plan.roundSize);
  const tempCache = opts.cacheDir ? undefined : await mkdtemp(join(tmpdir(), 'distill-gate-sequential-'));
  const cacheDir = opts.cacheDir ?? tempCache!;
  const started = Date.now();
  const onProgress = (look: number) => (p: Parameters<NonNullable<CheckOptions['onProgress']>>[0]) =>
    opts.onProgress?.({ ...p, message: `look ${look}/${looks}: ${p.message}` });
  // Each look reads the datasets again; the base's control data for them is generated once.
  const controls = opts.controls ?? new Map();
  try {
    let seeds = [...config.seeds];
    let result = await runCheck({ ...opts, cacheDir, controls, errorBudget: { looks }, onProgress: onProgress(1) });
    const checks = result.multiplicity?.checks ?? 1;
    const leakage = result.multiplicity?.leakageTests ?? 0;
    const rounds = [{ look: 1, seeds: seeds.length, datasets: config.datasets.length }];
    for (let look = 2; look <= looks; look++) {
      const undecided = new Set(result.results.filter((r) => r.verdict === 'INCONCLUSIVE').map((r) => r.dataset));
      if (!undecided.size || result.budget?.reached) break;
      const minutesLeft =
        config.maxMinutes !== undefined ? config.maxMinutes - (Date.now() - started) / 60_000 : undefined;
      if (minutesLeft !== undefined && minutesLeft <= 0) break;
      let next = Math.max(...seeds) + 1;
      const more: number[] = [];
      while (more.length < Math.min(plan.roundSize, plan.maxSeeds - seeds.length)) more.push(next++);
      seeds = [...seeds, ...more];
      const sub = await runCheck({
        ...opts,
        config: {
          ...config,
          seeds,
          datasets: config.datasets.filter((d) => undecided.has(d.name)),
          ...(minutesLeft !== undefined ? { maxMinutes: minutesLeft } : {}),
        },
        cacheDir,
        controls,
        errorBudget: { checks, looks, leakage },
        onProgress: onProgress(look),
      });
      rounds.push({ look, seeds: seeds.length, datasets: undecided.size });
      result = combine(result, sub, undecided);
    }
    const seedsUsed = Object.fromEntries(
      result.datasets.map((d) => [d.name, result.results.find((r) => r.dataset === d.name)?.probe.length ?? 0]),
    );
    const { cache: _cache, ...rest } = result;
    return {
      ...rest,
      ...(opts.cacheDir ? { cache: result.cache } : {}),
      timings: { ...result.timings, totalMs: Date.now() - started },
      sequential: { maxSeeds: plan.maxSeeds, roundSize: plan.roundSize, looks, rounds, seedsUsed },
    };
  } finally {
    if (tempCache) await rm(tempCache, { recursive: true, force: true });
  }
}

/**
 * The earlier result with the re-run datasets' reports and results replaced by the later round's (which holds every
 * seed so far), assembled again by the one assembler: plugin errors, time budgets and notes of both rounds count.
 */
export function combine(before: CheckResult, after: CheckResult, rerun: Set<string>): CheckResult {
  const order = new Map(before.datasets.map((d, i) => [d.name, i]));
  const results = [...before.results.filter((r) => !rerun.has(r.dataset)), ...after.results];
  results.sort((a, b) => (order.get(a.dataset) ?? 0) - (order.get(b.dataset) ?? 0));
  const datasets = before.datasets.map((d) => after.datasets.find((x) => x.name === d.name) ?? d);
  const errors = [
    ...(before.errors ?? []).filter((e) => !e.dataset || !rerun.has(e.dataset)),
    ...(after.errors ?? []).filter((e) => e.dataset),
  ];
  const budget = combineBudgets(before, after, rerun);
  const assembled = assemble({
    checks: results.map(scoresOf),
    datasets,
    errors,
    threshold: before.threshold,
    perCheckConfidence: after.multiplicity?.perCheckConfidence ?? after.confidence,
    leakageConfidence: after.multiplicity?.leakageConfidence,
    inconclusivePolicy: before.inconclusivePolicy,
    ...(budget ? { budget } : {}),
  });
  const sum = (k: string) => (before.timings[k] ?? 0) + (after.timings[k] ?? 0);
  const timings = Object.fromEntries(
    [...new Set([...Object.keys(before.timings), ...Object.keys(after.timings)])].map((k) => [k, sum(k)]),
  );
  const { errors: _errors, budget: _budget, ...rest } = after;
  return {
    ...rest,
    ...assembled,
    ...(before.warnings ? { warnings: before.warnings } : {}),
    datasets: assembled.datasets,
    ...(budget ? { budget } : {}),
    timings,
    ...(errors.length ? { errors } : {}),
    ...(before.cache && after.cache
      ? {
          cache: {
            dir: after.cache.dir,
            hits: before.cache.hits + after.cache.hits,
            misses: before.cache.misses + after.cache.misses,
          },
        }
      : {}),
  };
}

/**
 * The time budget over both rounds: the later round re-plans every seed of the datasets it re-runs, so their units
 * in the earlier round are replaced by its own.
 */
function combineBudgets(before: CheckResult, after: CheckResult, rerun: Set<string>): BudgetReport | undefined {
  const [b, a] = [before.budget, after.budget];
  if (!b || !a) return a ?? b;
  const replaced = rerun.size * before.seeds.length;
  return {
    maxMinutes: b.maxMinutes,
    reached: b.reached || a.reached,
    unitsPlanned: b.unitsPlanned - replaced + a.unitsPlanned,
    unitsChecked: b.unitsChecked - replaced + a.unitsChecked,
    datasetsUnchecked: [...new Set([...b.datasetsUnchecked, ...a.datasetsUnchecked])],
  };
}
