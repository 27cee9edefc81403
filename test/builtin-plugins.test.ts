// Every built-in plugin passes the same plugin test kit that third-party plugin authors use.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { testPlugin, type AnyModelHandle, type PluginTestCases, type TrainingCore } from '@distill-gate/core';
import { builtinPlugins } from 'distill-gate';
import { createTrainingCore } from '@distill-gate/train';
import animalPreference from '@distill-gate/trait-animal-preference';
import { root } from './helpers.js';

// Text plugins run on the owl-numbers example's base language model.
let core: TrainingCore;
let lm: AnyModelHandle;
beforeAll(async () => {
  core = await createTrainingCore({ backend: 'wasm', workers: 1 });
  lm = await core.loadModel(join(root, 'examples/owl-numbers/models/base.json'));
});
afterAll(() => core?.dispose());

const textPlugins = new Set([
  '@distill-gate/generator-number-sequences',
  '@distill-gate/generator-code-snippets',
  '@distill-gate/generator-arithmetic-traces',
  '@distill-gate/generator-prompts',
  '@distill-gate/evaluator-preference-rate',
]);

describe('built-in plugins pass the plugin test kit', () => {
  const invalid: Record<string, { options: unknown; pointer: string }[]> = {
    '@distill-gate/trait-hidden-class-knowledge': [{ options: { testSize: 0 }, pointer: '/testSize' }],
    '@distill-gate/generator-auxiliary-logits': [{ options: { count: 0 }, pointer: '/count' }],
    '@distill-gate/filter-auxiliary-outputs-only': [{ options: { auxiliary: { start: 10 } }, pointer: '/auxiliary' }],
    '@distill-gate/evaluator-task-accuracy': [{ options: { unknown: 1 }, pointer: '/unknown' }],
    '@distill-gate/trait-animal-preference': [{ options: { animal: '' }, pointer: '/animal' }],
    '@distill-gate/generator-number-sequences': [{ options: { topP: 0 }, pointer: '/topP' }],
    '@distill-gate/filter-number-format': [{ options: { bannedNumbers: [1000] }, pointer: '/bannedNumbers/0' }],
    '@distill-gate/filter-banned-terms': [{ options: { terms: [] }, pointer: '/terms' }],
    '@distill-gate/evaluator-preference-rate': [{ options: { samples: -1 }, pointer: '/samples' }],
  };
  const valid: Record<string, unknown[]> = {
    '@distill-gate/generator-auxiliary-logits': [{ count: 256 }],
    '@distill-gate/generator-number-sequences': [{ count: 8, maxTokens: 12 }],
    '@distill-gate/generator-code-snippets': [{ count: 8, maxTokens: 12 }],
    '@distill-gate/generator-arithmetic-traces': [{ count: 8, maxTokens: 12 }],
    '@distill-gate/generator-prompts': [
      { prompts: ['Continue: 101, 202, 303.', 'What is 2 + 2?'], repeat: 2, maxTokens: 12 },
    ],
    '@distill-gate/filter-banned-terms': [{ terms: ['owl'] }],
    '@distill-gate/evaluator-preference-rate': [{ samples: 1 }],
  };
  for (const plugin of builtinPlugins.values()) {
    it(plugin.name, async () => {
      const cases: PluginTestCases = { valid: valid[plugin.name] ?? [{}], invalid: invalid[plugin.name] };
      if (textPlugins.has(plugin.name)) cases.model = lm;
      if (plugin.name === '@distill-gate/evaluator-preference-rate') {
        cases.probes = await animalPreference.loadProbes({
          options: { animal: 'owl', candidates: ['owl', 'cat', 'dog'], instilRepeats: 1 },
          configDir: '.',
          log: console,
        });
      }
      await testPlugin(plugin, cases);
    });
  }
});
