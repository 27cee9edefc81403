// Property-based tests (fast-check) of the safetensors reader: random, truncated and corrupted files either read
// back exactly what was written or fail with a located DistillGateError.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DistillGateError } from '@distill-gate/core';
import { readTensorDataset, writeTensorDataset } from './tensor-dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'dg-stfuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readsOrLocates(file: string) {
  try {
    return await readTensorDataset(file);
  } catch (e) {
    expect(e).toBeInstanceOf(DistillGateError);
    expect((e as DistillGateError).location.file).toBe(file);
    return undefined;
  }
}

describe('safetensors reader under fuzzing', () => {
  it('round-trips any finite dataset exactly (200 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async (rows, inputDim, targetDim) => {
          const inputs = Float32Array.from({ length: rows * inputDim }, (_, i) => Math.fround(Math.sin(i + rows)));
          const targets = Float32Array.from({ length: rows * targetDim }, (_, i) => Math.fround(Math.cos(i)));
          const file = join(dir, 'rt.safetensors');
          await writeTensorDataset(file, { rows, inputDim, targetDim, inputs, targets, metadata: { k: 'v' } });
          const back = await readTensorDataset(file);
          expect(back).toMatchObject({ rows, inputDim, targetDim, metadata: { k: 'v' } });
          expect([...back.inputs]).toEqual([...inputs]);
          expect([...back.targets]).toEqual([...targets]);
          // Read into shared memory (as the training core does): the same values.
          const shared = await readTensorDataset(file, { shared: true });
          expect(shared.inputs.buffer).toBeInstanceOf(SharedArrayBuffer);
          expect([...shared.inputs]).toEqual([...inputs]);
          expect([...shared.targets]).toEqual([...targets]);
        },
      ),
      { numRuns: 200 },
    );
  });
  it('truncations and byte flips of a valid file are read or rejected with a location (500 runs)', async () => {
    const good = join(dir, 'good.safetensors');
    await writeTensorDataset(good, {
      rows: 4,
      inputDim: 3,
      targetDim: 2,
      inputs: Float32Array.from({ length: 12 }, (_, i) => i),
      targets: Float32Array.from({ length: 8 }, (_, i) => -i),
      metadata: {},
    });
    const bytes = readFileSync(good);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: bytes.length }),
        fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        async (cut, flips) => {
          const b = Buffer.from(bytes.subarray(0, cut));
          for (const [pos, v] of flips) if (pos < b.length) b[pos] = v;
          const file = join(dir, 'bad.safetensors');
          writeFileSync(file, b);
          await readsOrLocates(file);
        },
      ),
      { numRuns: 500 },
    );
  });
  it('random bytes are rejected with a location (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (data) => {
        const file = join(dir, 'random.safetensors');
        writeFileSync(file, data);
        expect(await readsOrLocates(file)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});
