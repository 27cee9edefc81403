/**
 * Benchmark: MLP inference (784-256-256-13, the MNIST example's teacher shape) on 60,000 rows, tfjs (wasm) against
 * onnxruntime-node (CPU execution provider), with the largest difference between their logits.
 * Usage: npm run bench:onnx [-- --rows 60000 --threads 0]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import { initMlp, loadOnnxRuntime, MlpModel, OnnxMlpSession, selectBackend } from '@distill-gate/train';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '60000' }, threads: { type: 'string', default: '0' } },
});
const rows = Number(values.rows);
const layers = [784, 256, 256, 13];
const params = initMlp(layers, 1);
const x = new SeededRandom(2).fillUniform(new Float32Array(rows * 784), -1, 1);
const backend = (await selectBackend('wasm')).name;
const model = new MlpModel(layers, params.tensors, backend, false);
model.predict(x.subarray(0, 784 * 1024), 1024); // warm-up
let t0 = performance.now();
const viaTfjs = model.predict(x, rows);
const tfjsMs = performance.now() - t0;
const session = await OnnxMlpSession.create(params, Number(values.threads) ? { threads: Number(values.threads) } : {});
await session.predict(x.subarray(0, 784 * 1024), 1024);
t0 = performance.now();
const viaOrt = await session.predict(x, rows);
const ortMs = performance.now() - t0;
let maxDiff = 0;
for (let i = 0; i < viaOrt.length; i++) maxDiff = Math.max(maxDiff, Math.abs(viaOrt[i] - viaTfjs[i]));
const ort = await loadOnnxRuntime();
const result = {
  benchmark: 'mlp-inference',
  layers,
  rows,
  tfjs: { backend, version: tf.version.tfjs, ms: Math.round(tfjsMs) },
  onnxruntime: {
    version: ort.env.versions.node,
    executionProvider: 'cpu',
    threads: Number(values.threads) || 'default',
    ms: Math.round(ortMs),
  },
  speedup: Math.round((tfjsMs / ortMs) * 10) / 10,
  maxAbsDifference: maxDiff,
};
console.log(JSON.stringify(result, null, 2));
await session.release();
model.dispose();
