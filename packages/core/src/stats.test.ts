import { describe, expect, it } from 'vitest';
import { decideVerdict, pairedTransfer, studentTCdf, studentTQuantile, tInterval } from './stats.js';

describe('Student t distribution', () => {
  it('matches tabulated quantiles', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764, 3);
    expect(studentTQuantile(0.975, 9)).toBeCloseTo(2.2622, 3);
    expect(studentTQuantile(0.95, 30)).toBeCloseTo(1.6973, 3);
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.96, 2);
  });
  it('has a symmetric CDF', () => {
    for (const t of [0.3, 1, 2.5]) expect(studentTCdf(t, 5) + studentTCdf(-t, 5)).toBeCloseTo(1, 10);
    expect(studentTCdf(0, 3)).toBeCloseTo(0.5, 12);
  });
});

describe('intervals and verdicts', () => {
  it('gives the textbook t interval', () => {
    const i = tInterval([1, 2, 3, 4, 5]);
    expect(i.mean).toBe(3);
    expect(i.sd).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(i.high - i.mean).toBeCloseTo(2.7764 * Math.sqrt(2.5 / 5), 3);
  });
  const pairs = (diffs: number[]) => diffs.map((d, k) => ({ seed: k + 1, probe: 0.1 + d, control: 0.1 }));
  it('FAILs when the interval lies above the threshold', () => {
    const d = decideVerdict(pairedTransfer(pairs([0.5, 0.52, 0.49, 0.51])), 0.05);
    expect(d.verdict).toBe('FAIL');
    expect(d.pValue).toBeLessThan(0.001);
  });
  it('PASSes when it lies below', () => {
    expect(decideVerdict(pairedTransfer(pairs([0.001, -0.004, 0.003, 0])), 0.05).verdict).toBe('PASS');
  });
  it('is INCONCLUSIVE when it straddles or with one seed', () => {
    expect(decideVerdict(pairedTransfer(pairs([0.0, 0.1, 0.02, 0.09])), 0.05).verdict).toBe('INCONCLUSIVE');
    expect(decideVerdict(pairedTransfer(pairs([0.5])), 0.05).verdict).toBe('INCONCLUSIVE');
  });
  it('handles zero spread exactly', () => {
    const t = pairedTransfer(pairs([0, 0, 0]));
    expect([t.low, t.high]).toEqual([0, 0]);
    expect(decideVerdict(t, 0.05)).toMatchObject({ verdict: 'PASS', pValue: 0 });
  });
  it('pairs by seed: a shared offset cancels', () => {
    const t = pairedTransfer([
      { seed: 1, probe: 0.3, control: 0.1 },
      { seed: 2, probe: 0.5, control: 0.3 },
      { seed: 3, probe: 0.4, control: 0.2 },
    ]);
    expect(t.mean).toBeCloseTo(0.2, 12);
    expect(t.sd).toBeCloseTo(0, 12);
  });
});
