// Shared by the readers' fuzz tests (fast-check): mutations of a valid file's bytes.
import fc from 'fast-check';

/**
 * A byte-level mutation of a file of `size` bytes: up to 8 bytes flipped, a cut, or `randomMax` random bytes in its
 * place. Applied to the file's bytes, it gives the mutated bytes.
 */
export function byteMutation(size: number, randomMax: number): fc.Arbitrary<(b: Buffer) => Buffer> {
  return fc.oneof(
    fc
      .array(fc.tuple(fc.nat(size - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 })
      .map((flips) => (b: Buffer) => {
        const c = Buffer.from(b);
        for (const [at, x] of flips) c[at] ^= x;
        return c;
      }),
    fc.nat(size - 1).map((cut) => (b: Buffer) => b.subarray(0, cut)),
    fc.uint8Array({ maxLength: randomMax }).map((r) => () => Buffer.from(r)),
  );
}
