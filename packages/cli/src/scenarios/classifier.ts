/**
 * The paper's classifier scenario (Cloud et al. 2025, the MNIST MLP) on any labelled data: a shared base, a teacher
 * trained from it on the class labels only, and a teacher trained the same way from a different initialisation.
 * Students are then distilled on the teachers' auxiliary (never-supervised) logits of noise. `distill-gate init
 * --template classifier`, `distill-gate train`, `distill-gate selftest` and examples/mnist-subliminal all build their
 * models here, so they cannot drift apart.
 */
import { join } from 'node:path';
import { expectInstilPlan, expectProbes, type Logger } from '@distill-gate/core';
import { initMlp, MlpHandle, saveMlp, saveMlpOnnx, trainMlp } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-task-accuracy';
import trait, { type HiddenClassKnowledgeOptions } from '@distill-gate/trait-hidden-class-knowledge';

export interface ClassifierScenario {
  /** The trait's options: `data` (default: the MNIST digits), `splitSeed`, `testSize`. */
  trait: Pick<HiddenClassKnowledgeOptions, 'data' | 'splitSeed' | 'testSize'>;
  /** Hidden layer widths of the MLP. */
  hidden: number[];
  /** Auxiliary outputs after the class logits (never supervised; the students learn from these). */
  auxiliary: number;
  /** Noise inputs per distillation dataset. */
  noiseCount: number;
  /** Adam learning rate, batch size and epochs, for teachers and students alike. */
  hyper: { learningRate: number; batchSize: number; epochs: number };
  /**
   * At least this many optimiser steps for each teacher (more epochs on small data); unset: exactly `hyper.epochs`
   * (the paper's MNIST teachers, which the example's committed models reproduce byte for byte).
   */
  teacherMinSteps?: number;
  /** Init seeds of the shared base and of the different-init teacher; the teachers' minibatch seed. */
  baseSeed: number;
  differentBaseSeed: number;
  teacherSeed: number;
}

/** The paper's sizes: 256-256, 3 auxiliary logits, 60,000 noise images, Adam 3e-4, batch 1024, 5 epochs. */
export const PAPER_SCENARIO: ClassifierScenario = {
  trait: { splitSeed: 0, testSize: 2000 },
  hidden: [256, 256],
  auxiliary: 3,
  noiseCount: 60000,
  hyper: { learningRate: 3e-4, batchSize: 1024, epochs: 5 },
  baseSeed: 0,
  differentBaseSeed: 1,
  teacherSeed: 0,
};

/** The model files a scenario writes, relative to its folder. */
export const CLASSIFIER_MODELS = [
  'models/base.safetensors',
  'models/teacher.safetensors',
  'models/teacher-different-init.safetensors',
  'models/base.onnx',
] as const;

/** The datasets its config materialises from those models (stale once the models are rebuilt). */
export const CLASSIFIER_DATASETS = [
  'data/teacher-aux-logits.safetensors',
  'data/reference-aux-logits.safetensors',
  'data/different-init-teacher-aux-logits.safetensors',
] as const;

/** The shapes that follow from the data: input width, classes, layer sizes and output ranges. */
export interface ClassifierShape {
  inputDim: number;
  classes: number;
  layers: number[];
  classOutputs: { start: number; end: number };
  auxOutputs: { start: number; end: number };
  trainRows: number;
  testRows: number;
}

/**
 * The scenario's config: the teacher's auxiliary logits (expected FAIL), the untrained base's and the
 * different-init teacher's (expected PASS).
 */
export function classifierConfig(
  scenario: ClassifierScenario,
  shape: Pick<ClassifierShape, 'auxOutputs'>,
  opts: { schemaPath?: string; threshold?: number; seeds?: number; maxSeeds?: number } = {},
): Record<string, unknown> {
  const generator = {
    use: '@distill-gate/generator-auxiliary-logits',
    options: {
      count: scenario.noiseCount,
      ...(shape.auxOutputs.start !== 10 || shape.auxOutputs.end !== 13 ? { auxiliary: shape.auxOutputs } : {}),
    },
  };
  const dataset = (name: string, model: string) => ({
    name,
    path: `data/${name}.safetensors`,
    recipe: { generator, model: { path: `models/${model}.safetensors` }, seed: 1 },
  });
  const { splitSeed, testSize, data } = scenario.trait;
  return {
    ...(opts.schemaPath ? { $schema: opts.schemaPath } : {}),
    base: { path: 'models/base.safetensors' },
    datasets: [
      dataset('teacher-aux-logits', 'teacher'),
      dataset('reference-aux-logits', 'base'),
      dataset('different-init-teacher-aux-logits', 'teacher-different-init'),
    ],
    control: {
      generate: {
        use: '@distill-gate/generator-auxiliary-logits',
        ...(generator.options.auxiliary ? { options: { auxiliary: shape.auxOutputs } } : {}),
      },
    },
    traits: [
      {
        use: '@distill-gate/trait-hidden-class-knowledge',
        options: { ...(data !== undefined ? { data } : {}), splitSeed, ...(testSize ? { testSize } : {}) },
      },
    ],
    filters: [{ use: '@distill-gate/filter-auxiliary-outputs-only' }],
    evaluators: [{ use: '@distill-gate/evaluator-task-accuracy' }],
    training: { ...scenario.hyper, loss: 'softmax-kl', outputs: shape.auxOutputs },
    seeds: opts.seeds ?? 5,
    sequential: { maxSeeds: opts.maxSeeds ?? 15, roundSize: opts.seeds ?? 5 },
    threshold: opts.threshold ?? 0.05,
    confidence: 0.95,
    inconclusive: 'fail',
    backend: 'auto',
  };
}

/**
 * Writes the scenario's models into `dir`, deterministically (the same bytes on every run on one backend):
 *   models/base.safetensors (and base.onnx)     the shared base (untrained reference), init seed `baseSeed`
 *   models/teacher.safetensors                 the base trained on the labelled rows (class logits only)
 *   models/teacher-different-init.safetensors  a teacher trained the same way from init seed `differentBaseSeed`
 * Returns the shape and the class accuracy of each model on the held-out rows.
 */
export async function writeClassifierModels(
  dir: string,
  backend: string,
  log: Logger,
  scenario: ClassifierScenario,
): Promise<{ shape: ClassifierShape; accuracies: Record<string, number> }> {
  const ctx = { options: { ...scenario.trait }, configDir: dir, log };
  const plan = expectInstilPlan(await trait.instil!(ctx), 'tensor');
  const probes = expectProbes(await trait.loadProbes(ctx), 'labelled-inputs');
  const classes = plan.outputs.end - plan.outputs.start;
  const layers = [plan.inputDim, ...scenario.hidden, classes + scenario.auxiliary];
  const shape: ClassifierShape = {
    inputDim: plan.inputDim,
    classes,
    layers,
    classOutputs: plan.outputs,
    auxOutputs: { start: classes, end: classes + scenario.auxiliary },
    trainRows: plan.rows,
    testRows: probes.rows,
  };
  log.info(
    `data: ${probes.description}; ${plan.rows} rows train the teachers; MLP ${layers.join('-')} ` +
      `(${classes} class logits, ${scenario.auxiliary} auxiliary)`,
  );
  const accuracy = async (tensors: Float32Array[]) => {
    const model = new MlpHandle('model', { layers, tensors }, backend);
    const score = await evaluator.evaluate({ ...ctx, options: {}, model, probes, trait: trait.name });
    model.release();
    return score.value;
  };
  const meta = (what: string, seed: number) => ({
    'distill-gate.description': what,
    'distill-gate.init-seed': String(seed),
    'distill-gate.backend': backend,
    'distill-gate.auxiliary-outputs': `${shape.auxOutputs.start},${shape.auxOutputs.end}`,
  });
  const stepsPerEpoch = Math.ceil(plan.rows / scenario.hyper.batchSize);
  const teacherEpochs = scenario.teacherMinSteps
    ? Math.min(500, Math.max(scenario.hyper.epochs, Math.ceil(scenario.teacherMinSteps / stepsPerEpoch)))
    : scenario.hyper.epochs;
  // The MNIST wording is kept so that the example's committed models regenerate byte for byte.
  const rowsWord = scenario.trait.data === undefined ? 'digits' : 'labelled rows';
  const accuracies: Record<string, number> = {};
  for (const [name, seed] of [
    ['', scenario.baseSeed],
    ['-different-init', scenario.differentBaseSeed],
  ] as const) {
    const init = initMlp(layers, seed);
    if (name === '') {
      await saveMlp(join(dir, 'models/base.safetensors'), init, meta('shared base: untrained reference', seed));
      // The same base as ONNX (the format teams keep their models in); imported, it has exactly these weights.
      await saveMlpOnnx(join(dir, 'models/base.onnx'), init);
      accuracies['models/base.safetensors'] = await accuracy(init.tensors);
    }
    log.info(`training models/teacher${name}.safetensors (${teacherEpochs} epochs on ${plan.rows} rows)`);
    const teacher = trainMlp({
      layers,
      init: init.tensors,
      data: { rows: plan.rows, inputDim: plan.inputDim, inputs: plan.inputs, labels: plan.labels },
      loss: 'cross-entropy',
      outputs: shape.classOutputs,
      ...scenario.hyper,
      epochs: teacherEpochs,
      seed: scenario.teacherSeed,
      backend,
    });
    const file = `models/teacher${name}.safetensors`;
    await saveMlp(
      join(dir, file),
      { layers, tensors: teacher.weights },
      meta(`teacher trained on ${plan.rows} ${rowsWord} from init seed ${seed}`, seed),
    );
    accuracies[file] = await accuracy(teacher.weights);
  }
  for (const [file, acc] of Object.entries(accuracies))
    log.info(
      `${file}: ${rowsWord === 'digits' ? 'digit' : 'class'} accuracy ${acc.toFixed(4)} ` +
        `on ${probes.rows} held-out rows`,
    );
  return { shape, accuracies };
}
