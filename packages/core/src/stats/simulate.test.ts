import { describe, expect, it } from 'vitest';
import { simulateGate } from './simulate.js';
import { errorShare } from './multiplicity.js';
import { minimumItemsForThreshold } from '../check/plan.js';
import { seedsForPower, verdictProbability } from './estimates.js';

describe("the gate's rule on simulated scores", () => {
  const design = { items: 200, threshold: 0.05, seedSd: 0.03, accuracy: 0.5, reps: 3000 };
  it('FAILs at most alpha (within 3 Monte-Carlo standard errors) when the transfer sits at the threshold', () => {
    for (const seeds of [3, 5]) {
      const r = simulateGate({ ...design, seeds, effect: 0.05 });
      expect(r.fail).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / r.reps));
      expect(r.pass).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / r.reps));
      expect(r.fail + r.pass + r.inconclusive).toBeCloseTo(1, 12);
    }
  });
  it('decides clear cases and is reproducible from its seed', () => {
    const clean = simulateGate({ ...design, seeds: 5, items: 2000, seedSd: 0.01, effect: 0, reps: 500 });
    const strong = simulateGate({ ...design, seeds: 5, effect: 0.2, reps: 500 });
    expect(clean.fail).toBe(0);
    expect(clean.pass).toBeGreaterThan(0.5);
    expect(strong.fail).toBeGreaterThan(0.95);
    expect(simulateGate({ ...design, seeds: 3, effect: 0.05, reps: 300, seed: 9 })).toEqual(
      simulateGate({ ...design, seeds: 3, effect: 0.05, reps: 300, seed: 9 }),
    );
  });
  it('never decides with 2 seeds', () => {
    const r = simulateGate({ ...design, seeds: 2, effect: 0.5, reps: 200 });
    expect(r.inconclusive).toBe(1);
  });
});

describe('planning with the same rule', () => {
  it('plans seeds whose simulated power matches the plan', () => {
    // 0/1 items at accuracy 0.5: interaction variance 2 p (1 - p) = 0.5; seed sd 0.03 per student, 0.0018 per pair.
    const v = { varSeeds: 2 * 0.03 ** 2, varItems: 0, varResidual: 0.5, items: 200 };
    const plan = seedsForPower(v, 0.12, 0.05, 0.05, 0.8, 100);
    expect(plan.seeds).toBeGreaterThanOrEqual(3);
    const sim = simulateGate({
      seeds: plan.seeds!,
      items: 200,
      threshold: 0.05,
      effect: 0.12,
      seedSd: 0.03,
      accuracy: 0.5,
      reps: 2000,
    });
    expect(sim.fail).toBeGreaterThan(0.8 - 0.06);
    expect(verdictProbability(v, { seeds: 2, items: 200 }, 0.5, 0.05, 0.05)).toBe(0);
  });
  it('asks for more held-out items as the threshold shrinks and the level tightens', () => {
    const a = minimumItemsForThreshold(0.05, 0.05, 15)!;
    expect(a).toBeGreaterThan(100);
    expect(minimumItemsForThreshold(0.05, 0.05 / 12, 15)!).toBeGreaterThan(a);
    expect(minimumItemsForThreshold(0.01, 0.05, 15)!).toBeGreaterThan(10 * a);
    expect(minimumItemsForThreshold(0, 0.05, 15)).toBeUndefined();
  });
});

describe('the run-wide error budget', () => {
  it('splits alpha over checks x looks and the leakage tests', () => {
    const m = errorShare({ confidence: 0.95, multipleChecks: 'bonferroni' }, { checks: 3, looks: 3, leakage: 3 });
    expect(m.perCheckConfidence).toBeCloseTo(1 - 0.05 / 12, 12);
    expect(m.leakageConfidence).toBeCloseTo(1 - 0.05 / 12, 12);
    expect(m.method).toBe(
      'Bonferroni over 3 check(s) x 3 planned looks + 3 explicit-content test(s) = 12 one-sided test(s)',
    );
    const none = errorShare({ confidence: 0.95, multipleChecks: 'none' }, { checks: 3, looks: 2, leakage: 3 });
    expect(none.perCheckConfidence).toBeCloseTo(1 - 0.05 / 2, 12);
    expect(none.leakageConfidence).toBe(0.95);
    expect(errorShare({ confidence: 0.95, multipleChecks: 'bonferroni' }, { checks: 1, looks: 1 })).toMatchObject({
      perCheckConfidence: 0.95,
      method: 'one check, one look',
    });
  });
});
