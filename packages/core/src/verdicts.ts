import type { CheckResult, StudentScore, TransferResult } from './result.js';
import { decideVerdict, pairedTransfer, type Verdict } from './stats.js';
import { DistillGateError } from './errors.js';

/** Paired transfer, interval and verdict for one (dataset, trait, evaluator) from per-seed probe/control scores. */
export function transferResult(
  ids: { dataset: string; trait: string; evaluator: string },
  probe: StudentScore[],
  control: StudentScore[],
  threshold: number,
  confidence: number,
): TransferResult {
  const bySeed = new Map(control.map((c) => [c.seed, c]));
  const pairs = probe.map((p) => {
    const c = bySeed.get(p.seed);
    if (!c) throw new Error(`no control student for seed ${p.seed}`);
    return { seed: p.seed, probe: p.value, control: c.value };
  });
  const estimate = pairedTransfer(pairs, confidence);
  const decision = decideVerdict(estimate, threshold);
  return {
    ...ids,
    metric: probe[0]?.metric ?? '',
    probe,
    control,
    transfer: {
      mean: estimate.mean,
      sd: estimate.sd,
      se: estimate.se,
      n: estimate.n,
      level: estimate.level,
      interval: [estimate.low, estimate.high],
      differences: estimate.differences,
      method: estimate.method,
    },
    threshold,
    verdict: decision.verdict,
    pValue: decision.pValue,
    explanation: decision.explanation,
  };
}

/** The overall verdict, exit code and one-sentence summary from the individual results. */
export function overallVerdict(results: TransferResult[], threshold: number, policy: string): { verdict: Verdict; exitCode: number; summary: string } {
  const verdicts = results.map((r) => r.verdict);
  const verdict: Verdict = verdicts.includes('FAIL') ? 'FAIL' : verdicts.includes('INCONCLUSIVE') || !results.length ? 'INCONCLUSIVE' : 'PASS';
  const exitCode = verdict === 'FAIL' || (verdict === 'INCONCLUSIVE' && policy === 'fail') ? 1 : 0;
  const failed = results.filter((r) => r.verdict === 'FAIL');
  const summary = !results.length
    ? 'nothing was checked'
    : verdict === 'FAIL'
      ? `${failed.length} of ${results.length} dataset x trait check(s) transfer above the threshold ${threshold}: ${failed.map((r) => `${r.dataset} (${r.trait}, transfer ${r.transfer.mean.toFixed(3)})`).join(', ')}`
      : verdict === 'PASS'
        ? `all ${results.length} dataset x trait check(s) transfer below the threshold ${threshold}`
        : `${verdicts.filter((v) => v === 'INCONCLUSIVE').length} check(s) inconclusive at threshold ${threshold} (policy: ${policy})`;
  return { verdict, exitCode, summary };
}

/**
 * Combines the partial results of `check --shard i/n` (i = 1..n) into the result a single job would have given:
 * scores are pooled by seed and every interval and verdict is recomputed from them.
 */
export function mergeResults(partials: CheckResult[]): CheckResult {
  if (!partials.length) throw new DistillGateError('merge needs at least one partial result');
  const first = partials[0];
  const count = first.shard?.count;
  for (const p of partials) {
    if (!p.shard) throw new DistillGateError('not a partial result: it has no "shard" (was it written by check --shard i/n?)', { file: p.config.path });
    if (p.shard.count !== count) throw new DistillGateError(`shard counts differ (${count} and ${p.shard.count})`);
    if (p.config.sha256 !== first.config.sha256) throw new DistillGateError('the partial results come from different config files');
    if (p.backend.name !== first.backend.name) throw new DistillGateError(`the partial results used different backends (${first.backend.name} and ${p.backend.name}); scores are only comparable on one`);
    if (p.seeds.join() !== first.seeds.join()) throw new DistillGateError('the partial results were run with different seeds');
    if (p.threshold !== first.threshold || p.confidence !== first.confidence) throw new DistillGateError('the partial results were run with different thresholds or confidence levels');
  }
  const indices = partials.map((p) => p.shard!.index).sort((a, b) => a - b);
  const missing = Array.from({ length: count! }, (_, i) => i + 1).filter((i) => !indices.includes(i));
  if (missing.length) throw new DistillGateError(`shard(s) ${missing.map((i) => `${i}/${count}`).join(', ')} missing from the merge`);
  if (new Set(indices).size !== indices.length) throw new DistillGateError('a shard appears twice in the merge');

  const datasets = new Map<string, CheckResult['datasets'][number]>();
  const groups = new Map<string, { ids: { dataset: string; trait: string; evaluator: string }; probe: StudentScore[]; control: StudentScore[] }>();
  for (const p of partials) {
    for (const d of p.datasets) if (!datasets.has(d.name)) datasets.set(d.name, d);
    for (const r of p.results) {
      const key = JSON.stringify([r.dataset, r.trait, r.evaluator]);
      const g = groups.get(key) ?? { ids: { dataset: r.dataset, trait: r.trait, evaluator: r.evaluator }, probe: [], control: [] };
      g.probe.push(...r.probe);
      g.control.push(...r.control);
      groups.set(key, g);
    }
  }
  const order = new Map(first.seeds.map((s, i) => [s, i]));
  const bySeed = (a: StudentScore, b: StudentScore) => order.get(a.seed)! - order.get(b.seed)!;
  const results = [...groups.values()].map((g) =>
    transferResult(g.ids, g.probe.sort(bySeed), g.control.sort(bySeed), first.threshold, first.confidence),
  );
  const overall = overallVerdict(results, first.threshold, first.inconclusivePolicy);
  const sum = (k: string) => partials.reduce((s, p) => s + (p.timings[k] ?? 0), 0);
  const { shard: _shard, ...rest } = first;
  return {
    ...rest,
    ...overall,
    datasets: [...datasets.values()],
    results,
    cache: first.cache && { dir: first.cache.dir, hits: partials.reduce((s, p) => s + (p.cache?.hits ?? 0), 0), misses: partials.reduce((s, p) => s + (p.cache?.misses ?? 0), 0) },
    mergedFrom: partials.length,
    timings: { trainMs: sum('trainMs'), totalMs: Math.max(...partials.map((p) => p.timings.totalMs ?? 0)), shardTotalMs: sum('totalMs') },
  };
}
