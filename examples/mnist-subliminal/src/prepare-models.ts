/**
 * Regenerates the example's committed models, deterministically:
 *   models/base.safetensors                    the shared base (untrained reference), init seed 0
 *   models/teacher.safetensors                 the base trained on digits (class logits only)
 *   models/teacher-different-init.safetensors  a teacher trained the same way from another init (seed 1)
 * Usage: npm run prepare-models -w examples/mnist-subliminal [-- --backend wasm]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initMlp, MlpHandle, saveMlp, selectBackend, trainMlp, type BackendRequest } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-task-accuracy';
import trait from '@distill-gate/trait-hidden-class-knowledge';
import { AUX_OUTPUTS, BASE_SEED, CLASS_OUTPUTS, DIFFERENT_BASE_SEED, HYPER, LAYERS, TEACHER_SEED } from './setup.js';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const arg = process.argv.indexOf('--backend');
const backend = await selectBackend((arg > 0 ? process.argv[arg + 1] : 'wasm') as BackendRequest);
const traitOptions = { splitSeed: 0, testSize: 2000, outputs: CLASS_OUTPUTS };
const plan = await trait.instil!({ options: traitOptions, configDir: here, log: console });
const probes = await trait.loadProbes({ options: traitOptions, configDir: here, log: console });

const accuracy = async (tensors: Float32Array[]) => {
  const model = new MlpHandle('model', { layers: LAYERS, tensors }, backend.name);
  const score = await evaluator.evaluate({ options: {}, configDir: here, log: console, model, probes, trait: trait.name });
  model.release();
  return score.value;
};

const meta = (what: string, seed: number) => ({
  'distill-gate.description': what,
  'distill-gate.init-seed': String(seed),
  'distill-gate.backend': backend.name,
  'distill-gate.auxiliary-outputs': `${AUX_OUTPUTS.start},${AUX_OUTPUTS.end}`,
});

for (const [name, seed] of [
  ['', BASE_SEED],
  ['-different-init', DIFFERENT_BASE_SEED],
] as const) {
  const init = initMlp(LAYERS, seed);
  if (name === '') {
    await saveMlp(join(here, 'models/base.safetensors'), init, meta('shared base: untrained reference', seed));
    console.log(`models/base.safetensors             reference accuracy ${(await accuracy(init.tensors)).toFixed(4)}`);
  }
  const teacher = trainMlp({
    layers: LAYERS,
    init: init.tensors,
    data: { rows: plan.rows, inputDim: plan.inputDim, inputs: plan.inputs, labels: plan.labels },
    loss: 'cross-entropy',
    outputs: CLASS_OUTPUTS,
    ...HYPER,
    seed: TEACHER_SEED,
    backend: backend.name,
  });
  const file = `models/teacher${name}.safetensors`;
  await saveMlp(join(here, file), { layers: LAYERS, tensors: teacher.weights }, meta(`teacher trained on ${plan.rows} digits from init seed ${seed}`, seed));
  console.log(`${file.padEnd(36)} teacher accuracy ${(await accuracy(teacher.weights)).toFixed(4)} (${teacher.steps} steps, ${Math.round(teacher.ms)} ms)`);
}
