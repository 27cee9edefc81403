/**
 * The training core the engine uses: selects the tfjs backend and the inference and training engines, loads models
 * through the family registry and trains students on a pool of workers. Nothing here knows a model family: the
 * registry finds the family of a file or handle, and the family encodes, trains and wraps its models.
 */
import { relative } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type {
  BackendInfo,
  InferenceInfo,
  InferencePreference,
  ModelFormat,
  StudentJob,
  TrainedStudent,
  TrainerInfo,
  TrainerPreference,
  TrainingCore,
  TrainingProgress,
  TensorReadOptions,
} from '@distill-gate/core';
import { DistillGateError, isTextDataset } from '@distill-gate/core';
import { selectBackend, type BackendRequest, type SelectedBackend } from './backend.js';
import type { FamilyHandle, InferenceTarget, Memo, ModelFamily } from './families/family.js';
import { familyOf, ownedHandle, readModelFile } from './families/registry.js';
import { detectOrtProviders, type OrtProvider } from './onnx/runtime.js';
import { readTensorDataset, writeTensorDataset } from './tensor-dataset.js';
import { stepsPerEpoch } from './training-run.js';
import { availableMemory } from './memory.js';
import { defaultWorkerCount, WorkerPool, type PoolResult } from './workers/pool.js';
import type { WorkerJob } from './workers/protocol.js';

export interface TrainingCoreOptions {
  backend?: BackendRequest;
  /** What runs inference (generation, evaluation); default auto: onnxruntime-node where it is installed. */
  inference?: InferencePreference;
  /**
   * What trains the students; default auto: distill-gate's training graphs on onnxruntime-node where it is
   * installed.
   */
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
          : `auto: onnxruntime-node ${ort.version} is installed ` +
            `(several times faster than tfjs-${tfjsBackend} at inference; npm run bench:onnx)`,
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
        : `auto: onnxruntime-node ${ort.version} is installed ` +
          `(its training graphs run a step 5-7x faster than tfjs-${tfjsBackend}; npm run bench)`;
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
  const target: InferenceTarget = {
    backend: selected.name,
    provider: inference.engine === 'onnxruntime' ? (inference.provider as OrtProvider) : undefined,
  };
  const handles: FamilyHandle[] = [];
  const track = <H extends FamilyHandle>(h: H) => (handles.push(h), h);
  const students: StudentPool = {
    pool: new WorkerPool(selected.name),
    workers,
    engine: trainer.engine,
    // onnxruntime's intra-op threads per worker: the cores not taken by other workers.
    ortThreads: Math.max(1, Math.floor(defaultWorkerCount() / workers)),
    target,
    memo: familyMemos(),
    track,
  };
  return {
    selected,
    backend: backendInfo(selected, workers, inference, trainer),
    versions: {
      ...numericVersions(selected),
      ...((inference.version ?? trainer.version)
        ? { 'onnxruntime-node': (inference.version ?? trainer.version)! }
        : {}),
    },
    async loadModel(path: string, format?: ModelFormat) {
      const id = relative(process.cwd(), path) || path;
      const m = await readModelFile(path, format);
      return track(m.family.handle(id, m.model, target));
    },
    cannotTrain: (model) => familyOf(model)?.untrainable,
    trainingFor(model, training) {
      const family = familyOf(model);
      if (family?.trainingSettings) return family.trainingSettings(training);
      if (training.lora || training.method === 'lora')
        throw new Error(
          `LoRA adapters are trained on Hugging Face bases; students of ${family?.label.one ?? 'this model'} ` +
            'train all their weights (remove training.lora and training.method)',
        );
      return training;
    },
    // In shared memory from the start: the workers train on these arrays, so they are not copied again for them.
    readTensorDataset: (path: string, opts?: TensorReadOptions) => readTensorDataset(path, { ...opts, shared: true }),
    writeTensorDataset,
    prepare: () => students.pool.start(workers),
    trainStudents: (jobs, onProgress, opts) => trainStudents(students, jobs, onProgress, opts?.deadline),
    async dispose() {
      await students.pool.close();
      for (const h of handles) h.release();
    },
  };
}

function backendInfo(
  selected: SelectedBackend,
  workers: number,
  inference: InferenceInfo,
  training: TrainerInfo,
): BackendInfo {
  return {
    name: selected.name,
    reason: selected.reason,
    workers,
    ...(selected.simd !== undefined ? { simd: selected.simd } : {}),
    inference,
    training,
  };
}

/** What training students needs from the core that runs them. */
interface StudentPool {
  /** The training workers, kept from run to run (prepare starts them early). */
  pool: WorkerPool;
  workers: number;
  engine: TrainerInfo['engine'];
  ortThreads: number;
  target: InferenceTarget;
  memo: (family: ModelFamily) => Memo;
  track: <H extends FamilyHandle>(h: H) => H;
}

/** One memo per family (a dataset shared or tokenized once per core, not once per job). */
function familyMemos(): (family: ModelFamily) => Memo {
  const maps = new Map<string, WeakMap<object, unknown>>();
  return (family) => {
    let map = maps.get(family.name);
    if (!map) maps.set(family.name, (map = new WeakMap()));
    const values = map;
    return <T>(key: object, make: () => T): T => {
      if (!values.has(key)) values.set(key, make());
      return values.get(key) as T;
    };
  };
}

/** Trains the jobs on the worker pool; each student comes back as a handle of its base's family. */
async function trainStudents(
  pool: StudentPool,
  jobs: StudentJob[],
  onProgress?: (p: TrainingProgress) => void,
  deadline?: number,
): Promise<TrainedStudent[]> {
  const planned = jobs.map((job) => {
    const owned = ownedHandle(job.init);
    if (!owned) throw new DistillGateError(`job ${job.id}: the base is not a model this training core loaded`);
    const args = owned.family.encodeJob(job, owned.handle, pool.memo(owned.family));
    const workerJob: WorkerJob = {
      jobId: job.id,
      family: owned.family.name,
      engine: pool.engine,
      threads: pool.ortThreads,
      args,
    };
    return { ...owned, workerJob };
  });
  const results = await pool.pool.run(
    planned.map((p) => p.workerJob),
    {
      workers: workersThatFit(pool.workers, planned, jobs),
      ...(deadline !== undefined ? { deadline } : {}),
      onProgress: progressOf(jobs, onProgress),
    },
  );
  const trained: TrainedStudent[] = [];
  results.forEach((r: PoolResult | undefined, i) => {
    if (!r) return; // not started before the deadline
    const { family, handle } = planned[i];
    const student = family.withWeights(family.modelOf(handle), r.weights, jobs[i]);
    const model = pool.track(family.handle(`student:${r.jobId}`, student, pool.target));
    trained.push({ jobId: r.jobId, model, lossHistory: r.lossHistory, steps: r.steps, ms: r.ms });
  });
  return trained;
}

/**
 * As many workers as the machine's free memory holds, where the family says what one worker needs (a large base is
 * held by each worker): fewer than asked rather than running out of memory, and an error when not even one fits.
 */
export function workersThatFit(
  asked: number,
  planned: { family: ModelFamily; handle: FamilyHandle }[],
  jobs: StudentJob[],
): number {
  let need = 0;
  planned.forEach(({ family, handle }, i) => {
    need = Math.max(need, family.workerMemory?.(family.modelOf(handle), jobs[i].training) ?? 0);
  });
  if (!need) return asked;
  const free = availableMemory() - process.memoryUsage().rss;
  const fit = Math.floor(free / need);
  if (fit < 1) {
    const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
    throw new DistillGateError(
      `training a student of this base takes about ${gb(need)} in its worker, and ${gb(free)} of memory is free`,
      { file: (jobs[0].init as { id: string }).id },
      'use a smaller base, or a machine with more memory',
    );
  }
  return Math.min(asked, fit);
}

/** The pool's per-job progress as progress over all the jobs' steps. */
function progressOf(
  jobs: StudentJob[],
  onProgress?: (p: TrainingProgress) => void,
): (jobId: string, steps: number, total: number, finished: number) => void {
  const rows = (j: StudentJob) => (isTextDataset(j.data) ? j.data.records.length : j.data.rows);
  const totals = new Map(jobs.map((j) => [j.id, stepsPerEpoch(rows(j), j.training.batchSize) * j.training.epochs]));
  const allSteps = [...totals.values()].reduce((a, b) => a + b, 0);
  const done = new Map<string, number>();
  return (jobId, steps, _total, finished) => {
    done.set(jobId, steps);
    const completedSteps = [...done.values()].reduce((a, b) => a + b, 0);
    onProgress?.({ jobId, completedSteps, totalSteps: allSteps, jobsDone: finished, jobsTotal: jobs.length });
  };
}
