// Property-based tests (fast-check) of every model reader a pull request can feed, through the registry's
// readModelFile as the CLI calls it: an MLP as safetensors and ONNX, a small language model as model.json and ONNX,
// and a Hugging Face folder (config.json, model.safetensors, tokenizer files). Whatever is done to a valid file
// (bytes flipped, cut short, replaced, a JSON value swapped for any other), the reader returns a model or throws a
// DistillGateError located at a file, with no stack trace in its message, and writes nothing into the folder.
import { removeDir } from '../../../../test/helpers.js';
import { byteMutation } from '../../../../test/fuzz.js';
import { writeHfModel } from '../../../../test/hf-fixtures.js';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistillGateError } from '@distill-gate/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertModel } from '../convert.js';
import { saveMlp } from './mlp/io.js';
import { initMlp } from './mlp/model.js';
import { saveMlpOnnx } from './mlp/onnx.js';
import { readModelFile } from './registry.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
let dir: string;
const originals = new Map<string, Buffer>();

/** Every file under `root` (the reader must not add or remove any). */
function listing(root: string): string {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort()
    .join('\n');
}

/** Writes `bytes` over `file`, reads the model at `model`, restores the file; 'ok' or 'located', nothing else. */
async function outcome(model: string, file: string, bytes: Uint8Array): Promise<'ok' | 'located'> {
  const before = listing(dir);
  writeFileSync(file, bytes);
  try {
    await readModelFile(model);
    return 'ok';
  } catch (e) {
    if (!(e instanceof DistillGateError)) throw e;
    expect(e.location.file).toBeTruthy();
    expect(e.format()).not.toMatch(/\n\s+at /);
    return 'located';
  } finally {
    writeFileSync(file, originals.get(file)!);
    expect(listing(dir)).toBe(before);
  }
}

/** A byte-level mutation of a file: flipped bytes, a cut, or random bytes. */
const mutation = (size: number) => byteMutation(size, 256);

/** A JSON-level mutation: one value anywhere in the document replaced by any JSON value (or its key dropped). */
function jsonMutation(doc: unknown) {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    paths.push(p);
    if (p.length > 3 || !v || typeof v !== 'object') return;
    const entries = Array.isArray(v) ? v.slice(0, 4).map((x, i) => [i, x] as const) : Object.entries(v);
    for (const [k, x] of entries) walk(x, [...p, k]);
  };
  walk(doc, []);
  return fc
    .tuple(fc.constantFrom(...paths.filter((p) => p.length)), fc.option(fc.jsonValue({ maxDepth: 2 })))
    .map(([path, value]) => () => {
      const copy = structuredClone(doc) as Record<string | number, unknown>;
      let at: Record<string | number, unknown> = copy;
      for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
      const last = path[path.length - 1];
      if (value === null) delete at[last];
      else at[last] = value;
      return Buffer.from(JSON.stringify(copy));
    });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dg-readers-fuzz-'));
  await saveMlp(join(dir, 'mlp.safetensors'), initMlp([6, 5, 3], 1));
  await saveMlpOnnx(join(dir, 'mlp.onnx'), initMlp([6, 5, 3], 2));
  cpSync(join(repo, 'examples/owl-numbers/models/base.json'), join(dir, 'lm.json'));
  cpSync(join(repo, 'examples/owl-numbers/models/base.weights.bin'), join(dir, 'base.weights.bin'));
  await convertModel(join(dir, 'lm.json'), join(dir, 'lm.onnx'));
  await writeHfModel(join(dir, 'gpt2'), { modelType: 'gpt2', hiddenSize: 16, numLayers: 1, numHeads: 2 });
  for (const f of [
    'mlp.safetensors',
    'mlp.onnx',
    'lm.json',
    'lm.onnx',
    'gpt2/config.json',
    'gpt2/model.safetensors',
    'gpt2/tokenizer_config.json',
  ])
    originals.set(join(dir, f), readFileSync(join(dir, f)));
  for (const f of originals.keys()) await readModelFile(f.startsWith(join(dir, 'gpt2')) ? join(dir, 'gpt2') : f);
}, 60_000);
afterAll(() => removeDir(dir));

describe('model readers under fuzzing', () => {
  const bytes = [
    ['an MLP as safetensors', 'mlp.safetensors', 'mlp.safetensors', 200],
    ['an MLP as ONNX', 'mlp.onnx', 'mlp.onnx', 200],
    ['a small language model as ONNX', 'lm.onnx', 'lm.onnx', 60],
    ["a Hugging Face folder's weights", 'gpt2', 'gpt2/model.safetensors', 60],
  ] as const;
  for (const [what, model, file, runs] of bytes) {
    it(`${what}: flipped, cut or random bytes give a model or a located error (${runs} runs)`, async () => {
      const path = join(dir, file);
      const original = originals.get(path)!;
      await fc.assert(
        fc.asyncProperty(mutation(original.length), async (mutate) => {
          await outcome(join(dir, model), path, mutate(original));
        }),
        { numRuns: runs, seed: 21 },
      );
    }, 120_000);
  }

  const json = [
    ['a small language model as model.json', 'lm.json', 'lm.json', 60],
    ["a Hugging Face folder's config.json", 'gpt2', 'gpt2/config.json', 100],
    ["a Hugging Face folder's tokenizer_config.json", 'gpt2', 'gpt2/tokenizer_config.json', 60],
  ] as const;
  for (const [what, model, file, runs] of json) {
    it(`${what}: any value swapped or dropped gives a model or a located error (${runs} runs)`, async () => {
      const path = join(dir, file);
      const doc = JSON.parse(originals.get(path)!.toString('utf8'));
      await fc.assert(
        fc.asyncProperty(jsonMutation(doc), async (mutate) => {
          await outcome(join(dir, model), path, mutate());
        }),
        { numRuns: runs, seed: 21 },
      );
    }, 120_000);
  }
});
