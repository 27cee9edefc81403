/**
 * Transformer training on onnxruntime-node: one ONNX graph per training step of distill-gate's causal LM
 * (transformer.ts), forward and backward written out by hand. The forward pass is the tfjs model's: token and
 * position embeddings, pre-norm blocks (LayerNormalization, multi-head causal attention without biases, ReLU
 * feed-forward), a final norm and the output head on the completion positions only; the loss is the cross-entropy
 * against the batch's target distributions (trainer.ts). The backward pass keeps what the forward pass computed
 * (normalised activations, attention probabilities) and applies the chain rule layer by layer. The graph outputs the
 * gradients; Adam runs on the host (onnx/training.ts).
 *
 * Padding is never computed on: the batch's real tokens are packed ([T, d], T = the rows' lengths summed) for every
 * per-token operation (norms, projections, feed-forward, embeddings' gradients), and only attention sees the padded
 * [rows, heads, s, headDim] layout, gathered from the packed rows with a zero row for the padding. Rows are padded at
 * their end and attention is causal, so no real token reads a padded one, and the padded positions' gradients are
 * zero: the numbers are the padded computation's, without its work (a quarter of the positions in the owl example's
 * batches are padding).
 *
 * The tfjs trainer (trainer.ts) is the reference: same batches in the same seeded order, same Adam; a test checks
 * that both take the same steps.
 */
import { SeededRandom } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import { valueInfo } from '../../onnx/proto.js';
import { GraphBuilder, OrtTrainingSession } from '../../onnx/training.js';
import { buildLmBatch, type LmBatch, type TrainLmArgs } from './trainer.js';
import type { TrainingRunResult } from '../../training-run.js';
import { transformerSpec, type TransformerConfig } from './transformer.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const LN_EPS = 1e-5;

type LayerNormOut = { y: string; xhat: string; inv: string; prefix: string };

/** What the forward pass keeps of one block for the backward pass. */
interface BlockActivations {
  ln1: LayerNormOut;
  q: string;
  k: string;
  v: string;
  probs: string;
  o: string;
  ln2: LayerNormOut;
  u: string;
  r: string;
}

/** The training step's graph under construction, with the shapes and helpers its forward and backward passes share. */
class StepGraph {
  readonly g = new GraphBuilder();
  readonly dh: number;
  /** [rows, s, heads, dh] (rows as -1) and [-1, d]. */
  private readonly bshd: string;
  readonly flat: string;
  private readonly zeroRow: string;

  constructor(readonly c: TransformerConfig) {
    const g = this.g;
    this.dh = c.dModel / c.heads;
    const s = g.node('Slice', [g.node('Shape', ['mask']), g.ints([0]), g.ints([1])]);
    this.bshd = g.node('Concat', [g.ints([-1]), s, g.ints([c.heads, this.dh])], [{ name: 'axis', i: 0 }]);
    this.flat = g.ints([-1, c.dModel]);
    this.zeroRow = g.node(
      'ConstantOfShape',
      [g.ints([1, c.dModel])],
      [{ name: 'value', t: onnx.TensorProto.create({ dims: [1], dataType: FLOAT, floatData: [0] }) as never }],
    );
  }

  zeroLike(x: string): string {
    const value = onnx.TensorProto.create({ dims: [1], dataType: FLOAT, floatData: [0] });
    return this.g.node('ConstantOfShape', [this.g.node('Shape', [x])], [{ name: 'value', t: value as never }]);
  }

  /** Packed [T, d] to padded heads [rows, heads, s, dh] (zeros at the padding: `padded` points past the tokens). */
  toHeads(x: string): string {
    const g = this.g;
    const rows = g.node(
      'Gather',
      [g.node('Concat', [x, this.zeroRow], [{ name: 'axis', i: 0 }]), 'padded'],
      [{ name: 'axis', i: 0 }],
    );
    return g.node('Transpose', [g.node('Reshape', [rows, this.bshd])], [{ name: 'perm', ints: [0, 2, 1, 3] }]);
  }

  /** Padded heads [rows, heads, s, dh] to packed [T, d]: the real tokens' rows only. */
  fromHeads(x: string): string {
    const g = this.g;
    const flat = g.node('Reshape', [g.node('Transpose', [x], [{ name: 'perm', ints: [0, 2, 1, 3] }]), this.flat]);
    return g.node('Gather', [flat, 'tokens'], [{ name: 'axis', i: 0 }]);
  }

  sumRows(x: string): string {
    return this.g.sum(x, [0]);
  }

  /** Layer norm with what its gradient needs: the normalised input and the inverse standard deviation. */
  layerNorm(x: string, prefix: string): LayerNormOut {
    const g = this.g;
    const [y, mean, inv] = [`${prefix}.y`, `${prefix}.mean`, `${prefix}.inv`];
    g.node(
      'LayerNormalization',
      [x, `${prefix}.gain`, `${prefix}.bias`],
      [
        { name: 'axis', i: -1 },
        { name: 'epsilon', f: LN_EPS },
      ],
      { outputs: [y, mean, inv] },
    );
    return { y, xhat: g.node('Mul', [g.node('Sub', [x, mean]), inv]), inv, prefix };
  }

  /** d(loss)/d(input) of a layer norm, given d(loss)/d(output); the gain's and bias's gradients are graph outputs. */
  layerNormBack(dy: string, ln: LayerNormOut): string {
    const g = this.g;
    g.gradient(`${ln.prefix}.gain`, this.sumRows(g.node('Mul', [dy, ln.xhat])));
    g.gradient(`${ln.prefix}.bias`, this.sumRows(dy));
    const dxhat = g.node('Mul', [dy, `${ln.prefix}.gain`]);
    const centred = g.node('Sub', [
      g.node('Sub', [dxhat, g.mean(dxhat, [-1], 1)]),
      g.node('Mul', [ln.xhat, g.mean(g.node('Mul', [dxhat, ln.xhat]), [-1], 1)]),
    ]);
    return g.node('Mul', [centred, ln.inv]);
  }

  /** Block l's forward pass from its input x: its output and what the backward pass needs. */
  block(x: string, l: number): { out: string; acts: BlockActivations } {
    const g = this.g;
    const p = `blocks.${l}`;
    const ln1 = this.layerNorm(x, `${p}.ln1`);
    const [q, k, v] = ['query', 'key', 'value'].map((w) => this.toHeads(g.mm(ln1.y, `${p}.attn.${w}`)));
    const probs = g.node(
      'Softmax',
      [g.node('Add', [g.node('Mul', [g.mm(q, k, 0, 1), g.scalar(1 / Math.sqrt(this.dh))]), 'mask'])],
      [{ name: 'axis', i: -1 }],
    );
    const o = this.fromHeads(g.mm(probs, v));
    const x1 = g.node('Add', [x, g.mm(o, `${p}.attn.out`)]);
    const ln2 = this.layerNorm(x1, `${p}.ln2`);
    const u = g.node('Add', [g.mm(ln2.y, `${p}.ffn.in`), `${p}.ffn.in_bias`]);
    const r = g.node('Relu', [u]);
    const out = g.node('Add', [x1, g.node('Add', [g.mm(r, `${p}.ffn.out`), `${p}.ffn.out_bias`])]);
    return { out, acts: { ln1, q, k, v, probs, o, ln2, u, r } };
  }

  /** Block l's backward pass: d(loss)/d(input) from d(loss)/d(output); its parameters' gradients are outputs. */
  blockBack(dx: string, l: number, b: BlockActivations): string {
    const g = this.g;
    const p = `blocks.${l}`;
    g.gradient(`${p}.ffn.out_bias`, this.sumRows(dx));
    g.gradient(`${p}.ffn.out`, g.mm(b.r, dx, 1, 0));
    const du = g.node('Where', [g.node('Greater', [b.u, g.scalar(0)]), g.mm(dx, `${p}.ffn.out`, 0, 1), g.scalar(0)]);
    g.gradient(`${p}.ffn.in_bias`, this.sumRows(du));
    g.gradient(`${p}.ffn.in`, g.mm(b.ln2.y, du, 1, 0));
    const dx1 = g.node('Add', [dx, this.layerNormBack(g.mm(du, `${p}.ffn.in`, 0, 1), b.ln2)]);
    g.gradient(`${p}.attn.out`, g.mm(b.o, dx1, 1, 0));
    const dO = this.toHeads(g.mm(dx1, `${p}.attn.out`, 0, 1));
    const dp = g.mm(dO, b.v, 0, 1);
    const dv = g.mm(b.probs, dO, 1, 0);
    const dscores = g.node('Mul', [
      g.node('Mul', [b.probs, g.node('Sub', [dp, g.sum(g.node('Mul', [dp, b.probs]), [-1], 1)])]),
      g.scalar(1 / Math.sqrt(this.dh)),
    ]);
    const grads = {
      query: this.fromHeads(g.mm(dscores, b.k)),
      key: this.fromHeads(g.mm(dscores, b.q, 1, 0)),
      value: this.fromHeads(dv),
    };
    let dh1: string | undefined;
    for (const [w, dw] of Object.entries(grads)) {
      g.gradient(`${p}.attn.${w}`, g.mm(b.ln1.y, dw, 1, 0));
      const back = g.mm(dw, `${p}.attn.${w}`, 0, 1);
      dh1 = dh1 ? g.node('Add', [dh1, back]) : back;
    }
    return g.node('Add', [dx1, this.layerNormBack(dh1!, b.ln1)]);
  }

  /** The embeddings' gradients from d(loss)/d(first block's input) [T, d], added to each token's id and position. */
  embeddingsBack(dx: string): void {
    const g = this.g;
    const scatter = (table: string, index: string) =>
      g.node(
        'ScatterND',
        [this.zeroLike(table), g.node('Unsqueeze', [index, g.ints([-1])]), dx],
        [{ name: 'reduction', s: 'add' }],
      );
    g.gradient('embed.positions', scatter('embed.positions', 'token_positions'));
    g.gradient('embed.tokens', scatter('embed.tokens', 'token_ids'));
  }
}

/**
 * The ONNX bytes of one training step. Inputs (int64 unless said): token_ids [T] and token_positions [T] (the batch's
 * real tokens, row after row, and each one's position in its row), tokens [T] (each one's flat index row * s + j in
 * the padded batch), padded [rows * s] (each padded position's token, T for padding), positions [P] (the tokens whose
 * next token is a target, as indices into the T), targets float [P, vocab], mask float [s, s] (0 on and below the
 * diagonal, -1e9 above) and the parameters (transformerSpec's tensors). Outputs: "loss" (mean over the P targets)
 * and grad.<parameter> for each parameter. `packLmBatch` makes the inputs from a batch.
 */
export function transformerTrainStepOnnx(c: TransformerConfig): Uint8Array {
  const sg = new StepGraph(c);
  const g = sg.g;

  // Forward.
  let x = g.node('Add', [
    g.node('Gather', ['embed.tokens', 'token_ids'], [{ name: 'axis', i: 0 }]),
    g.node('Gather', ['embed.positions', 'token_positions'], [{ name: 'axis', i: 0 }]),
  ]);
  const blocks: BlockActivations[] = [];
  for (let l = 0; l < c.layers; l++) {
    const block = sg.block(x, l);
    blocks.push(block.acts);
    x = block.out;
  }
  const lnf = sg.layerNorm(x, 'final_ln');
  const hp = g.node('Gather', [lnf.y, 'positions'], [{ name: 'axis', i: 0 }]);
  const logp = g.node('LogSoftmax', [g.node('Add', [g.mm(hp, 'head.weight'), 'head.bias'])], [{ name: 'axis', i: -1 }]);
  const count = g.node('Cast', [g.node('Shape', ['positions'])], [{ name: 'to', i: FLOAT }]);
  g.node('Div', [g.node('Neg', [g.sum(g.node('Mul', ['targets', logp]), [0, 1])]), g.node('Squeeze', [count])], [], {
    output: 'loss',
  });

  // Backward.
  const dlogits = g.node('Div', [
    g.node('Sub', [g.node('Mul', [g.node('Exp', [logp]), g.sum('targets', [-1], 1)]), 'targets']),
    count,
  ]);
  g.gradient('head.weight', g.mm(hp, dlogits, 1, 0));
  g.gradient('head.bias', sg.sumRows(dlogits));
  const dhp = g.mm(dlogits, 'head.weight', 0, 1);
  let dx = sg.layerNormBack(
    g.node('ScatterND', [sg.zeroLike(lnf.y), g.node('Unsqueeze', ['positions', g.ints([1])]), dhp]),
    lnf,
  );
  for (let l = c.layers - 1; l >= 0; l--) dx = sg.blockBack(dx, l, blocks[l]);
  sg.embeddingsBack(dx);

  return g.build(
    'transformer-training-step',
    [
      valueInfo('token_ids', ['T'], INT64),
      valueInfo('token_positions', ['T'], INT64),
      valueInfo('tokens', ['T'], INT64),
      valueInfo('padded', ['rows_s'], INT64),
      valueInfo('positions', ['P'], INT64),
      valueInfo('targets', ['P', c.vocabSize]),
      valueInfo('mask', ['s', 's']),
    ],
    [valueInfo('loss', [])],
    transformerSpec(c).map((p) => ({ name: p.name, shape: p.shape })),
  );
}

/** The training step's token inputs for a batch (transformerTrainStepOnnx): its real tokens packed, and the maps. */
export function packLmBatch(batch: LmBatch): {
  tokenIds: BigInt64Array;
  tokenPositions: BigInt64Array;
  tokens: BigInt64Array;
  padded: BigInt64Array;
  positions: BigInt64Array;
} {
  const { rows, s, ids, lengths } = batch;
  let total = 0;
  for (let k = 0; k < rows; k++) total += lengths[k];
  const tokenIds = new BigInt64Array(total);
  const tokenPositions = new BigInt64Array(total);
  const tokens = new BigInt64Array(total);
  const padded = new BigInt64Array(rows * s).fill(BigInt(total));
  // Where row k's tokens start among the packed ones.
  const rowStart = new Int32Array(rows);
  let t = 0;
  for (let k = 0; k < rows; k++) {
    rowStart[k] = t;
    for (let j = 0; j < lengths[k]; j++, t++) {
      tokenIds[t] = BigInt(ids[k * s + j]);
      tokenPositions[t] = BigInt(j);
      tokens[t] = BigInt(k * s + j);
      padded[k * s + j] = BigInt(t);
    }
  }
  const positions = BigInt64Array.from(batch.positions, (p) => {
    const k = Math.floor(p / s);
    return BigInt(rowStart[k] + (p - k * s));
  });
  return { tokenIds, tokenPositions, tokens, padded, positions };
}

/** Fine-tunes a transformer on onnxruntime-node exactly as `trainLm` does on tfjs (same batches, order and Adam). */
export async function trainLmOnnx(
  args: Omit<TrainLmArgs, 'backend'> & { threads?: number },
): Promise<TrainingRunResult> {
  const t0 = performance.now();
  const { data, batchSize, config } = args;
  const spec = transformerSpec(config).map((p) => ({ name: p.name, shape: p.shape }));
  const session = await OrtTrainingSession.create(transformerTrainStepOnnx(config), spec, args.init, {
    learningRate: args.learningRate,
    threads: args.threads,
  });
  try {
    const { ort } = session;
    const masks = new Map<number, InstanceType<typeof ort.Tensor>>();
    const mask = (s: number) => {
      let m = masks.get(s);
      if (!m) {
        const a = new Float32Array(s * s);
        for (let i = 0; i < s; i++) for (let j = i + 1; j < s; j++) a[i * s + j] = -1e9;
        masks.set(s, (m = new ort.Tensor('float32', a, [s, s])));
      }
      return m;
    };
    const lossOut = session.output('loss', []);
    const rng = new SeededRandom(args.seed).fork('lm-minibatch-order');
    const perEpoch = Math.ceil(data.records / batchSize);
    const total = perEpoch * args.epochs;
    const lossHistory: number[] = [];
    let done = 0;
    // The batches in trainLm's order; each is built while the step before it runs (onnxruntime runs off this thread).
    const batches = (function* () {
      for (let epoch = 0; epoch < args.epochs; epoch++) {
        const order = rng.permutation(data.records);
        for (let b = 0; b < perEpoch; b++) {
          const batch = buildLmBatch(
            data,
            config.vocabSize,
            order.subarray(b * batchSize, Math.min(data.records, (b + 1) * batchSize)),
          );
          const packed = packLmBatch(batch);
          const int64 = (a: BigInt64Array) => new ort.Tensor('int64', a, [a.length]);
          const feeds = {
            token_ids: int64(packed.tokenIds),
            token_positions: int64(packed.tokenPositions),
            tokens: int64(packed.tokens),
            padded: int64(packed.padded),
            positions: int64(packed.positions),
            targets: new ort.Tensor('float32', batch.targets, [batch.weight, config.vocabSize]),
            mask: mask(batch.s),
          };
          yield { epoch, weight: batch.weight, feeds };
        }
      }
    })();
    let lossSum = 0;
    let weightSum = 0;
    let next = batches.next();
    while (!next.done) {
      const current = next.value;
      const step = session.run(current.feeds, { loss: lossOut });
      next = batches.next();
      await step;
      lossSum += (lossOut.data as Float32Array)[0] * current.weight;
      weightSum += current.weight;
      done++;
      args.onStep?.(done, total);
      if (next.done || next.value.epoch !== current.epoch) {
        lossHistory.push(lossSum / weightSum);
        lossSum = 0;
        weightSum = 0;
      }
    }
    return { weights: session.parameters(), lossHistory, steps: done, ms: performance.now() - t0 };
  } finally {
    await session.release();
  }
}
