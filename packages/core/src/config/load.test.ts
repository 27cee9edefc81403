import { testDir } from '../../../../test/helpers.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseSeeds } from './load.js';
import { DistillGateError } from '../errors.js';

const minimal = {
  base: { path: 'models/base.safetensors' },
  datasets: [{ path: 'data/a.safetensors' }],
  control: { generate: { use: 'gen' } },
  traits: [{ use: 'trait' }],
  evaluators: [{ use: 'eval' }],
  training: { outputs: { start: 10, end: 13 } },
};

function write(text: string): string {
  const dir = testDir('dg-config-');
  const file = join(dir, 'distill-gate.config.json');
  writeFileSync(file, text);
  return file;
}

async function errorOf(p: Promise<unknown>): Promise<DistillGateError> {
  try {
    await p;
  } catch (e) {
    return e as DistillGateError;
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('applies defaults and resolves paths against the config folder', async () => {
    const file = write(JSON.stringify(minimal));
    const c = await loadConfig(file);
    expect(c.seeds).toEqual([1, 2, 3, 4, 5]);
    expect(c.threshold).toBe(0.05);
    expect(c.training).toMatchObject({ epochs: 5, batchSize: 1024, learningRate: 0.0003, loss: 'softmax-kl' });
    expect(c.basePath).toBe(join(file, '..', 'models/base.safetensors'));
    expect(c.datasets[0].name).toBe('data/a.safetensors');
    expect(c.control.kind).toBe('generate');
  });
  it('reads a config that starts with a byte-order mark, as the JSONL reader does (before: invalid JSON)', async () => {
    const c = await loadConfig(write(`\uFEFF${JSON.stringify({ ...minimal, threshold: 0.02 }, null, 2)}`));
    expect(c.threshold).toBe(0.02);
  });
  it('lets overrides win', async () => {
    const c = await loadConfig(write(JSON.stringify(minimal)), { seeds: [9, 10, 11], threshold: 0.2, backend: 'cpu' });
    expect(c).toMatchObject({ seeds: [9, 10, 11], threshold: 0.2, backend: 'cpu' });
  });
  it('refuses fewer than 3 seeds unless adaptive seeds reach 3, with the config line', async () => {
    const file = write(JSON.stringify({ ...minimal, seeds: 2 }, null, 2));
    await expect(loadConfig(file)).rejects.toThrow(
      /2 seed\(s\) can never give a verdict: PASS or FAIL needs at least 3/,
    );
    const e = await loadConfig(file).catch((x) => x);
    expect(e.location).toMatchObject({ pointer: '/seeds' });
    await expect(loadConfig(write(JSON.stringify(minimal)), { seeds: [4, 7] })).rejects.toThrow(/can never give/);
    const adaptive = write(JSON.stringify({ ...minimal, seeds: 2, sequential: { maxSeeds: 6, roundSize: 2 } }));
    expect((await loadConfig(adaptive)).seeds).toEqual([1, 2]);
  });
  it('resolves path overrides against cwd, file paths against its folder; cacheDir false: no cache', async () => {
    const file = write(JSON.stringify({ ...minimal, cacheDir: 'cache' }));
    const cwd = testDir('dg-cwd-');
    const c = await loadConfig(file, {}, cwd);
    expect(c).toMatchObject({
      reportDir: join(file, '..', 'distill-gate-report'),
      cacheDir: join(file, '..', 'cache'),
    });
    const o = await loadConfig(file, { reportDir: 'out', cacheDir: false, maxRecords: 7 }, cwd);
    expect(o).toMatchObject({ reportDir: join(cwd, 'out'), maxRecords: 7 });
    expect(o.cacheDir).toBeUndefined();
    expect(o.maxMinutes).toBeUndefined();
  });
  it('reports an unknown key with its line, pointer and the nearest valid name', async () => {
    const text = JSON.stringify({ ...minimal, treshold: 0.1 }, null, 2);
    const e = await errorOf(loadConfig(write(text)));
    expect(e).toBeInstanceOf(DistillGateError);
    expect(e.location.pointer).toBe('/treshold');
    expect(e.location.line).toBe(text.split('\n').findIndex((l) => l.includes('treshold')) + 1);
    expect(e.format()).toContain('did you mean "threshold"');
  });
  it('reports a bad enum value and a missing key', async () => {
    const e = await errorOf(loadConfig(write(JSON.stringify({ ...minimal, backend: 'wasmm' }))));
    expect(e.location.pointer).toBe('/backend');
    expect(e.format()).toContain('did you mean "wasm"');
    const { traits: _t, ...noTraits } = minimal;
    const m = await errorOf(loadConfig(write(JSON.stringify(noTraits))));
    expect(m.message).toContain('missing required key "traits"');
  });
  it('reads the statistics keys, and rejects a sequential plan with no room for more seeds', async () => {
    const c = await loadConfig(write(JSON.stringify({ ...minimal, seeds: 5, sequential: { maxSeeds: 20 } })));
    expect(c).toMatchObject({
      multipleChecks: 'bonferroni',
      sequential: { maxSeeds: 20, roundSize: 5 },
      inference: 'auto',
    });
    const e = await errorOf(loadConfig(write(JSON.stringify({ ...minimal, seeds: 5, sequential: { maxSeeds: 5 } }))));
    expect(e.location.pointer).toBe('/sequential/maxSeeds');
    expect(e.message).toContain('sequential.maxSeeds (5) must be more than the 5 first seed(s)');
    const p = await errorOf(
      loadConfig(write(JSON.stringify({ ...minimal, placebos: 3, control: { path: 'control.safetensors' } }))),
    );
    expect(p.location.pointer).toBe('/placebos');
    expect(p.message).toContain('placebos need control data the base generates');
  });
  it('checks every dataset once per probe configuration, in dataset order', async () => {
    const probes = [
      { name: 'rank 4', lora: { rank: 4 } },
      { name: 'prompted', systemPrompt: 'You love owls.' },
    ];
    const datasets = [
      { name: 'a', path: 'a.jsonl' },
      { name: 'b', path: 'b.jsonl' },
    ];
    const c = await loadConfig(write(JSON.stringify({ ...minimal, datasets, probes })));
    expect(c.datasets.map((d) => [d.name, d.dataset, d.probe?.name, d.pointer])).toEqual([
      ['a [rank 4]', 'a', 'rank 4', '/datasets/0'],
      ['a [prompted]', 'a', 'prompted', '/datasets/0'],
      ['b [rank 4]', 'b', 'rank 4', '/datasets/1'],
      ['b [prompted]', 'b', 'prompted', '/datasets/1'],
    ]);
    expect(c.datasets[0].probe).toBe(c.datasets[2].probe);
    const dup = await errorOf(loadConfig(write(JSON.stringify({ ...minimal, probes: [probes[0], probes[0]] }))));
    expect(dup.format()).toMatch(/\(at \/probes\/1\): two probe configurations are named "rank 4"/);
    const bad = await errorOf(
      loadConfig(write(JSON.stringify({ ...minimal, probes: [{ name: 'x', lora: { dropout: 1 } }] }))),
    );
    expect(bad.format()).toMatch(/\/probes\/0\/lora\/dropout/);
  });
  it('locates JSON syntax errors', async () => {
    const e = await errorOf(loadConfig(write('{\n  "base": { "path": "x" },\n  oops\n}')));
    expect(e.message).toContain('not valid JSON');
    expect(e.location.line).toBe(3);
  });
  it('refuses a key given twice and numbers that read as Infinity, located (JSON.parse takes both)', async () => {
    const body = JSON.stringify(minimal).slice(1, -1);
    const dup = await errorOf(loadConfig(write(`{\n  "threshold": 0.01,\n  ${body},\n  "threshold": 1000\n}`)));
    expect(dup.format()).toMatch(
      /distill-gate\.config\.json:4:3 \(at \/threshold\): key "threshold" appears twice in one object/,
    );
    const inf = await errorOf(loadConfig(write(`{\n  ${body},\n  "threshold": 1e999\n}`)));
    expect(inf.format()).toMatch(/distill-gate\.config\.json:3:\d+ \(at \/threshold\): number is out of range/);
  });
  it('says when the file is missing', async () => {
    const e = await errorOf(loadConfig('/nonexistent/distill-gate.config.json'));
    expect(e.message).toBe('config file not found');
  });
});

describe('parseSeeds', () => {
  it('reads counts and lists', () => {
    expect(parseSeeds('3')).toEqual([1, 2, 3]);
    expect(parseSeeds('4, 8,15')).toEqual([4, 8, 15]);
    expect(() => parseSeeds('1,1')).toThrow(/duplicates/);
    expect(() => parseSeeds('a')).toThrow(DistillGateError);
  });
});
