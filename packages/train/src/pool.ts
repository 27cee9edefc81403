import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackendRequest } from './backend.js';
import type { FromWorker, WorkerJob } from './protocol.js';

export interface PoolResult {
  jobId: string;
  weights: Float32Array[];
  lossHistory: number[];
  steps: number;
  ms: number;
}

// Tests run the TypeScript sources; the worker must still be the compiled JavaScript next to them in dist/.
const workerUrl = import.meta.url.endsWith('.ts')
  ? new URL('../dist/student-worker.js', import.meta.url)
  : new URL('./student-worker.js', import.meta.url);

/** Copies an array into shared memory once, so that all workers read the same bytes. */
export function toShared<T extends Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as { new (b: SharedArrayBuffer): T };
  const shared = new Ctor(new SharedArrayBuffer(a.byteLength));
  shared.set(a as never);
  return shared;
}

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Trains jobs on a pool of worker threads, at most `workers` at a time (bounded by the cores by default).
 * Results come back in job order whatever order they finish in. With a deadline (ms since the epoch), no job
 * starts after it; jobs that never started come back undefined (the ones running finish).
 */
export async function runPool(
  jobs: WorkerJob[],
  opts: {
    backend: BackendRequest;
    workers: number;
    deadline?: number;
    onProgress?: (jobId: string, done: number, total: number, finished: number) => void;
  },
): Promise<(PoolResult | undefined)[]> {
  const size = Math.max(1, Math.min(opts.workers, jobs.length));
  const results = new Array<PoolResult | undefined>(jobs.length).fill(undefined);
  const indexById = new Map(jobs.map((j, i) => [j.jobId, i]));
  let next = 0;
  let finished = 0;
  const outOfTime = () => opts.deadline !== undefined && Date.now() > opts.deadline;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolvePool, rejectPool) => {
      let failed = false;
      const fail = (e: Error) => {
        if (!failed) {
          failed = true;
          rejectPool(e);
        }
      };
      const feed = (w: Worker) => {
        if (failed) return;
        if (next >= jobs.length || outOfTime()) {
          if (finished === next) resolvePool();
          return;
        }
        w.postMessage({ type: 'job', job: jobs[next++] });
      };
      for (let i = 0; i < size; i++) {
        const w = new Worker(workerUrl);
        workers.push(w);
        w.on('error', (e) => fail(new Error(`training worker crashed: ${e.message}`)));
        w.on('exit', (code) => {
          if (code !== 0) fail(new Error(`training worker exited with code ${code}`));
        });
        w.on('message', (m: FromWorker) => {
          if (m.type === 'ready') feed(w);
          else if (m.type === 'progress') opts.onProgress?.(m.jobId, m.done, m.total, finished);
          else if (m.type === 'error')
            fail(new Error(m.jobId ? `training ${m.jobId} failed: ${m.message}` : m.message));
          else if (m.type === 'done') {
            results[indexById.get(m.jobId)!] = {
              jobId: m.jobId,
              weights: m.weights,
              lossHistory: m.lossHistory,
              steps: m.steps,
              ms: m.ms,
            };
            finished++;
            opts.onProgress?.(m.jobId, m.steps, m.steps, finished);
            feed(w);
          }
        });
        w.postMessage({ type: 'init', backend: opts.backend });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
