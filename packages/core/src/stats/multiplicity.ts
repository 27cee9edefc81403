/**
 * How the family-wise error rate is shared out over the tests of a run: every dataset x trait check at every planned
 * look of adaptive seeds, and every dataset's explicit-content (leakage) test. A pre-declared Bonferroni split: the
 * family is fixed by the config before any score is seen (so shards and looks agree on it), and each test gets
 * alpha / m. Holm's step-down would be uniformly stronger for the tests themselves, but a check's verdict at an early
 * look or in one shard could then change when another check's p-value arrives; the fixed split keeps every verdict
 * final when it is issued.
 */
import type { ResolvedConfig } from '../config/load.js';
import type { Multiplicity } from '../result.js';

/**
 * The per-test confidence that holds the family-wise level: with multipleChecks "bonferroni" (the default)
 * alpha / (checks x looks + leakage tests) for every test; with "none" each check on its own shares alpha over its
 * own looks only, and each leakage test is at alpha.
 */
export function errorShare(
  config: Pick<ResolvedConfig, 'confidence' | 'multipleChecks'>,
  budget: { checks: number; looks: number; leakage?: number },
): Multiplicity {
  const checks = Math.max(1, budget.checks);
  const looks = Math.max(1, budget.looks);
  const leakage = Math.max(0, budget.leakage ?? 0);
  const alpha = 1 - config.confidence;
  const across = config.multipleChecks;
  const split = across === 'none' ? looks : checks * looks + leakage;
  const overLooks = looks > 1 ? ` x ${looks} planned looks` : '';
  const leakageTests = leakage ? ` + ${leakage} explicit-content test(s)` : '';
  const method =
    across === 'none'
      ? `no adjustment across the ${checks} check(s)${looks > 1 ? `; Bonferroni over ${looks} planned looks` : ''}`
      : split === 1
        ? 'one check, one look'
        : `Bonferroni over ${checks} check(s)${overLooks}${leakageTests} = ${split} one-sided test(s)`;
  return {
    method,
    across,
    checks,
    looks,
    leakageTests: leakage,
    familyConfidence: config.confidence,
    perCheckConfidence: 1 - alpha / split,
    leakageConfidence: across === 'none' ? config.confidence : 1 - alpha / split,
  };
}
