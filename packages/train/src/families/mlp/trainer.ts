import * as tf from '@tensorflow/tfjs';
import { SeededRandom, type OutputRange } from '@distill-gate/core';
import { stepsPerEpoch, type TrainingRunArgs, type TrainingRunResult } from '../../training-run.js';
import { MlpModel, type MlpLayers } from './model.js';

export type LossName = 'softmax-kl' | 'cross-entropy' | 'mse';

export interface TrainingData {
  rows: number;
  inputDim: number;
  inputs: Float32Array;
  /** For softmax-kl / mse: [rows, targetDim] teacher values for `outputs`. */
  targets?: Float32Array;
  targetDim?: number;
  /** For cross-entropy: class index per row, over `outputs`. */
  labels?: Int32Array;
}

export interface TrainMlpArgs extends TrainingRunArgs {
  layers: MlpLayers;
  data: TrainingData;
  loss: LossName;
  outputs: OutputRange;
}

export type TrainMlpResult = TrainingRunResult;

/**
 * The loss on the chosen outputs of the logits.
 * softmax-kl: KL(softmax(teacher) || softmax(student)), summed over outputs, mean over the batch.
 * cross-entropy: -log softmax(student)[label]. mse: mean squared error over outputs.
 */
export function lossFn(name: LossName, logits: tf.Tensor2D, outputs: OutputRange, target: tf.Tensor2D): tf.Scalar {
  const rows = logits.shape[0];
  const s = tf.slice(logits, [0, outputs.start], [rows, outputs.end - outputs.start]);
  if (name === 'mse') return tf.mean(tf.square(tf.sub(s, target))) as tf.Scalar;
  const logP = tf.logSoftmax(s);
  if (name === 'cross-entropy') return tf.neg(tf.mean(tf.sum(tf.mul(target, logP), 1))) as tf.Scalar;
  const logQ = tf.logSoftmax(target);
  return tf.mean(tf.sum(tf.mul(tf.exp(logQ), tf.sub(logQ, logP)), 1)) as tf.Scalar;
}

/** Throws unless the data fits the loss over `width` outputs and its arrays hold `rows` rows. */
export function checkTrainingData(loss: LossName, data: TrainingData, width: number): void {
  if (loss === 'cross-entropy' ? !data.labels : !data.targets || data.targetDim !== width) {
    throw new Error(`training data does not fit loss ${loss} over ${width} outputs`);
  }
  const short = (name: string, length: number, need: number) =>
    length < need && `${name} holds ${length} values, ${data.rows} rows need ${need}`;
  const problem =
    short('inputs', data.inputs.length, data.rows * data.inputDim) ||
    (data.labels
      ? short('labels', data.labels.length, data.rows)
      : short('targets', data.targets!.length, data.rows * width));
  if (problem) throw new Error(`training data: ${problem}`);
}

/** Trains an MLP from `init` with Adam on minibatches in a seeded order. Runs on the current tfjs backend. */
export function trainMlp(args: TrainMlpArgs): TrainMlpResult {
  const t0 = performance.now();
  const { data, outputs, batchSize } = args;
  const width = outputs.end - outputs.start;
  checkTrainingData(args.loss, data, width);
  const model = new MlpModel(args.layers, args.init, args.backend);
  // Adam with PyTorch's defaults (eps 1e-8), as in the paper's setup.
  const optimizer = tf.train.adam(args.learningRate, 0.9, 0.999, 1e-8);
  const rng = new SeededRandom(args.seed).fork('minibatch-order');
  const perEpoch = stepsPerEpoch(data.rows, batchSize);
  const total = perEpoch * args.epochs;
  const xBuf = new Float32Array(batchSize * data.inputDim);
  const yBuf = new Float32Array(batchSize * width);
  const lossHistory: number[] = [];
  let done = 0;
  for (let epoch = 0; epoch < args.epochs; epoch++) {
    const order = rng.permutation(data.rows);
    let lossSum = tf.scalar(0);
    for (let b = 0; b < perEpoch; b++) {
      const start = b * batchSize;
      const n = Math.min(batchSize, data.rows - start);
      for (let k = 0; k < n; k++) {
        const r = order[start + k];
        xBuf.set(data.inputs.subarray(r * data.inputDim, (r + 1) * data.inputDim), k * data.inputDim);
        if (data.labels) {
          yBuf.fill(0, k * width, (k + 1) * width);
          yBuf[k * width + data.labels[r]] = 1;
        } else {
          yBuf.set(data.targets!.subarray(r * width, (r + 1) * width), k * width);
        }
      }
      const x = tf.tensor2d(xBuf.subarray(0, n * data.inputDim), [n, data.inputDim]);
      const y = tf.tensor2d(yBuf.subarray(0, n * width), [n, width]);
      const cost = optimizer.minimize(() => lossFn(args.loss, model.forward(x), outputs, y), true, model.params)!;
      // Accumulate on the device: one host sync per epoch, not per step.
      const next = tf.tidy(() => tf.add(lossSum, tf.mul(cost, n)) as tf.Scalar);
      lossSum.dispose();
      lossSum = next;
      cost.dispose();
      x.dispose();
      y.dispose();
      done++;
      args.onStep?.(done, total);
    }
    lossHistory.push((lossSum.dataSync()[0] as number) / data.rows);
    lossSum.dispose();
  }
  const weights = model.read();
  model.dispose();
  optimizer.dispose();
  return { weights, lossHistory, steps: done, ms: performance.now() - t0 };
}
