import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@distill-gate/core';
import { selectBackend } from '../../backend.js';
import { initMlp } from './model.js';
import { trainMlp } from './trainer.js';

const same = (a: Float32Array[], b: Float32Array[]) =>
  a.every((t, i) =>
    Buffer.from(t.buffer, t.byteOffset, t.byteLength).equals(
      Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength),
    ),
  );

/** A small learnable task: the class is which of 4 input coordinates is largest. */
function task(rows: number, seed: number) {
  const rng = new SeededRandom(seed);
  const inputs = rng.fillUniform(new Float32Array(rows * 8), -1, 1);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < 4; k++) if (inputs[r * 8 + k] > inputs[r * 8 + best]) best = k;
    labels[r] = best;
  }
  return { rows, inputDim: 8, inputs, labels };
}

describe('MLP initialisation', () => {
  it('is bit-identical for the same seed and differs for another', () => {
    const a = initMlp([784, 256, 256, 13], 5);
    expect(same(a.tensors, initMlp([784, 256, 256, 13], 5).tensors)).toBe(true);
    expect(same(a.tensors, initMlp([784, 256, 256, 13], 6).tensors)).toBe(false);
  });
  it('draws weights N(0, 1/sqrt(fan_in)) and zero biases', () => {
    const { tensors } = initMlp([784, 256, 13], 1);
    const w = tensors[0];
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(sd).toBeCloseTo(1 / Math.sqrt(784), 3);
    expect(tensors[1].every((b) => b === 0)).toBe(true);
  });
});

describe('trainMlp (wasm)', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  it('learns, is deterministic for a seed, and leaks no tensors', () => {
    const data = task(2048, 1);
    const init = initMlp([8, 32, 6], 3).tensors;
    const before = tf.memory().numTensors;
    const args = {
      layers: [8, 32, 6],
      init,
      data,
      loss: 'cross-entropy' as const,
      outputs: { start: 0, end: 4 },
      epochs: 6,
      batchSize: 64,
      learningRate: 0.01,
      seed: 1,
      backend: 'wasm',
    };
    const r1 = trainMlp(args);
    expect(tf.memory().numTensors).toBe(before);
    expect(r1.lossHistory[5]).toBeLessThan(r1.lossHistory[0] * 0.6);
    expect(r1.steps).toBe(6 * 32);
    const r2 = trainMlp(args);
    expect(same(r1.weights, r2.weights)).toBe(true);
    const r3 = trainMlp({ ...args, seed: 2 });
    expect(same(r1.weights, r3.weights)).toBe(false);
  });
  it('distils with softmax-KL and with MSE towards the teacher', () => {
    const rng = new SeededRandom(4);
    const inputs = rng.fillUniform(new Float32Array(1024 * 8), -1, 1);
    const teacher = initMlp([8, 16, 5], 9).tensors;
    // Teacher targets computed in plain JS from its weights (ReLU MLP), outputs 2..5.
    const targets = new Float32Array(1024 * 3);
    for (let r = 0; r < 1024; r++) {
      const h = new Float32Array(16);
      for (let j = 0; j < 16; j++) {
        let z = teacher[1][j];
        for (let i = 0; i < 8; i++) z += inputs[r * 8 + i] * teacher[0][i * 16 + j];
        h[j] = Math.max(0, z);
      }
      for (let k = 2; k < 5; k++) {
        let z = teacher[3][k];
        for (let j = 0; j < 16; j++) z += h[j] * teacher[2][j * 5 + k];
        targets[r * 3 + (k - 2)] = z;
      }
    }
    for (const loss of ['softmax-kl', 'mse'] as const) {
      const r = trainMlp({
        layers: [8, 16, 5],
        init: initMlp([8, 16, 5], 1).tensors,
        data: { rows: 1024, inputDim: 8, inputs, targets, targetDim: 3 },
        loss,
        outputs: { start: 2, end: 5 },
        epochs: 5,
        batchSize: 64,
        learningRate: 0.01,
        seed: 1,
        backend: 'wasm',
      });
      expect(r.lossHistory[4]).toBeLessThan(r.lossHistory[0] * 0.7);
    }
  });
});
