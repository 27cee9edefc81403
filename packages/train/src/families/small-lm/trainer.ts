import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import { PAD } from './tokenizer.js';
import { gatherRows } from '../../ops.js';
import type { TrainingRunArgs, TrainingRunResult } from '../../training-run.js';
import { TransformerModel, type TransformerConfig } from './transformer.js';

/**
 * Tokenized prompt/completion records in flat typed arrays (so they can live in shared memory for the workers).
 * Record i is tokens[offsets[i] .. offsets[i+1]); its completion starts at index completionStart[i] of the record.
 * The model is trained to predict every completion token (and <eos>) from the tokens before it.
 */
export interface LmTrainingData {
  records: number;
  tokens: Int32Array;
  offsets: Int32Array;
  completionStart: Int32Array;
  /**
   * Optional soft targets (the teacher's next-token distribution) for completion positions. Record i's k-th
   * completion target is slot slotBegin[i] + k (slotBegin[i] = -1: hard labels only); slot t's distribution is
   * entryTokens/entryProbs[entryOffsets[t] .. entryOffsets[t+1]) (renormalised; an empty slot uses the hard label).
   */
  soft?: { slotBegin: Int32Array; entryOffsets: Int32Array; entryTokens: Int32Array; entryProbs: Float32Array };
}

export interface TrainLmArgs extends TrainingRunArgs {
  config: TransformerConfig;
  data: LmTrainingData;
}

/** Loss history is the mean loss per completion token, per epoch. */
export type TrainLmResult = TrainingRunResult;

/** A minibatch laid out for the model: ids [rows, s]; the completion positions and their target distributions. */
export interface LmBatch {
  rows: number;
  s: number;
  ids: Int32Array;
  /** Each row's tokens before its padding (rows are padded at their end). */
  lengths: Int32Array;
  /** Flat positions (row * s + j) whose next token is a completion target. */
  positions: Int32Array;
  /** Target distribution per position [positions, vocab] (one-hot for hard labels). */
  targets: Float32Array;
  /** Number of completion targets in the batch (the loss is their mean). */
  weight: number;
}

/** Builds one batch from the chosen records, padded to the longest of them. */
export function buildLmBatch(data: LmTrainingData, vocab: number, picks: ArrayLike<number>): LmBatch {
  let s = 1;
  for (let k = 0; k < picks.length; k++) s = Math.max(s, data.offsets[picks[k] + 1] - data.offsets[picks[k]] - 1);
  const rows = picks.length;
  const ids = new Int32Array(rows * s).fill(PAD);
  const lengths = new Int32Array(rows);
  let weight = 0;
  for (let k = 0; k < rows; k++)
    weight += data.offsets[picks[k] + 1] - data.offsets[picks[k]] - data.completionStart[picks[k]];
  const positions = new Int32Array(weight);
  const targets = new Float32Array(weight * vocab);
  let at = 0;
  for (let k = 0; k < rows; k++) {
    const r = picks[k];
    const start = data.offsets[r];
    const len = data.offsets[r + 1] - start;
    ids.set(data.tokens.subarray(start, start + len - 1), k * s);
    lengths[k] = len - 1;
    const cs = data.completionStart[r];
    const slot0 = data.soft ? data.soft.slotBegin[r] : -1;
    for (let j = cs; j < len; j++) {
      positions[at] = k * s + j - 1;
      const row = at++ * vocab;
      if (slot0 >= 0) {
        const soft = data.soft!;
        const t = slot0 + (j - cs);
        const a = soft.entryOffsets[t];
        const b = soft.entryOffsets[t + 1];
        if (b > a) {
          let z = 0;
          for (let e = a; e < b; e++) z += soft.entryProbs[e];
          for (let e = a; e < b; e++) targets[row + soft.entryTokens[e]] += soft.entryProbs[e] / z;
          continue;
        }
      }
      targets[row + data.tokens[start + j]] = 1;
    }
  }
  return { rows, s, ids, lengths, positions, targets, weight };
}

/**
 * Mean cross-entropy of the model against the batch's target distributions (hard labels are one-hot), computed
 * at the completion positions only: the output head and softmax run on those rows, not on every position.
 */
export function lmLoss(model: TransformerModel, batch: LmBatch, targets: tf.Tensor2D): tf.Scalar {
  return tf.div(tf.neg(tf.sum(tf.mul(targets, completionLogProbs(model, batch)))), batch.weight) as tf.Scalar;
}

/** Next-token log-probabilities [positions, vocab] at the batch's completion positions only (differentiable). */
export function completionLogProbs(model: TransformerModel, batch: LmBatch): tf.Tensor2D {
  const h = model.hidden({ host: batch.ids, rows: batch.rows, s: batch.s });
  return tf.logSoftmax(model.head(gatherRows(h, batch.positions)));
}

/** Fine-tunes a transformer from `init` with Adam on seeded minibatches; loss on completion tokens only. */
export function trainLm(args: TrainLmArgs): TrainLmResult {
  const t0 = performance.now();
  const { data, batchSize, config } = args;
  const model = new TransformerModel(config, args.init, args.backend);
  const optimizer = tf.train.adam(args.learningRate, 0.9, 0.999, 1e-8);
  const rng = new SeededRandom(args.seed).fork('lm-minibatch-order');
  const perEpoch = Math.ceil(data.records / batchSize);
  const total = perEpoch * args.epochs;
  const lossHistory: number[] = [];
  let done = 0;
  for (let epoch = 0; epoch < args.epochs; epoch++) {
    const order = rng.permutation(data.records);
    let lossSum = tf.scalar(0);
    let weightSum = 0;
    for (let b = 0; b < perEpoch; b++) {
      const batch = buildLmBatch(
        data,
        config.vocabSize,
        order.subarray(b * batchSize, Math.min(data.records, (b + 1) * batchSize)),
      );
      const targets = tf.tensor2d(batch.targets, [batch.weight, config.vocabSize]);
      const cost = optimizer.minimize(() => lmLoss(model, batch, targets), true, model.params)!;
      // Accumulated on the device: one host sync per epoch.
      const next = tf.tidy(() => tf.add(lossSum, tf.mul(cost, batch.weight)) as tf.Scalar);
      lossSum.dispose();
      lossSum = next;
      weightSum += batch.weight;
      tf.dispose([cost, targets]);
      done++;
      args.onStep?.(done, total);
    }
    lossHistory.push((lossSum.dataSync()[0] as number) / weightSum);
    lossSum.dispose();
  }
  const weights = model.read();
  model.dispose();
  optimizer.dispose();
  return { weights, lossHistory, steps: done, ms: performance.now() - t0 };
}
