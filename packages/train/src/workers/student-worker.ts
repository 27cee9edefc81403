/**
 * Worker entry: one tfjs backend per worker thread (wasm is single-threaded in Node, so parallel probe students
 * need one worker each). Receives jobs, has their model family train them, posts the weights back.
 */
import { parentPort } from 'node:worker_threads';
import { selectBackend } from '../backend.js';
import { familyNamed } from '../families/registry.js';
import type { FromWorker, ToWorker, WorkerJob } from './protocol.js';

const port = parentPort!;

let backend = 'cpu';
let idleCores: Int32Array | undefined;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function runJob(job: WorkerJob): Promise<void> {
  let last = 0;
  const onStep = (done: number, total: number) => {
    const now = performance.now();
    if (now - last > 250 || done === total) {
      last = now;
      send({ type: 'progress', jobId: job.jobId, done, total });
    }
  };
  const result = await familyNamed(job.family).train(job.args, {
    engine: job.engine ?? 'tfjs',
    backend,
    threads: job.threads ?? 1,
    onStep,
    // All the idle cores at once (one job takes them, not each a share), given back when the job ends.
    claimCores: () => (idleCores ? Atomics.exchange(idleCores, 0, 0) : 0),
    returnCores: (n) => {
      if (idleCores && n > 0) Atomics.add(idleCores, 0, n);
    },
  });
  send(
    {
      type: 'done',
      jobId: job.jobId,
      weights: result.weights,
      lossHistory: result.lossHistory,
      steps: result.steps,
      ms: result.ms,
    },
    result.weights.map((w) => w.buffer as ArrayBuffer),
  );
}

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'init') {
    try {
      backend = (await selectBackend(msg.backend)).name;
      if (msg.idleCores) idleCores = new Int32Array(msg.idleCores);
      send({ type: 'ready', backend, module: import.meta.url });
    } catch (e) {
      send({ type: 'error', message: (e as Error).message });
    }
    return;
  }
  try {
    await runJob(msg.job);
  } catch (e) {
    send({ type: 'error', jobId: msg.job.jobId, message: (e as Error).message });
  }
});
