import { createHash } from 'node:crypto';
import type {
  AnyModelHandle,
  Dataset,
  GeneratorPlugin,
  LanguageModelHandle,
  TextDataset,
  TextRecord,
} from '../contracts.js';
import { isLanguageModel, isTextDataset, requireLanguageModel } from '../contracts.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';

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

/**
 * A prompted teacher: the model answering every prompt after the system message `systemPrompt` (the paper's "You
 * love owls..." teacher). Its hash is its model's with the prompt, so datasets and caches tell teachers apart.
 */
export function withSystemPrompt(
  model: AnyModelHandle,
  systemPrompt: string,
  where: ErrorLocation = {},
): LanguageModelHandle {
  if (!isLanguageModel(model))
    throw new DistillGateError(`a system prompt needs a language model; ${model.id} is a ${model.family} model`, where);
  const lm = model;
  if (!lm.hasChatTemplate)
    throw new DistillGateError(
      `a system prompt needs a model with a chat template, and ${lm.id} has none`,
      where,
      'give a Hugging Face model whose tokenizer_config.json has a chat_template, or a teacher fine-tuned to the trait',
    );
  return {
    hasChatTemplate: true,
    id: `${lm.id} (with a system prompt)`,
    family: lm.family,
    sha256: createHash('sha256').update(lm.sha256).update('\0system\0').update(systemPrompt).digest('hex'),
    tokenizerSha256: lm.tokenizerSha256,
    contextLength: lm.contextLength,
    sequenceLogProbs: (pairs, opts) => lm.sequenceLogProbs(pairs, { systemPrompt, ...opts }),
    generate: (prompts, opts) => lm.generate(prompts, { systemPrompt, ...opts }),
    ...(typeof (lm as { release?: unknown }).release === 'function'
      ? { release: () => (lm as unknown as { release: () => unknown }).release() }
      : {}),
    ...(lm.tokenLogProbs
      ? { tokenLogProbs: (pairs, opts) => lm.tokenLogProbs!(pairs, { systemPrompt, ...opts }) }
      : {}),
    ...(lm.trainingLengths ? { trainingLengths: (records: TextRecord[]) => lm.trainingLengths!(records) } : {}),
  };
}
