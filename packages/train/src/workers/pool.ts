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

type RunOptions = {
  workers: number;
  deadline?: number;
  onProgress?: (jobId: string, done: number, total: number, finished: number) => void;
};

/**
 * Trains jobs on a pool of worker threads, at most `workers` at a time (bounded by the cores by default).
 * Results come back in job order whatever order they finish in. With a deadline (ms since the epoch), no job
 * starts after it; jobs that never started come back undefined (the ones running finish). A pool of its own,
 * closed when the jobs are done (WorkerPool keeps one between runs).
 */
export async function runPool(
  jobs: WorkerJob[],
  opts: RunOptions & { backend: BackendRequest },
): Promise<(PoolResult | undefined)[]> {
  const pool = new WorkerPool(opts.backend);
  try {
    return await pool.run(jobs, opts);
  } finally {
    await pool.close();
  }
}

interface PoolWorker {
  worker: Worker;
  /** Settles when the worker has loaded its modules and backend, or failed to. */
  ready: Promise<void>;
  /** The run's handler of this worker's messages (none between runs). */
  onMessage?: (m: FromWorker) => void;
  onFailure?: (e: Error) => void;
}

/**
 * Training workers kept from run to run. `start` may be called early (a check calls it before it reads its datasets)
 * so that the workers load their modules and backend on the cores the set-up leaves idle, and each run (a look of
 * adaptive seeds) finds them ready. Between runs the workers do not keep the process alive (unref); `close` ends
 * them. A run that fails ends every worker, and the next run starts new ones.
 */
export class WorkerPool {
  private workers: PoolWorker[] = [];
  // Cores of workers that have no more jobs in this run, for the jobs still running to claim (protocol.ts).
  private readonly idleCores = new Int32Array(new SharedArrayBuffer(4));

  constructor(private readonly backend: BackendRequest) {}

  /** Starts workers until there are `n` (those started before are kept). */
  start(n: number): void {
    while (this.workers.length < n) this.workers.push(this.startOne());
  }

  private startOne(): PoolWorker {
    const worker = startWorker();
    worker.unref();
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const pw: PoolWorker = {
      worker,
      ready: new Promise<void>((resolve, reject) => ((ready = resolve), (failed = reject))),
    };
    pw.ready.catch(() => undefined); // awaited by the run that uses this worker, if any
    // A worker that failed is ended and leaves the pool; the run it was in (if any) fails.
    const fail = (e: Error) => {
      failed(e);
      this.workers = this.workers.filter((x) => x !== pw);
      void worker.terminate();
      pw.onFailure?.(e);
    };
    worker.on('error', (e) => fail(new Error(`training worker crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`training worker exited with code ${code}`));
    });
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        if (sameModule(m.module, workerEntry.href)) ready();
        else fail(new Error(`training worker runs ${m.module}, not ${workerEntry.href} (the code its caller runs)`));
      } else if (m.type === 'error' && !m.jobId) fail(new Error(m.message));
      else pw.onMessage?.(m);
    });
    worker.postMessage({ type: 'init', backend: this.backend, idleCores: this.idleCores.buffer as SharedArrayBuffer });
    return pw;
  }

  /** The started workers' thread ids, in start order. */
  threadIds(): number[] {
    return this.workers.map((pw) => pw.worker.threadId);
  }

  /** Trains the jobs on the pool's first min(`workers`, jobs) workers (started here if need be). */
  async run(jobs: WorkerJob[], opts: RunOptions): Promise<(PoolResult | undefined)[]> {
    const size = Math.max(1, Math.min(opts.workers, jobs.length));
    this.start(size);
    const used = this.workers.slice(0, size);
    const results = new Array<PoolResult | undefined>(jobs.length).fill(undefined);
    const indexById = new Map(jobs.map((j, i) => [j.jobId, i]));
    let next = 0;
    let finished = 0;
    const outOfTime = () => opts.deadline !== undefined && Date.now() > opts.deadline;
    Atomics.store(this.idleCores, 0, 0);
    const idle = new Set<PoolWorker>();
    try {
      await new Promise<void>((resolveRun, rejectRun) => {
        let failed = false;
        const fail = (e: Error) => {
          if (!failed) {
            failed = true;
            rejectRun(e);
          }
        };
        const feed = (pw: PoolWorker) => {
          if (failed) return;
          if (next >= jobs.length || outOfTime()) {
            if (!idle.has(pw)) {
              idle.add(pw);
              Atomics.add(this.idleCores, 0, 1);
            }
            if (finished === next) resolveRun();
            return;
          }
          pw.worker.postMessage({ type: 'job', job: jobs[next++] });
        };
        for (const pw of used) {
          pw.worker.ref();
          pw.onFailure = fail;
          pw.onMessage = (m) => {
            if (m.type === 'progress') opts.onProgress?.(m.jobId, m.done, m.total, finished);
            // (An error without a job, from the worker's start, fails the worker itself: startOne.)
            else if (m.type === 'error') fail(new Error(`training ${m.jobId} failed: ${m.message}`));
            else if (m.type === 'done') {
              const { jobId, weights, lossHistory, steps, ms } = m;
              results[indexById.get(jobId)!] = { jobId, weights, lossHistory, steps, ms };
              finished++;
              opts.onProgress?.(jobId, steps, steps, finished);
              feed(pw);
            }
          };
          pw.ready.then(() => feed(pw), fail);
        }
      });
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      for (const pw of used) {
        pw.onMessage = pw.onFailure = undefined;
        pw.worker.unref();
      }
    }
    return results;
  }

  /** Ends every worker. */
  async close(): Promise<void> {
    const all = this.workers;
    this.workers = [];
    for (const pw of all) pw.onFailure = undefined;
    await Promise.all(all.map((pw) => pw.worker.terminate()));
  }
}
