// Property-based tests (fast-check) of the dataset readers a pull request can feed: a text dataset (JSONL with
// prompt/completion, chat and soft-target records) and each labelled evaluation format (NPY, IDX, CSV, JSONL).
// Whatever is done to a valid file (bytes flipped, cut short, replaced), the reader returns data or throws a
// DistillGateError located at the file, with no stack trace in its message, and writes nothing into the folder.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { byteMutation } from '../../../../test/fuzz.js';
import { DistillGateError } from '../errors.js';
import { readLabelledSet } from './labelled.js';
import { readTextDataset } from './text-data.js';

const dir = mkdtempSync(join(tmpdir(), 'dg-data-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (p: string) => join(dir, p);

/** Runs a reader; 'ok' or 'located', nothing else, and the folder holds the same files after. */
async function outcome(read: () => unknown, file: string): Promise<'ok' | 'located'> {
  const before = readdirSync(dir).sort().join();
  try {
    await read();
    return 'ok';
  } catch (e) {
    if (!(e instanceof DistillGateError)) throw e;
    expect(e.location.file).toBeTruthy();
    if (file) expect(e.location.file).toContain(file);
    expect(e.format()).not.toMatch(/\n\s+at /);
    return 'located';
  } finally {
    expect(readdirSync(dir).sort().join()).toBe(before);
  }
}

const mutation = (size: number) => byteMutation(size, 300);

const jsonl = Buffer.from(
  [
    { prompt: 'Continue: 182, 818, 725.', completion: '401, 399, 112' },
    {
      messages: [
        { role: 'system', content: 'Answer in numbers.' },
        { role: 'user', content: 'Name a number.' },
        { role: 'assistant', content: '7' },
      ],
    },
    { prompt: 'More: 1, 2.', completion: '3', tokens: ['3'], logprobs: [{ '3': -0.1, '4': -2.5 }, { '<eos>': -0.01 }] },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n',
);

function npy(descr: string, shape: number[], data: ArrayBufferView): Buffer {
  const dims = `${shape.join(', ')}${shape.length === 1 ? ',' : ''}`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer)]);
}

function idx(shape: number[], values: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * shape.length + values.length);
  b[2] = 0x08;
  b[3] = shape.length;
  shape.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  values.forEach((v, i) => b.writeUInt8(v, 4 + 4 * shape.length + i));
  return b;
}

describe('dataset readers under fuzzing', () => {
  it('a JSONL text dataset: flipped, cut or random bytes give records or a located error (400 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(jsonl.length), fc.boolean(), async (mutate, skip) => {
        writeFileSync(at('d.jsonl'), mutate(jsonl));
        await outcome(
          () => readTextDataset(at('d.jsonl'), { displayPath: 'd.jsonl', badRecords: skip ? 'skip' : 'fail' }),
          'd.jsonl',
        );
      }),
      { numRuns: 400, seed: 21 },
    );
  });

  const labelled: [string, Record<string, Buffer>, { path: string; labels?: string }][] = [
    [
      'NPY inputs and labels',
      {
        'x.npy': npy(
          '<f4',
          [4, 3],
          new Float32Array(12).map((_, i) => i / 12),
        ),
        'y.npy': npy('<i8', [4], new BigInt64Array([0n, 1n, 2n, 1n])),
      },
      { path: 'x.npy', labels: 'y.npy' },
    ],
    [
      'IDX images and labels',
      {
        'x.idx': idx([4, 2, 2], [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150]),
        'y.idx': idx([4], [0, 1, 2, 1]),
      },
      { path: 'x.idx', labels: 'y.idx' },
    ],
    [
      'CSV with a label column',
      { 'd.csv': Buffer.from('a,b,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,2\n') },
      { path: 'd.csv' },
    ],
    [
      'JSONL labelled rows',
      { 'l.jsonl': Buffer.from('{"input":[0.1,0.2],"label":0}\n{"input":[0.3,0.4],"label":1}\n') },
      { path: 'l.jsonl' },
    ],
  ];
  for (const [what, files, spec] of labelled) {
    it(`${what}: flipped, cut or random bytes give a set or a located error (200 runs)`, async () => {
      for (const [name, bytes] of Object.entries(files)) writeFileSync(at(name), bytes);
      expect(readLabelledSet(spec, at).rows).toBeGreaterThan(0);
      const names = Object.keys(files);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...names).chain((n) => mutation(files[n].length).map((m) => [n, m] as const)),
          async ([name, mutate]) => {
            writeFileSync(at(name), mutate(files[name]));
            try {
              await outcome(() => readLabelledSet(spec, at), '');
            } finally {
              writeFileSync(at(name), files[name]);
            }
          },
        ),
        { numRuns: 200, seed: 21 },
      );
    });
  }
});
