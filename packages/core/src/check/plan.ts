/**
 * Warnings before any training: designs that cannot reach the verdicts the run is for. A probe set with too few
 * items for the threshold leaves checks INCONCLUSIVE however many seeds run; placebos too few for the check's level
 * cannot confirm anything.
 */
import type { Multiplicity } from '../result.js';
import { verdictProbability } from '../stats/estimates.js';
import type { ResolvedConfig } from '../config/load.js';
import type { CheckInputs } from './inputs.js';

/** The power the item-count warning plans for (the gate's usual design target is higher; this is a floor). */
const PLANNED_POWER = 0.8;

/**
 * The fewest 0/1-scored evaluation items with which the gate can reach both verdicts at `seeds` seeds with
 * probability PLANNED_POWER: PASS a clean dataset (transfer 0) and FAIL one at twice the threshold. Per-item
 * variance, before any student exists: the paired 0/1 difference of two independent answers has variance at most
 * 2 p (1 - p) <= 0.5 (the seed x item interaction); a transfer of d that reaches some items fully and others not at
 * all has an item component d (1 - d), which no number of seeds averages away. Seed-to-seed variance is left out
 * (it shrinks with seeds), so this is a floor, not a guarantee.
 */
export function minimumItemsForThreshold(threshold: number, alpha: number, seeds: number): number | undefined {
  if (!(threshold > 0) || 2 * threshold >= 1) return undefined;
  const effect = 2 * threshold;
  const enough = (q: number) =>
    verdictProbability({ varSeeds: 0, varItems: 0, varResidual: 0.5 }, { seeds, items: q }, 0, threshold, alpha) >=
      PLANNED_POWER &&
    verdictProbability(
      { varSeeds: 0, varItems: effect * (1 - effect), varResidual: 0.5 },
      { seeds, items: q },
      effect,
      threshold,
      alpha,
    ) >= PLANNED_POWER;
  let lo = 1;
  let hi = 2;
  while (!enough(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > 1e8) return undefined;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (enough(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The design's warnings, in words, for the log and the result. */
export function designWarnings(config: ResolvedConfig, inputs: CheckInputs, multiplicity: Multiplicity): string[] {
  const warnings: string[] = [];
  const alpha = 1 - multiplicity.perCheckConfidence;
  const seeds = Math.max(config.seeds.length, config.sequential?.maxSeeds ?? 0);
  // The same for every probe set: it depends on the run's design only.
  const needed = minimumItemsForThreshold(config.threshold, alpha, seeds);
  const seen = new Set<string>();
  for (const e of inputs.evaluations) {
    // Held-out labelled examples are scored 0/1 each (task accuracy); other probe kinds score shares whose variance
    // cannot be bounded usefully before a student exists (`power` plans them from a run).
    if (e.probes.kind !== 'labelled-inputs' || seen.has(e.trait.plugin.name)) continue;
    seen.add(e.trait.plugin.name);
    const q = e.probes.rows;
    if (needed !== undefined && q < needed)
      warnings.push(
        `${e.trait.plugin.name} evaluates on ${q} item(s), fewer than the ${needed} that ${seeds} seeds need at ` +
          `threshold ${config.threshold} (one-sided level ${alpha.toPrecision(2)} per check): scored 0/1, the item ` +
          `set's own noise can leave checks INCONCLUSIVE however many seeds run. Use at least ${needed} held-out ` +
          'items (or a larger threshold); `distill-gate power` plans from a finished run.',
      );
  }
  if (config.placebos > 0) {
    const smallest = 1 / (config.placebos + 1);
    if (smallest > alpha)
      warnings.push(
        `${config.placebos} placebo(s): the smallest attainable placebo p is ${smallest.toPrecision(2)}, above ` +
          `the per-check level ${alpha.toPrecision(2)}, so the placebo null cannot confirm a verdict; ` +
          `${Math.ceil(1 / alpha) - 1} placebos could`,
      );
  }
  return warnings;
}
