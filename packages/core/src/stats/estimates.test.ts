import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../random.js';
import {
  binomialUpperTail,
  clopperPearson,
  decideVerdict,
  explicitContentTest,
  MIN_DECISION_SEEDS,
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
  it('is not clipped in the far tail or at fractional degrees of freedom', () => {
    // With 1 df, t is Cauchy: the p-quantile is tan(pi (p - 1/2)).
    expect(studentTQuantile(0.9999, 1)).toBeCloseTo(Math.tan(Math.PI * 0.4999), 0);
    expect(studentTQuantile(0.99999, 1)).toBeGreaterThan(30000);
    const q = studentTQuantile(0.999, 0.5);
    expect(q).toBeGreaterThan(1000);
    expect(studentTCdf(q, 0.5)).toBeCloseTo(0.999, 6);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764, 3);
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
  it('states the level of its one-sided bounds as the reports do, to a tenth of a percent', () => {
    const d = decideVerdict(pairedTransfer(pairs([0.5, 0.52, 0.49, 0.51]), 0.995), 0.05);
    expect(d.explanation).toMatch(/its one-sided 99\.5% lower bound 0\.\d{4} lies above the threshold 0\.05/);
  });
  it('decides one-sided: FAIL needs only the lower bound above the threshold', () => {
    const t = pairedTransfer(pairs([0.06, 0.07, 0.065, 0.075]), 0.95);
    const q = studentTQuantile(0.95, 3);
    expect(t.low).toBeCloseTo(t.mean - q * t.se, 12);
    expect(t.high).toBeCloseTo(t.mean + q * t.se, 12);
    expect(t.level).toBe(0.95);
  });
  it('PASSes when it lies below', () => {
    expect(decideVerdict(pairedTransfer(pairs([0.001, -0.004, 0.003, 0])), 0.05).verdict).toBe('PASS');
  });
  it('is INCONCLUSIVE when it straddles, and with fewer than 3 seeds whatever they show', () => {
    expect(decideVerdict(pairedTransfer(pairs([0.0, 0.1, 0.02, 0.09])), 0.05).verdict).toBe('INCONCLUSIVE');
    expect(decideVerdict(pairedTransfer(pairs([0.5])), 0.05).verdict).toBe('INCONCLUSIVE');
    const two = decideVerdict(pairedTransfer(pairs([0.5, 0.5000001])), 0.05);
    expect(two).toMatchObject({ verdict: 'INCONCLUSIVE', pValue: 1 });
    expect(two.explanation).toMatch(/at least 3 paired seeds/);
    expect(MIN_DECISION_SEEDS).toBe(3);
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
      // One-sided bounds at 97.5% each: together a two-sided 95% interval.
      const withItems = pairedTransfer(pairs, 0.975);
      const seedOnly = pairedTransfer(
        pairs.map(({ seed, probe, control }) => ({ seed, probe, control })),
        0.975,
      );
      if (withItems.low <= 0.03 && 0.03 <= withItems.high) covered++;
      if (seedOnly.low <= 0.03 && 0.03 <= seedOnly.high) coveredSeedOnly++;
    }
    // 2000 simulations: a binomial 95% band around 0.95 is about +-0.01.
    expect(covered / sims).toBeGreaterThan(0.93);
    expect(covered / sims).toBeLessThan(0.98);
    expect(coveredSeedOnly / sims).toBeLessThan(0.8);
  });

  it('holds each one-sided error at the threshold with 3 seeds, a seed component near zero and items that vary', () => {
    // The designs where the unfloored estimate went to zero: few seeds, seed variance small against the interaction.
    for (const [sdSeed, sdItem, sdNoise] of [
      [0, 0.05, 0.3],
      [0.002, 0, 0.5],
      [0.02, 0.02, 0.2],
    ]) {
      const rng = new SeededRandom(17);
      let fail = 0;
      let pass = 0;
      const sims = 4000;
      for (let k = 0; k < sims; k++) {
        const v = decideVerdict(pairedTransfer(simulate(rng, 3, 40, sdSeed, sdItem, sdNoise, 0.05), 0.95), 0.05);
        if (v.verdict === 'FAIL') fail++;
        if (v.verdict === 'PASS') pass++;
      }
      // alpha 0.05 each way; 4000 runs: 3 Monte-Carlo standard errors is 0.0103.
      expect(fail / sims).toBeLessThan(0.0603);
      expect(pass / sims).toBeLessThan(0.0603);
    }
  });

  it('never gives a zero standard error while seeds or items vary, and keeps its degrees of freedom up', () => {
    // Every seed the same row (a deterministic pipeline): the items still vary.
    const row = [0.1, -0.2, 0.3, 0, 0.05, -0.1];
    const same = [1, 2, 3].map((seed) => ({
      seed,
      probe: 0,
      control: 0,
      probeItems: row,
      controlItems: row.map(() => 0),
    }));
    const t = pairedTransfer(same, 0.95);
    expect(t.se).toBeGreaterThan(0);
    expect(t.varianceSource).toBe('items');
    expect(t.df).toBe(5);
    // Random small tables: df never below the structural floor, se positive whenever anything varies.
    const rng = new SeededRandom(23);
    for (let k = 0; k < 500; k++) {
      const n = 3 + rng.int(3);
      const q = 2 + rng.int(8);
      const pairs = simulate(rng, n, q, rng.next() * 0.05, rng.next() * 0.05, rng.next() * 0.3, 0);
      const e = pairedTransfer(pairs, 0.95);
      expect(e.se).toBeGreaterThan(0);
      expect(e.df).toBeGreaterThanOrEqual(Math.min(n - 1, ((n - 1) * (q - 1)) / (n + q - 1)) - 1e-9);
      expect(Number.isFinite(e.low) && Number.isFinite(e.high)).toBe(true);
    }
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
