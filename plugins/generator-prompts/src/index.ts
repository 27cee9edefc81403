import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  defineGenerator,
  promptGeneratorHooks,
  samplingOptionsSchema,
  type SamplingOptions,
  type TextDataset,
} from '@distill-gate/core';

export interface PromptsOptions extends SamplingOptions {
  /** Prompts given inline. */
  prompts: string[];
  /** A text file with one prompt per line (relative to the config); blank lines are skipped. */
  file?: string;
  /** How many completions to draw per prompt. */
  repeat: number;
}

/** The prompts of the options: inline ones, then the file's lines, each `repeat` times. */
export function listPrompts(options: PromptsOptions, configDir: string): string[] {
  const fromFile = options.file
    ? readFileSync(resolve(configDir, options.file), 'utf8')
        .split(/\r?\n/)
        .filter((l) => l.trim())
    : [];
  const all = [...options.prompts, ...fromFile];
  if (!all.length) throw new Error('no prompts: give "prompts" or a "file" with one prompt per line');
  return all.flatMap((p) => Array.from({ length: options.repeat }, () => p));
}

/** A model's completions of a fixed list of prompts (inline or from a file): any text task a team wants to gate. */
const generator = defineGenerator<PromptsOptions, TextDataset>({
  name: '@distill-gate/generator-prompts',
  version: '0.1.0',
  description:
    'Completions of a fixed list of prompts (inline or one per line in a file), sampled from a language model.',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      prompts: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      file: { type: 'string', minLength: 1 },
      repeat: { type: 'integer', minimum: 1, default: 1 },
      ...samplingOptionsSchema,
    },
  },
  ...promptGeneratorHooks<PromptsOptions>('prompts', (options, _seed, configDir) => listPrompts(options, configDir)),
});

export default generator;
