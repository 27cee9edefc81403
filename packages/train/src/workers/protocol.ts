import type { BackendRequest } from '../backend.js';

/**
 * A training job for a worker: the arguments its model family encoded, with data arrays in shared memory
 * (SharedArrayBuffer) so that every worker reads the same bytes and nothing is copied per job. The worker supplies
 * its own backend and hands the arguments back to the family named here (families/registry.ts).
 */
export interface WorkerJob<A = unknown> {
  jobId: string;
  /** The registry name of the model family that encoded `args` and trains them. */
  family: string;
  engine?: 'tfjs' | 'onnxruntime';
  threads?: number;
  args: A;
}

/**
 * `idleCores` (one Int32 in shared memory): cores the pool's idle workers have left, which a running job may claim
 * for onnxruntime's intra-op threads (the pool adds one for each worker it has no more jobs for).
 */
export type ToWorker =
  { type: 'init'; backend: BackendRequest; idleCores?: SharedArrayBuffer } | { type: 'job'; job: WorkerJob };

export type FromWorker =
  /** `module`: the URL of the worker's entry module, which the pool checks is the one it started. */
  | { type: 'ready'; backend: string; module: string }
  | { type: 'progress'; jobId: string; done: number; total: number }
  | { type: 'done'; jobId: string; weights: Float32Array[]; lossHistory: number[]; steps: number; ms: number }
  | { type: 'error'; jobId?: string; message: string };
