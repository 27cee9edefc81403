// The custom trait, tested the way a plugin author would: the plugin test kit from @distill-gate/core. The small
// real check through the CLI is in index.e2e.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testPlugin } from '@distill-gate/core';
import trait from './index.js';

const here = join(import.meta.dirname, '..');

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
});
