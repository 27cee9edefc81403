import { DistillGateError } from '../errors.js';
import type { CheckResult, StudentScore } from '../result.js';
import { assemble, scoresOf, type BudgetReport, type CheckScores } from './assemble.js';

/**
 * Combines the partial results of `check --shard i/n` (i = 1..n) into the result a single job would have given:
 * scores are pooled by seed and every interval and verdict is recomputed from them by the one assembler; plugin
 * errors and time budgets of every shard are kept.
 */
export function mergeResults(partials: CheckResult[]): CheckResult {
  checkPartials(partials);
  const first = partials[0];
  const datasets = new Map<string, CheckResult['datasets'][number]>();
  const groups = new Map<string, Required<Omit<CheckScores, 'placeboNull'>> & Pick<CheckScores, 'placeboNull'>>();
  for (const p of partials) {
    for (const d of p.datasets) if (!datasets.has(d.name)) datasets.set(d.name, d);
    for (const r of p.results) {
      const s = scoresOf(r);
      const key = JSON.stringify([r.dataset, r.trait, r.evaluator]);
      const g = groups.get(key) ?? {
        ids: s.ids,
        probe: [] as StudentScore[],
        control: [] as StudentScore[],
        crossProbe: [] as StudentScore[],
        crossControl: [] as StudentScore[],
        placebo: [] as { seed: number; values: number[] }[],
      };
      g.probe.push(...s.probe);
      g.control.push(...s.control);
      g.crossProbe.push(...(s.crossProbe ?? []));
      g.crossControl.push(...(s.crossControl ?? []));
      g.placebo.push(...(s.placebo ?? []));
      if (g.probe.length > s.probe.length && !s.placeboNull !== !g.placeboNull && s.placebo?.length)
        throw new DistillGateError(
          `the placebo null of ${r.dataset} (${r.trait}) is recorded in some partial results and not in others`,
        );
      if (s.placeboNull) {
        const had = g.placeboNull;
        if (had && (had.baseSha256 !== s.placeboNull.baseSha256 || had.probesSha256 !== s.placeboNull.probesSha256))
          throw new DistillGateError(
            `the placebo nulls of ${r.dataset} (${r.trait}) come from different ` +
              `${had.baseSha256 !== s.placeboNull.baseSha256 ? 'bases' : 'probe sets'} ` +
              `in the partial results: a null is only valid for the base and probe set it was measured with`,
          );
        g.placeboNull = s.placeboNull;
      }
      groups.set(key, g);
    }
  }
  const order = new Map(first.seeds.map((s, i) => [s, i]));
  const bySeed = (a: { seed: number }, b: { seed: number }) => order.get(a.seed)! - order.get(b.seed)!;
  const sorted = (xs: StudentScore[]) => xs.sort(bySeed);
  const checks = [...groups.values()].map((g) => ({
    ids: g.ids,
    probe: sorted(g.probe),
    control: sorted(g.control),
    ...(first.crossBase ? { crossProbe: sorted(g.crossProbe), crossControl: sorted(g.crossControl) } : {}),
    placebo: g.placebo.sort(bySeed),
    ...(g.placeboNull ? { placeboNull: g.placeboNull } : {}),
  }));
  const errors = partials.flatMap((p) => p.errors ?? []);
  const budget = mergeBudgets(partials, datasets);
  const assembled = assemble({
    checks,
    datasets: [...datasets.values()],
    errors,
    threshold: first.threshold,
    perCheckConfidence: first.multiplicity?.perCheckConfidence ?? first.confidence,
    leakageConfidence: first.multiplicity?.leakageConfidence,
    inconclusivePolicy: first.inconclusivePolicy,
    ...(budget ? { budget } : {}),
  });
  const sum = (k: string) => partials.reduce((s, p) => s + (p.timings[k] ?? 0), 0);
  const { shard: _shard, errors: _errors, budget: _budget, ...rest } = first;
  return {
    ...rest,
    ...assembled,
    datasets: assembled.datasets,
    ...(budget ? { budget } : {}),
    ...(errors.length ? { errors } : {}),
    cache: first.cache && {
      dir: first.cache.dir,
      hits: partials.reduce((s, p) => s + (p.cache?.hits ?? 0), 0),
      misses: partials.reduce((s, p) => s + (p.cache?.misses ?? 0), 0),
    },
    mergedFrom: partials.length,
    timings: {
      trainMs: sum('trainMs'),
      totalMs: Math.max(...partials.map((p) => p.timings.totalMs ?? 0)),
      shardTotalMs: sum('totalMs'),
    },
  };
}

/** The partials must be the n shards of one run: same config, backend, seeds and decision settings. */
function checkPartials(partials: CheckResult[]): void {
  if (!partials.length) throw new DistillGateError('merge needs at least one partial result');
  const first = partials[0];
  const count = first.shard?.count;
  for (const p of partials) {
    if (!p.shard)
      throw new DistillGateError('not a partial result: it has no "shard" (was it written by check --shard i/n?)', {
        file: p.config.path,
      });
    if (p.shard.count !== count) throw new DistillGateError(`shard counts differ (${count} and ${p.shard.count})`);
    if (p.config.sha256 !== first.config.sha256)
      throw new DistillGateError('the partial results come from different config files');
    if (p.backend.name !== first.backend.name)
      throw new DistillGateError(
        `the partial results used different backends (${first.backend.name} and ${p.backend.name}); ` +
          'scores are only comparable on one',
      );
    if (p.seeds.join() !== first.seeds.join())
      throw new DistillGateError('the partial results were run with different seeds');
    if (p.schemaVersion !== first.schemaVersion)
      throw new DistillGateError(
        `the partial results come from different versions of distill-gate (result schema ${first.schemaVersion} ` +
          `and ${p.schemaVersion}): run every shard with one version`,
      );
    if (p.multiplicity?.perCheckConfidence !== first.multiplicity?.perCheckConfidence)
      throw new DistillGateError('the partial results split the error rate differently (another config or version)');
    if (p.base.sha256 !== first.base.sha256)
      throw new DistillGateError(
        `the partial results used different base models (sha256 ${first.base.sha256.slice(0, 12)} and ` +
          `${p.base.sha256.slice(0, 12)}); their students cannot be pooled`,
      );
    if (p.threshold !== first.threshold || p.confidence !== first.confidence)
      throw new DistillGateError('the partial results were run with different thresholds or confidence levels');
  }
  const indices = partials.map((p) => p.shard!.index).sort((a, b) => a - b);
  const missing = Array.from({ length: count! }, (_, i) => i + 1).filter((i) => !indices.includes(i));
  if (missing.length)
    throw new DistillGateError(`shard(s) ${missing.map((i) => `${i}/${count}`).join(', ')} missing from the merge`);
  if (new Set(indices).size !== indices.length) throw new DistillGateError('a shard appears twice in the merge');
}

/** The shards' time budgets added up: reached when any shard ran out; unchecked datasets are those no shard scored. */
function mergeBudgets(partials: CheckResult[], scored: Map<string, unknown>): BudgetReport | undefined {
  const budgets = partials.flatMap((p) => (p.budget ? [p.budget] : []));
  if (!budgets.length) return undefined;
  const unchecked = new Set(budgets.flatMap((b) => b.datasetsUnchecked).filter((d) => !scored.has(d)));
  return {
    maxMinutes: budgets[0].maxMinutes,
    reached: budgets.some((b) => b.reached),
    unitsPlanned: budgets.reduce((s, b) => s + b.unitsPlanned, 0),
    unitsChecked: budgets.reduce((s, b) => s + b.unitsChecked, 0),
    datasetsUnchecked: [...unchecked],
  };
}
