import { testDir } from '../../../test/helpers.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistillGateError } from '@distill-gate/core';
import { readTensorDataset, writeTensorDataset } from './tensor-dataset.js';
import { readSafetensor, readSafetensorsHeader, writeSafetensors } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'dg-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensors', () => {
  it('round-trips tensors and metadata, 8-byte aligned', async () => {
    const file = join(dir, 'a.safetensors');
    const a = Float32Array.from({ length: 12 }, (_, i) => i / 3);
    await writeSafetensors(
      file,
      [
        { name: 'a', shape: [3, 4], data: a },
        { name: 'b', shape: [2], data: Float32Array.of(-1, 1) },
      ],
      { k: 'v' },
    );
    const h = await readSafetensorsHeader(file);
    expect(h.metadata).toEqual({ k: 'v' });
    expect(h.dataStart % 8).toBe(0);
    expect([...(await readSafetensor(file, h, 'a')).data]).toEqual([...a]);
    expect((await readSafetensor(file, h, 'b')).shape).toEqual([2]);
  });
  it('reads a file written by another implementation (F64 and I32, hand-built bytes)', async () => {
    const header = JSON.stringify({
      x: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
      y: { dtype: 'I32', shape: [1], data_offsets: [16, 20] },
    });
    const buf = Buffer.alloc(8 + header.length + 20);
    buf.writeBigUInt64LE(BigInt(header.length));
    buf.write(header, 8);
    buf.writeDoubleLE(1.5, 8 + header.length);
    buf.writeDoubleLE(-2.25, 16 + header.length);
    buf.writeInt32LE(7, 24 + header.length);
    const file = join(dir, 'foreign.safetensors');
    writeFileSync(file, buf);
    const h = await readSafetensorsHeader(file);
    expect([...(await readSafetensor(file, h, 'x')).data]).toEqual([1.5, -2.25]);
    expect([...(await readSafetensor(file, h, 'y')).data]).toEqual([7]);
  });
  it('gives located errors for truncated files, bad headers and non-finite values', async () => {
    const file = join(dir, 'ds.safetensors');
    await writeTensorDataset(file, {
      rows: 2,
      inputDim: 2,
      targetDim: 1,
      inputs: Float32Array.of(1, 2, 3, NaN),
      targets: Float32Array.of(0, 1),
      metadata: {},
    });
    const nan = await readTensorDataset(file).catch((e) => e);
    expect(nan).toBeInstanceOf(DistillGateError);
    expect(nan.location).toMatchObject({ record: 1, pointer: '/inputs' });
    const bytes = readFileSync(file);
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 4));
    const cut = await readTensorDataset(join(dir, 'cut.safetensors')).catch((e) => e);
    expect(cut.message).toMatch(/truncated/);
    writeFileSync(join(dir, 'junk.safetensors'), Buffer.from('hello world, not tensors'));
    expect((await readSafetensorsHeader(join(dir, 'junk.safetensors')).catch((e) => e)).message).toMatch(
      /not a safetensors file/,
    );
    expect((await readTensorDataset(join(dir, 'missing.safetensors')).catch((e) => e)).message).toBe('file not found');
  });
});

describe('reading the first rows only', () => {
  it('reads the leading rows of every dtype and marks the dataset as limited', async () => {
    const dir = testDir('dg-rows-');
    const path = join(dir, 'd.safetensors');
    const inputs = Float32Array.from({ length: 10 * 3 }, (_, i) => i);
    const targets = Float32Array.from({ length: 10 * 2 }, (_, i) => -i);
    await writeTensorDataset(path, { rows: 10, inputDim: 3, targetDim: 2, inputs, targets, metadata: {} });
    const head = await readTensorDataset(path, { maxRows: 4 });
    expect(head.rows).toBe(4);
    expect(Array.from(head.inputs)).toEqual(Array.from(inputs.subarray(0, 12)));
    expect(Array.from(head.targets)).toEqual(Array.from(targets.subarray(0, 8)));
    expect(head.limitedTo).toBe(4);
    expect((await readTensorDataset(path, { maxRows: 50 })).rows).toBe(10);
  });
});
