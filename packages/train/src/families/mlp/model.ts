import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import { matMulFor } from '../../ops.js';

/** Layer widths including input and output, e.g. [784, 256, 256, 13]. ReLU between layers, linear output. */
export type MlpLayers = number[];

/** Parameters in order W0, b0, W1, b1, ...; W_l is [in, out] row-major. */
export interface MlpParameters {
  layers: MlpLayers;
  tensors: Float32Array[];
}

export function parameterShapes(layers: MlpLayers): number[][] {
  const shapes: number[][] = [];
  for (let l = 0; l + 1 < layers.length; l++) shapes.push([layers[l], layers[l + 1]], [layers[l + 1]]);
  return shapes;
}

export function parameterNames(layers: MlpLayers): string[] {
  const names: string[] = [];
  for (let l = 0; l + 1 < layers.length; l++) names.push(`layers.${l}.weight`, `layers.${l}.bias`);
  return names;
}

/**
 * Seeded initialisation as in the paper: weights ~ N(0, std = 1/sqrt(fan_in)), biases 0. Drawn on the host with
 * distill-gate's own generator, so the same seed gives bit-identical weights in every run and on every backend.
 */
export function initMlp(layers: MlpLayers, seed: number): MlpParameters {
  const rng = new SeededRandom(seed).fork('mlp-init');
  const tensors = parameterShapes(layers).map((shape) => {
    const a = new Float32Array(shape.reduce((x, y) => x * y, 1));
    if (shape.length === 2) rng.fillNormal(a, 1 / Math.sqrt(shape[0]));
    return a;
  });
  return { layers: [...layers], tensors };
}

/** A live MLP whose parameters are tfjs variables (for training) or constants (for inference). */
export class MlpModel {
  readonly params: tf.Variable[];
  private readonly matMul: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

  constructor(
    readonly layers: MlpLayers,
    tensors: Float32Array[],
    backend: string,
    trainable = true,
  ) {
    const shapes = parameterShapes(layers);
    if (tensors.length !== shapes.length)
      throw new Error(`expected ${shapes.length} parameter tensors, got ${tensors.length}`);
    this.params = tensors.map((t, i) => tf.tidy(() => tf.variable(tf.tensor(t, shapes[i]), trainable)));
    this.matMul = matMulFor(backend);
  }

  /** Logits [rows, outputs]. */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    const n = this.layers.length - 1;
    for (let l = 0; l < n; l++) {
      const z = tf.add(this.matMul(h, this.params[2 * l] as tf.Tensor2D), this.params[2 * l + 1]) as tf.Tensor2D;
      h = l < n - 1 ? tf.relu(z) : z;
    }
    return h;
  }

  /** Logits for host inputs, computed in chunks so memory stays bounded. */
  predict(inputs: Float32Array, rows: number, chunk = 4096): Float32Array {
    const inDim = this.layers[0];
    const outDim = this.layers[this.layers.length - 1];
    const out = new Float32Array(rows * outDim);
    for (let r = 0; r < rows; r += chunk) {
      const n = Math.min(chunk, rows - r);
      const y = tf.tidy(() => this.forward(tf.tensor2d(inputs.subarray(r * inDim, (r + n) * inDim), [n, inDim])));
      out.set(y.dataSync() as Float32Array, r * outDim);
      y.dispose();
    }
    return out;
  }

  read(): Float32Array[] {
    return this.params.map((p) => p.dataSync().slice() as Float32Array);
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}
