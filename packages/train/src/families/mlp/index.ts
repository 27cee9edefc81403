/**
 * The MLP family: a ReLU multi-layer perceptron over tensor data (the paper's MNIST probe). Stored as safetensors
 * (distill-gate's layout, tagged in its metadata) or ONNX (any chain of MatMul/Gemm, Add and Relu); trained on tfjs
 * or on distill-gate's ONNX training graph.
 */
import { DistillGateError, isTextDataset } from '@distill-gate/core';
import { toShared } from '../../shared-memory.js';
import type { ModelFamily } from '../family.js';
import { MlpHandle } from './handle.js';
import { hashParameters, isMlpSafetensors, mlpFromSafetensors, saveMlp } from './io.js';
import type { MlpParameters } from './model.js';
import { mlpFromGraph, saveMlpOnnx } from './onnx.js';
import { trainMlpOnnx } from './onnx-train.js';
import { trainMlp, type TrainMlpArgs } from './trainer.js';

/** An MLP training job as it travels to a worker. */
export type MlpJobArgs = Omit<TrainMlpArgs, 'backend' | 'onStep'>;

export const mlpFamily: ModelFamily<MlpParameters, MlpHandle, MlpJobArgs> = {
  name: 'mlp',
  label: { singular: 'MLP', one: 'an MLP' },
  formats: {
    onnx: {
      // ONNX files carry no family tag: any graph may be an MLP, and the importer names the first node that is not.
      recognise: async () => 'possible',
      read: async (source) => mlpFromGraph((await source.onnx()).graph, source.path),
      write: saveMlpOnnx,
    },
    safetensors: {
      recognise: async (source) => (isMlpSafetensors(await source.safetensorsHeader()) ? 'marked' : 'possible'),
      read: async (source) => mlpFromSafetensors(source.path, await source.safetensorsHeader()),
      // A model read from safetensors keeps its metadata.
      write: (path, params) =>
        saveMlp(path, params, 'metadata' in params ? (params.metadata as Record<string, string>) : {}),
    },
  },
  hash: (params) => hashParameters(params.tensors),
  handle: (id, params, target) => new MlpHandle(id, params, target.backend, target.provider),
  owns: (handle): handle is MlpHandle => handle instanceof MlpHandle,
  modelOf: (handle) => handle.params,
  withWeights: (params, weights) => ({ layers: params.layers, tensors: weights }),

  encodeJob(job, base, memo) {
    if (isTextDataset(job.data) || !job.training.outputs)
      throw new DistillGateError(`job ${job.id}: an MLP trains on tensor data over training.outputs`);
    if (job.training.loss === 'next-token')
      throw new DistillGateError(`job ${job.id}: loss "next-token" needs a language model`);
    const data = job.data;
    // In shared memory once per dataset: every worker reads the same bytes.
    const shared = memo(data, () => ({ inputs: toShared(data.inputs), targets: toShared(data.targets) }));
    return {
      layers: base.params.layers,
      init: base.params.tensors,
      data: { rows: data.rows, inputDim: data.inputDim, targetDim: data.targetDim, ...shared },
      loss: job.training.loss,
      outputs: job.training.outputs,
      epochs: job.training.epochs,
      batchSize: job.training.batchSize,
      learningRate: job.training.learningRate,
      seed: job.seed,
    };
  },

  async train(args, run) {
    if (run.engine === 'tfjs') return trainMlp({ ...args, backend: run.backend, onStep: run.onStep });
    const { init, seed, ...rest } = args;
    const [result] = await trainMlpOnnx({
      ...rest,
      inits: [init],
      seeds: [seed],
      threads: run.threads,
      onStep: run.onStep,
      claimCores: run.claimCores,
      returnCores: run.returnCores,
    });
    return result;
  },
};
