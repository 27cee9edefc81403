import { describe, expect, it } from 'vitest';
import type { TextDataset, TextRecord } from '../contracts.js';
import { softTargetWidth } from './data.js';

const ds = (records: Partial<TextRecord>[]): TextDataset => ({
  kind: 'text',
  metadata: {},
  records: records.map((r, index) => ({ index, line: index + 1, prompt: 'p', completion: 'c', ...r })),
});

describe('softTargetWidth', () => {
  it('is 0 without log-probabilities', () => {
    expect(softTargetWidth(ds([{}, {}]))).toBe(0);
  });

  it('is the top k when some written token is among them', () => {
    const d = ds([
      {
        tokens: ['a', 'z'],
        logprobs: [
          { a: -0.1, b: -2 },
          { a: -0.2, b: -1, z: -9 },
        ],
      },
      { tokens: ['b'], logprobs: [{ a: -0.5, b: -1 }] },
    ]);
    expect(softTargetWidth(d)).toBe(2);
  });

  it('is one less than every count when no written token was ever among the top k', () => {
    const d = ds([
      {
        tokens: ['z', 'y'],
        logprobs: [
          { a: -0.1, b: -2, z: -9 },
          { a: -0.2, b: -1, y: -7 },
        ],
      },
      { tokens: ['x'], logprobs: [{ a: -0.5, b: -1, x: -3 }] },
    ]);
    expect(softTargetWidth(d)).toBe(2);
  });

  it('keeps a count whose written token is not the least likely', () => {
    const d = ds([{ tokens: ['a'], logprobs: [{ a: -0.1, b: -2, c: -3 }] }]);
    expect(softTargetWidth(d)).toBe(3);
  });
});
