import { describe, expect, it } from 'vitest';
import { tokenLogprobs } from './contracts.js';

describe('tokenLogprobs', () => {
  it('holds the entries a plain object would, in the same order, under any piece', () => {
    const entries: [string, number][] = [
      ['401', -0.5],
      [', ', -1.25],
      ['7', -2],
      ['<eos>', -3.5],
      ['4294967294', -4],
      ['__proto__x', -5],
      ['__proto__', -6],
    ];
    const top = tokenLogprobs(entries);
    const plain: Record<string, number> = Object.fromEntries(entries);
    expect(Object.entries(top)).toEqual(Object.entries(plain));
    expect(JSON.stringify(top)).toBe(JSON.stringify(plain));
    expect(Object.getPrototypeOf(top)).toBe(Object.prototype);
    expect(top['__proto__']).toBe(-6);
    expect(tokenLogprobs([])).toEqual({});
    // The marker index is only a storage hint: it never shows, whatever the pieces.
    expect(Object.keys(tokenLogprobs([['3', -1]]))).toEqual(['3']);
  });
});
