import type { OutputRange } from '@distill-gate/core';
import type { BackendRequest } from './backend.js';
import type { LossName } from './trainer.js';

export interface WorkerJob {
  jobId: string;
  layers: number[];
  init: Float32Array[];
  /** Shared (SharedArrayBuffer) views: every worker reads the same memory, nothing is copied per job. */
  inputs: Float32Array;
  targets?: Float32Array;
  labels?: Int32Array;
  rows: number;
  inputDim: number;
  targetDim?: number;
  loss: LossName;
  outputs: OutputRange;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export type ToWorker = { type: 'init'; backend: BackendRequest } | { type: 'job'; job: WorkerJob };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'progress'; jobId: string; done: number; total: number }
  | { type: 'done'; jobId: string; weights: Float32Array[]; lossHistory: number[]; steps: number; ms: number }
  | { type: 'error'; jobId?: string; message: string };
