/**
 * The small causal language model family: distill-gate's own pre-norm transformer with its piece tokenizer (the
 * owl-numbers probe). Stored in the TensorFlow.js layout (model.json beside its weights) or as one ONNX file (a
 * KV-cache decoding graph, config and tokenizer in its metadata); trained on tfjs or on distill-gate's ONNX training
 * graph.
 */
import { DistillGateError, isTextDataset } from '@distill-gate/core';
import { toShared } from '../../shared-memory.js';
import type { ModelFamily } from '../family.js';
import { encodeTextDataset, LmHandle } from './handle.js';
import {
  hashLanguageModel,
  isLanguageModelJson,
  languageModelFromJson,
  saveLanguageModel,
  type LanguageModelFile,
} from './io.js';
import { isLanguageModelOnnx, saveLanguageModelOnnx, transformerFromGraph } from './onnx.js';
import { trainLmOnnx } from './onnx-train.js';
import { trainLm, type LmTrainingData, type TrainLmArgs } from './trainer.js';

/** A language model training job as it travels to a worker. */
export type SmallLmJobArgs = Omit<TrainLmArgs, 'backend' | 'onStep'>;

/** Tokenized records in shared memory, so that every worker reads the same bytes. */
function shareLmData(enc: LmTrainingData): LmTrainingData {
  return {
    ...enc,
    tokens: toShared(enc.tokens),
    offsets: toShared(enc.offsets),
    completionStart: toShared(enc.completionStart),
    ...(enc.soft
      ? {
          soft: {
            slotBegin: toShared(enc.soft.slotBegin),
            entryOffsets: toShared(enc.soft.entryOffsets),
            entryTokens: toShared(enc.soft.entryTokens),
            entryProbs: toShared(enc.soft.entryProbs),
          },
        }
      : {}),
  };
}

export const smallLmFamily: ModelFamily<LanguageModelFile, LmHandle, SmallLmJobArgs> = {
  name: 'small-lm',
  label: { singular: 'language model', one: 'a language model' },
  formats: {
    onnx: {
      recognise: async (source) => (isLanguageModelOnnx(await source.onnx()) ? 'marked' : undefined),
      read: async (source) => transformerFromGraph(await source.onnx(), source.path),
      write: saveLanguageModelOnnx,
    },
    tfjs: {
      // The tfjs layout holds only this family; its reader says what an untagged file lacks.
      recognise: async (source) => (isLanguageModelJson(await source.json()) ? 'marked' : 'possible'),
      read: async (source) => languageModelFromJson(await source.json(), source.path),
      write: saveLanguageModel,
    },
  },
  hash: hashLanguageModel,
  handle: (id, file, target) => new LmHandle(id, file, target.backend, target.provider),
  owns: (handle): handle is LmHandle => handle instanceof LmHandle,
  // A handle made from weights alone (no file) has no metadata.
  modelOf: (handle) => ({ metadata: {}, ...handle.file }),
  withWeights: (file, weights) => ({ ...file, tensors: weights }),

  encodeJob(job, base, memo) {
    if (!isTextDataset(job.data)) throw new DistillGateError(`job ${job.id}: a language model trains on text records`);
    const text = job.data;
    const truncate = job.training.overlong === 'truncate';
    const data = memo(text, () => shareLmData(encodeTextDataset(base, text, { truncate })));
    const t = job.training;
    return {
      config: base.file.config,
      init: base.file.tensors,
      data,
      epochs: t.epochs,
      batchSize: t.batchSize,
      learningRate: t.learningRate,
      seed: job.seed,
    };
  },

  async train(args, run) {
    return run.engine === 'onnxruntime'
      ? trainLmOnnx({ ...args, threads: run.threads, onStep: run.onStep })
      : trainLm({ ...args, backend: run.backend, onStep: run.onStep });
  },
};
