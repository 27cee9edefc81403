import { describe, expect, it } from 'vitest';
import { chiSquareUpperTail } from '../stats/screening.js';
import { Reservoir, TensorReservoir, tensorSampleRows, textSampleRecords } from './sample.js';

/** Goodness of fit of hit counts to equal chances: the chi-square p-value. */
function uniformP(hits: number[]): number {
  const e = hits.reduce((a, b) => a + b, 0) / hits.length;
  return chiSquareUpperTail(
    hits.reduce((s, o) => s + (o - e) ** 2 / e, 0),
    hits.length - 1,
  );
}

describe('Reservoir', () => {
  it('keeps everything in order while it has room, and counts what it saw', () => {
    const r = new Reservoir<number>(10, 1);
    for (let i = 0; i < 6; i++) r.add(i);
    expect(r.items()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.seen).toBe(6);
  });

  it('keeps a uniform sample of a longer stream, in stream order, the same for the same seed', () => {
    const draw = (seed: number) => {
      const r = new Reservoir<number>(5, seed);
      for (let i = 0; i < 20; i++) r.add(i);
      expect(r.seen).toBe(20);
      return r.items();
    };
    const a = draw(3);
    expect(a).toHaveLength(5);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(draw(3)).toEqual(a);
    const hits = new Array(20).fill(0);
    for (let seed = 0; seed < 4000; seed++) for (const i of draw(seed)) hits[i]++;
    expect(uniformP(hits)).toBeGreaterThan(0.001);
  });
});

describe('sample sizes', () => {
  it('defaults to 10,000 text records and 256 MiB of tensor rows; "all" keeps everything', () => {
    expect(textSampleRecords(undefined)).toBe(10_000);
    expect(textSampleRecords(50)).toBe(50);
    expect(textSampleRecords('all')).toBe(Infinity);
    expect(tensorSampleRows(undefined, 784 + 10)).toBe(84_519);
    expect(tensorSampleRows(undefined, 784 + 13)).toBe(84_201);
    expect(tensorSampleRows(1000, 784)).toBe(1000);
    expect(tensorSampleRows('all', 784)).toBe(Infinity);
  });
});

describe('TensorReservoir', () => {
  /** Rows whose values name them: input [i, i + 0.5], target [-i], filtered target [i * 10, 1]. */
  const offer = (r: TensorReservoir, rows: number) => {
    for (let i = 0; i < rows; i++)
      r.add(i, Float32Array.of(i, i + 0.5), Float32Array.of(-i), Float32Array.of(i * 10, 1));
  };

  it('keeps a uniform sample of rows, each with its own targets, in stream order, the same for the same seed', () => {
    const draw = (seed: number) => {
      const r = new TensorReservoir(7, seed, false);
      offer(r, 30);
      const t = r.take();
      expect(t.rows).toBe(7);
      expect([...t.index].sort((a, b) => a - b)).toEqual(t.index);
      t.index.forEach((i, k) => {
        expect(Array.from(t.inputs.subarray(2 * k, 2 * k + 2))).toEqual([i, i + 0.5]);
        expect(t.targets[k]).toBe(-i);
        expect(Array.from(t.filtered.subarray(2 * k, 2 * k + 2))).toEqual([i * 10, 1]);
      });
      return t.index;
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
    const hits = new Array(30).fill(0);
    for (let seed = 0; seed < 3000; seed++) for (const i of draw(seed)) hits[i]++;
    expect(uniformP(hits)).toBeGreaterThan(0.001);
  });

  it('keeps every row of a stream shorter than it, in shared memory when asked, and refuses mixed widths', () => {
    const r = new TensorReservoir(10, 1, true);
    offer(r, 4);
    const t = r.take();
    expect(t.index).toEqual([0, 1, 2, 3]);
    expect(t.inputs.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(new TensorReservoir(3, 1, false).take().rows).toBe(0);
    expect(() => r.add(9, Float32Array.of(0, 0), Float32Array.of(0), Float32Array.of(1))).toThrow(
      'filters produced targets of different widths (2 and 1)',
    );
  });
});
