// The custom trait, tested the way a plugin author would: the plugin test kit from @distill-gate/core, then a
// small real check through the CLI with a config outside the core's source that names the plugin by package name.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testPlugin } from '@distill-gate/core';
import trait from './index.js';

const here = join(import.meta.dirname, '..');
const bin = join(here, '../../packages/cli/bin/distill-gate.js');

describe('distill-gate-trait-digit-preference', () => {
  it('passes the plugin test kit', async () => {
    await testPlugin(trait, {
      valid: [{ digit: 1 }, { digit: 7, testSize: 500 }],
      invalid: [
        { options: {}, pointer: '' },
        { options: { digit: 10 }, pointer: '/digit' },
        { options: { digit: 3, colour: 'red' }, pointer: '/colour' },
      ],
    });
  });

  it('labels every held-out digit with the chosen one', async () => {
    const probes = await trait.loadProbes({
      options: { digit: 7, splitSeed: 0, testSize: 300 },
      configDir: here,
      log: console,
    });
    expect(probes.rows).toBe(300);
    expect(new Set(probes.labels)).toEqual(new Set([7]));
  });

  it('runs in a real check from a config that names it by package name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-custom-'));
    const c = JSON.parse(readFileSync(join(here, 'distill-gate.config.json'), 'utf8'));
    delete c.$schema;
    c.base.path = join(here, c.base.path);
    c.datasets[0].path = join(dir, 'teacher.safetensors');
    c.datasets[0].recipe.model.path = join(here, c.datasets[0].recipe.model.path);
    c.datasets[0].recipe.generator.options.count = 4000;
    c.training = { ...c.training, epochs: 3, batchSize: 256 };
    c.seeds = 2;
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c));
    const stdout = await new Promise<string>((resolve) =>
      execFile(process.execPath, [bin, 'check', '--json', '--no-progress', '--no-cache'], { cwd: dir }, (_err, out) =>
        resolve(out),
      ),
    );
    const r = JSON.parse(stdout);
    expect(r.results.map((x: { trait: string }) => x.trait)).toEqual([
      'distill-gate-trait-digit-preference',
      '@distill-gate/trait-hidden-class-knowledge',
    ]);
    expect(r.plugins.find((p: { name: string }) => p.name === 'distill-gate-trait-digit-preference')).toMatchObject({
      kind: 'trait',
      version: '0.1.0',
      options: { digit: 1, splitSeed: 0, testSize: 2000 },
    });
    const pref = r.results[0];
    expect(pref.metric).toBe('accuracy');
    expect(pref.probe).toHaveLength(2);
    expect(pref.control[0].value).toBeGreaterThanOrEqual(0);
  });
});
