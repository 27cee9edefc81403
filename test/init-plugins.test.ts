// `distill-gate init` and `distill-gate plugins`, through the real bin.
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runCli, testDir } from './helpers.js';

const run = runCli;

describe('distill-gate init', () => {
  it("writes the example's config and byte-identical models, and refuses to overwrite them", async () => {
    const dir = testDir('dg-init-');
    const r = await run(['init', 'project'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('models/teacher.safetensors: digit accuracy 0.8495');
    const written = JSON.parse(readFileSync(join(dir, 'project/distill-gate.config.json'), 'utf8'));
    const { $schema: _schema, ...example } = JSON.parse(
      readFileSync(join(root, 'examples/mnist-subliminal/distill-gate.config.json'), 'utf8'),
    );
    expect(written).toEqual(example);
    for (const m of ['base', 'teacher', 'teacher-different-init']) {
      const f = `models/${m}.safetensors`;
      expect(
        readFileSync(join(dir, 'project', f)).equals(readFileSync(join(root, 'examples/mnist-subliminal', f))),
        f,
      ).toBe(true);
    }
    const again = await run(['init', 'project'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exist');
    expect(again.stderr).toContain('--force');
  });

  it('points $schema at the installed schema when @distill-gate/core is installed', async () => {
    // A project with @distill-gate/core installed: this repository's node_modules, linked in.
    const dir = testDir('dg-init-');
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    expect((await run(['init', '.'], dir)).code).toBe(0);
    const written = JSON.parse(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8'));
    // In this monorepo the package resolves through its workspace link to packages/core.
    expect(written.$schema).toMatch(
      /(node_modules\/@distill-gate\/core|packages\/core)\/schema\/config\.schema\.json$/,
    );
    expect(JSON.parse(readFileSync(join(dir, written.$schema), 'utf8')).title).toContain('distill-gate');
  });
});

describe('distill-gate plugins', () => {
  it('lists the built-in plugins of all four kinds and describes one with its defaults', async () => {
    const list = await run(['plugins', 'list', '--json'], root);
    expect(list.code).toBe(0);
    const entries = JSON.parse(list.stdout);
    expect(new Set(entries.map((e: { kind: string }) => e.kind))).toEqual(
      new Set(['trait', 'generator', 'filter', 'evaluator']),
    );
    const gen = entries.find((e: { name: string }) => e.name === '@distill-gate/generator-auxiliary-logits');
    expect(gen.defaults).toEqual({ count: 60000, low: -1, high: 1, auxiliary: { start: 10, end: 13 } });
    const d = await run(['plugins', 'describe', 'generator-auxiliary-logits'], root);
    expect(d.stdout).toContain('@distill-gate/generator-auxiliary-logits 0.1.0 (generator, built-in)');
    expect(d.stdout).toContain('"count": 60000');
    const missing = await run(['plugins', 'describe', 'nope'], root);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no plugin named "nope"');
  });
});
