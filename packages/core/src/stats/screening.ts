/**
 * Statistics of the screen: two-sample tests of a dataset's rows against its control rows (Mann-Whitney U, a
 * chi-square test of counts) and the calibrated per-row cut-off (a conformal p-value against the control's scores).
 */
import { logGamma } from './estimates.js';

/** Regularized upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above; Numerical Recipes). */
export function upperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const lead = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.max(0, 1 - sum * lead);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.min(1, lead * h);
}

/** P(Z > z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  if (z === 0) return 0.5;
  const half = 0.5 * upperGamma(0.5, (z * z) / 2);
  return z > 0 ? half : 1 - half;
}

/** P(X > x) for X ~ chi-square with df degrees of freedom. */
export function chiSquareUpperTail(x: number, df: number): number {
  return upperGamma(df / 2, x / 2);
}

export interface TwoSampleTest {
  method: string;
  /** The test statistic (z for Mann-Whitney, chi-square for counts). */
  statistic: number;
  pValue: number;
}

/**
 * Mann-Whitney U test of "the dataset's values tend to be larger than the control's" (one-sided, or two-sided), by the
 * normal approximation with the tie correction and a continuity correction. Also returns the common-language effect
 * size P(X > Y) + P(X = Y) / 2.
 */
export function mannWhitney(
  xs: readonly number[],
  ys: readonly number[],
  sides: 'greater' | 'two-sided',
): TwoSampleTest & { effect: number } {
  const n1 = xs.length;
  const n2 = ys.length;
  if (!n1 || !n2) return { method: 'Mann-Whitney U', statistic: 0, pValue: 1, effect: 0.5 };
  const all = [...xs.map((v) => ({ v, x: true })), ...ys.map((v) => ({ v, x: false }))].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  let ties = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j].v === all[i].v) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k].x) rankSum += rank;
    const t = j - i;
    ties += t * t * t - t;
    i = j;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  const effect = u / (n1 * n2);
  const method = `Mann-Whitney U, ${sides === 'greater' ? 'one-sided (dataset above control)' : 'two-sided'}`;
  if (variance <= 0) return { method, statistic: 0, pValue: 1, effect };
  const diff = u - mu;
  if (sides === 'greater') {
    const z = (diff - 0.5) / Math.sqrt(variance);
    return { method, statistic: z, pValue: normalUpperTail(z), effect };
  }
  const z = (Math.abs(diff) - 0.5) / Math.sqrt(variance);
  return { method, statistic: Math.sign(diff) * Math.max(0, z), pValue: Math.min(1, 2 * normalUpperTail(z)), effect };
}

/** Pearson's chi-square test that two rows of counts (dataset, control) come from one distribution; empty cells out. */
export function chiSquareCounts(a: readonly number[], b: readonly number[]): TwoSampleTest {
  const method = 'chi-square test of homogeneity';
  const na = a.reduce((s, x) => s + x, 0);
  const nb = b.reduce((s, x) => s + x, 0);
  const cells = a.map((x, i) => [x, b[i]] as const).filter(([x, y]) => x + y > 0);
  if (!na || !nb || cells.length < 2) return { method, statistic: 0, pValue: 1 };
  const n = na + nb;
  let chi = 0;
  for (const [x, y] of cells) {
    const col = x + y;
    const ea = (na * col) / n;
    const eb = (nb * col) / n;
    chi += (x - ea) ** 2 / ea + (y - eb) ** 2 / eb;
  }
  return { method, statistic: chi, pValue: chiSquareUpperTail(chi, cells.length - 1) };
}

/**
 * Conformal p-value of a row's score against the control's scores: (1 + #{control >= s}) / (n + 1). For a clean row
 * exchangeable with the control rows, P(p <= a) <= a, so flagging p <= a has a false-flag rate of at most a.
 */
export function conformalPValue(sortedControl: Float64Array, score: number): number {
  // sortedControl is ascending: count the control scores >= score by binary search.
  let lo = 0;
  let hi = sortedControl.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sortedControl[mid] < score) lo = mid + 1;
    else hi = mid;
  }
  return (1 + sortedControl.length - lo) / (sortedControl.length + 1);
}

/**
 * The cut-off that flagging at level a amounts to: the smallest control score s with conformal p-value <= a at s, so
 * a row is flagged when its score is at least this; undefined when the control is too small for level a.
 */
export function conformalCutoff(sortedControl: Float64Array, a: number): number | undefined {
  const n = sortedControl.length;
  // p(s) <= a  <=>  #{control >= s} <= a (n + 1) - 1 =: m; the cut-off is the (n - m)-th smallest (0-based).
  const m = Math.floor(a * (n + 1) - 1 + 1e-9);
  if (m < 0) return undefined;
  if (m >= n) return -Infinity;
  return nextUp(sortedControl[n - m - 1]);
}

/** The smallest double above x: a score equal to the control's (n - m)-th does not pass the cut-off. */
function nextUp(x: number): number {
  if (!Number.isFinite(x)) return x;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  if (x === 0) return Number.MIN_VALUE;
  buf.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}
