/**
 * Statistics for verdicts: Student-t intervals for paired differences, and the PASS / FAIL / INCONCLUSIVE rule.
 * Implemented here (no dependency) so the numbers are reproducible and inspectable.
 */

export function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(X >= x) for X ~ Binomial(n, p), via the regularized incomplete beta I_p(x, n - x + 1). */
export function binomialUpperTail(x: number, n: number, p: number): number {
  if (x <= 0) return 1;
  if (x > n) return 0;
  return regularizedBeta(p, x, n - x + 1);
}

export interface ExplicitContentTest {
  /** Records the filters dropped as stating the trait outright, in the dataset and in its control. */
  records: number;
  controlRecords: number;
  rate: number;
  controlRate: number;
  /** One-sided p-value that the dataset's rate exceeds the control's. */
  pValue: number;
  leakage: boolean;
  method: string;
}

/**
 * Is explicit trait content more frequent in the dataset than in its control? A base can mention the trait word now
 * and then on its own; leakage is a rate above the control's. Exact conditional test: given k = x + x0 such
 * records, under equal rates x ~ Binomial(k, n / (n + n0)).
 */
export function explicitContentTest(x: number, n: number, x0: number, n0: number, level: number): ExplicitContentTest {
  const k = x + x0;
  const pValue = k === 0 || n === 0 ? 1 : binomialUpperTail(x, k, n / (n + n0));
  return {
    records: x,
    controlRecords: x0,
    rate: n ? x / n : 0,
    controlRate: n0 ? x0 / n0 : 0,
    pValue,
    leakage: x > 0 && pValue < 1 - level,
    method: 'exact conditional binomial test of the explicit-record rates (dataset vs control), one-sided',
  };
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t (bisection on the CDF; monotone, so robust). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile probability must be in (0,1), got ${p}`);
  let lo = -1e3;
  let hi = 1e3;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (n - 1). */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

export interface MeanInterval {
  mean: number;
  sd: number;
  /** Standard error of the mean. */
  se: number;
  n: number;
  level: number;
  low: number;
  high: number;
}

/** Student-t confidence interval for a mean. With n < 2 the interval is unbounded. */
export function tInterval(xs: readonly number[], level = 0.95): MeanInterval {
  const n = xs.length;
  const m = n ? mean(xs) : NaN;
  if (n < 2) return { mean: m, sd: NaN, se: NaN, n, level, low: -Infinity, high: Infinity };
  const sd = sampleSd(xs);
  const se = sd / Math.sqrt(n);
  const q = studentTQuantile(0.5 + level / 2, n - 1);
  return { mean: m, sd, se, n, level, low: m - q * se, high: m + q * se };
}

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

export interface TransferEstimate extends MeanInterval {
  /** Per-seed paired differences probe - control. */
  differences: { seed: number; probe: number; control: number; difference: number }[];
  method: string;
  /** Degrees of freedom of the t interval (n - 1, or Satterthwaite's with item-level variance). */
  df: number;
  /** Where the variance comes from, when the evaluator gave per-item scores: seeds, items and their interaction. */
  components?: VarianceComponents;
}

/** Two-way (seed x item) random-effects decomposition of the paired differences D[seed][item]. */
export interface VarianceComponents {
  seeds: number;
  items: number;
  /** Mean squares for seeds, items and the residual (seed x item interaction). */
  msSeeds: number;
  msItems: number;
  msResidual: number;
  /** Estimated variances: between seeds, between items, and the interaction. */
  varSeeds: number;
  varItems: number;
  varResidual: number;
}

/** ANOVA mean squares and variance components of an n x q matrix (rows: seeds, columns: items). */
export function varianceComponents(d: readonly (readonly number[])[]): VarianceComponents {
  const n = d.length;
  const q = d[0].length;
  const rowMeans = d.map((r) => mean(r));
  const colMeans = Array.from({ length: q }, (_, j) => d.reduce((s, r) => s + r[j], 0) / n);
  const g = mean(rowMeans);
  const msSeeds = (q * rowMeans.reduce((s, m) => s + (m - g) ** 2, 0)) / (n - 1);
  const msItems = (n * colMeans.reduce((s, m) => s + (m - g) ** 2, 0)) / (q - 1);
  let ss = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < q; j++) ss += (d[i][j] - rowMeans[i] - colMeans[j] + g) ** 2;
  const msResidual = ss / ((n - 1) * (q - 1));
  return {
    seeds: n,
    items: q,
    msSeeds,
    msItems,
    msResidual,
    varSeeds: Math.max(0, (msSeeds - msResidual) / q),
    varItems: Math.max(0, (msItems - msResidual) / n),
    varResidual: msResidual,
  };
}

/**
 * Transfer = paired (by seed) mean of score(probe) - score(control), with a Student-t interval.
 *
 * With per-item scores (`items`, the same items in the same order for every student), the differences form an
 * n seeds x q items matrix and the mean's variance is estimated from both sources, as in a two-way random-effects
 * model: Var = varSeeds / n + varItems / q + varResidual / (n q) = (MS_seeds + MS_items - MS_residual) / (n q),
 * never less than the seed-only estimate MS_seeds / (n q); the degrees of freedom are Satterthwaite's. So the
 * interval covers a new draw of training seeds and a new draw of evaluation items. Without items it is the
 * seed-only interval (df = n - 1).
 */
export function pairedTransfer(
  pairs: readonly {
    seed: number;
    probe: number;
    control: number;
    probeItems?: readonly number[];
    controlItems?: readonly number[];
  }[],
  level = 0.95,
): TransferEstimate {
  const differences = pairs.map((p) => ({
    seed: p.seed,
    probe: p.probe,
    control: p.control,
    difference: p.probe - p.control,
  }));
  const interval = tInterval(
    differences.map((d) => d.difference),
    level,
  );
  const pct = Math.round(level * 1000) / 10;
  const q = pairs[0]?.probeItems?.length ?? 0;
  const withItems =
    pairs.length >= 2 && q >= 2 && pairs.every((p) => p.probeItems?.length === q && p.controlItems?.length === q);
  if (!withItems) {
    return {
      ...interval,
      differences,
      df: interval.n - 1,
      method: `paired difference by seed, two-sided ${pct}% Student-t interval (df = n - 1; seeds only)`,
    };
  }
  const d = pairs.map((p) => p.probeItems!.map((x, j) => x - p.controlItems![j]));
  const c = varianceComponents(d);
  const n = pairs.length;
  const nq = n * q;
  const combined = c.msSeeds + c.msItems - c.msResidual;
  const useCombined = combined > c.msSeeds;
  const variance = (useCombined ? combined : c.msSeeds) / nq;
  const df = useCombined
    ? combined ** 2 / (c.msSeeds ** 2 / (n - 1) + c.msItems ** 2 / (q - 1) + c.msResidual ** 2 / ((n - 1) * (q - 1)))
    : n - 1;
  const se = Math.sqrt(variance);
  const m = mean(d.map((r) => mean(r)));
  const t = studentTQuantile(0.5 + level / 2, df);
  return {
    mean: m,
    sd: interval.sd,
    se,
    n,
    level,
    low: se > 0 ? m - t * se : m,
    high: se > 0 ? m + t * se : m,
    differences,
    df,
    components: c,
    method:
      `paired difference by seed and item (${n} seeds x ${q} items), two-sided ${pct}% Student-t interval; ` +
      `variance from seeds and items (two-way random effects, Satterthwaite df = ${df.toFixed(1)})`,
  };
}

export interface VerdictDecision {
  verdict: Verdict;
  /** One-sided p-value of the test that decided (FAIL: H0 transfer <= threshold; PASS: H0 transfer >= threshold). */
  pValue: number;
  /** A sentence that says how sure the verdict is. */
  explanation: string;
}

/**
 * PASS when the whole interval lies below the threshold, FAIL when it lies above, INCONCLUSIVE when it straddles.
 * Equivalent to two one-sided t tests at (1 - level) / 2 each.
 */
export function decideVerdict(t: TransferEstimate, threshold: number): VerdictDecision {
  const pct = `${Math.round(t.level * 1000) / 10}%`;
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
  const range = `[${fmt(t.low)}, ${fmt(t.high)}]`;
  if (t.n < 2) {
    return {
      verdict: 'INCONCLUSIVE',
      pValue: 1,
      explanation: `only ${t.n} seed(s): an interval needs at least 2 paired seeds`,
    };
  }
  const pAbove = oneSidedP(t, threshold, 'above');
  const pBelow = oneSidedP(t, threshold, 'below');
  if (t.low > threshold) {
    return {
      verdict: 'FAIL',
      pValue: pAbove,
      explanation:
        `transfer ${fmt(t.mean)} with ${pct} interval ${range} lies above the threshold ${threshold} ` +
        `(one-sided p = ${pAbove.toExponential(2)})`,
    };
  }
  if (t.high < threshold) {
    return {
      verdict: 'PASS',
      pValue: pBelow,
      explanation:
        `transfer ${fmt(t.mean)} with ${pct} interval ${range} lies below the threshold ${threshold} ` +
        `(one-sided p = ${pBelow.toExponential(2)})`,
    };
  }
  return {
    verdict: 'INCONCLUSIVE',
    pValue: Math.min(pAbove, pBelow),
    explanation:
      `transfer ${fmt(t.mean)} with ${pct} interval ${range} straddles the threshold ${threshold}: ` +
      'more seeds would decide',
  };
}

function oneSidedP(t: TransferEstimate, threshold: number, side: 'above' | 'below'): number {
  if (!(t.se > 0)) {
    // Zero spread across seeds: the difference is exact at this backend and seed set.
    if (side === 'above') return t.mean > threshold ? 0 : 1;
    return t.mean < threshold ? 0 : 1;
  }
  const stat = (t.mean - threshold) / t.se;
  return side === 'above' ? 1 - studentTCdf(stat, t.df) : studentTCdf(stat, t.df);
}

export interface PowerPlan {
  /** Seeds needed, or undefined when no number of seeds is enough with this many items. */
  seeds?: number;
  /** The probability of reaching the verdict with `seeds` seeds (or with maxSeeds when none is enough). */
  power: number;
  /** The smallest item count with which enough seeds exist (when the item variance alone is too large). */
  itemsNeeded?: number;
  /** What the plan assumes, in words. */
  assumption: string;
}

/**
 * Seeds needed for a check to reach a verdict: FAIL when the true transfer is `effect` (> threshold), or PASS
 * when it is `effect` (< threshold). Uses the variance measured in a run: between seeds (with the interaction,
 * per item) shrinking with more seeds, and between items fixed by the item count q. A one-sided test at `alpha`
 * must reject with probability `power`: (|effect - threshold|) / se(n) >= t(1 - alpha, df) + t(power, df).
 */
export function seedsForPower(
  v: { varSeeds: number; varItems: number; varResidual: number; items: number },
  effect: number,
  threshold: number,
  alpha: number,
  power: number,
  maxSeeds = 1000,
): PowerPlan {
  const gap = Math.abs(effect - threshold);
  const q = Math.max(1, v.items);
  const perSeed = v.varSeeds + v.varResidual / q;
  const fixed = q > 1 ? v.varItems / q : 0;
  const assumption =
    `variance per seed ${perSeed.toExponential(2)}, from the item set ${fixed.toExponential(2)} (${q} items), ` +
    `one-sided alpha ${alpha.toPrecision(2)}`;
  const achieved = (n: number) => {
    const se = Math.sqrt(perSeed / n + fixed);
    if (!(se > 0)) return 1;
    const df = Math.max(1, n - 1);
    return studentTCdf(gap / se - studentTQuantile(1 - alpha, df), df);
  };
  for (let n = 2; n <= maxSeeds; n++) if (achieved(n) >= power) return { seeds: n, power: achieved(n), assumption };
  // No seed count is enough: the item set's own error is too large. How many items would let maxSeeds do it?
  let itemsNeeded: number | undefined;
  if (fixed > 0) {
    for (let k = q + 1; k <= q * 1000; k = Math.ceil(k * 1.25)) {
      const se = Math.sqrt((v.varSeeds + v.varResidual / k) / maxSeeds + v.varItems / k);
      const df = maxSeeds - 1;
      if (studentTCdf(gap / se - studentTQuantile(1 - alpha, df), df) >= power) {
        itemsNeeded = k;
        break;
      }
    }
  }
  return { power: achieved(maxSeeds), ...(itemsNeeded ? { itemsNeeded } : {}), assumption };
}

/** Exact (Clopper-Pearson) two-sided interval for a binomial proportion k / n. */
export function clopperPearson(k: number, n: number, level = 0.95): [number, number] {
  if (n <= 0) return [0, 1];
  const a = (1 - level) / 2;
  // P(X >= k | p) = I_p(k, n - k + 1) rises with p: bisect for the bounds.
  const solve = (f: (p: number) => number, target: number) => {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 100; i++) {
      const mid = (lo + hi) / 2;
      if (f(mid) < target) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  const low = k === 0 ? 0 : solve((p) => binomialUpperTail(k, n, p), a);
  const high = k === n ? 1 : solve((p) => binomialUpperTail(k + 1, n, p), 1 - a);
  return [low, high];
}
