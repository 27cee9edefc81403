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
  /** The p-value must be below this to be leakage (the run's share of its family-wise error for this test). */
  alpha?: number;
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
    alpha: 1 - level,
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

/**
 * The p-quantile of Student's t: the bracket grows until it holds the quantile (no clipping: with 1 df the 0.9999
 * quantile is about 3183, with 0.5 df far more), then bisection on the monotone CDF.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile probability must be in (0,1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  if (p === 0.5) return 0;
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
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

/** The fewest paired seeds a verdict other than INCONCLUSIVE may rest on. */
export const MIN_DECISION_SEEDS = 3;

export interface TransferEstimate extends MeanInterval {
  /** Per-seed paired differences probe - control. */
  differences: { seed: number; probe: number; control: number; difference: number }[];
  method: string;
  /**
   * The confidence of each one-sided bound: `low` is a lower bound and `high` an upper bound at this level each
   * (so [low, high] together cover with probability at least 2 * level - 1). The same number as `level`.
   */
  level: number;
  /** Degrees of freedom of the t bounds (n - 1 from seeds alone; Satterthwaite's with item-level variance). */
  df: number;
  /** Which mean squares the variance came from (see transferVariance). */
  varianceSource?: VarianceSource;
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
  /** Estimated variances: between seeds, between items, and the interaction (each floored at 0). */
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

/** seeds+items: seed and item terms; seeds: the seed term alone (items add nothing); items: the seeds agree. */
export type VarianceSource = 'seeds+items' | 'seeds' | 'items';

const SOURCE_WORDS: Record<VarianceSource, string> = {
  'seeds+items': 'seeds and items (two-way random effects)',
  items: 'the items (the seeds agree)',
  seeds: 'the seeds',
};

/**
 * The variance of the mean transfer over n seeds x q items, and its degrees of freedom, from the three mean
 * squares of the two-way table. The one rule for the gate, for `power` and for the simulation.
 *
 * Model: D[s][j] = mu + a_s + b_j + e_sj, so Var(mean) = (q var_a + var_e + n var_b) / (n q): a seed term
 * (E MS_seeds = q var_a + var_e) and an item term (E (MS_items - MS_residual) = n var_b). The unbiased estimate
 * MS_s + MS_i - MS_r went to zero or below with few seeds (a negative seed component), which gave zero standard
 * errors, degrees of freedom near 0 and 3.5-6% false FAILs at a nominal 2.5%. Here each term is floored at what
 * its expectation cannot be below: the seed term at MS_residual (E MS_r = var_e <= E MS_s), the item term at 0.
 * So the estimate is zero only when nothing varies, and when items add nothing it is the exact paired t test on
 * the seeds' means (df = n - 1) or more conservative. With an item term the degrees of freedom are Satterthwaite's
 * (1946) for V = S + (MS_i - MS_r): df = V^2 / (S^2 / (n-1) + MS_i^2 / (q-1) + MS_r^2 / ((n-1)(q-1))). It cannot
 * fall below (n-1)(q-1)/(n+q-1) (-> n - 1 for many items): the floors give MS_r <= S <= V and MS_i <= V, which
 * bounds the denominator. A floored term is never given more degrees of freedom than the seeds have: an unluckily
 * small seed mean square is not replaced by a many-df floor, which is what made a max(MS_s, MS_i) floor
 * anticonservative (5.5% at 5% in simulation). No quantile is clipped.
 */
export function transferVariance(
  ms: { msSeeds: number; msItems: number; msResidual: number },
  n: number,
  q: number,
): { variance: number; df: number; source: VarianceSource } {
  const { msSeeds, msItems, msResidual } = ms;
  const nq = n * q;
  // The seed term q var_a + var_e, floored at var_e's own estimate; the item term n var_b, floored at 0.
  const seedTerm = Math.max(msSeeds, msResidual);
  const itemTerm = Math.max(0, msItems - msResidual);
  if (!(itemTerm > 0)) return { variance: seedTerm / nq, df: n - 1, source: 'seeds' };
  const total = seedTerm + itemTerm;
  const satterthwaite =
    total ** 2 / (seedTerm ** 2 / (n - 1) + msItems ** 2 / (q - 1) + msResidual ** 2 / ((n - 1) * (q - 1)));
  // A floor that always holds (so it only guards rounding): MS_r <= S <= V and MS_i = I + MS_r <= V, hence the
  // denominator is at most V^2 (1/(n-1) + 1/(q-1) + 1/((n-1)(q-1))).
  const df = Math.max(((n - 1) * (q - 1)) / (n + q - 1), satterthwaite);
  return { variance: total / nq, df, source: seedTerm > 1e-12 * total ? 'seeds+items' : 'items' };
}

/**
 * Transfer = paired (by seed) mean of score(probe) - score(control), with one-sided Student-t bounds at
 * `confidence` each: the lower bound decides FAIL, the upper bound PASS.
 *
 * With per-item scores (`items`, the same items in the same order for every student), the differences form an
 * n seeds x q items matrix and the mean's variance comes from both sources (transferVariance), so the bounds hold
 * for a new draw of training seeds and a new draw of evaluation items. Without items they come from the seeds
 * alone (df = n - 1).
 */
export function pairedTransfer(
  pairs: readonly {
    seed: number;
    probe: number;
    control: number;
    probeItems?: readonly number[];
    controlItems?: readonly number[];
  }[],
  confidence = 0.95,
): TransferEstimate {
  if (!(confidence > 0.5 && confidence < 1)) throw new RangeError(`confidence must be in (0.5, 1), got ${confidence}`);
  const differences = pairs.map((p) => ({
    seed: p.seed,
    probe: p.probe,
    control: p.control,
    difference: p.probe - p.control,
  }));
  const diffs = differences.map((d) => d.difference);
  const n = pairs.length;
  const pct = Math.round(confidence * 1000) / 10;
  const sd = sampleSd(diffs);
  if (n < 2) {
    return {
      mean: n ? diffs[0] : NaN,
      sd,
      se: NaN,
      n,
      level: confidence,
      low: -Infinity,
      high: Infinity,
      differences,
      df: 0,
      method: `paired difference by seed: ${n} seed(s), no bounds`,
    };
  }
  const q = pairs[0]?.probeItems?.length ?? 0;
  const withItems = q >= 2 && pairs.every((p) => p.probeItems?.length === q && p.controlItems?.length === q);
  let m: number;
  let se: number;
  let df: number;
  let source: VarianceSource = 'seeds';
  let components: VarianceComponents | undefined;
  if (withItems) {
    const d = pairs.map((p) => p.probeItems!.map((x, j) => x - p.controlItems![j]));
    components = varianceComponents(d);
    const v = transferVariance(components, n, q);
    m = mean(d.map((r) => mean(r)));
    se = Math.sqrt(v.variance);
    df = v.df;
    source = v.source;
  } else {
    m = mean(diffs);
    se = sd / Math.sqrt(n);
    df = n - 1;
  }
  const t = studentTQuantile(confidence, df);
  const bounds = se > 0 ? [m - t * se, m + t * se] : [m, m];
  const variance = withItems
    ? `${n} seeds x ${q} items, variance from ${SOURCE_WORDS[source]}, ` +
      `${source === 'seeds+items' ? 'Satterthwaite ' : ''}df = ${Number.isInteger(df) ? df : df.toFixed(1)}`
    : `${n} seeds, df = n - 1 = ${n - 1}`;
  return {
    mean: m,
    sd,
    se,
    n,
    level: confidence,
    low: bounds[0],
    high: bounds[1],
    differences,
    df,
    varianceSource: source,
    ...(components ? { components } : {}),
    method:
      `paired difference by seed${withItems ? ' and item' : ''}, ` + `one-sided ${pct}% Student-t bounds (${variance})`,
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
 * Two one-sided tests, each at 1 - confidence: FAIL when the lower bound lies above the threshold (H0: transfer <=
 * threshold rejected), PASS when the upper bound lies below it (H0: transfer >= threshold rejected), INCONCLUSIVE
 * otherwise, and always with fewer than MIN_DECISION_SEEDS seeds. When the true transfer equals the threshold each
 * wrong verdict has probability at most 1 - confidence.
 */
export function decideVerdict(t: TransferEstimate, threshold: number): VerdictDecision {
  const pct = `${Math.round(t.level * 1000) / 10}%`;
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
  if (t.n < MIN_DECISION_SEEDS) {
    return {
      verdict: 'INCONCLUSIVE',
      pValue: 1,
      explanation: `only ${t.n} seed(s): a verdict needs at least ${MIN_DECISION_SEEDS} paired seeds`,
    };
  }
  const pAbove = oneSidedP(t, threshold, 'above');
  const pBelow = oneSidedP(t, threshold, 'below');
  if (t.low > threshold) {
    return {
      verdict: 'FAIL',
      pValue: pAbove,
      explanation:
        `transfer ${fmt(t.mean)}: its one-sided ${pct} lower bound ${fmt(t.low)} ` +
        `lies above the threshold ${threshold} ` +
        `(p = ${pAbove.toExponential(2)})`,
    };
  }
  if (t.high < threshold) {
    return {
      verdict: 'PASS',
      pValue: pBelow,
      explanation:
        `transfer ${fmt(t.mean)}: its one-sided ${pct} upper bound ${fmt(t.high)} ` +
        `lies below the threshold ${threshold} ` +
        `(p = ${pBelow.toExponential(2)})`,
    };
  }
  return {
    verdict: 'INCONCLUSIVE',
    pValue: Math.min(pAbove, pBelow),
    explanation:
      `transfer ${fmt(t.mean)} with ${pct} bounds [${fmt(t.low)}, ${fmt(t.high)}] straddles the threshold ` +
      `${threshold}: more seeds (or evaluation items) would decide`,
  };
}

function oneSidedP(t: TransferEstimate, threshold: number, side: 'above' | 'below'): number {
  if (!(t.se > 0)) {
    // Nothing varies, neither seeds nor items: the difference is exact at this backend and seed set.
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
 * The probability that the gate's rule reaches the verdict for a check whose true transfer is `effect`, with n
 * seeds and q items: the expected mean squares of the design go through transferVariance (the gate's own variance
 * and df), and the one-sided bound at `alpha` must clear the threshold:
 * P(verdict) ~= F_t,df(|effect - threshold| / se - t(1 - alpha, df)).
 */
export function verdictProbability(
  v: { varSeeds: number; varItems: number; varResidual: number },
  design: { seeds: number; items: number },
  effect: number,
  threshold: number,
  alpha: number,
): number {
  const n = design.seeds;
  const q = Math.max(1, design.items);
  if (n < MIN_DECISION_SEEDS) return 0;
  let variance: number;
  let df: number;
  if (q >= 2) {
    const r = transferVariance(
      {
        msSeeds: q * v.varSeeds + v.varResidual,
        msItems: n * v.varItems + v.varResidual,
        msResidual: v.varResidual,
      },
      n,
      q,
    );
    ({ variance, df } = r);
  } else {
    variance = v.varSeeds / n;
    df = n - 1;
  }
  const gap = Math.abs(effect - threshold);
  const se = Math.sqrt(variance);
  if (!(se > 0)) return gap > 0 ? 1 : 0;
  return studentTCdf(gap / se - studentTQuantile(1 - alpha, df), df);
}

/**
 * Seeds needed for a check to reach a verdict, planned with the gate's rule (verdictProbability): FAIL when the
 * true transfer is `effect` (> threshold), or PASS when it is `effect` (< threshold), at one-sided `alpha`. Uses the
 * variance measured in a run: between seeds (with the interaction, per item) shrinking with more seeds, and between
 * items fixed by the item count q. When no seed count is enough, the item count that would do.
 */
export function seedsForPower(
  v: { varSeeds: number; varItems: number; varResidual: number; items: number },
  effect: number,
  threshold: number,
  alpha: number,
  power: number,
  maxSeeds = 1000,
): PowerPlan {
  const q = Math.max(1, v.items);
  const perSeed = v.varSeeds + v.varResidual / q;
  const fixed = q > 1 ? v.varItems / q : 0;
  const assumption =
    `variance per seed ${perSeed.toExponential(2)}, from the item set ${fixed.toExponential(2)} (${q} items), ` +
    `one-sided alpha ${alpha.toPrecision(2)}, the gate's variance and degrees of freedom`;
  const achieved = (n: number, items = q) => verdictProbability(v, { seeds: n, items }, effect, threshold, alpha);
  const last = Math.max(MIN_DECISION_SEEDS, maxSeeds);
  for (let n = MIN_DECISION_SEEDS; n <= last; n++)
    if (achieved(n) >= power) return { seeds: n, power: achieved(n), assumption };
  let itemsNeeded: number | undefined;
  if (fixed > 0 || q === 1) {
    for (let k = Math.max(2, q + 1); k <= Math.max(q, 2) * 1000; k = Math.ceil(k * 1.25)) {
      if (achieved(last, k) >= power) {
        itemsNeeded = k;
        break;
      }
    }
  }
  return { power: achieved(last), ...(itemsNeeded ? { itemsNeeded } : {}), assumption };
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
