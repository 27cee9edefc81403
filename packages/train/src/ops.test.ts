import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { batchMatMulExplicitGrad, gatherRows, matMulExplicitGrad } from './ops.js';

describe.each(['wasm', 'cpu'] as const)('explicit-transpose matMul gradient on %s', (backend) => {
  afterAll(() => tf.disposeVariables());
  it('matches the value and gradients of tfjs matMul', async () => {
    await selectBackend(backend);
    const a = tf.randomNormal([64, 96], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([96, 32], 0, 1, 'float32', 2) as tf.Tensor2D;
    const up = tf.randomNormal([64, 32], 0, 1, 'float32', 3);
    const f = (mm: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(mm(x as tf.Tensor2D, y as tf.Tensor2D), up));
    const ref = tf.grads(f((x, y) => tf.matMul(x, y)))([a, b]);
    const mine = tf.grads(f(matMulExplicitGrad))([a, b]);
    const maxDiff = (x: tf.Tensor, y: tf.Tensor) => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0];
    expect(maxDiff(matMulExplicitGrad(a, b), tf.matMul(a, b))).toBeLessThan(1e-4);
    expect(maxDiff(mine[0], ref[0])).toBeLessThan(1e-4);
    expect(maxDiff(mine[1], ref[1])).toBeLessThan(1e-4);
    tf.dispose([a, b, up, ...ref, ...mine]);
  });
});

describe.each(['wasm', 'cpu'] as const)('batched matMul and gatherRows gradients on %s', (backend) => {
  const maxDiff = (x: tf.Tensor, y: tf.Tensor) => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0];
  it('batchMatMulExplicitGrad matches tfjs matMul', async () => {
    await selectBackend(backend);
    const a = tf.randomNormal([4, 12, 8], 0, 1, 'float32', 4) as tf.Tensor3D;
    const b = tf.randomNormal([4, 8, 5], 0, 1, 'float32', 5) as tf.Tensor3D;
    const up = tf.randomNormal([4, 12, 5], 0, 1, 'float32', 6);
    const f = (mm: (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor3D) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(mm(x as tf.Tensor3D, y as tf.Tensor3D), up));
    const ref = tf.grads(f((x, y) => tf.matMul(x, y)))([a, b]);
    const mine = tf.grads(f(batchMatMulExplicitGrad))([a, b]);
    expect(maxDiff(mine[0], ref[0])).toBeLessThan(1e-4);
    expect(maxDiff(mine[1], ref[1])).toBeLessThan(1e-4);
  });
  it('gatherRows has the gradient of matMul(oneHot(indices), table), repeated rows included', async () => {
    await selectBackend(backend);
    const table = tf.randomNormal([7, 3], 0, 1, 'float32', 7) as tf.Tensor2D;
    const indices = Int32Array.from([0, 3, 3, 6, 1]);
    const up = tf.randomNormal([5, 3], 0, 1, 'float32', 8);
    const viaOneHot = (t: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(tf.oneHot(tf.tensor1d(indices, 'int32'), 7).toFloat(), t as tf.Tensor2D), up));
    const mine = (t: tf.Tensor) => tf.sum(tf.mul(gatherRows(t as tf.Tensor2D, indices), up));
    expect(maxDiff(gatherRows(table, indices), tf.gather(table, tf.tensor1d(indices, 'int32')))).toBe(0);
    expect(maxDiff(tf.grad(mine)(table), tf.grad(viaOneHot)(table))).toBeLessThan(1e-5);
  });
});
