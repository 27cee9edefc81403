/**
 * MLP training on onnxruntime-node. One ONNX graph computes a training step for S students at once: the batch
 * gathered from the dataset, the forward pass, the loss and the backward pass written out by hand (matrix products
 * with transposes, ReLU masks, bias sums). It outputs every parameter's gradient; Adam updates the parameters on the
 * host (onnx/training.ts). The graph itself has no state.
 *
 * Why: tfjs-wasm runs a matMul at ~23 GFLOP/s on one thread, onnxruntime's MLAS at ~100 (AVX2 / AVX-512). The tfjs
 * trainer (trainer.ts) stays the reference: same initialisation, same seeded minibatch order, the same Adam, and
 * tests check that both take the same steps.
 */
import { SeededRandom, type OutputRange } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import { valueInfo } from '../../onnx/proto.js';
import { GraphBuilder, OrtTrainingSession } from '../../onnx/training.js';
import { stepsPerEpoch, type TrainingRunResult } from '../../training-run.js';
import { parameterShapes, type MlpLayers } from './model.js';
import { checkTrainingData, type LossName, type TrainingData } from './trainer.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export interface MlpTrainGraphOptions {
  layers: MlpLayers;
  loss: LossName;
  outputs: OutputRange;
  /** Students trained together in one graph (a leading batch dimension on every tensor). */
  students: number;
}

/**
 * The trained tensors of S stacked students: W_l [S, out, in] and b_l [S, 1, out]. The weights are held as
 * PyTorch's nn.Linear holds them, [out, in], the transpose of the MLP's storage order: a weight's gradient is then
 * dz^T x, whose product onnxruntime runs faster than x^T dz (the input layer's: 4.6 -> 4.4 ms at batch 1024 in
 * onnxruntime's profile), and
 * the output layer's rows of the trained outputs are one contiguous slice.
 */
export function mlpTrainState(layers: MlpLayers, students: number): { name: string; shape: number[] }[] {
  return parameterShapes(layers).map((sh, i) => ({
    name: `${i % 2 ? 'b' : 'W'}${i >> 1}`,
    shape: sh.length === 2 ? [students, sh[1], sh[0]] : [students, 1, sh[0]],
  }));
}

/** The students' initial tensors, stacked, in the session's order: weights [in, out] become [out, in]. */
function toSessionOrder(layers: MlpLayers, inits: Float32Array[][]): Float32Array[] {
  return parameterShapes(layers).map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(inits.length * n);
    inits.forEach((init, st) => {
      if (shape.length === 2) transposeInto(init[i], shape[0], shape[1], a, st * n);
      else a.set(init[i], st * n);
    });
    return a;
  });
}

/** Student `st`'s tensors from the session's stacked ones, back in the MLP's storage order. */
function fromSessionOrder(layers: MlpLayers, stacked: Float32Array[], st: number): Float32Array[] {
  return parameterShapes(layers).map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const mine = stacked[i].subarray(st * n, (st + 1) * n);
    if (shape.length !== 2) return mine.slice();
    const w = new Float32Array(n);
    transposeInto(mine, shape[1], shape[0], w, 0);
    return w;
  });
}

/** A [rows, cols] matrix's transpose, written into `out` at `at`. */
function transposeInto(m: Float32Array, rows: number, cols: number, out: Float32Array, at: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[at + c * rows + r] = m[r * cols + c];
}

/**
 * A row of ones [1, 1, rows] for a batch x [S, rows, in]: a bias gradient is ones x dz, a product rather than a
 * strided reduction.
 */
function onesRow(g: GraphBuilder, x: string): string {
  return g.node(
    'ConstantOfShape',
    [
      g.node(
        'Concat',
        [
          g.ints([1, 1]),
          g.node(
            'Shape',
            [x],
            [
              { name: 'start', i: 1 },
              { name: 'end', i: 2 },
            ],
          ),
        ],
        [{ name: 'axis', i: 0 }],
      ),
    ],
    [{ name: 'value', t: onnx.TensorProto.create({ dims: [1], dataType: FLOAT, floatData: [1] }) as never }],
  );
}

/**
 * The ONNX bytes of one training step for S MLP students. Inputs: each student's batch, data_x [S, rows, in] and
 * data_target [S, rows, width] (trainMlpOnnx gathers the step's rows into them), and the parameters (mlpTrainState).
 * Outputs: "loss" [S] (each student's mean loss on its batch) and grad.<parameter> for each parameter.
 */
export function mlpTrainStepOnnx(o: MlpTrainGraphOptions): Uint8Array {
  const { layers, loss, outputs, students: S } = o;
  const L = layers.length - 1;
  const outDim = layers[L];
  const width = outputs.end - outputs.start;
  const g = new GraphBuilder();
  const state = mlpTrainState(layers, S);
  const W = (l: number) => state[2 * l].name;
  const B = (l: number) => state[2 * l + 1].name;
  const [x, target] = ['data_x', 'data_target'];
  // The output layer computes the trained outputs only: its weights' rows and its biases for them (sliced once; the
  // forward and backward passes both use them). Their gradients are padded back with zeros for the other outputs.
  const sliced = width !== outDim;
  const slice = (t: string, axis: number) =>
    sliced ? g.node('Slice', [t, g.ints([outputs.start]), g.ints([outputs.end]), g.ints([axis])]) : t;
  const unslice = (grad: string, axis: number) => {
    if (!sliced) return grad;
    const pads = [0, 0, 0, 0, 0, 0];
    pads[axis] = outputs.start;
    pads[3 + axis] = outDim - outputs.end;
    return g.node('Pad', [grad, g.ints(pads)]);
  };
  const weights = Array.from({ length: L }, (_, l) => (l === L - 1 ? slice(W(l), 1) : W(l)));
  const biases = Array.from({ length: L }, (_, l) => (l === L - 1 ? slice(B(l), 2) : B(l)));
  // Forward pass, keeping each layer's input and pre-activation.
  const hs = [x];
  const zs: string[] = [];
  for (let l = 0; l < L; l++) {
    zs.push(g.node('Add', [g.mm(hs[l], weights[l], 0, 1), biases[l]]));
    if (l < L - 1) hs.push(g.node('Relu', [zs[l]]));
  }
  const s = zs[L - 1];
  // Rows in this batch, as a float (the last batch of an epoch is shorter).
  const rows = g.node(
    'Cast',
    [g.node('Gather', [g.node('Shape', [x]), g.ints([1])], [{ name: 'axis', i: 0 }])],
    [{ name: 'to', i: FLOAT }],
  );

  // Each student's loss [S] and the gradient with respect to the selected logits [S, rows, width].
  let ds: string;
  if (loss === 'mse') {
    const diff = g.node('Sub', [s, target]);
    const count = g.node('Mul', [rows, g.scalar(width)]);
    g.node('Div', [g.sum(g.node('Mul', [diff, diff]), [1, 2]), count], [], { output: 'loss' });
    ds = g.node('Div', [g.node('Mul', [diff, g.scalar(2)]), count]);
  } else {
    const logP = g.node('LogSoftmax', [s], [{ name: 'axis', i: -1 }]);
    const p = g.node('Exp', [logP]);
    let perRow: string;
    if (loss === 'softmax-kl') {
      const logQ = g.node('LogSoftmax', [target], [{ name: 'axis', i: -1 }]);
      const q = g.node('Exp', [logQ]);
      perRow = g.sum(g.node('Mul', [q, g.node('Sub', [logQ, logP])]), [2]);
      ds = g.node('Div', [g.node('Sub', [p, q]), rows]);
    } else {
      perRow = g.node('Neg', [g.sum(g.node('Mul', [target, logP]), [2])]);
      ds = g.node('Div', [g.node('Sub', [g.node('Mul', [p, g.sum(target, [2], 1)]), target]), rows]);
    }
    g.node('Div', [g.sum(perRow, [1]), rows], [], { output: 'loss' });
  }
  let dz = ds;
  const ones = onesRow(g, x);
  // Backward pass, last layer first.
  for (let l = L - 1; l >= 0; l--) {
    const wGrad = g.mm(dz, hs[l], 1, 0);
    const bGrad = g.mm(ones, dz);
    g.gradient(W(l), l === L - 1 ? unslice(wGrad, 1) : wGrad);
    g.gradient(B(l), l === L - 1 ? unslice(bGrad, 2) : bGrad);
    if (l > 0) dz = g.node('Where', [g.node('Greater', [zs[l - 1], g.scalar(0)]), g.mm(dz, weights[l]), g.scalar(0)]);
  }
  return g.build(
    'mlp-training-step',
    [valueInfo('data_x', [S, 'rows', layers[0]]), valueInfo('data_target', [S, 'rows', width])],
    [valueInfo('loss', [S])],
    state,
  );
}

export interface TrainMlpOnnxArgs {
  layers: MlpLayers;
  data: TrainingData;
  loss: LossName;
  outputs: OutputRange;
  /** One initialisation per student (each in MLP storage order), all trained on `data`. */
  inits: Float32Array[][];
  /** Minibatch-order seed per student. */
  seeds: number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** onnxruntime intra-op threads for this session (default 1: one session per core). */
  threads?: number;
  onStep?: (completed: number, total: number) => void;
  /** Idle workers' cores, claimed for the steps that remain and given back at the end (TrainingRun). */
  claimCores?: () => number;
  returnCores?: (n: number) => void;
}

/**
 * Trains S students (one per init and seed) on the same data with Adam, as `trainMlp` does on tfjs: the same seeded
 * minibatch order per student, the same batches, the same update. Returns one result per student.
 */
export async function trainMlpOnnx(args: TrainMlpOnnxArgs): Promise<TrainingRunResult[]> {
  const t0 = performance.now();
  const { data, outputs, batchSize, layers } = args;
  const S = args.inits.length;
  if (S < 1 || args.seeds.length !== S)
    throw new Error(`trainMlpOnnx needs one seed per init (${args.seeds.length} seeds, ${S} inits)`);
  const width = outputs.end - outputs.start;
  checkTrainingData(args.loss, data, width);
  const session = await OrtTrainingSession.create(
    mlpTrainStepOnnx({ layers, loss: args.loss, outputs, students: S }),
    mlpTrainState(layers, S),
    toSessionOrder(layers, args.inits),
    { learningRate: args.learningRate, threads: args.threads },
  );
  try {
    const { ort } = session;
    // Each step's rows are gathered here, student after student, and are the graph's batch as they are. Giving
    // onnxruntime the whole dataset to gather from instead cost each worker a private copy of it per job
    // (onnxruntime refuses the shared memory the pool's workers read it from): two more copies of every row on 2
    // cores. (Gathering the next step while this one runs would gain nothing: onnxruntime-node runs a session on
    // the calling thread.)
    const inDim = data.inputDim;
    const x = new Float32Array(S * batchSize * inDim);
    const t = new Float32Array(S * batchSize * width);
    const gather = (order: ArrayLike<number>[], start: number, n: number) => {
      for (let st = 0; st < S; st++) {
        for (let j = 0; j < n; j++) {
          const row = order[st][start + j];
          const k = st * n + j;
          x.set(data.inputs.subarray(row * inDim, (row + 1) * inDim), k * inDim);
          if (data.labels) {
            t.fill(0, k * width, (k + 1) * width);
            t[k * width + data.labels[row]] = 1;
          } else {
            // (A few values per row: a loop, not a subarray view per row.)
            const targets = data.targets!;
            for (let c = 0; c < width; c++) t[k * width + c] = targets[row * width + c];
          }
        }
      }
    };
    const lossOut = session.output('loss', [S]);
    const rngs = args.seeds.map((seed) => new SeededRandom(seed).fork('minibatch-order'));
    const perEpoch = stepsPerEpoch(data.rows, batchSize);
    const total = perEpoch * args.epochs;
    const histories: number[][] = args.seeds.map(() => []);
    let done = 0;
    for (let epoch = 0; epoch < args.epochs; epoch++) {
      const orders = rngs.map((r) => r.permutation(data.rows));
      const lossSums = new Float64Array(S);
      for (let b = 0; b < perEpoch; b++) {
        const start = b * batchSize;
        const n = Math.min(batchSize, data.rows - start);
        gather(orders, start, n);
        await session.claimIdleCores(args.claimCores, total - done);
        await session.run(
          {
            data_x: new ort.Tensor('float32', x.subarray(0, S * n * inDim), [S, n, inDim]),
            data_target: new ort.Tensor('float32', t.subarray(0, S * n * width), [S, n, width]),
          },
          { loss: lossOut },
        );
        const losses = lossOut.data as Float32Array;
        for (let st = 0; st < S; st++) lossSums[st] += losses[st] * n;
        done++;
        args.onStep?.(done, total);
      }
      for (let st = 0; st < S; st++) histories[st].push(lossSums[st] / data.rows);
    }
    const ms = performance.now() - t0;
    const final = session.parameters();
    return args.seeds.map((_, st) => ({
      weights: fromSessionOrder(layers, final, st),
      lossHistory: histories[st],
      steps: done,
      ms,
    }));
  } finally {
    args.returnCores?.(session.claimedCores);
    await session.release();
  }
}
