/**
 * Worker entry: one tfjs backend per worker thread (wasm is single-threaded in Node, so parallel probe students
 * need one worker each). Receives jobs, trains, posts the weights back.
 */
import { parentPort } from 'node:worker_threads';
import { selectBackend } from './backend.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { trainLm } from './lm-trainer.js';
import { trainMlp, type TrainingRunResult } from './trainer.js';
import { trainMlpOnnx } from './onnx-train.js';
import { trainLmOnnx } from './onnx-lm-train.js';

const port = parentPort!;

let backend = 'cpu';
const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'init') {
    try {
      backend = (await selectBackend(msg.backend)).name;
      send({ type: 'ready', backend });
    } catch (e) {
      send({ type: 'error', message: (e as Error).message });
    }
    return;
  }
  const job = msg.job;
  try {
    let last = 0;
    const onStep = (done: number, total: number) => {
      const now = performance.now();
      if (now - last > 250 || done === total) {
        last = now;
        send({ type: 'progress', jobId: job.jobId, done, total });
      }
    };
    let result: TrainingRunResult;
    // onnxruntime's intra-op threads: the cores divided among the workers.
    if (job.family === 'causal-lm')
      result =
        job.engine === 'onnxruntime'
          ? await trainLmOnnx({ ...job.args, threads: job.threads ?? 1, onStep })
          : trainLm({ ...job.args, backend, onStep });
    else if (job.engine === 'onnxruntime') {
      const { init, seed, ...rest } = job.args;
      [result] = await trainMlpOnnx({ ...rest, inits: [init], seeds: [seed], threads: job.threads ?? 1, onStep });
    } else result = trainMlp({ ...job.args, backend, onStep });
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
  } catch (e) {
    send({ type: 'error', jobId: job.jobId, message: (e as Error).message });
  }
});
