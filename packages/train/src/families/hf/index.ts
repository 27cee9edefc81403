/**
 * Hugging Face causal LMs (GPT-2, Llama incl. SmolLM/TinyLlama, Mistral, Qwen2, Qwen3): a model folder read as it
 * is saved (config.json, safetensors weights in F32/F16/BF16, single or sharded, tokenizer.json, chat template) and
 * run in onnxruntime-node for exact per-token log-probabilities and sampling. Students are LoRA adapters on the frozen
 * base (students.ts). A fine-tuned or freshly initialised model is written as a folder by save.ts.
 */
import { existsSync } from 'node:fs';
import { DistillGateError, isTextDataset } from '@distill-gate/core';
import { encodeLocated } from '../records.js';
import { join } from 'node:path';
import type { ModelFamily } from '../family.js';
import { detectOrtProviders, type OrtProvider } from '../../onnx/runtime.js';
import type { HfArchitecture } from './config.js';
import { readHfModelFolder } from './folder.js';
import { buildHfGraph } from './graph.js';
import { HfHandle, notYetSupported } from './handle.js';
import {
  DEFAULT_LORA,
  encodeHfExamples,
  hfJobArgs,
  fullyTrained,
  studentAdapters,
  trainHfJob,
  type HfJobArgs,
  type HfFamilyModel,
} from './students.js';
import { HfSession, type HfSessionOptions } from './session.js';
import type { HfTokenizer } from './tokenizer.js';

export type { HfArchitecture, HfModelType, HfActivation } from './config.js';
export { HF_MODEL_TYPES, parseHfConfig } from './config.js';
export { HfTokenizer, type HfChatMessage, type HfEncoding, type RenderChatOptions } from './tokenizer.js';
export { HfHandle } from './handle.js';
export { readHfModelFolder, type HfModelFolder } from './folder.js';
export { estimateLoadPeak } from './weights.js';
export { saveHfModelFolder, createHfModelFolder, type SaveHfModelOptions, type CreateHfModelOptions } from './save.js';

/** A Hugging Face model loaded for scoring. */
export interface HfModel {
  dir: string;
  /** config.json as written. */
  config: Record<string, unknown>;
  architecture: HfArchitecture;
  tokenizer: HfTokenizer;
  /** SHA-256 of the architecture, the weights (float32, by name) and the tokenizer. */
  sha256: string;
  /** Where it runs. */
  provider: OrtProvider;
  /** The longest sequence it reads (config.json's max positions). */
  contextLength: number;
  /**
   * logprobs[r][t] = log p(ids[r][t] | ids[r][<t]): natural log, float32 precision, null at t = 0. Sequences are
   * batched by length within the memory budget.
   */
  logprobs(ids: number[][]): Promise<(number | null)[][]>;
  /** Frees onnxruntime's copy of the weights. */
  release(): Promise<void>;
}

export interface LoadHfModelOptions extends Omit<HfSessionOptions, 'provider'> {
  /** cpu, cuda, or auto (default): CUDA where onnxruntime's CUDA provider works. */
  provider?: OrtProvider | 'auto';
}

/**
 * Loads a Hugging Face model folder for exact log-probabilities. The host copy of the weights is dropped once
 * onnxruntime holds them.
 */
export async function loadHfModel(dir: string, opts: LoadHfModelOptions = {}): Promise<HfModel> {
  const folder = await readHfModelFolder(dir);
  const provider = !opts.provider || opts.provider === 'auto' ? (await detectOrtProviders()).provider : opts.provider;
  // The large weights stay in their arena, which the graph references as external data (not copied into the
  // protobuf); the host copy is dropped once onnxruntime has made its own.
  const session = await HfSession.fromGraph(folder.architecture, buildHfGraph(folder.architecture, folder.weights), {
    ...opts,
    provider,
  });
  folder.weights.tensors.clear();
  folder.weights.arena = undefined;
  const { config, architecture, tokenizer, sha256 } = folder;
  return {
    dir,
    config,
    architecture,
    tokenizer,
    sha256,
    provider,
    contextLength: architecture.maxPositions,
    logprobs: (ids) => session.logprobs(ids),
    release: () => session.release(),
  };
}

export const hfFamily: ModelFamily<HfFamilyModel, HfHandle, HfJobArgs> = {
  name: 'hf',
  label: { singular: 'Hugging Face model', one: 'a Hugging Face model' },
  formats: {
    hf: {
      // A folder is either a Hugging Face model or nothing distill-gate reads: the reader says what it lacks.
      recognise: async (source) => (existsSync(join(source.path, 'config.json')) ? 'marked' : 'possible'),
      read: (source) => readHfModelFolder(source.path),
    },
  },
  hash: (model) => model.sha256,
  handle: (id, model, target) => new HfHandle(id, model, target.provider ?? 'cpu'),
  owns: (handle): handle is HfHandle => handle instanceof HfHandle,
  modelOf: (handle) => handle.model,
  // Students train LoRA adapters: the paper's configuration unless training.lora says otherwise.
  trainingSettings(training) {
    if (training.method === 'full') {
      if (training.lora) throw new Error('training.lora applies to LoRA students; training.method is "full"');
      return training;
    }
    return { ...training, method: 'lora', lora: { ...DEFAULT_LORA, ...training.lora } };
  },
  withWeights: (model, weights, job) =>
    job.training.method === 'full'
      ? fullyTrained(model, weights)
      : { ...model, adapters: studentAdapters(model, job.training.lora ?? DEFAULT_LORA, weights) },
  // Measured peaks of one LoRA training process (docs/performance.md): about 5.5-6.5x the float32 weights with
  // node's own; full fine-tuning adds the gradients and Adam's two moments of every weight.
  workerMemory: (model, training) => {
    const weightBytes = model.weights.specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
    return (training.method === 'full' ? 9 : 6) * weightBytes + 512 * 2 ** 20;
  },
  encodeJob(job, base, memo) {
    if (!isTextDataset(job.data)) throw new DistillGateError(`job ${job.id}: a language model trains on text records`);
    if (base.model.adapters) throw notYetSupported('training students from a student', base.model.dir);
    const text = job.data;
    const overlong = job.training.overlong ?? 'error';
    const examples = memo(text, () => encodeLocated(text, () => encodeHfExamples(base.model, text.records, overlong)));
    return hfJobArgs(base.model, examples, job.training, job.seed);
  },
  train: (args, run) => trainHfJob(args, run),
};
