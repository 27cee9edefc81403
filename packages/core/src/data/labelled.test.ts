import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DistillGateError } from '../errors.js';
import { labelledFormatOf, readLabelledSet } from './labelled.js';

const dir = mkdtempSync(join(tmpdir(), 'dg-labelled-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (p: string) => join(dir, p);

/** A NumPy .npy file (format 1.0), as numpy.save writes it. */
function npy(descr: string, shape: number[], data: ArrayBufferView, fortran = false): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    head,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

/** An IDX file (big-endian), as the MNIST distribution ships them. */
function idx(type: number, shape: number[], values: number[]): Buffer {
  const size = { 0x08: 1, 0x0d: 4 }[type]!;
  const b = Buffer.alloc(4 + 4 * shape.length + size * values.length);
  b[2] = type;
  b[3] = shape.length;
  shape.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  values.forEach((v, i) =>
    size === 1 ? b.writeUInt8(v, 4 + 4 * shape.length + i) : b.writeFloatBE(v, 4 + 4 * shape.length + 4 * i),
  );
  return b;
}

function error(f: () => unknown): DistillGateError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DistillGateError);
    return e as DistillGateError;
  }
  throw new Error('expected an error');
}

describe('labelled sets from files', () => {
  it('reads NPY float32 inputs of any rank with int64 labels, flattening each row', () => {
    const x = new Float32Array(4 * 2 * 3).map((_, i) => i / 10);
    writeFileSync(at('x.npy'), npy('<f4', [4, 2, 3], x));
    writeFileSync(at('y.npy'), npy('<i8', [4], new BigInt64Array([0n, 2n, 1n, 2n])));
    const s = readLabelledSet({ path: 'x.npy', labels: 'y.npy' }, at);
    expect([s.rows, s.inputDim, s.classes]).toEqual([4, 6, 3]);
    expect(Array.from(s.labels)).toEqual([0, 2, 1, 2]);
    expect(s.inputs[7]).toBeCloseTo(0.7, 6);
    expect(s.description).toBe('x.npy (4 rows, 6 inputs, 3 classes)');
  });

  it('maps 8-bit inputs [0, 255] to [-1, 1] by default (as the paper does for MNIST), or as asked', () => {
    writeFileSync(at('u8.npy'), npy('|u1', [2, 2], new Uint8Array([0, 255, 51, 204])));
    writeFileSync(at('l.npy'), npy('<i4', [2, 1], new Int32Array([1, 0])));
    expect(Array.from(readLabelledSet({ path: 'u8.npy', labels: 'l.npy' }, at).inputs)).toEqual(
      [-1, 1, -0.6, 0.6].map(Math.fround),
    );
    expect(Array.from(readLabelledSet({ path: 'u8.npy', labels: 'l.npy', scale: 'none' }, at).inputs)).toEqual([
      0, 255, 51, 204,
    ]);
  });

  it('reads IDX images and labels, gzipped or not', () => {
    writeFileSync(
      at('images-idx3-ubyte.gz'),
      gzipSync(idx(0x08, [3, 2, 2], [0, 255, 0, 255, 255, 0, 255, 0, 0, 0, 255, 255])),
    );
    writeFileSync(at('labels-idx1-ubyte'), idx(0x08, [3], [1, 0, 1]));
    const s = readLabelledSet({ path: 'images-idx3-ubyte.gz', labels: 'labels-idx1-ubyte' }, at);
    expect([s.rows, s.inputDim, s.classes]).toEqual([3, 4, 2]);
    expect(Array.from(s.inputs.subarray(0, 4))).toEqual([-1, 1, -1, 1]);
    expect(labelledFormatOf('t10k-images-idx3-ubyte')).toBe('idx');
    writeFileSync(at('short-idx1-ubyte'), idx(0x08, [5], [1, 0, 1]).subarray(0, 12));
    expect(
      error(() => readLabelledSet({ path: 'images-idx3-ubyte.gz', labels: 'short-idx1-ubyte' }, at)).format(),
    ).toMatch(/short-idx1-ubyte: not a readable IDX file: shape \[5\] needs 5 data bytes, the file has 3/);
  });

  it('reads CSV with a header, the label column by name (default "label") or index', () => {
    writeFileSync(at('a.csv'), '\uFEFFa,label,b\n1,0,2\n3,1,4\n\n5,1,6\n');
    const s = readLabelledSet({ path: 'a.csv' }, at);
    expect([s.rows, s.inputDim, s.classes]).toEqual([3, 2, 2]);
    expect(Array.from(s.inputs)).toEqual([1, 2, 3, 4, 5, 6]);
    writeFileSync(at('b.csv'), 'x,y,class\n1,2,0\n3,4,2\n5,6,1\n');
    expect(readLabelledSet({ path: 'b.csv' }, at).classes).toBe(3); // the last column by default
    expect(readLabelledSet({ path: 'b.csv', labelColumn: 'class' }, at).inputDim).toBe(2);
  });

  it('locates bad CSV cells and labels by line and column', () => {
    writeFileSync(at('bad.csv'), 'a,b,label\n1,2,0\n1,x,1\n');
    expect(error(() => readLabelledSet({ path: 'bad.csv' }, at)).format()).toBe(
      'bad.csv:3:2: column "b" holds "x", not a finite number',
    );
    writeFileSync(at('frac.csv'), 'a,label\n1,0\n2,1.5\n');
    expect(error(() => readLabelledSet({ path: 'frac.csv' }, at)).format()).toBe(
      'frac.csv:3:2: label 1.5 is not a class index (an integer >= 0)',
    );
    writeFileSync(at('ragged.csv'), 'a,b,label\n1,2\n');
    expect(error(() => readLabelledSet({ path: 'ragged.csv' }, at)).format()).toBe(
      'ragged.csv:2: 2 columns, the header has 3',
    );
  });

  it('reads JSONL {"input", "label"} records and locates bad ones by line and JSON pointer', () => {
    writeFileSync(at('a.jsonl'), '{"input":[1,2],"label":0}\n{"input":[3,4],"label":1}\n');
    expect(readLabelledSet({ path: 'a.jsonl' }, at).inputDim).toBe(2);
    writeFileSync(at('b.jsonl'), '{"input":[1,2],"label":0}\n{"input":[3,"4"],"label":1}\n');
    expect(error(() => readLabelledSet({ path: 'b.jsonl' }, at)).format()).toBe(
      'b.jsonl:2 (at /input/1): "4" is not a finite number',
    );
    writeFileSync(at('c.jsonl'), '{"input":[1,2],"label":0}\n{"input":[3],"label":1}\n');
    expect(error(() => readLabelledSet({ path: 'c.jsonl' }, at)).message).toBe(
      '"input" has 1 values, the first record has 2',
    );
  });

  it('refuses what it cannot read, naming the file and what would work', () => {
    writeFileSync(at('f.npy'), npy('<f4', [2, 2], new Float32Array(4), true));
    expect(error(() => readLabelledSet({ path: 'f.npy', labels: 'l.npy' }, at)).message).toContain('Fortran-ordered');
    writeFileSync(at('c16.npy'), npy('<c16', [1], new Float64Array(2)));
    expect(error(() => readLabelledSet({ path: 'c16.npy', labels: 'l.npy' }, at)).message).toContain(
      "dtype '<c16' is not supported",
    );
    expect(error(() => readLabelledSet({ path: 'x.npy' }, at)).hint).toContain('"labels"');
    expect(error(() => readLabelledSet({ path: 'x.parquet' }, at)).hint).toContain('npy, idx, csv, jsonl');
    writeFileSync(at('one.csv'), 'a,label\n1,0\n2,0\n');
    expect(error(() => readLabelledSet({ path: 'one.csv' }, at)).message).toContain('at least two classes');
    writeFileSync(at('y3.npy'), npy('<i4', [3], new Int32Array([0, 1, 1])));
    expect(error(() => readLabelledSet({ path: 'x.npy', labels: 'y3.npy' }, at)).format()).toBe(
      'y3.npy: 3 labels for 4 input rows',
    );
    writeFileSync(at('noheader.csv'), '0.5,1.5,0\n0.1,0.2,1\n');
    expect(error(() => readLabelledSet({ path: 'noheader.csv' }, at)).format()).toMatch(
      /^noheader\.csv:1: a CSV needs a header line .*this first line is numbers/,
    );
    writeFileSync(at('gaps.csv'), 'a,label\n1,1\n2,2\n3,1\n');
    expect(error(() => readLabelledSet({ path: 'gaps.csv' }, at)).format()).toMatch(
      /^gaps\.csv: labels run to 2 but only 2 distinct values occur \(missing: 0\)/,
    );
    writeFileSync(at('bad.csv.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expect(error(() => readLabelledSet({ path: 'bad.csv.gz', format: 'csv' }, at)).format()).toMatch(
      /^bad\.csv\.gz: gzip data is corrupt or truncated/,
    );
    writeFileSync(at('v2.npy'), Buffer.from('\x93NUMPY\x02\x00\x10\x00', 'latin1'));
    expect(error(() => readLabelledSet({ path: 'v2.npy', labels: 'l.npy' }, at)).message).toContain('cut short');
    expect(error(() => readLabelledSet({ path: 'missing.csv' }, at)).format()).toBe(
      'missing.csv: labelled data not found (ENOENT)',
    );
  });
});
