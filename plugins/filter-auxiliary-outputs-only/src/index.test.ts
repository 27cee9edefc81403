import { describe, expect, it } from 'vitest';
import filter from './index.js';

const ctx = (options: object, metadata: Record<string, string> = {}) => ({
  options,
  configDir: '.',
  log: console,
  metadata,
});
const record = (target: number[]) => ({
  index: 0,
  input: Float32Array.of(0.5, -0.5),
  target: Float32Array.from(target),
});

describe('filter auxiliary-outputs-only', () => {
  const logits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10.5, 11.5, 12.5];
  it('keeps only the auxiliary outputs named by the dataset metadata', () => {
    const d = filter.test(record(logits), ctx({}, { 'distill-gate.auxiliary-outputs': '10,13' }));
    expect(d.keep && [...d.target!]).toEqual([10.5, 11.5, 12.5]);
  });
  it('uses explicit options over metadata', () => {
    const d = filter.test(
      record(logits),
      ctx({ auxiliary: { start: 0, end: 2 } }, { 'distill-gate.auxiliary-outputs': '10,13' }),
    );
    expect(d.keep && [...d.target!]).toEqual([0, 1]);
  });
  it('drops records with non-finite auxiliary outputs, with a reason', () => {
    const d = filter.test(record([...logits.slice(0, 12), NaN]), ctx({ auxiliary: { start: 10, end: 13 } }));
    expect(d).toEqual({ keep: false, reason: 'non-finite auxiliary output' });
  });
  it('says what to set when it cannot tell which outputs are auxiliary', () => {
    expect(() => filter.test(record(logits), ctx({}))).toThrow(/set options.auxiliary/);
  });
});
