// The Nx generator on a virtual workspace tree; each generated plugin is then loaded and checked with the
// plugin test kit, exactly as its own generated test does.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testPlugin, type AnyPlugin } from '@distill-gate/core';

const require = createRequire(import.meta.url);
const generator = require('./plugin/generator.cjs') as (tree: unknown, schema: object) => Promise<() => void>;
const root = join(import.meta.dirname, '../../..');

/** A folder of the running test's own where this repository's packages resolve (its node_modules linked in). */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dg-nx-generated-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

describe('nx g @distill-gate/nx-plugin:plugin', () => {
  for (const kind of ['trait', 'generator', 'filter', 'evaluator']) {
    it(`scaffolds a ${kind} package that passes the plugin test kit`, async () => {
      const tree = createTreeWithEmptyWorkspace();
      tree.write('tsconfig.json', JSON.stringify({ files: [], references: [] }));
      await generator(tree, { name: `@acme/distill-gate-${kind}-x`, kind, directory: 'plugins' });
      const pkgRoot = `plugins/distill-gate-${kind}-x`;
      const pkg = JSON.parse(tree.read(`${pkgRoot}/package.json`, 'utf-8')!);
      expect(pkg).toMatchObject({
        name: `@acme/distill-gate-${kind}-x`,
        keywords: ['distill-gate-plugin'],
        dependencies: { '@distill-gate/core': '0.1.0' },
      });
      expect(JSON.parse(tree.read(`${pkgRoot}/tsconfig.json`, 'utf-8')!).extends).toBe('../../tsconfig.base.json');
      expect(JSON.parse(tree.read('tsconfig.json', 'utf-8')!).references).toEqual([{ path: pkgRoot }]);
      expect(tree.read(`${pkgRoot}/src/index.test.ts`, 'utf-8')).toContain('testPlugin(plugin');
      // Load the generated source (where @distill-gate/core resolves) and run the kit on it.
      const file = join(scratch(), 'index.ts');
      writeFileSync(file, tree.read(`${pkgRoot}/src/index.ts`, 'utf-8')!);
      const plugin = (await import(file)).default as AnyPlugin;
      expect(plugin.kind).toBe(kind);
      await testPlugin(plugin, {
        valid: [{}, { probes: 10 }],
        invalid: [{ options: { probes: 0 }, pointer: '/probes' }],
      });
      await expect(generator(tree, { name: `@acme/distill-gate-${kind}-x`, kind })).rejects.toThrow(/already exists/);
    });
  }
});
