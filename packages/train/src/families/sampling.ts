/**
 * Sampling the next token from a language model's log-probabilities, shared by the families that generate text:
 * temperature and nucleus (top-p) sampling from a seeded stream, and the top-k tokens that chat APIs report as
 * logprobs.
 */
import type { SeededRandom } from '@distill-gate/core';

/** A log-probability as records keep it (4 decimals). */
export function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** The ids of the k largest values of `row` (ties: lower id first) among the ids `keep` accepts; one pass, no sort. */
export function topTokens(row: Float32Array, k: number, keep: (id: number) => boolean = () => true): number[] {
  const ids: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (!keep(i)) continue;
    const x = row[i];
    if (ids.length === k && !(x > row[ids[k - 1]])) continue;
    if (ids.length < k) ids.push(i);
    let p = ids.length - 1;
    while (p > 0 && row[ids[p - 1]] < x) {
      ids[p] = ids[p - 1];
      p--;
    }
    ids[p] = i;
  }
  return ids;
}

/**
 * Draws a token from log-probabilities at a temperature, restricted to the nucleus: the smallest set of most likely
 * tokens (ties: lower id first) whose mass reaches topP. One uniform draw per call. With topP >= 1 there is no
 * nucleus to find, so no ordering is needed: the draw walks the ids in order (O(vocab)); otherwise the nucleus is
 * taken from a heap, so the cost is O(vocab + nucleus * log vocab), never a full sort.
 */
export function sampleToken(logProbs: Float32Array, temperature: number, topP: number, rng: SeededRandom): number {
  const v = logProbs.length;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < v; i++) if (logProbs[i] > logProbs[best]) best = i;
    return best;
  }
  let max = -Infinity;
  for (let i = 0; i < v; i++) if (logProbs[i] > max) max = logProbs[i];
  if (scratch.length < v) scratch = new Float64Array(v);
  const w = scratch;
  let z = 0;
  if (temperature === 1) {
    // The same values without the division by 1 (exact either way), which took 15% of the loop.
    for (let i = 0; i < v; i++) {
      const e = Math.exp(logProbs[i] - max);
      w[i] = e;
      z += e;
    }
  } else {
    for (let i = 0; i < v; i++) {
      w[i] = Math.exp((logProbs[i] - max) / temperature);
      z += w[i];
    }
  }
  return draw(w, v, z, topP, rng);
}

/**
 * Draws a token from probabilities (a softmax at temperature 1, e.g. computed by the engine with the forward pass),
 * restricted to the nucleus as `sampleToken` does: the same walk and the same one uniform draw, over weights that
 * need no exponential. Zero entries (masked tokens) are never drawn; the weights need not sum to 1.
 */
export function sampleFromProbs(probs: Float32Array, topP: number, rng: SeededRandom): number {
  const v = probs.length;
  let z = 0;
  for (let i = 0; i < v; i++) z += probs[i];
  return draw(probs, v, z, topP, rng);
}

/** One draw from weights w[0..v) of total z, within the nucleus of mass topP (topP >= 1: all of them). */
function draw(w: Float64Array | Float32Array, v: number, z: number, topP: number, rng: SeededRandom): number {
  if (topP >= 1) {
    let u = rng.next() * z;
    let last = 0;
    for (let i = 0; i < v; i++) {
      if (w[i] <= 0) continue;
      last = i;
      u -= w[i];
      if (u <= 0) return i;
    }
    return last;
  }
  const heap = new WeightHeap(w, v);
  const kept: number[] = [];
  let mass = 0;
  while (heap.size > 0) {
    const i = heap.pop();
    kept.push(i);
    mass += w[i];
    if (mass >= topP * z) break;
  }
  let u = rng.next() * mass;
  for (const i of kept) {
    u -= w[i];
    if (u <= 0) return i;
  }
  return kept[kept.length - 1];
}

let scratch = new Float64Array(0);

/** A binary max-heap of token ids by weight (ties: lower id first), built in O(n). */
class WeightHeap {
  private readonly ids: Int32Array;
  size: number;

  constructor(
    private readonly w: Float64Array | Float32Array,
    n: number,
  ) {
    this.size = n;
    this.ids = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private above(a: number, b: number): boolean {
    return this.w[a] > this.w[b] || (this.w[a] === this.w[b] && a < b);
  }

  private down(i: number): void {
    const ids = this.ids;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < this.size && this.above(ids[l], ids[top])) top = l;
      if (r < this.size && this.above(ids[r], ids[top])) top = r;
      if (top === i) return;
      [ids[i], ids[top]] = [ids[top], ids[i]];
      i = top;
    }
  }

  pop(): number {
    const top = this.ids[0];
    this.ids[0] = this.ids[--this.size];
    this.down(0);
    return top;
  }
}
