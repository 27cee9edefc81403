import { testDir } from '../../../test/helpers.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistillGateError } from '@distill-gate/core';
import { readTensorDataset, writeTensorDataset } from './tensor-dataset.js';
import {
  openSafetensorsCheckpoint,
  readCheckpointTensor,
  readSafetensor,
  readSafetensorsHeader,
  WEIGHTS_INDEX,
  writeSafetensors,
} from './safetensors.js';

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

describe('inputs shared between dataset files', () => {
  it('holds identical inputs once in shared memory, and only identical ones', async () => {
    const dir = testDir('dg-shared-inputs-');
    const noise = (seed: number) => Float32Array.from({ length: 50 * 8 }, (_, i) => Math.sin(seed * 1000 + i));
    const write = (name: string, inputs: Float32Array, seed: number) =>
      writeTensorDataset(join(dir, name), {
        rows: 50,
        inputDim: 8,
        targetDim: 3,
        inputs,
        targets: Float32Array.from({ length: 150 }, (_, i) => seed + i),
        metadata: {},
      });
    await write('teacher.safetensors', noise(1), 1);
    await write('reference.safetensors', noise(1), 2);
    await write('other.safetensors', noise(2), 3);
    const read = (name: string, shared = true) => readTensorDataset(join(dir, name), { shared });
    const [teacher, reference, other] = [
      await read('teacher.safetensors'),
      await read('reference.safetensors'),
      await read('other.safetensors'),
    ];
    // The training core's reads (shared): one table for the two files written on the same inputs.
    expect(reference.inputs).toBe(teacher.inputs);
    expect(teacher.inputs.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(reference.targets[0]).toBe(2);
    expect(other.inputs).not.toBe(teacher.inputs);
    expect(Array.from(other.inputs)).toEqual(Array.from(noise(2)));
    // Only the first rows of the same file are another table; a private read is always its own.
    expect(
      (await readTensorDataset(join(dir, 'reference.safetensors'), { shared: true, maxRows: 10 })).inputs,
    ).not.toBe(teacher.inputs);
    expect((await read('reference.safetensors', false)).inputs).not.toBe(teacher.inputs);
  });
});

describe('streaming the rows of a large file', () => {
  it('streams every row to the visitor in chunks, in file order, and keeps none', async () => {
    const dir = testDir('dg-stream-');
    const path = join(dir, 'd.safetensors');
    // 3,000 rows of 1,000 values: 12 MB, so the 8 MiB chunks split the file.
    const [rows, inputDim, targetDim] = [3000, 1000, 3];
    const inputs = Float32Array.from(
      { length: rows * inputDim },
      (_, i) => Math.floor(i / inputDim) + ((i % inputDim) % 7) / 8,
    );
    const targets = Float32Array.from({ length: rows * targetDim }, (_, i) => -Math.floor(i / targetDim));
    await writeTensorDataset(path, { rows, inputDim, targetDim, inputs, targets, metadata: { m: '1' } });
    const seen: number[] = [];
    const ds = await readTensorDataset(path, {
      stream: {
        rows: (values) => (values === inputDim + targetDim ? 100 : NaN),
        visit(record, metadata) {
          seen.push(record.index);
          expect(Array.from(record.input)).toEqual(
            Array.from(inputs.subarray(record.index * inputDim, (record.index + 1) * inputDim)),
          );
          expect(Array.from(record.target)).toEqual(
            Array.from(targets.subarray(record.index * targetDim, (record.index + 1) * targetDim)),
          );
          expect(metadata).toEqual({ m: '1' });
        },
      },
    });
    expect(seen).toEqual(Array.from({ length: rows }, (_, i) => i));
    expect(ds).toMatchObject({ rows: 0, inputDim, targetDim, streamed: rows });
    // Within a record budget only the first rows stream; a file within the limit is read whole, as before.
    const head: number[] = [];
    const limited = await readTensorDataset(path, {
      maxRows: 100,
      stream: { rows: () => 2, visit: (r) => head.push(r.index) },
    });
    expect(limited).toMatchObject({ rows: 0, streamed: 100, limitedTo: 100, totalRecords: rows });
    expect(head).toHaveLength(100);
    const whole = await readTensorDataset(path, { stream: { rows: () => rows, visit: () => expect.fail() } });
    expect(whole.streamed).toBeUndefined();
    expect(whole.rows).toBe(rows);
  });

  it('names the row of a non-finite value, and refuses a dtype it cannot read, while streaming', async () => {
    const dir = testDir('dg-stream-bad-');
    const path = join(dir, 'd.safetensors');
    const inputs = new Float32Array(40);
    inputs[25] = NaN;
    await writeTensorDataset(path, {
      rows: 10,
      inputDim: 4,
      targetDim: 1,
      inputs,
      targets: new Float32Array(10),
      metadata: {},
    });
    const stream = { rows: () => 2, visit: () => {} };
    const e = await readTensorDataset(path, { stream }).catch((x) => x);
    expect(e).toBeInstanceOf(DistillGateError);
    expect(e.location).toMatchObject({ record: 6, pointer: '/inputs' });
    const u16 = stFile(
      {
        inputs: { dtype: 'U16', shape: [10, 4], data_offsets: [0, 80] },
        targets: { dtype: 'F32', shape: [10, 1], data_offsets: [80, 120] },
      },
      new Uint8Array(120),
      'u16.safetensors',
    );
    const bad = await readTensorDataset(u16, { stream }).catch((x) => x);
    expect(bad.message).toMatch(/tensor "inputs" is U16; distill-gate reads F32/);
  });
});

/** A safetensors file from a header (object or raw JSON text) and a data section. */
function stFile(header: object | string, data: Uint8Array = new Uint8Array(0), name = 'h.safetensors'): string {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const h = Buffer.from(text, 'utf8');
  const buf = Buffer.alloc(8 + h.length + data.length);
  buf.writeBigUInt64LE(BigInt(h.length));
  h.copy(buf, 8);
  Buffer.from(data).copy(buf, 8 + h.length);
  const file = join(testDir('dg-st-'), name);
  writeFileSync(file, buf);
  return file;
}

const u16 = (...xs: number[]) => new Uint8Array(Uint16Array.from(xs).buffer);

async function headerError(header: object | string, data?: Uint8Array): Promise<DistillGateError> {
  const file = stFile(header, data);
  const e = await readSafetensorsHeader(file).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(DistillGateError);
  expect((e as DistillGateError).location.file).toBe(file);
  return e as DistillGateError;
}

describe('safetensors dtypes', () => {
  it('decodes F16 exactly: normals, subnormals, signed zeros, infinities and NaN', async () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const file = stFile(
      { h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, 2 * bits.length] } },
      u16(...bits),
    );
    const h = await readSafetensorsHeader(file);
    const { data } = await readSafetensor(file, h, 'h', { allowNonFinite: true });
    expect([...data]).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      -0,
      Infinity,
      -Infinity,
      NaN,
      0.25 * (1 + 0x155 / 1024) /* 1/3 in half precision */,
    ]);
    expect(Object.is(data[6], -0)).toBe(true);
    const e = await readSafetensor(file, h, 'h').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DistillGateError);
    expect((e as DistillGateError).message).toBe('tensor "h" holds a non-finite value (Infinity) at flat index 7');
  });

  it('decodes BF16 as the top half of float32 (subnormal, infinity and NaN included)', async () => {
    const bits = [0x3f80, 0xc040, 0x4049, 0x0001, 0x8000, 0x7f80, 0x7fc0];
    const file = stFile({ b: { dtype: 'BF16', shape: [7], data_offsets: [0, 14] } }, u16(...bits));
    const { data, shape } = await readSafetensor(file, await readSafetensorsHeader(file), 'b', {
      allowNonFinite: true,
    });
    expect(shape).toEqual([7]);
    expect([...data]).toEqual([1, -3, 3.140625, 2 ** -133, -0, Infinity, NaN]);
  });

  it('converts F64, integer and boolean dtypes, and refuses one it does not decode by name', async () => {
    const i64 = new Uint8Array(BigInt64Array.of(-5n, 1n << 40n).buffer);
    const i32 = new Uint8Array(Int32Array.of(-7, 9).buffer);
    const i16 = new Uint8Array(Int16Array.of(-300).buffer);
    const f64 = new Uint8Array(Float64Array.of(0.1).buffer);
    const data = new Uint8Array([...i64, ...i32, ...i16, 0xff, 0x80, 1, ...f64, 7]);
    const file = stFile(
      {
        l: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
        i: { dtype: 'I32', shape: [2], data_offsets: [16, 24] },
        s: { dtype: 'I16', shape: [1], data_offsets: [24, 26] },
        u: { dtype: 'U8', shape: [1], data_offsets: [26, 27] },
        c: { dtype: 'I8', shape: [1], data_offsets: [27, 28] },
        t: { dtype: 'BOOL', shape: [], data_offsets: [28, 29] },
        d: { dtype: 'F64', shape: [1, 1], data_offsets: [29, 37] },
        f8: { dtype: 'F8_E4M3', shape: [1], data_offsets: [37, 38] },
      },
      data,
    );
    const h = await readSafetensorsHeader(file);
    const read = async (n: string) => [...(await readSafetensor(file, h, n)).data];
    expect(await read('l')).toEqual([-5, 2 ** 40]);
    expect(await read('i')).toEqual([-7, 9]);
    expect(await read('s')).toEqual([-300]);
    expect(await read('u')).toEqual([255]);
    expect(await read('c')).toEqual([-128]);
    expect(await read('t')).toEqual([1]);
    expect(await read('d')).toEqual([Math.fround(0.1)]);
    const e = await readSafetensor(file, h, 'f8').catch((x: unknown) => x);
    expect((e as DistillGateError).message).toBe(
      'tensor "f8" is F8_E4M3; distill-gate reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL',
    );
    expect((e as DistillGateError).location).toEqual({ file, pointer: '/f8' });
  });
});

describe('safetensors header validation', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);

  it('accepts gaps between tensors and empty tensors anywhere, and escapes names in pointers', async () => {
    const file = stFile(
      {
        'a/b~c': { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        e: { dtype: 'F32', shape: [0, 3], data_offsets: [8, 8] },
        __metadata__: { k: 'v' },
      },
      f32(4),
    );
    const h = await readSafetensorsHeader(file);
    expect(Object.keys(h.tensors).sort()).toEqual(['a/b~c', 'e']);
    expect(h.metadata).toEqual({ k: 'v' });
    const bad = await headerError({ 'a/b~c': { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f32(1));
    expect(bad.location.pointer).toBe('/a~1b~0c');
  });

  it('refuses a byte length that differs from shape x dtype size', async () => {
    const e = await headerError({ w: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 24] } }, f32(6));
    expect(e.message).toBe('tensor "w": its byte range [0, 24) holds 24 bytes; shape [2,3] of BF16 needs 6 x 2 = 12');
    expect(e.location.pointer).toBe('/w');
  });

  it('refuses negative or fractional shapes, bad offsets and unknown dtypes', async () => {
    const msg = async (t: object) => (await headerError({ w: t }, f32(4))).message;
    expect(await msg({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] })).toBe(
      'tensor "w": "shape" must be a list of non-negative integers, got [-1]',
    );
    expect(await msg({ dtype: 'F32', shape: [1.5], data_offsets: [0, 6] })).toMatch(/non-negative integers/);
    expect(await msg({ dtype: 'F32', shape: [1], data_offsets: [4, 0] })).toBe(
      'tensor "w": "data_offsets" must be [begin, end] with 0 <= begin <= end, got [4,0]',
    );
    expect(await msg({ dtype: 'F32', shape: [1], data_offsets: [0] })).toMatch(/"data_offsets" must be/);
    expect(await msg({ dtype: 'Q4', shape: [1], data_offsets: [0, 4] })).toMatch(/^tensor "w": unknown dtype "Q4"/);
    expect(await msg({ shape: [1], data_offsets: [0, 4] })).toBe('tensor "w": "dtype" is missing or not a string');
    expect((await headerError({ w: [1, 2] })).message).toBe('tensor "w": the header entry is not an object');
  });

  it('refuses a tensor that runs past the end of the file', async () => {
    const e = await headerError({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(3));
    expect(e.message).toBe(
      'tensor "w": the file is truncated: the tensor ends at data byte 16 but the data section has 12',
    );
  });

  it('refuses overlapping tensors, naming both', async () => {
    const e = await headerError(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      f32(3),
    );
    expect(e.message).toBe('tensor "b" [4,12] overlaps tensor "a" [0,8]');
    expect(e.location.pointer).toBe('/b');
  });

  it('refuses a tensor name that appears twice (JSON.parse would keep the last), or a repeated entry key', async () => {
    const entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    const dup = await headerError(
      `{"w":${entry},"x":{"dtype":"F32","shape":[],"data_offsets":[4,8]},"w":${entry}}`,
      f32(2),
    );
    expect(dup.message).toBe('the safetensors header repeats the key "w"');
    expect(dup.location.pointer).toBe('/w');
    const inner = await headerError('{"w":{"dtype":"F32","shape":[1],"dtype":"F16","data_offsets":[0,4]}}', f32(1));
    expect(inner.message).toBe('the safetensors header repeats the key "dtype" in /w');
    // Escaped quotes and brackets inside names are names, not structure.
    const tricky = stFile(`{"a\\"[{":${entry},"a\\"[":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, f32(2));
    expect(Object.keys((await readSafetensorsHeader(tricky)).tensors)).toEqual(['a"[{', 'a"[']);
  });

  it('accepts only strings in __metadata__, and only an object as the header', async () => {
    const e = await headerError({ __metadata__: { format: 'pt', n: 3 } });
    expect(e.message).toBe('"__metadata__" value of "n" is 3, not a string');
    expect(e.location.pointer).toBe('/__metadata__/n');
    expect((await headerError({ __metadata__: ['x'] })).message).toBe('"__metadata__" must map strings to strings');
    expect((await headerError('[1,2]')).message).toBe('the safetensors header must be a JSON object');
    // A header of `null` used to end in exit 3 (a TypeError reading its entries).
    expect((await headerError('null')).message).toBe('the safetensors header must be a JSON object');
    expect((await headerError('{"a":')).message).toMatch(/^the safetensors header is not valid JSON/);
  });
});

describe('sharded safetensors checkpoints', () => {
  /** A folder with shards (name -> tensors) and an index mapping each tensor to its shard. */
  async function sharded(shards: Record<string, string[]>, weightMap?: unknown): Promise<string> {
    const dir = testDir('dg-shard-');
    const map: Record<string, string> = {};
    let v = 0;
    for (const [file, names] of Object.entries(shards)) {
      await writeSafetensors(
        join(dir, file),
        names.map((name) => ({ name, shape: [2], data: Float32Array.of(v++, v++) })),
      );
      for (const n of names) map[n] = file;
    }
    const index =
      typeof weightMap === 'string' ? weightMap : JSON.stringify({ metadata: {}, weight_map: weightMap ?? map });
    writeFileSync(join(dir, WEIGHTS_INDEX), index);
    return dir;
  }
  async function ckptError(dir: string): Promise<DistillGateError> {
    const e = await openSafetensorsCheckpoint(dir).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DistillGateError);
    return e as DistillGateError;
  }

  it('reads every tensor from its shard, and prefers model.safetensors when both are there', async () => {
    const dir = await sharded({
      'model-00001-of-00002.safetensors': ['a', 'b'],
      'model-00002-of-00002.safetensors': ['c'],
    });
    const ckpt = await openSafetensorsCheckpoint(dir);
    expect(ckpt.index).toBe(join(dir, WEIGHTS_INDEX));
    expect(ckpt.files.map((f) => f.slice(dir.length + 1))).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    const c = await readCheckpointTensor(ckpt, 'c');
    expect([...c.data]).toEqual([4, 5]);
    expect(c.file).toBe(join(dir, 'model-00002-of-00002.safetensors'));
    expect([...(await readCheckpointTensor(ckpt, 'b')).data]).toEqual([2, 3]);
    await writeSafetensors(join(dir, 'model.safetensors'), [{ name: 'z', shape: [1], data: Float32Array.of(9) }]);
    expect([...(await openSafetensorsCheckpoint(dir)).tensors.keys()]).toEqual(['z']);
  });

  it('confines shard names to the model folder', async () => {
    for (const shard of ['/etc/passwd', '../x.safetensors', 'sub/../../x.safetensors', '..\\x.safetensors']) {
      const dir = await sharded({ 's.safetensors': ['a'] }, { a: shard });
      const e = await ckptError(dir);
      expect(e.message).toBe(`the shard of tensor "a" is "${shard}": shards must be files inside the model folder`);
      expect(e.location).toEqual({ file: join(dir, WEIGHTS_INDEX), pointer: '/weight_map/a' });
    }
  });

  it('refuses an index that disagrees with its shards', async () => {
    const missing = await ckptError(
      await sharded({ 's.safetensors': ['a'] }, { a: 's.safetensors', b: 's.safetensors' }),
    );
    expect(missing.message).toBe('tensor "b" is mapped to s.safetensors, which does not hold it');
    const unlisted = await ckptError(await sharded({ 's.safetensors': ['a', 'b'] }, { a: 's.safetensors' }));
    expect(unlisted.message).toBe('the shard holds tensor "b", which model.safetensors.index.json does not list');
    expect(unlisted.location.pointer).toBe('/b');
    const moved = await ckptError(
      await sharded({ 's.safetensors': ['a'], 't.safetensors': ['b'] }, { a: 's.safetensors', b: 's.safetensors' }),
    );
    expect(moved.message).toBe('tensor "b" is mapped to s.safetensors, which does not hold it');
    const gone = await ckptError(await sharded({ 's.safetensors': ['a'] }, { a: 'gone.safetensors' }));
    expect(gone.message).toBe('file not found');
    expect(gone.location.file).toMatch(/gone\.safetensors$/);
  });

  it('refuses an index without a weight_map, with a repeated tensor, or no index at all', async () => {
    expect((await ckptError(await sharded({ 's.safetensors': ['a'] }, '{"metadata":{}}'))).message).toBe(
      '"weight_map" (tensor name -> shard file) is missing or not an object',
    );
    const dup = await ckptError(
      await sharded({ 's.safetensors': ['a'] }, '{"weight_map":{"a":"s.safetensors","a":"s.safetensors"}}'),
    );
    expect(dup.message).toBe('the index repeats the key "a" in /weight_map');
    const empty = testDir('dg-shard-');
    writeFileSync(join(empty, 'pytorch_model.bin'), '');
    const none = await ckptError(empty);
    expect(none.message).toBe(
      'no model.safetensors or model.safetensors.index.json in the model folder (found pytorch_model.bin)',
    );
    expect(none.hint).toMatch(/safe_serialization/);
  });
});
