/** What both calibration commands build their datasets with. */
import { SeededRandom, type GeneratorPlugin, type TensorDataset, type TextDataset } from '@distill-gate/core';
import { builtinPlugins } from 'distill-gate';

export type AnyGenerator = GeneratorPlugin<Record<string, unknown>, TensorDataset | TextDataset>;

/** A built-in generator plugin by name. */
export const generator = (name: string) => builtinPlugins.get(name) as AnyGenerator;

/** A plugin's options as a config would resolve them: its schema's defaults, then the given ones. */
export function withDefaults(plugin: AnyGenerator, options: Record<string, unknown>): Record<string, unknown> {
  const props = (plugin.optionsSchema as { properties?: Record<string, { default?: unknown }> }).properties ?? {};
  return { ...Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.default])), ...options };
}

/**
 * The base's dataset with each row's targets taken from the teacher's (same noise input) with probability f:
 * a dilution of the teacher's data. The draw is seeded by (seed, f).
 */
export function mixTeacherRows(base: TensorDataset, teacher: TensorDataset, f: number, seed: number): TensorDataset {
  const rng = new SeededRandom(seed).fork(`mix-${f}`);
  const targets = new Float32Array(base.targets);
  const d = teacher.targetDim;
  for (let i = 0; i < base.rows; i++) {
    if (rng.next() < f) targets.set(teacher.targets.subarray(i * d, (i + 1) * d), i * d);
  }
  return { ...base, targets };
}
