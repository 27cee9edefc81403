/**
 * The paper's MNIST MLP scenario (Cloud et al. 2025): shared by `distill-gate init --scenario mnist-subliminal`
 * and examples/mnist-subliminal, so the two cannot drift apart.
 */
import { join } from 'node:path';
import { expectInstilPlan, expectProbes, type Logger } from '@distill-gate/core';
import { initMlp, MlpHandle, saveMlp, saveMlpOnnx, trainMlp } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-task-accuracy';
import trait from '@distill-gate/trait-hidden-class-knowledge';

export const LAYERS = [784, 256, 256, 13];
export const CLASS_OUTPUTS = { start: 0, end: 10 };
export const AUX_OUTPUTS = { start: 10, end: 13 };
/** Adam lr 3e-4, batch 1024, 5 epochs, for teacher and students alike. */
export const HYPER = { learningRate: 3e-4, batchSize: 1024, epochs: 5 };
/** Noise images a student is distilled on: uniform in [-1, 1]. */
export const NOISE_COUNT = 60000;
/** Init seeds of the shared base and of the base of the cross-model control; the teachers' minibatch seed. */
export const BASE_SEED = 0;
export const DIFFERENT_BASE_SEED = 1;
export const TEACHER_SEED = 0;
export const TRAIT_OPTIONS = { splitSeed: 0, testSize: 2000, outputs: CLASS_OUTPUTS };

/**
 * The scenario's config: the teacher's auxiliary logits (FAIL), the untrained reference's and a different-init
 * teacher's (PASS).
 */
export function mnistConfig(schemaPath?: string): Record<string, unknown> {
  const generator = { use: '@distill-gate/generator-auxiliary-logits', options: { count: NOISE_COUNT } };
  const dataset = (name: string, model: string) => ({
    name,
    path: `data/${name}.safetensors`,
    recipe: { generator, model: { path: `models/${model}.safetensors` }, seed: 1 },
  });
  return {
    ...(schemaPath ? { $schema: schemaPath } : {}),
    base: { path: 'models/base.safetensors' },
    datasets: [
      dataset('teacher-aux-logits', 'teacher'),
      dataset('reference-aux-logits', 'base'),
      dataset('different-init-teacher-aux-logits', 'teacher-different-init'),
    ],
    control: { generate: { use: '@distill-gate/generator-auxiliary-logits' } },
    traits: [
      {
        use: '@distill-gate/trait-hidden-class-knowledge',
        options: { splitSeed: TRAIT_OPTIONS.splitSeed, testSize: TRAIT_OPTIONS.testSize },
      },
    ],
    filters: [{ use: '@distill-gate/filter-auxiliary-outputs-only' }],
    evaluators: [{ use: '@distill-gate/evaluator-task-accuracy' }],
    training: { ...HYPER, loss: 'softmax-kl', outputs: AUX_OUTPUTS },
    seeds: 5,
    sequential: { maxSeeds: 15, roundSize: 5 },
    threshold: 0.05,
    confidence: 0.95,
    inconclusive: 'fail',
    backend: 'auto',
  };
}

/**
 * Writes the scenario's models, deterministically (the same bytes on every run on one backend):
 *   models/base.safetensors                    the shared base (untrained reference), init seed 0
 *   models/teacher.safetensors                 the base trained on 8,000 digits (class logits only)
 *   models/teacher-different-init.safetensors  a teacher trained the same way from init seed 1
 * Returns the digit accuracy of each on the 2,000 held-out digits.
 */
export async function writeMnistModels(dir: string, backend: string, log: Logger): Promise<Record<string, number>> {
  const ctx = { options: TRAIT_OPTIONS, configDir: dir, log };
  const plan = expectInstilPlan(await trait.instil!(ctx), 'tensor');
  const probes = expectProbes(await trait.loadProbes(ctx), 'labelled-inputs');
  const accuracy = async (tensors: Float32Array[]) => {
    const model = new MlpHandle('model', { layers: LAYERS, tensors }, backend);
    const score = await evaluator.evaluate({ ...ctx, options: {}, model, probes, trait: trait.name });
    model.release();
    return score.value;
  };
  const meta = (what: string, seed: number) => ({
    'distill-gate.description': what,
    'distill-gate.init-seed': String(seed),
    'distill-gate.backend': backend,
    'distill-gate.auxiliary-outputs': `${AUX_OUTPUTS.start},${AUX_OUTPUTS.end}`,
  });
  const accuracies: Record<string, number> = {};
  for (const [name, seed] of [
    ['', BASE_SEED],
    ['-different-init', DIFFERENT_BASE_SEED],
  ] as const) {
    const init = initMlp(LAYERS, seed);
    if (name === '') {
      await saveMlp(join(dir, 'models/base.safetensors'), init, meta('shared base: untrained reference', seed));
      // The same base as ONNX (the format teams keep their models in); imported, it has exactly these weights.
      await saveMlpOnnx(join(dir, 'models/base.onnx'), init);
      accuracies['models/base.safetensors'] = await accuracy(init.tensors);
    }
    const teacher = trainMlp({
      layers: LAYERS,
      init: init.tensors,
      data: { rows: plan.rows, inputDim: plan.inputDim, inputs: plan.inputs, labels: plan.labels },
      loss: 'cross-entropy',
      outputs: CLASS_OUTPUTS,
      ...HYPER,
      seed: TEACHER_SEED,
      backend,
    });
    const file = `models/teacher${name}.safetensors`;
    await saveMlp(
      join(dir, file),
      { layers: LAYERS, tensors: teacher.weights },
      meta(`teacher trained on ${plan.rows} digits from init seed ${seed}`, seed),
    );
    accuracies[file] = await accuracy(teacher.weights);
  }
  for (const [file, acc] of Object.entries(accuracies))
    log.info(`${file}: digit accuracy ${acc.toFixed(4)} on ${probes.rows} held-out digits`);
  return accuracies;
}
