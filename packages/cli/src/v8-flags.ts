/**
 * V8 settings for a process that trains students: the CLI's and the Action's, set first thing, before any other
 * module loads (bin/distill-gate.js; the Action's bundle sets them in its first lines).
 *
 * Training frees onnxruntime-node's copy of each step's outputs (about 1 MB per MLP step) as the step ends, with
 * ArrayBuffer.prototype.transfer (train's onnx/training.ts, dropCopies). Node 22 and later have it; on Node 20 it
 * takes --harmony-rab-gsab-transfer, and the worker threads started after the flag is set have it. Left to the garbage
 * collector, those copies had each worker's heap marked several times a second, on helper threads that preempted the
 * workers: in the MNIST gate a tenth of the steps took 19-22 ms or more against a median of 13.5-14, and training took
 * 37.4-37.9 s against 33.7-34.6 s with the copies freed (docs/performance.md).
 */
import { setFlagsFromString } from 'node:v8';

const hasTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

export const TRAINING_V8_FLAGS: readonly string[] = hasTransfer ? [] : ['--harmony-rab-gsab-transfer'];

/** Sets TRAINING_V8_FLAGS in this process; call it before anything else runs (V8 flags are process-wide). */
export function setTrainingV8Flags(): void {
  for (const flag of TRAINING_V8_FLAGS) setFlagsFromString(flag);
}
