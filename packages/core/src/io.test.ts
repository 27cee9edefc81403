import { describe, expect, it } from 'vitest';
import { rememberTableHash, sha256Floats, sha256Table } from './io.js';

describe('table hashes', () => {
  it('hash a table once, for any view of the same bytes, and use a hash recorded when the bytes were read', () => {
    const table = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const h = sha256Table(table);
    expect(h).toBe(sha256Floats(table));
    // A view of the same bytes (what a filter that keeps every row passes on) is the same table.
    expect(sha256Table(table.subarray(0, 1000))).toBe(h);
    // Another part of the memory is another table.
    expect(sha256Table(table.subarray(0, 500))).toBe(sha256Floats(table.subarray(0, 500)));
    expect(sha256Table(table.subarray(500))).toBe(sha256Floats(table.subarray(500)));
    // A recorded hash is what sha256Table returns for that table (it is trusted, not recomputed).
    const read = Float32Array.of(1, 2, 3);
    rememberTableHash(read, sha256Floats(read));
    expect(sha256Table(read)).toBe(sha256Floats(read));
    const marked = Float32Array.of(4, 5);
    rememberTableHash(marked, 'recorded');
    expect(sha256Table(marked)).toBe('recorded');
  });
});
