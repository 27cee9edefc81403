import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@distill-gate/core';
import { selectBackend } from '../../backend.js';
import { initMlp } from './model.js';
import { mlpTrainStepOnnx, trainMlpOnnx } from './onnx-train.js';
import { ONNXRUNTIME_NODE_VERSION } from '../../onnx/runtime.js';
import { chooseTrainer, createTrainingCore } from '../../training-core.js';
import { MlpHandle } from './handle.js';
import { trainMlp, type LossName, type TrainingData } from './trainer.js';

const layers = [8, 16, 16, 5];
const outputs = { start: 2, end: 5 };

function data(loss: LossName, rows = 700): TrainingData {
  const rng = new SeededRandom(11);
  const inputs = rng.fillUniform(new Float32Array(rows * 8), -1, 1);
  if (loss === 'cross-entropy') {
    const labels = new Int32Array(rows);
    for (let r = 0; r < rows; r++) labels[r] = inputs[r * 8] > inputs[r * 8 + 1] ? (inputs[r * 8 + 2] > 0 ? 0 : 1) : 2;
    return { rows, inputDim: 8, inputs, labels };
  }
  return { rows, inputDim: 8, inputs, targets: rng.fillNormal(new Float32Array(rows * 3), 2), targetDim: 3 };
}

/** Largest |a - b| over all tensors, and largest |a - init| (how far training moved the weights). */
function gap(a: Float32Array[], b: Float32Array[], init: Float32Array[]) {
  let diff = 0;
  let moved = 0;
  a.forEach((t, i) =>
    t.forEach(
      (x, j) => ((diff = Math.max(diff, Math.abs(x - b[i][j]))), (moved = Math.max(moved, Math.abs(x - init[i][j])))),
    ),
  );
  return { diff, moved };
}

const bits = (a: Float32Array[]) => Buffer.concat(a.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength)));

describe('MLP training on onnxruntime-node', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  for (const loss of ['softmax-kl', 'mse', 'cross-entropy'] as const) {
    it(`takes the same Adam steps as the tfjs trainer (${loss})`, async () => {
      const d = data(loss);
      const init = initMlp(layers, 3).tensors;
      const common = { layers, data: d, loss, outputs, epochs: 2, batchSize: 64, learningRate: 0.003 };
      const ref = trainMlp({ ...common, init, seed: 5, backend: 'wasm' });
      const [ort] = await trainMlpOnnx({ ...common, inits: [init], seeds: [5] });
      expect(ort.steps).toBe(ref.steps);
      ort.lossHistory.forEach((l, e) =>
        expect(Math.abs(l - ref.lossHistory[e])).toBeLessThan(1e-4 * Math.abs(ref.lossHistory[e]) + 1e-6),
      );
      const { diff, moved } = gap(ort.weights, ref.weights, init);
      expect(moved).toBeGreaterThan(0.01);
      // Float rounding differs between the engines and Adam's normalised steps carry it on; the weights agree to
      // well under a percent of how far training moved them.
      expect(diff).toBeLessThan(0.01 * moved);
    });
  }

  it('trains several students in one graph exactly as it trains each alone, and repeats bit for bit', async () => {
    const d = data('softmax-kl', 300);
    const inits = [initMlp(layers, 1).tensors, initMlp(layers, 2).tensors];
    const common = {
      layers,
      data: d,
      loss: 'softmax-kl' as const,
      outputs,
      epochs: 1,
      batchSize: 50,
      learningRate: 0.003,
    };
    const both = await trainMlpOnnx({ ...common, inits, seeds: [7, 8] });
    const alone = [
      await trainMlpOnnx({ ...common, inits: [inits[0]], seeds: [7] }),
      await trainMlpOnnx({ ...common, inits: [inits[1]], seeds: [8] }),
    ];
    for (let s = 0; s < 2; s++) {
      const { diff } = gap(both[s].weights, alone[s][0].weights, inits[s]);
      expect(diff).toBeLessThan(1e-6);
      expect(both[s].lossHistory[0]).toBeCloseTo(alone[s][0].lossHistory[0], 6);
    }
    const again = await trainMlpOnnx({ ...common, inits: [inits[0]], seeds: [7] });
    expect(bits(again[0].weights).equals(bits(alone[0][0].weights))).toBe(true);
  });

  it('takes cores left idle mid-run, with the same numbers, and gives them back at the end', async () => {
    // Products large enough for onnxruntime to split them between two threads.
    const wide = [64, 192, 192, 5];
    const rows = 6000;
    const rng = new SeededRandom(3);
    const d: TrainingData = {
      rows,
      inputDim: 64,
      inputs: rng.fillUniform(new Float32Array(rows * 64), -1, 1),
      targets: rng.fillNormal(new Float32Array(rows * 3), 2),
      targetDim: 3,
    };
    const common = {
      layers: wide,
      data: d,
      loss: 'softmax-kl' as const,
      outputs,
      epochs: 1,
      batchSize: 200,
      learningRate: 0.003,
      inits: [initMlp(wide, 8).tensors],
      seeds: [2],
    };
    const [alone] = await trainMlpOnnx(common);
    let asked = 0;
    let returned = 0;
    const [widened] = await trainMlpOnnx({
      ...common,
      // One idle core appears at the fifth step.
      claimCores: () => (++asked === 5 ? 1 : 0),
      returnCores: (n) => (returned += n),
    });
    expect(asked).toBeGreaterThan(5);
    expect(returned).toBe(1);
    expect(bits(widened.weights).equals(bits(alone.weights))).toBe(true);
  });

  it('is one graph of standard operators plus FusedMatMul: parameters in, loss and gradients out', () => {
    const bytes = mlpTrainStepOnnx({ layers, loss: 'softmax-kl', outputs, students: 3 });
    const text = Buffer.from(bytes).toString('latin1');
    for (const name of [
      'data_x',
      'data_target',
      'W0',
      'grad.W0',
      'grad.b2',
      'grad.W1',
      'loss',
      'FusedMatMul',
      'com.microsoft',
    ])
      expect(text).toContain(name);
  });

  it('names the onnxruntime-node version that is installed (the one the GitHub Action installs)', () => {
    expect(createRequire(import.meta.url)('onnxruntime-node/package.json').version).toBe(ONNXRUNTIME_NODE_VERSION);
  });

  it('is what the training core uses for MLP students when asked, in its workers, and it says so', async () => {
    expect((await chooseTrainer('tfjs', 'wasm')).engine).toBe('tfjs');
    expect((await chooseTrainer('auto', 'tensorflow')).engine).toBe('tfjs');
    const auto = await chooseTrainer('auto', 'wasm');
    expect(auto).toMatchObject({ engine: 'onnxruntime' });
    expect(auto.reason).toMatch(/^auto: onnxruntime-node \S+ is installed/);
    const d = data('softmax-kl', 400);
    const init = initMlp(layers, 4);
    const train = async (trainer: 'tfjs' | 'onnxruntime') => {
      const core = await createTrainingCore({ backend: 'wasm', trainer, workers: 2 });
      expect(core.backend.training?.engine).toBe(trainer);
      const base = new MlpHandle('base', init, 'wasm');
      const dataset = { rows: d.rows, inputDim: 8, targetDim: 3, inputs: d.inputs, targets: d.targets!, metadata: {} };
      const jobs = [1, 2].map((seed) => ({
        id: `s${seed}`,
        role: 'probe' as const,
        seed,
        init: base,
        data: dataset,
        training: { epochs: 1, batchSize: 40, learningRate: 0.003, loss: 'softmax-kl' as const, outputs },
      }));
      const out = await core.trainStudents(jobs);
      await core.dispose();
      return out.map((s) => (s.model as MlpHandle).params.tensors);
    };
    const [ort, tfjs] = [await train('onnxruntime'), await train('tfjs')];
    for (let s = 0; s < 2; s++) {
      const { diff, moved } = gap(ort[s], tfjs[s], init.tensors);
      expect(diff).toBeLessThan(0.01 * moved);
    }
  });
});
