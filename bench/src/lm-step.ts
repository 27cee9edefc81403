/**
 * Benchmark: ms per training step of the probe transformer (Adam, loss on the second half of each record) on each
 * backend, with tfjs's own matMul gradients and with the explicit-transpose ones.
 * Usage: npm run bench:lm-step [-- --batch 32 --seq 96 --d 64 --layers 2 --heads 2 --vocab 300]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import {
  buildLmBatch,
  initTransformer,
  lmLoss,
  selectBackend,
  TransformerModel,
  type BackendName,
  type TransformerConfig,
} from '@distill-gate/train';
import { msPerStep } from './timing.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '96' },
    d: { type: 'string', default: '64' },
    layers: { type: 'string', default: '2' },
    heads: { type: 'string', default: '2' },
    vocab: { type: 'string', default: '300' },
    steps: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'wasm' },
  },
});
const batch = Number(values.batch);
const s = Number(values.seq);
const config: TransformerConfig = {
  vocabSize: Number(values.vocab),
  contextLength: s,
  dModel: Number(values.d),
  layers: Number(values.layers),
  heads: Number(values.heads),
  ffn: 4 * Number(values.d),
};
const rng = new SeededRandom(0);
// Records of s + 1 tokens whose second half is the completion (the loss covers it).
const tokens = new Int32Array(batch * (s + 1)).map(() => rng.int(config.vocabSize));
const data = {
  records: batch,
  tokens,
  offsets: Int32Array.from({ length: batch + 1 }, (_, i) => i * (s + 1)),
  completionStart: new Int32Array(batch).fill(Math.floor(s / 2)),
};
const lmBatch = buildLmBatch(
  data,
  config.vocabSize,
  Array.from({ length: batch }, (_, i) => i),
);
const rows: { backend: string; gradient: string; msPerStep: number; steps: number }[] = [];
for (const backend of values.backends.split(',') as BackendName[]) {
  const selected = await selectBackend(backend);
  for (const gradient of ['tfjs', 'explicit-transpose']) {
    const model = new TransformerModel(
      config,
      initTransformer(config, 0).tensors,
      gradient === 'tfjs' ? 'reference' : 'wasm',
    );
    const opt = tf.train.adam(1e-3);
    const y = tf.tensor2d(lmBatch.targets, [lmBatch.weight, config.vocabSize]);
    const step = () => tf.dispose(opt.minimize(() => lmLoss(model, lmBatch, y), true, model.params)!);
    const steps = backend === 'cpu' ? 2 : Number(values.steps);
    const ms = msPerStep(step, () => model.params[0].dataSync(), steps);
    rows.push({ backend: selected.name, gradient, msPerStep: Math.round(ms * 10) / 10, steps });
    console.error(`${selected.name} ${gradient}: ${ms.toFixed(1)} ms/step (batch ${batch}, seq ${s})`);
    y.dispose();
    opt.dispose();
    model.dispose();
  }
}
console.log(
  JSON.stringify(
    { benchmark: 'transformer-training-step', config, batch, node: process.version, tfjs: tf.version.tfjs, rows },
    null,
    2,
  ),
);
