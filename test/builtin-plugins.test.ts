// Every built-in plugin passes the same plugin test kit that third-party plugin authors use.
import { describe, it } from 'vitest';
import { testPlugin } from '@distill-gate/core';
import { builtinPlugins } from '@distill-gate/cli';

describe('built-in plugins pass the plugin test kit', () => {
  const invalid: Record<string, { options: unknown; pointer: string }[]> = {
    '@distill-gate/trait-hidden-class-knowledge': [{ options: { testSize: 0 }, pointer: '/testSize' }],
    '@distill-gate/generator-auxiliary-logits': [{ options: { count: 0 }, pointer: '/count' }],
    '@distill-gate/filter-auxiliary-outputs-only': [{ options: { auxiliary: { start: 10 } }, pointer: '/auxiliary' }],
    '@distill-gate/evaluator-task-accuracy': [{ options: { unknown: 1 }, pointer: '/unknown' }],
  };
  for (const plugin of builtinPlugins.values()) {
    it(plugin.name, async () => {
      const valid = plugin.kind === 'generator' ? [{ count: 256 }] : [{}];
      await testPlugin(plugin, { valid, invalid: invalid[plugin.name] });
    });
  }
});
