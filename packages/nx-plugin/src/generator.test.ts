// The Nx generator on a virtual workspace tree; each generated plugin is then loaded and checked with the
// plugin test kit, exactly as its own generated test does.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { testPlugin, type AnyPlugin } from '@distill-gate/core';

const require = createRequire(import.meta.url);
const generator = require('./plugin/generator.cjs') as (tree: unknown, schema: object) => Promise<() => void>;
const scratch = join(import.meta.dirname, '..', '.tmp-generated');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('nx g @distill-gate/nx-plugin:plugin', () => {
  for (const kind of ['trait', 'generator', 'filter', 'evaluator']) {
    it(`scaffolds a ${kind} package that passes the plugin test kit`, async () => {
      const tree = createTreeWithEmptyWorkspace();
      tree.write('tsconfig.json', JSON.stringify({ files: [], references: [] }));
      await generator(tree, { name: `@acme/distill-gate-${kind}-x`, kind, directory: 'plugins' });
      const root = `plugins/distill-gate-${kind}-x`;
      const pkg = JSON.parse(tree.read(`${root}/package.json`, 'utf-8')!);
      expect(pkg).toMatchObject({
        name: `@acme/distill-gate-${kind}-x`,
        keywords: ['distill-gate-plugin'],
        dependencies: { '@distill-gate/core': '0.1.0' },
      });
      expect(JSON.parse(tree.read(`${root}/tsconfig.json`, 'utf-8')!).extends).toBe('../../tsconfig.base.json');
      expect(JSON.parse(tree.read('tsconfig.json', 'utf-8')!).references).toEqual([{ path: root }]);
      expect(tree.read(`${root}/src/index.test.ts`, 'utf-8')).toContain('testPlugin(plugin');
      // Load the generated source (inside this repository, so @distill-gate/core resolves) and run the kit on it.
      const file = join(scratch, kind, 'index.ts');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, tree.read(`${root}/src/index.ts`, 'utf-8')!);
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
