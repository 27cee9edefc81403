import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type {
  InferenceInfo,
  InferencePreference,
  TrainerInfo,
  TrainerPreference,
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
import { hashLanguageModel, type LanguageModelFile } from './lm-io.js';
import { readModelFile } from './convert.js';
import { detectOrtProviders, mlpToOnnx, OnnxMlpSession, type OrtProvider } from './onnx.js';
import { OnnxLmEngine, transformerToOnnx } from './onnx-lm.js';
import type { LmTrainingData } from './lm-trainer.js';
import { selectBackend, type BackendRequest, type SelectedBackend } from './backend.js';
import { MlpModel, type MlpParameters } from './mlp.js';
import { hashParameters, readTensorDataset, writeTensorDataset } from './model-io.js';
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
  private session: Promise<OnnxMlpSession> | undefined;

  /** With `provider`, inference runs in onnxruntime-node on that execution provider; else on the tfjs backend. */
  constructor(
    readonly id: string,
    readonly params: MlpParameters,
    private readonly backend: string,
    private readonly provider?: OrtProvider,
  ) {
    this.sha256 = hashParameters(params.tensors);
    this.inputDim = params.layers[0];
    this.outputDim = params.layers[params.layers.length - 1];
  }

  async predict(inputs: Float32Array, rows: number): Promise<Float32Array> {
    if (inputs.length !== rows * this.inputDim) {
      throw new Error(`predict: ${inputs.length} values is not ${rows} rows of ${this.inputDim}`);
    }
    if (this.provider) {
      this.session ??= OnnxMlpSession.create(this.params, { provider: this.provider });
      return (await this.session).predict(inputs, rows);
    }
    this.live ??= new MlpModel(this.params.layers, this.params.tensors, this.backend, false);
    return this.live.predict(inputs, rows);
  }

  toOnnx(): Uint8Array {
    return mlpToOnnx(this.params);
  }

  /** Frees the tfjs (or onnxruntime) copy of the weights (the host copy stays). */
  release(): void {
    this.live?.dispose();
    this.live = undefined;
    void this.session?.then(
      (s) => s.release(),
      () => undefined,
    );
    this.session = undefined;
  }
}

/** A causal language model held as host weights with its tokenizer; inference runs on the main thread. */
export class LmHandle implements LanguageModelHandle {
  readonly family = 'causal-lm';
  readonly sha256: string;
  readonly tokenizerSha256: string;
  readonly contextLength: number;
  private live: LanguageModel | undefined;

  /** With `provider`, inference runs in onnxruntime-node on that execution provider; else on the tfjs backend. */
  constructor(
    readonly id: string,
    readonly file: Omit<LanguageModelFile, 'metadata'>,
    private readonly backend: string,
    private readonly provider?: OrtProvider,
  ) {
    this.sha256 = hashLanguageModel(file);
    this.tokenizerSha256 = createHash('sha256').update(JSON.stringify(file.tokenizer.pieces)).digest('hex');
    this.contextLength = file.config.contextLength;
  }

  get lm(): LanguageModel {
    const provider = this.provider;
    this.live ??= new LanguageModel(
      this.file,
      this.file.tokenizer,
      provider ? (p) => OnnxLmEngine.create(p, { provider }) : this.backend,
    );
    return this.live;
  }

  async sequenceLogProbs(pairs: TextPair[]): Promise<Float64Array> {
    return this.lm.sequenceLogProbs(pairs);
  }

  async generate(prompts: string[], opts: SampleOptions): Promise<SampledCompletion[]> {
    return this.lm.generate(prompts, opts);
  }

  toOnnx(): Uint8Array {
    return transformerToOnnx(this.file);
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
    throw new DistillGateError(e.message, {
      file: data.metadata['distill-gate.source'],
      ...(r?.line ? { line: r.line } : { record: e.index }),
      pointer: `/${e.field}`,
    });
  }
}

export interface TrainingCoreOptions {
  backend?: BackendRequest;
  /** What runs inference (generation, evaluation); default auto: onnxruntime-node where it is installed. */
  inference?: InferencePreference;
  /** What trains the students; default auto: distill-gate's training graphs on onnxruntime-node where it is installed. */
  trainer?: TrainerPreference;
  /** Parallel training workers; default: number of cores (1 for the native backend, which threads itself). */
  workers?: number;
}

/** The versions of the numerical packages actually loaded. */
function numericVersions(selected: SelectedBackend): Record<string, string> {
  return { '@tensorflow/tfjs': tf.version.tfjs, [selected.provider]: selected.providerVersion };
}

/** Resolves the inference engine: onnxruntime-node (CUDA provider where usable, else CPU) or the tfjs backend. */
export async function chooseInference(request: InferencePreference, tfjsBackend: string): Promise<InferenceInfo> {
  if (request === 'tfjs') return { engine: 'tfjs', reason: `requested; runs on tfjs-${tfjsBackend}` };
  try {
    const ort = await detectOrtProviders();
    return {
      engine: 'onnxruntime',
      provider: ort.provider,
      version: ort.version,
      reason:
        request === 'onnxruntime'
          ? 'requested'
          : `auto: onnxruntime-node ${ort.version} is installed (several times faster than tfjs-${tfjsBackend} at inference; npm run bench:onnx)`,
      cuda: `${ort.cuda.available ? 'available' : 'not available'}: ${ort.cuda.reason}`,
    };
  } catch (e) {
    if (request === 'onnxruntime') throw e;
    return { engine: 'tfjs', reason: `auto: ${(e as Error).message}; runs on tfjs-${tfjsBackend}` };
  }
}

/**
 * Resolves what trains the students. auto takes distill-gate's training graphs on onnxruntime-node where it is
 * installed, except on the native tensorflow backend (which may be on a GPU, and threads itself).
 */
export async function chooseTrainer(request: TrainerPreference, tfjsBackend: string): Promise<TrainerInfo> {
  const tfjs = (reason: string): TrainerInfo => ({ engine: 'tfjs', reason });
  if (request === 'tfjs') return tfjs('requested');
  if (request === 'auto' && tfjsBackend === 'tensorflow') return tfjs('auto: the native tensorflow backend is in use');
  try {
    const ort = await detectOrtProviders();
    const reason =
      request === 'onnxruntime'
        ? 'requested'
        : `auto: onnxruntime-node ${ort.version} is installed (its training graphs run a step 5-7x faster than tfjs-${tfjsBackend}; npm run bench)`;
    return { engine: 'onnxruntime', version: ort.version, reason };
  } catch (e) {
    if (request === 'onnxruntime') throw e;
    return tfjs(`auto: ${(e as Error).message}`);
  }
}

/** Creates the training core: selects the backend, loads models and datasets, trains students in parallel. */
export async function createTrainingCore(
  opts: TrainingCoreOptions = {},
): Promise<TrainingCore & { readonly selected: SelectedBackend }> {
  const selected = await selectBackend(opts.backend ?? 'auto');
  const workers = opts.workers ?? (selected.name === 'tensorflow' ? 1 : defaultWorkerCount());
  const inference = await chooseInference(opts.inference ?? 'auto', selected.name);
  const trainer = await chooseTrainer(opts.trainer ?? 'auto', selected.name);
  // onnxruntime's intra-op threads per worker: the cores not taken by other workers.
  const ortThreads = Math.max(1, Math.floor(defaultWorkerCount() / workers));
  const provider = inference.engine === 'onnxruntime' ? (inference.provider as OrtProvider) : undefined;
  const handles: (MlpHandle | LmHandle)[] = [];
  const shared = new WeakMap<TensorDataset, { inputs: Float32Array; targets: Float32Array }>();
  const sharedText = new WeakMap<TextDataset, LmTrainingData>();
  const track = <H extends MlpHandle | LmHandle>(h: H) => (handles.push(h), h);
  return {
    selected,
    backend: {
      name: selected.name,
      reason: selected.reason,
      workers,
      ...(selected.simd !== undefined ? { simd: selected.simd } : {}),
      inference,
      training: trainer,
    },
    versions: {
      ...numericVersions(selected),
      ...((inference.version ?? trainer.version)
        ? { 'onnxruntime-node': (inference.version ?? trainer.version)! }
        : {}),
    },
    async loadModel(path: string, format?: ModelFormat) {
      const id = relative(process.cwd(), path) || path;
      const m = await readModelFile(path, format);
      return track(
        m.family === 'causal-lm'
          ? new LmHandle(id, m.file, selected.name, provider)
          : new MlpHandle(id, m.params, selected.name, provider),
      );
    },
    // In shared memory from the start: the workers train on these arrays, so they are not copied again for them.
    readTensorDataset: (path: string, opts?: { maxRows?: number }) =>
      readTensorDataset(path, { ...opts, shared: true }),
    writeTensorDataset,
    async trainStudents(
      jobs: StudentJob[],
      onProgress?: (p: TrainingProgress) => void,
      opts?: { deadline?: number },
    ): Promise<TrainedStudent[]> {
      const workerJobs: WorkerJob[] = jobs.map((job): WorkerJob => {
        if (job.init instanceof LmHandle) {
          if (!isTextDataset(job.data))
            throw new DistillGateError(`job ${job.id}: a language model trains on text records`);
          let data = sharedText.get(job.data);
          if (!data) {
            const enc = encodeTextDataset(job.init, job.data);
            data = {
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
            sharedText.set(job.data, data);
          }
          const t = job.training;
          return {
            jobId: job.id,
            family: 'causal-lm',
            engine: trainer.engine,
            threads: ortThreads,
            args: {
              config: job.init.file.config,
              init: job.init.file.tensors,
              data,
              epochs: t.epochs,
              batchSize: t.batchSize,
              learningRate: t.learningRate,
              seed: job.seed,
            },
          };
        }
        if (!(job.init instanceof MlpHandle))
          throw new DistillGateError(`job ${job.id}: the base is not a model this training core loaded`);
        if (isTextDataset(job.data) || !job.training.outputs)
          throw new DistillGateError(`job ${job.id}: an MLP trains on tensor data over training.outputs`);
        if (job.training.loss === 'next-token')
          throw new DistillGateError(`job ${job.id}: loss "next-token" needs a language model`);
        let data = shared.get(job.data);
        if (!data) {
          data = { inputs: toShared(job.data.inputs), targets: toShared(job.data.targets) };
          shared.set(job.data, data);
        }
        return {
          jobId: job.id,
          engine: trainer.engine,
          threads: ortThreads,
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
      const totals = new Map(
        jobs.map((j) => [
          j.id,
          stepsPerEpoch(isTextDataset(j.data) ? j.data.records.length : j.data.rows, j.training.batchSize) *
            j.training.epochs,
        ]),
      );
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
            ? track(new LmHandle(`student:${r.jobId}`, { ...init.file, tensors: r.weights }, selected.name, provider))
            : track(
                new MlpHandle(
                  `student:${r.jobId}`,
                  { layers: (init as MlpHandle).params.layers, tensors: r.weights },
                  selected.name,
                  provider,
                ),
              );
        trained.push({ jobId: r.jobId, model, lossHistory: r.lossHistory, steps: r.steps, ms: r.ms });
      });
      return trained;
    },
    async dispose() {
      for (const h of handles) h.release();
    },
  };
}
