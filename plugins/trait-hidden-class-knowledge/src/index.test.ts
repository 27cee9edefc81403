import { describe, expect, it } from 'vitest';
import trait, { loadDigitSplit } from './index.js';

const ctx = (options: object) => ({
  options: { splitSeed: 0, testSize: 2000, outputs: { start: 0, end: 10 }, ...options },
  configDir: '.',
  log: console,
});

describe('trait hidden-class-knowledge', () => {
  it('splits the 10,000 real digits into 8,000 teacher digits and 2,000 probes, deterministically', async () => {
    const probes = await trait.loadProbes(ctx({}));
    expect(probes).toMatchObject({
      kind: 'labelled-inputs',
      rows: 2000,
      inputDim: 784,
      outputs: { start: 0, end: 10 },
    });
    const plan = await trait.instil!(ctx({}));
    expect(plan.rows).toBe(8000);
    expect(plan.loss).toBe('cross-entropy');
    const counts = new Array(10).fill(0);
    for (const l of probes.labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(120);
    expect(probes.inputs.reduce((m, v) => Math.min(m, v), Infinity)).toBe(-1);
    expect(probes.inputs.reduce((m, v) => Math.max(m, v), -Infinity)).toBeLessThanOrEqual(1);
    const again = loadDigitSplit(0, 2000);
    expect(Buffer.from(again.test.inputs.buffer).equals(Buffer.from(probes.inputs.buffer))).toBe(true);
    expect(Buffer.from(loadDigitSplit(1, 2000).test.labels.buffer).equals(Buffer.from(probes.labels.buffer))).toBe(
      false,
    );
  });
});
