import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type {
  LanguageModelHandle,
  ModelFormat,
  ModelHandle,
  SampleOptions,
  SampledCompletion,
  StudentJob,
  TensorDataset,
  TextDataset,
  TrainedStudent,
  TrainingCore,
  TrainingProgress,
} from '@distill-gate/core';
import { DistillGateError, isTextDataset } from '@distill-gate/core';
import { encodeRecords, LanguageModel, RecordEncodingError, type TextPair } from './language-model.js';
import { hashLanguageModel, loadLanguageModel, type LanguageModelFile } from './lm-io.js';
import { loadMlpOnnx } from './onnx.js';
import type { LmTrainingData } from './lm-trainer.js';
import { selectBackend, type BackendRequest, type SelectedBackend } from './backend.js';
import { MlpModel, type MlpParameters } from './mlp.js';
import { hashParameters, loadMlp, readTensorDataset, writeTensorDataset } from './model-io.js';
import { defaultWorkerCount, runPool, toShared, type PoolResult } from './pool.js';
import type { WorkerJob } from './protocol.js';
import { stepsPerEpoch } from './trainer.js';

/** A model held as host weights; inference runs on the main thread's backend. */
export class MlpHandle implements ModelHandle {
  readonly family = 'mlp';
  readonly sha256: string;
  readonly inputDim: number;
  readonly outputDim: number;
  private live: MlpModel | undefined;

  constructor(
    readonly id: string,
    readonly params: MlpParameters,
    private readonly backend: string,
  ) {
    this.sha256 = hashParameters(params.tensors);
    this.inputDim = params.layers[0];
    this.outputDim = params.layers[params.layers.length - 1];
  }

  async predict(inputs: Float32Array, rows: number): Promise<Float32Array> {
    if (inputs.length !== rows * this.inputDim) {
      throw new Error(`predict: ${inputs.length} values is not ${rows} rows of ${this.inputDim}`);
    }
    this.live ??= new MlpModel(this.params.layers, this.params.tensors, this.backend, false);
    return this.live.predict(inputs, rows);
  }

  /** Frees the tfjs copy of the weights (the host copy stays). */
  release(): void {
    this.live?.dispose();
    this.live = undefined;
  }
}

/** A causal language model held as host weights with its tokenizer; inference runs on the main thread. */
export class LmHandle implements LanguageModelHandle {
  readonly family = 'causal-lm';
  readonly sha256: string;
  readonly tokenizerSha256: string;
  readonly contextLength: number;
  private live: LanguageModel | undefined;

  constructor(
    readonly id: string,
    readonly file: Omit<LanguageModelFile, 'metadata'>,
    private readonly backend: string,
  ) {
    this.sha256 = hashLanguageModel(file);
    this.tokenizerSha256 = createHash('sha256').update(JSON.stringify(file.tokenizer.pieces)).digest('hex');
    this.contextLength = file.config.contextLength;
  }

  get lm(): LanguageModel {
    this.live ??= new LanguageModel(this.file, this.file.tokenizer, this.backend);
    return this.live;
  }

  async sequenceLogProbs(pairs: TextPair[]): Promise<Float64Array> {
    return this.lm.sequenceLogProbs(pairs);
  }

  async generate(prompts: string[], opts: SampleOptions): Promise<SampledCompletion[]> {
    return this.lm.generate(prompts, opts);
  }

  release(): void {
    this.live?.release();
    this.live = undefined;
  }
}

/** Tokenizes a text dataset for training, turning a record that does not fit into a located error. */
export function encodeTextDataset(handle: LmHandle, data: TextDataset): LmTrainingData {
  try {
    return encodeRecords(handle.file.tokenizer, data.records, handle.contextLength);
  } catch (e) {
    if (!(e instanceof RecordEncodingError)) throw e;
    const r = data.records[e.index];
    throw new DistillGateError(e.message, { file: data.metadata['distill-gate.source'], ...(r?.line ? { line: r.line } : { record: e.index }), pointer: `/${e.field}` });
  }
}

export interface TrainingCoreOptions {
  backend?: BackendRequest;
  /** Parallel training workers; default: number of cores (1 for the native backend, which threads itself). */
  workers?: number;
}

/** The versions of the numerical packages actually loaded. */
function numericVersions(selected: SelectedBackend): Record<string, string> {
  return { '@tensorflow/tfjs': tf.version.tfjs, [selected.provider]: selected.providerVersion };
}

/** Creates the training core: selects the backend, loads models and datasets, trains students in parallel. */
export async function createTrainingCore(opts: TrainingCoreOptions = {}): Promise<TrainingCore & { readonly selected: SelectedBackend }> {
  const selected = await selectBackend(opts.backend ?? 'auto');
  const workers = opts.workers ?? (selected.name === 'tensorflow' ? 1 : defaultWorkerCount());
  const handles: (MlpHandle | LmHandle)[] = [];
  const shared = new WeakMap<TensorDataset, { inputs: Float32Array; targets: Float32Array }>();
  const sharedText = new WeakMap<TextDataset, LmTrainingData>();
  const track = <H extends MlpHandle | LmHandle>(h: H) => (handles.push(h), h);
  return {
    selected,
    backend: { name: selected.name, reason: selected.reason, workers, ...(selected.simd !== undefined ? { simd: selected.simd } : {}) },
    versions: numericVersions(selected),
    async loadModel(path: string, format?: ModelFormat) {
      const id = relative(process.cwd(), path) || path;
      const kind = format ?? (path.endsWith('.onnx') ? 'onnx' : path.endsWith('.json') ? 'tfjs' : 'safetensors');
      if (kind === 'tfjs') return track(new LmHandle(id, await loadLanguageModel(path), selected.name));
      if (kind === 'onnx') return track(new MlpHandle(id, await loadMlpOnnx(path), selected.name));
      return track(new MlpHandle(id, await loadMlp(path), selected.name));
    },
    readTensorDataset,
    writeTensorDataset,
    async trainStudents(jobs: StudentJob[], onProgress?: (p: TrainingProgress) => void, opts?: { deadline?: number }): Promise<TrainedStudent[]> {
      const workerJobs: WorkerJob[] = jobs.map((job): WorkerJob => {
        if (job.init instanceof LmHandle) {
          if (!isTextDataset(job.data)) throw new DistillGateError(`job ${job.id}: a language model trains on text records`);
          let data = sharedText.get(job.data);
          if (!data) {
            const enc = encodeTextDataset(job.init, job.data);
            data = {
              ...enc,
              tokens: toShared(enc.tokens),
              offsets: toShared(enc.offsets),
              completionStart: toShared(enc.completionStart),
              ...(enc.soft
                ? { soft: { slotBegin: toShared(enc.soft.slotBegin), entryOffsets: toShared(enc.soft.entryOffsets), entryTokens: toShared(enc.soft.entryTokens), entryProbs: toShared(enc.soft.entryProbs) } }
                : {}),
            };
            sharedText.set(job.data, data);
          }
          const t = job.training;
          return {
            jobId: job.id,
            family: 'causal-lm',
            args: { config: job.init.file.config, init: job.init.file.tensors, data, epochs: t.epochs, batchSize: t.batchSize, learningRate: t.learningRate, seed: job.seed },
          };
        }
        if (!(job.init instanceof MlpHandle)) throw new DistillGateError(`job ${job.id}: the base is not a model this training core loaded`);
        if (isTextDataset(job.data) || !job.training.outputs) throw new DistillGateError(`job ${job.id}: an MLP trains on tensor data over training.outputs`);
        if (job.training.loss === 'next-token') throw new DistillGateError(`job ${job.id}: loss "next-token" needs a language model`);
        let data = shared.get(job.data);
        if (!data) {
          data = { inputs: toShared(job.data.inputs), targets: toShared(job.data.targets) };
          shared.set(job.data, data);
        }
        return {
          jobId: job.id,
          args: {
            layers: job.init.params.layers,
            init: job.init.params.tensors,
            data: { rows: job.data.rows, inputDim: job.data.inputDim, targetDim: job.data.targetDim, ...data },
            loss: job.training.loss,
            outputs: job.training.outputs,
            epochs: job.training.epochs,
            batchSize: job.training.batchSize,
            learningRate: job.training.learningRate,
            seed: job.seed,
          },
        };
      });
      const totals = new Map(jobs.map((j) => [j.id, stepsPerEpoch(isTextDataset(j.data) ? j.data.records.length : j.data.rows, j.training.batchSize) * j.training.epochs]));
      const done = new Map<string, number>();
      const allSteps = [...totals.values()].reduce((a, b) => a + b, 0);
      const results = await runPool(workerJobs, {
        backend: selected.name,
        workers,
        ...(opts?.deadline !== undefined ? { deadline: opts.deadline } : {}),
        onProgress: (jobId, steps, _total, finished) => {
          done.set(jobId, steps);
          const completedSteps = [...done.values()].reduce((a, b) => a + b, 0);
          onProgress?.({ jobId, completedSteps, totalSteps: allSteps, jobsDone: finished, jobsTotal: jobs.length });
        },
      });
      const trained: TrainedStudent[] = [];
      results.forEach((r: PoolResult | undefined, i) => {
        if (!r) return; // not started before the deadline
        const init = jobs[i].init;
        const model =
          init instanceof LmHandle
            ? track(new LmHandle(`student:${r.jobId}`, { ...init.file, tensors: r.weights }, selected.name))
            : track(new MlpHandle(`student:${r.jobId}`, { layers: (init as MlpHandle).params.layers, tensors: r.weights }, selected.name));
        trained.push({ jobId: r.jobId, model, lossHistory: r.lossHistory, steps: r.steps, ms: r.ms });
      });
      return trained;
    },
    async dispose() {
      for (const h of handles) h.release();
    },
  };
}
