import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../random.js';
import {
  chiSquareCounts,
  chiSquareUpperTail,
  conformalCutoff,
  conformalPValue,
  mannWhitney,
  normalUpperTail,
} from './screening.js';

describe('screening statistics', () => {
  it('normal and chi-square tails match tabulated values', () => {
    expect(normalUpperTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(normalUpperTail(-1.644854)).toBeCloseTo(0.95, 6);
    expect(normalUpperTail(0)).toBe(0.5);
    expect(chiSquareUpperTail(3.841459, 1)).toBeCloseTo(0.05, 6);
    expect(chiSquareUpperTail(16.918978, 9)).toBeCloseTo(0.05, 6);
    expect(chiSquareUpperTail(0.1, 4)).toBeCloseTo(0.99879, 5);
  });

  it('Mann-Whitney: U, its direction, ties and the effect size', () => {
    const apart = mannWhitney([4, 5, 6, 7], [1, 2, 3, 3.5], 'greater');
    expect(apart.effect).toBe(1);
    // U = 16, mean 8, variance 4 * 4 * 9 / 12 = 12: z = (8 - 0.5) / sqrt(12).
    expect(apart.statistic).toBeCloseTo(7.5 / Math.sqrt(12), 12);
    expect(mannWhitney([1, 2, 3], [4, 5, 6], 'greater').pValue).toBeGreaterThan(0.9);
    const same = mannWhitney([1, 1, 1], [1, 1, 1], 'two-sided');
    expect(same.pValue).toBe(1);
    expect(same.effect).toBe(0.5);
    expect(mannWhitney([], [1], 'greater').pValue).toBe(1);
  });

  it('chi-square of counts: equal rows give p = 1, different rows a small p; empty cells are left out', () => {
    expect(chiSquareCounts([10, 20, 30, 0], [20, 40, 60, 0]).pValue).toBeCloseTo(1, 12);
    const t = chiSquareCounts([90, 10], [50, 50]);
    expect(t.statistic).toBeCloseTo(2 * 400 * (1 / 70 + 1 / 30), 9); // expected 70 and 30 per row
    expect(t.pValue).toBeLessThan(1e-6);
  });

  it('conformal p-values and the cut-off agree: a score flags exactly when it reaches the cut-off', () => {
    const control = Float64Array.from([
      0.1, 0.5, 0.2, 0.9, 0.4, 0.3, 0.8, 0.7, 0.6, 1.0, 0.05, 0.15, 0.25, 0.35,
    ]).sort();
    for (const a of [0.1, 0.2, 0.3]) {
      const cut = conformalCutoff(control, a)!;
      for (const s of [...control, 0, 0.33, 2])
        expect(conformalPValue(control, s) <= a, `a ${a} s ${s}`).toBe(s >= cut);
    }
    expect(conformalCutoff(control, 0.01)).toBeUndefined(); // 14 control rows cannot hold 1%
    expect(conformalPValue(control, 5)).toBeCloseTo(1 / 15, 12);
  });

  it('holds the false-flag rate on clean rows: 4,000 simulated screens, rows exchangeable with the control', () => {
    const rng = new SeededRandom(7);
    const a = 0.05;
    let flagged = 0;
    let rows = 0;
    for (let rep = 0; rep < 4000; rep++) {
      const control = Float64Array.from({ length: 60 }, () => rng.normal()).sort();
      for (let i = 0; i < 5; i++) {
        rows++;
        if (conformalPValue(control, rng.normal()) <= a) flagged++;
      }
    }
    // Exact level: floor(0.05 * 61) / 61 = 0.0492; the simulation's 99.9% band around it is about +-0.005.
    expect(flagged / rows).toBeLessThan(0.0492 + 0.006);
    expect(flagged / rows).toBeGreaterThan(0.0492 - 0.006);
  });

  it('Mann-Whitney holds its level under the null (2,000 simulated datasets, ties from rounding)', () => {
    const rng = new SeededRandom(11);
    let rejected = 0;
    for (let rep = 0; rep < 2000; rep++) {
      const xs = Array.from({ length: 40 }, () => Math.round(rng.normal() * 3));
      const ys = Array.from({ length: 50 }, () => Math.round(rng.normal() * 3));
      if (mannWhitney(xs, ys, 'greater').pValue < 0.05) rejected++;
    }
    expect(rejected / 2000).toBeLessThan(0.05 + 0.015);
  });
});
