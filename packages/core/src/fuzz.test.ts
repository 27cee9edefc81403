// Property-based tests (fast-check) of the parsers a pull request can feed: whatever the bytes, the config loader
// and the filters either succeed or throw a located DistillGateError; they never crash with anything else.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseSeeds } from './config/load.js';
import { defineFilter } from './contracts.js';
import { DistillGateError } from './errors.js';
import { applyFilters } from './data/filtering.js';
import { parseTextRecord } from './data/text-data.js';

const dir = mkdtempSync(join(tmpdir(), 'dg-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const valid = {
  base: { path: 'm.safetensors' },
  datasets: [{ path: 'd.safetensors' }],
  control: { generate: { use: 'g' } },
  traits: [{ use: 't' }],
  evaluators: [{ use: 'e' }],
  training: { outputs: { start: 10, end: 13 } },
};

async function outcome(text: string): Promise<'ok' | 'located'> {
  const file = join(dir, 'c.json');
  writeFileSync(file, text);
  try {
    await loadConfig(file);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(DistillGateError);
    expect((e as DistillGateError).location.file).toBe(relative(process.cwd(), file));
    expect((e as DistillGateError).format()).not.toMatch(/\n\s+at /);
    return 'located';
  }
}

describe('config loader under fuzzing', () => {
  it('any text gives a config or a located error (500 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => void (await outcome(text))),
      { numRuns: 500 },
    );
  });
  it('any JSON value gives a config or a located error (500 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (v) => void (await outcome(JSON.stringify(v)))),
      { numRuns: 500 },
    );
  });
  it('mutating one field of a valid config never crashes; the error points inside the file (500 runs)', async () => {
    const keys = [
      'base',
      'datasets',
      'control',
      'traits',
      'evaluators',
      'training',
      'seeds',
      'threshold',
      'confidence',
      'backend',
      'inconclusive',
      'workers',
      'typo',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), async (key, value) => {
        const text = JSON.stringify({ ...valid, [key]: value }, null, 2);
        const file = join(dir, 'm.json');
        writeFileSync(file, text);
        try {
          await loadConfig(file);
        } catch (e) {
          expect(e).toBeInstanceOf(DistillGateError);
          const loc = (e as DistillGateError).location;
          expect(loc.line === undefined || (loc.line >= 1 && loc.line <= text.split('\n').length)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('--seeds parsing accepts exactly counts and integer lists (1000 runs)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        try {
          const seeds = parseSeeds(s);
          expect(seeds.length).toBeGreaterThan(0);
          expect(seeds.every(Number.isInteger)).toBe(true);
          expect(new Set(seeds).size).toBe(seeds.length);
        } catch (e) {
          expect(e).toBeInstanceOf(DistillGateError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('filters under fuzzing', () => {
  const finite = defineFilter({
    name: 'finite',
    version: '1.0.0',
    description: 'x',
    optionsSchema: {},
    test: (r) =>
      r.target.every(Number.isFinite)
        ? { keep: true, target: r.target.slice(1) }
        : { keep: false, reason: 'non-finite' },
  });
  it('counts add up, kept rows match, and the source is never modified (300 runs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.float(), { minLength: 400, maxLength: 400 }),
        (rows, inputDim, targetDim, pool) => {
          const take = (n: number, off: number) =>
            Float32Array.from({ length: n }, (_, i) => pool[(i + off) % pool.length]);
          const ds = {
            rows,
            inputDim,
            targetDim,
            inputs: take(rows * inputDim, 0),
            targets: take(rows * targetDim, 7),
            metadata: {},
          };
          const before = Buffer.from(ds.targets.buffer).toString('hex');
          const f = applyFilters(
            ds,
            [
              {
                plugin: finite,
                options: {},
                ref: { use: 'finite', options: {}, pointer: '/filters/0' },
                resolvedFrom: 'test',
              },
            ],
            '.',
            {},
          );
          const c = f.counts[0];
          expect(c.kept + c.dropped).toBe(rows);
          expect(f.dataset.rows).toBe(c.kept);
          expect(f.dataset.targets.length).toBe(c.kept * (targetDim - 1));
          expect(Buffer.from(ds.targets.buffer).toString('hex')).toBe(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('JSONL records under fuzzing', () => {
  it('any line gives a record or a located DistillGateError, never another exception (2000 runs)', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.double(), { maxKeys: 3 }),
    );
    const record = fc.record(
      {
        prompt: value,
        completion: value,
        messages: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'bot'), content: value }), {
          maxLength: 3,
        }),
        logprobs: fc.array(value, { maxLength: 3 }),
        tokens: value,
      },
      { requiredKeys: [] },
    );
    const line = fc.oneof(
      fc.string({ maxLength: 40 }),
      record.map((r) => JSON.stringify(r)),
    );
    fc.assert(
      fc.property(line, (text) => {
        try {
          const r = parseTextRecord(text, 0, 7, 'f.jsonl');
          expect(typeof r.prompt).toBe('string');
          expect(typeof r.completion).toBe('string');
          // Whether tokens spell the completion is the model family's check (it knows the tokenizer's pieces).
          if (r.tokens) expect(r.tokens.every((t) => typeof t === 'string')).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(DistillGateError);
          expect((e as DistillGateError).location).toMatchObject({ file: 'f.jsonl', line: 7 });
        }
      }),
      { numRuns: 2000 },
    );
  });
});
