/**
 * How the family-wise error rate is shared out over the checks of a run and the planned looks of adaptive seeds.
 */
import type { ResolvedConfig } from '../config/load.js';
import type { Multiplicity } from '../result.js';

/**
 * The per-check confidence that holds the family-wise level: Bonferroni over the run's checks (unless
 * multipleChecks is "none") and over the planned sequential looks (always: each look is a chance to be wrong).
 */
export function errorShare(
  config: Pick<ResolvedConfig, 'confidence' | 'multipleChecks'>,
  budget: { checks: number; looks: number },
): Multiplicity {
  const checks = Math.max(1, budget.checks);
  const looks = Math.max(1, budget.looks);
  const across = config.multipleChecks;
  const split = (across === 'none' ? 1 : checks) * looks;
  const overLooks = looks > 1 ? `${looks} planned looks` : '';
  const method =
    across === 'none'
      ? `no adjustment across the ${checks} check(s)${overLooks ? `; Bonferroni over ${overLooks}` : ''}`
      : split === 1
        ? 'one check, one look'
        : `Bonferroni over ${checks} check(s)${overLooks ? ` x ${overLooks}` : ''}`;
  return {
    method,
    across,
    checks,
    looks,
    familyConfidence: config.confidence,
    perCheckConfidence: 1 - (1 - config.confidence) / split,
  };
}
