import type { BackendRequest } from './backend.js';
import type { TrainLmArgs } from './lm-trainer.js';
import type { TrainMlpArgs } from './trainer.js';

/** A training job for a worker: the trainer's arguments, with data arrays in shared memory (SharedArrayBuffer) so
 * that every worker reads the same bytes and nothing is copied per job. The worker supplies its own backend. */
export type WorkerJob =
  | {
      jobId: string;
      family?: 'mlp';
      engine?: 'tfjs' | 'onnxruntime';
      threads?: number;
      args: Omit<TrainMlpArgs, 'backend' | 'onStep'>;
    }
  | {
      jobId: string;
      family: 'causal-lm';
      engine?: 'tfjs' | 'onnxruntime';
      threads?: number;
      args: Omit<TrainLmArgs, 'backend' | 'onStep'>;
    };

export type ToWorker = { type: 'init'; backend: BackendRequest } | { type: 'job'; job: WorkerJob };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'progress'; jobId: string; done: number; total: number }
  | { type: 'done'; jobId: string; weights: Float32Array[]; lossHistory: number[]; steps: number; ms: number }
  | { type: 'error'; jobId?: string; message: string };
