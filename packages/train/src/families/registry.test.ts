import { testDir } from '../../../../test/helpers.js';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistillGateError, type AnyModelHandle, type ModelFormat } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { convertModel } from '../convert.js';
import { writeSafetensors } from '../safetensors.js';
import { detectFamily, familyNamed, familyOf, modelFamilies, readModelFile } from './registry.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const mnist = join(repo, 'examples/mnist-subliminal');
const owl = join(repo, 'examples/owl-numbers');

async function thrown(p: Promise<unknown>): Promise<DistillGateError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DistillGateError);
  return e as DistillGateError;
}

describe('the model family registry', () => {
  it('finds a family by name, and names the known ones for an unknown name', () => {
    expect(modelFamilies.map((f) => f.name)).toEqual(['mlp', 'small-lm', 'hf']);
    expect(familyNamed('small-lm').label.singular).toBe('language model');
    expect(familyNamed('hf').label.singular).toBe('Hugging Face model');
    expect(() => familyNamed('gpt2')).toThrow('unknown model family "gpt2" (known: mlp, small-lm, hf)');
  });

  it('detects the family of the models the examples ship, in each of their formats', async () => {
    const found = async (path: string) => (await detectFamily(path)).family.name;
    expect(await found(join(mnist, 'models/base.safetensors'))).toBe('mlp');
    expect(await found(join(mnist, 'models/base.onnx'))).toBe('mlp');
    expect(await found(join(owl, 'models/base.json'))).toBe('small-lm');
    const onnx = join(testDir('dg-registry-'), 'base.onnx');
    const r = await convertModel(join(owl, 'models/base.json'), onnx);
    expect(r).toMatchObject({ family: 'small-lm', label: 'language model', from: 'tfjs', to: 'onnx' });
    expect(await found(onnx)).toBe('small-lm');
    expect((await readModelFile(onnx)).sha256).toBe(r.sha256);
  });

  it('finds the family of a loaded handle, and none for a handle no family made', async () => {
    for (const path of [join(mnist, 'models/base.onnx'), join(owl, 'models/base.json')]) {
      const m = await readModelFile(path);
      const handle = m.family.handle('h', m.model, { backend: 'cpu' });
      expect(familyOf(handle)).toBe(m.family);
      expect(handle.sha256).toBe(m.sha256);
    }
    const foreign = { id: 'x', family: 'mlp', sha256: '', inputDim: 1, outputDim: 1 } as unknown as AnyModelHandle;
    expect(familyOf(foreign)).toBeUndefined();
  });

  it('leaves a file no family marks to the family whose reader explains what it lacks', async () => {
    const dataset = join(testDir('dg-registry-'), 'data.safetensors');
    await writeSafetensors(dataset, [{ name: 'inputs', shape: [1, 2], data: Float32Array.of(1, 2) }]);
    const e = await thrown(readModelFile(dataset));
    expect(e.message).toBe('not a distill-gate model: metadata "distill-gate.family" is missing');
    expect(e.location.file).toBe(dataset);
  });

  it('refuses a format no family reads, naming what each family reads', async () => {
    const e = await thrown(detectFamily(join(mnist, 'models/base.onnx'), 'gguf' as ModelFormat));
    expect(e.message).toBe(
      'no model family reads this gguf file ' +
        '(mlp: onnx, safetensors; small-lm: onnx, tfjs (model.json); hf: Hugging Face model folder)',
    );
  });

  it('converts through the family that read the input, which refuses a format it does not write', async () => {
    const dir = testDir('dg-registry-');
    const lm = await thrown(convertModel(join(owl, 'models/base.json'), join(dir, 'lm.safetensors')));
    expect(lm.message).toBe('a language model is written as onnx or tfjs (model.json), not safetensors');
    expect(lm.location.file).toBe(join(dir, 'lm.safetensors'));
    const mlp = await thrown(convertModel(join(mnist, 'models/base.safetensors'), join(dir, 'mlp.json')));
    expect(mlp.message).toBe('an MLP is written as onnx or safetensors, not tfjs');
    expect(mlp.hint).toBe('tfjs (model.json) holds language models');
    const r = await convertModel(join(mnist, 'models/base.safetensors'), join(dir, 'mlp.onnx'));
    expect(r).toMatchObject({ family: 'mlp', label: 'MLP', from: 'safetensors', to: 'onnx' });
    expect(r.sha256).toBe((await readModelFile(join(mnist, 'models/base.safetensors'))).sha256);
  });

  it('refuses model metadata that would make a reader build without bound, or that JSON.parse misreads', async () => {
    const dir = testDir('dg-registry-');
    const json = JSON.parse(readFileSync(join(owl, 'models/base.json'), 'utf8'));
    cpSync(join(owl, 'models/base.weights.bin'), join(dir, 'base.weights.bin'));
    // Found by the readers' fuzz test: before, this ran out of memory listing 1.8e308 layers.
    json.modelTopology.config.layers = 1.7976931348623157e308;
    writeFileSync(join(dir, 'huge.json'), JSON.stringify(json));
    const huge = await thrown(readModelFile(join(dir, 'huge.json')));
    expect([huge.message, huge.location.pointer]).toEqual([
      'bad transformer config: layers must be at most 1024, got 1.7976931348623157e+308',
      '/modelTopology/config',
    ]);
    const text = readFileSync(join(owl, 'models/base.json'), 'utf8');
    writeFileSync(join(dir, 'twice.json'), text.replace('{', '{"format": "other",'));
    const twice = await thrown(readModelFile(join(dir, 'twice.json')));
    expect([twice.message, twice.location.pointer]).toEqual(['the model file repeats the key "format"', '/format']);
  });

  it('refuses a FIFO or a device as a model, or inside a model folder, before opening it (it hung)', async () => {
    const dir = testDir('dg-registry-');
    for (const name of ['m.onnx', 'm.safetensors', 'm.json']) execFileSync('mkfifo', [join(dir, name)]);
    mkdirSync(join(dir, 'hf'));
    execFileSync('mkfifo', [join(dir, 'hf', 'config.json')]);
    for (const [path, message] of [
      [join(dir, 'm.onnx'), 'a model must be a regular file, this is a FIFO (named pipe)'],
      [join(dir, 'm.safetensors'), 'a model must be a regular file, this is a FIFO (named pipe)'],
      [join(dir, 'm.json'), 'a model must be a regular file, this is a FIFO (named pipe)'],
      ['/dev/zero', 'a model must be a regular file, this is a device'],
      [join(dir, 'hf'), 'config.json must be a regular file, this is a FIFO (named pipe)'],
    ]) {
      const e = await thrown(readModelFile(path));
      expect([path, e.message]).toEqual([path, message]);
    }
  });

  it('refuses a JSON or ONNX model file too large to be read whole, before reading it', async () => {
    const dir = testDir('dg-registry-');
    // Sparse files: their size is what is checked, no disk is used.
    writeFileSync(join(dir, 'big.json'), '');
    truncateSync(join(dir, 'big.json'), 300 * 2 ** 20);
    writeFileSync(join(dir, 'big.onnx'), '');
    truncateSync(join(dir, 'big.onnx'), 2 ** 31 + 1);
    const json = await thrown(readModelFile(join(dir, 'big.json')));
    expect(json.message).toBe(
      'a JSON model file is 314572800 bytes; a file of this kind is read whole and may be at most 268435456',
    );
    const onnx = await thrown(readModelFile(join(dir, 'big.onnx')));
    expect(onnx.message).toBe(
      'an ONNX model is 2147483649 bytes; a file of this kind is read whole and may be at most 2147483648',
    );
  });
});
