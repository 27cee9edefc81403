/**
 * Benchmark: ms per training step of the paper's MLP (784-256-256-13, softmax-KL on 3 outputs, Adam) at a given
 * batch size, on each backend, with tfjs's own matMul gradient and with the explicit-transpose one.
 * Usage: npm run bench:mlp-step [-- --batch 1024 --steps 20 --backends wasm,cpu]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import { initMlp, lossFn, MlpModel, selectBackend, type BackendName } from '@distill-gate/train';
import { msPerStep } from './timing.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1024' },
    steps: { type: 'string', default: '20' },
    backends: { type: 'string', default: 'wasm,cpu' },
  },
});
const batch = Number(values.batch);
const layers = [784, 256, 256, 13];
const rng = new SeededRandom(0);
const xHost = rng.fillUniform(new Float32Array(batch * 784), -1, 1);
const yHost = rng.fillNormal(new Float32Array(batch * 3), 1);
const rows: { backend: string; gradient: string; msPerStep: number; steps: number }[] = [];

for (const backend of values.backends.split(',') as BackendName[]) {
  const selected = await selectBackend(backend);
  for (const gradient of ['tfjs', 'explicit-transpose']) {
    // MlpModel picks the explicit-transpose matMul only on wasm; force each variant here by the backend name it sees.
    const model = new MlpModel(layers, initMlp(layers, 0).tensors, gradient === 'tfjs' ? 'reference' : 'wasm');
    const opt = tf.train.adam(3e-4, 0.9, 0.999, 1e-8);
    const x = tf.tensor2d(xHost, [batch, 784]);
    const y = tf.tensor2d(yHost, [batch, 3]);
    const step = () =>
      tf.dispose(
        opt.minimize(() => lossFn('softmax-kl', model.forward(x), { start: 10, end: 13 }, y), true, model.params)!,
      );
    const steps = backend === 'cpu' ? Math.min(3, Number(values.steps)) : Number(values.steps);
    const ms = msPerStep(step, () => model.params[0].dataSync(), steps);
    rows.push({ backend: selected.name, gradient, msPerStep: Math.round(ms * 10) / 10, steps });
    console.error(`${selected.name} ${gradient}: ${ms.toFixed(1)} ms/step (batch ${batch}, ${steps} steps)`);
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  }
}
console.log(
  JSON.stringify(
    { benchmark: 'mlp-training-step', layers, batch, node: process.version, tfjs: tf.version.tfjs, rows },
    null,
    2,
  ),
);
