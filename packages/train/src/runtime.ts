import { relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelHandle, StudentJob, TensorDataset, TrainedStudent, TrainingCore, TrainingProgress } from '@distill-gate/core';
import { DistillGateError } from '@distill-gate/core';
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
  const handles: MlpHandle[] = [];
  const shared = new WeakMap<TensorDataset, { inputs: Float32Array; targets: Float32Array }>();
  const track = (h: MlpHandle) => (handles.push(h), h);
  return {
    selected,
    backend: { name: selected.name, reason: selected.reason, workers, ...(selected.simd !== undefined ? { simd: selected.simd } : {}) },
    versions: numericVersions(selected),
    async loadModel(path: string) {
      const p = await loadMlp(path);
      return track(new MlpHandle(relative(process.cwd(), path) || path, p, selected.name));
    },
    readTensorDataset,
    writeTensorDataset,
    async trainStudents(jobs: StudentJob[], onProgress?: (p: TrainingProgress) => void): Promise<TrainedStudent[]> {
      const workerJobs: WorkerJob[] = jobs.map((job) => {
        if (!(job.init instanceof MlpHandle)) throw new DistillGateError(`job ${job.id}: the base is not a model this training core loaded`);
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
      const totals = new Map(jobs.map((j) => [j.id, stepsPerEpoch(j.data.rows, j.training.batchSize) * j.training.epochs]));
      const done = new Map<string, number>();
      const allSteps = [...totals.values()].reduce((a, b) => a + b, 0);
      const results: PoolResult[] = await runPool(workerJobs, {
        backend: selected.name,
        workers,
        onProgress: (jobId, steps, _total, finished) => {
          done.set(jobId, steps);
          const completedSteps = [...done.values()].reduce((a, b) => a + b, 0);
          onProgress?.({ jobId, completedSteps, totalSteps: allSteps, jobsDone: finished, jobsTotal: jobs.length });
        },
      });
      return results.map((r, i) => ({
        jobId: r.jobId,
        model: track(new MlpHandle(`student:${r.jobId}`, { layers: workerJobs[i].args.layers, tensors: r.weights }, selected.name)),
        lossHistory: r.lossHistory,
        steps: r.steps,
        ms: r.ms,
      }));
    },
    async dispose() {
      for (const h of handles) h.release();
    },
  };
}
