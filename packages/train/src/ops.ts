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

/**
 * Batched matMul [b, m, k] x [b, k, n] with the explicit-transpose gradient. (On wasm the batched kernel is the
 * slow, non-XNNPACK one: ~3 GMAC/s; slicing the batch into 2-D matMuls was slower still, because Slice and Unpack
 * cost more than the products. Attention therefore stays small: short sequences, few heads.)
 */
export const batchMatMulExplicitGrad = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor3D[];
      return [
        tf.matMul(dy as tf.Tensor3D, tf.transpose(sb, [0, 2, 1])),
        tf.matMul(tf.transpose(sa, [0, 2, 1]), dy as tf.Tensor3D),
      ];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

export function batchMatMulFor(backend: string): (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D {
  return backend === 'wasm' ? batchMatMulExplicitGrad : (a, b) => tf.matMul(a, b);
}

/**
 * Rows `indices` of `table` ([rows, width]), differentiable on every backend. tfjs's gather has no gradient on
 * wasm (its UnsortedSegmentSum kernel is missing), and the usual workaround, matMul(oneHot(indices), table), spends
 * a full [n, rows] x [rows, width] product plus a transpose on the forward pass. Here the forward pass is a plain
 * gather and the gradient one matMul with the transposed one-hot matrix, built on the host.
 */
export function gatherRows(table: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  const rows = table.shape[0];
  const n = indices.length;
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = args[0] as tf.Tensor2D;
    return {
      value: tf.gather(t, tf.tensor1d(indices, 'int32')),
      gradFunc: (dy: tf.Tensor) => {
        const scatter = new Float32Array(rows * n);
        for (let k = 0; k < n; k++) scatter[indices[k] * n + k] = 1;
        return [tf.matMul(tf.tensor2d(scatter, [rows, n]), dy as tf.Tensor2D)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (t: tf.Tensor2D) => tf.Tensor2D;
  return f(table);
}
