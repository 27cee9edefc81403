import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../random.js';
import {
  binomialUpperTail,
  clopperPearson,
  decideVerdict,
  explicitContentTest,
  pairedTransfer,
  studentTCdf,
  studentTQuantile,
  tInterval,
  varianceComponents,
} from './estimates.js';

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
  it('states the interval level as the reports do, to a tenth of a percent', () => {
    const d = decideVerdict(pairedTransfer(pairs([0.5, 0.52, 0.49, 0.51]), 0.995), 0.05);
    expect(d.explanation).toMatch(/ with 99\.5% interval \[/);
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

describe('explicit content against the control', () => {
  it('binomialUpperTail matches the direct sum', () => {
    const direct = (x: number, n: number, p: number) => {
      let sum = 0;
      for (let k = x; k <= n; k++) {
        let c = 1;
        for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
        sum += c * p ** k * (1 - p) ** (n - k);
      }
      return sum;
    };
    for (const [x, n, p] of [
      [3, 10, 0.5],
      [1, 1, 0.5],
      [7, 20, 0.2],
      [0, 5, 0.3],
    ] as const)
      expect(binomialUpperTail(x, n, p)).toBeCloseTo(direct(x, n, p), 10);
  });
  it('flags a rate above the control, not a stray mention that the control has too', () => {
    expect(explicitContentTest(71, 1500, 1, 1500, 0.95).leakage).toBe(true);
    const stray = explicitContentTest(1, 1500, 0, 1500, 0.95);
    expect(stray.pValue).toBeCloseTo(0.5, 10);
    expect(stray.leakage).toBe(false);
    expect(explicitContentTest(0, 100, 0, 100, 0.95)).toMatchObject({ pValue: 1, leakage: false });
  });
});

describe('transfer with per-item scores (seeds x items)', () => {
  /** Simulates paired differences D[s][i] = delta + seed effect + item effect + noise; probe = D, control = 0. */
  function simulate(
    rng: SeededRandom,
    n: number,
    q: number,
    sdSeed: number,
    sdItem: number,
    sdNoise: number,
    delta: number,
  ) {
    const items = Array.from({ length: q }, () => rng.normal() * sdItem);
    return Array.from({ length: n }, (_, k) => {
      const seedEffect = rng.normal() * sdSeed;
      const probeItems = items.map((it) => delta + seedEffect + it + rng.normal() * sdNoise);
      const mean = probeItems.reduce((a, b) => a + b, 0) / q;
      return { seed: k + 1, probe: mean, control: 0, probeItems, controlItems: probeItems.map(() => 0) };
    });
  }

  it('recovers the variance components of a known two-way model', () => {
    const rng = new SeededRandom(3);
    const c = varianceComponents(simulate(rng, 40, 200, 0.2, 0.5, 0.1, 0).map((p) => p.probeItems));
    expect(Math.sqrt(c.varSeeds)).toBeCloseTo(0.2, 1);
    expect(Math.sqrt(c.varItems)).toBeCloseTo(0.5, 1);
    expect(Math.sqrt(c.varResidual)).toBeCloseTo(0.1, 2);
  });

  it('covers the true transfer at the nominal rate when items vary; the seed-only interval does not', () => {
    const rng = new SeededRandom(11);
    let covered = 0;
    let coveredSeedOnly = 0;
    const sims = 2000;
    for (let k = 0; k < sims; k++) {
      const pairs = simulate(rng, 5, 50, 0.01, 0.1, 0.02, 0.03);
      const withItems = pairedTransfer(pairs, 0.95);
      const seedOnly = pairedTransfer(
        pairs.map(({ seed, probe, control }) => ({ seed, probe, control })),
        0.95,
      );
      if (withItems.low <= 0.03 && 0.03 <= withItems.high) covered++;
      if (seedOnly.low <= 0.03 && 0.03 <= seedOnly.high) coveredSeedOnly++;
    }
    // 2000 simulations: a binomial 95% band around 0.95 is about +-0.01.
    expect(covered / sims).toBeGreaterThan(0.93);
    expect(covered / sims).toBeLessThan(0.98);
    expect(coveredSeedOnly / sims).toBeLessThan(0.8);
  });

  it('is the seed-only interval when items do not vary between students', () => {
    const rng = new SeededRandom(5);
    const pairs = simulate(rng, 6, 30, 0.02, 0, 0, 0.01);
    const a = pairedTransfer(pairs);
    const b = pairedTransfer(pairs.map(({ seed, probe, control }) => ({ seed, probe, control })));
    expect(a.se).toBeCloseTo(b.se, 12);
    expect(a.df).toBe(5);
  });
});

describe('clopperPearson', () => {
  it('matches tabulated exact intervals', () => {
    const [lo, hi] = clopperPearson(0, 20);
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(0.1684, 3);
    const [a, b] = clopperPearson(5, 10);
    expect(a).toBeCloseTo(0.1871, 3);
    expect(b).toBeCloseTo(0.8129, 3);
  });
});
