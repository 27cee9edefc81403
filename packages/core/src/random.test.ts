import { describe, expect, it } from 'vitest';
import { SeededRandom } from './random.js';

describe('SeededRandom', () => {
  it('repeats exactly for the same seed and differs across seeds', () => {
    const a = new SeededRandom(42).fillUniform(new Float32Array(100), -1, 1);
    const b = new SeededRandom(42).fillUniform(new Float32Array(100), -1, 1);
    const c = new SeededRandom(43).fillUniform(new Float32Array(100), -1, 1);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });
  it('forks independent, reproducible streams', () => {
    const r = new SeededRandom(1);
    const x = r.fork('a').next();
    const y = new SeededRandom(1).fork('a').next();
    expect(x).toBe(y);
    expect(new SeededRandom(1).fork('b').next()).not.toBe(x);
  });
  it('draws normals with mean 0 and variance 1 and uniforms in range', () => {
    const r = new SeededRandom(7);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const m = xs.reduce((s, v) => s + v, 0) / xs.length;
    const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.04);
    const u = new SeededRandom(8).fillUniform(new Float32Array(10000), -1, 1);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u)).toBeLessThan(1);
  });
  it('permutes every index exactly once', () => {
    const p = new SeededRandom(3).permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
