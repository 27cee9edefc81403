import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { matMulExplicitGrad } from './ops.js';

describe.each(['wasm', 'cpu'] as const)('explicit-transpose matMul gradient on %s', (backend) => {
  afterAll(() => tf.disposeVariables());
  it('matches the value and gradients of tfjs matMul', async () => {
    await selectBackend(backend);
    const a = tf.randomNormal([64, 96], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([96, 32], 0, 1, 'float32', 2) as tf.Tensor2D;
    const up = tf.randomNormal([64, 32], 0, 1, 'float32', 3);
    const f = (mm: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(mm(x as tf.Tensor2D, y as tf.Tensor2D), up));
    const ref = tf.grads(f((x, y) => tf.matMul(x, y)))([a, b]);
    const mine = tf.grads(f(matMulExplicitGrad))([a, b]);
    const maxDiff = (x: tf.Tensor, y: tf.Tensor) => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0];
    expect(maxDiff(matMulExplicitGrad(a, b), tf.matMul(a, b))).toBeLessThan(1e-4);
    expect(maxDiff(mine[0], ref[0])).toBeLessThan(1e-4);
    expect(maxDiff(mine[1], ref[1])).toBeLessThan(1e-4);
    tf.dispose([a, b, up, ...ref, ...mine]);
  });
});
