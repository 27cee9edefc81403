/**
 * V8 settings for a process that trains students: the CLI's and the Action's, set first thing, before any other
 * module loads (bin/distill-gate.js; the Action's bundle sets them in its first lines).
 *
 * --no-concurrent-marking: training keeps one worker per core busy, and onnxruntime-node hands every step's outputs
 * back as fresh buffers (about 1 MB per MLP step), so each worker's heap is marked several times a second. V8 marks on
 * helper threads beside the workers, which then preempt them: on 2 cores a tenth of the MNIST gate's steps took
 * 20-30 ms instead of 13.5. Marked incrementally on each worker's own thread, the gate's training took 35.1 and
 * 35.7 s instead of 37.9 and 37.4 s (docs/performance.md). Only this flag: --single-threaded-gc cannot be set once
 * V8 runs.
 */
import { setFlagsFromString } from 'node:v8';

export const TRAINING_V8_FLAGS: readonly string[] = ['--no-concurrent-marking'];

/** Sets TRAINING_V8_FLAGS in this process; call it before anything else runs (V8 flags are process-wide). */
export function setTrainingV8Flags(): void {
  for (const flag of TRAINING_V8_FLAGS) setFlagsFromString(flag);
}
