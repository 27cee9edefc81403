import * as tf from '@tensorflow/tfjs';

/**
 * matMul whose gradient uses explicit transposes. tfjs computes the matMul gradient with transposeA/transposeB
 * matMuls, which the wasm backend runs ~15x slower than a plain matMul; transposing first and then calling a plain
 * matMul made an MLP training step ~3x faster on wasm (see DESIGN.md) with the same gradients.
 */
export const matMulExplicitGrad = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** The matMul to use on a backend: the explicit-transpose gradient where it pays (wasm), tfjs's own elsewhere. */
export function matMulFor(backend: string): (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D {
  return backend === 'wasm' ? matMulExplicitGrad : (a, b) => tf.matMul(a, b);
}
