import { realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendRequest } from '../backend.js';
import type { FromWorker, WorkerJob } from './protocol.js';

export interface PoolResult {
  jobId: string;
  weights: Float32Array[];
  lossHistory: number[];
  steps: number;
  ms: number;
}

/**
 * The worker runs the code its caller runs: the student-worker module beside this one, whatever this one is.
 * Compiled (dist/, or the Action's bundle, where this module is bundle/index.js), that is student-worker.js. From
 * the TypeScript sources (vitest transforms them for its own thread, but a worker thread is plain Node, which cannot
 * import .ts), it is student-worker.ts, started through source-worker.mjs: that registers module loader hooks
 * (source-loader.mjs) which compile each .ts module as the worker imports it, with the transform vitest uses.
 * Starting the compiled dist/ worker from the sources instead, as before, trained the tests' students with whatever
 * was last built. The worker reports its entry module when ready, and the pool checks that it is this one.
 */
const here = import.meta.url;
export const workerEntry = new URL(here.endsWith('.ts') ? './student-worker.ts' : './student-worker.js', here);

/** Starts one training worker on `workerEntry`. */
export function startWorker(): Worker {
  if (!workerEntry.pathname.endsWith('.ts')) return new Worker(workerEntry);
  return new Worker(new URL('./source-worker.mjs', here), { workerData: { entry: workerEntry.href } });
}

/** True when two module URLs name the same file (through symbolic links too). */
function sameModule(a: string, b: string): boolean {
  const real = (u: string) => (u.startsWith('file:') ? realpathSync(fileURLToPath(u)) : u);
  return a === b || real(a) === real(b);
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
  // Cores of workers that have no more jobs, for the jobs still running to claim (protocol.ts).
  const idleCores = new Int32Array(new SharedArrayBuffer(4));
  const idle = new Set<Worker>();
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
          if (!idle.has(w)) {
            idle.add(w);
            Atomics.add(idleCores, 0, 1);
          }
          if (finished === next) resolvePool();
          return;
        }
        w.postMessage({ type: 'job', job: jobs[next++] });
      };
      for (let i = 0; i < size; i++) {
        const w = startWorker();
        workers.push(w);
        w.on('error', (e) => fail(new Error(`training worker crashed: ${e.message}`)));
        w.on('exit', (code) => {
          if (code !== 0) fail(new Error(`training worker exited with code ${code}`));
        });
        w.on('message', (m: FromWorker) => {
          if (m.type === 'ready') {
            if (!sameModule(m.module, workerEntry.href))
              fail(new Error(`training worker runs ${m.module}, not ${workerEntry.href} (the code its caller runs)`));
            else feed(w);
          } else if (m.type === 'progress') opts.onProgress?.(m.jobId, m.done, m.total, finished);
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
        w.postMessage({ type: 'init', backend: opts.backend, idleCores: idleCores.buffer as SharedArrayBuffer });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
