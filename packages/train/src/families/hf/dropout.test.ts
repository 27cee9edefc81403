// LoRA dropout's integer hash (graph.ts DROPOUT_HASH; the graph and the PyTorch reference compute it exactly alike,
// lora.e2e.test.ts): it keeps 1 - rate of the elements, independently of position, seed and adapter.
import { describe, expect, it } from 'vitest';
import { DROPOUT_HASH as H } from './graph.js';

function keeps(rows: number, width: number, seed: number, adapter: number, rate: number): Uint8Array {
  const P = BigInt(H.P);
  const cut = BigInt(Math.round(rate * H.P));
  const out = new Uint8Array(rows * width);
  for (let i = 0; i < rows * width; i++) {
    let h = (BigInt(i) * BigInt(H.idx) + BigInt(seed) * BigInt(H.seed) + BigInt(adapter * H.adapter)) % P;
    for (let r = 0; r < H.rounds; r++) h = (h * h + BigInt(H.add)) % P;
    out[i] = h >= cut ? 1 : 0;
  }
  return out;
}

const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
function correlation(a: Uint8Array, b: Uint8Array): number {
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('LoRA dropout masks', () => {
  it('keep 1 - rate of the elements, with no correlation between neighbours, seeds or adapters', () => {
    const [rows, width] = [64, 256];
    const n = rows * width;
    for (const rate of [0.05, 0.1, 0.3, 0.5]) {
      const m = keeps(rows, width, 7, 0, rate);
      // Binomial standard error at n = 16384 is at most 0.004.
      expect(Math.abs(mean(m) - (1 - rate))).toBeLessThan(0.015);
    }
    const m = keeps(rows, width, 7, 0, 0.5);
    const bound = 4 / Math.sqrt(n);
    expect(Math.abs(correlation(m.subarray(0, n - 1), m.subarray(1)))).toBeLessThan(bound);
    expect(Math.abs(correlation(m.subarray(0, n - width), m.subarray(width)))).toBeLessThan(bound);
    expect(Math.abs(correlation(m, keeps(rows, width, 8, 0, 0.5)))).toBeLessThan(bound);
    expect(Math.abs(correlation(m, keeps(rows, width, 7, 1, 0.5)))).toBeLessThan(bound);
  });
});
