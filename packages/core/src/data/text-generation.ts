import type { AnyModelHandle, Dataset, GeneratorPlugin, TextDataset, TextRecord } from '../contracts.js';
import { isTextDataset, requireLanguageModel } from '../contracts.js';

/** Sampling settings shared by the text generators' options. */
export interface SamplingOptions {
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Keep the model's top-k log-probabilities per token as soft targets (0: none). */
  topLogprobs: number;
}

/** JSON Schema properties for `SamplingOptions`, with defaults; spread into a generator's optionsSchema. */
export const samplingOptionsSchema = {
  temperature: { type: 'number', minimum: 0, default: 1, description: 'Sampling temperature (0: greedy).' },
  topP: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 1, description: 'Nucleus sampling mass.' },
  maxTokens: { type: 'integer', minimum: 1, default: 40 },
  topLogprobs: {
    type: 'integer',
    minimum: 0,
    maximum: 64,
    default: 8,
    description: "Keep the model's top-k log-probabilities per token (soft targets); 0 keeps none.",
  },
} as const;

/**
 * Has a language model answer prompts and returns the text dataset (what every text generator does once it has
 * its prompts). The same prompts, model and seed give the same records.
 */
export async function completePrompts(
  model: AnyModelHandle,
  prompts: string[],
  sampling: SamplingOptions,
  seed: number,
  purpose: string,
  metadata: Record<string, string>,
): Promise<TextDataset> {
  const lm = requireLanguageModel(model, purpose);
  const out = await lm.generate(prompts, { ...sampling, seed, topLogprobs: sampling.topLogprobs || undefined });
  const records: TextRecord[] = out.map((o, index) => ({
    index,
    line: 0,
    prompt: prompts[index],
    completion: o.completion,
    ...(o.logprobs ? { tokens: o.tokens, logprobs: o.logprobs } : {}),
  }));
  return {
    kind: 'text',
    records,
    metadata: { ...metadata, 'distill-gate.model': lm.sha256, 'distill-gate.seed': String(seed) },
  };
}

/**
 * The two hooks of a text generator whose prompts come from a seeded function: `generate` makes its prompts
 * and has the model answer them; `complete` has the model answer an existing dataset's prompts.
 */
export function promptGeneratorHooks<O extends SamplingOptions>(
  purpose: string,
  makePrompts: (options: O, seed: number, configDir: string) => string[],
): Pick<GeneratorPlugin<O, TextDataset>, 'generate' | 'complete'> {
  const metadata = { 'distill-gate.generator': purpose };
  return {
    generate: async ({ model, seed, options, configDir }) =>
      completePrompts(model, makePrompts(options, seed, configDir), options, seed, purpose, metadata),
    complete: async ({ model, dataset, options, seed }) =>
      completePrompts(model, promptsOf(dataset, purpose), options, seed ?? 0, purpose, metadata),
  };
}

/** The prompts of a text dataset (for a prompt-matched control), or an error for tensor data. */
export function promptsOf(dataset: Dataset, purpose: string): string[] {
  if (!isTextDataset(dataset)) throw new Error(`${purpose} completes text prompts; the dataset holds tensors`);
  return dataset.records.map((r) => r.prompt);
}
