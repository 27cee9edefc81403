/**
 * Training LoRA adapters on a Hugging Face causal LM: the step graph of lora.ts in an onnxruntime-node session with
 * Adam on the host. The base's weights are the session's initializers (onnxruntime's one copy); the adapters are the
 * only trained values.
 */
import type { HfArchitecture } from './config.js';
import { MASKED, ropeTables } from './graph.js';
import { buildHfLoraGraph, initLoraParams, type LoraAdapterSpec, type LoraSettings } from './lora.js';
import type { HfWeights } from './weights.js';
import { OrtTrainingSession } from '../../onnx/training.js';

type OrtTensor = import('onnxruntime-node').Tensor;

/** A position whose next token has a loss: a distribution over ids (one id with 1 for a written token). */
export interface LossTarget {
  /** The position in the sequence whose next token is predicted. */
  pos: number;
  ids: number[];
  probs: number[];
  /** This position's share of the batch's loss. */
  weight: number;
}

/** A sequence with its loss targets. */
export interface LoraExample {
  ids: number[];
  targets: LossTarget[];
}

export class HfLoraTrainer {
  private constructor(
    private readonly a: HfArchitecture,
    private readonly session: OrtTrainingSession,
    readonly adapters: LoraAdapterSpec[],
    /** The trained parameters' names and shapes, in the order of parameters() (the adapters', or every weight). */
    readonly params: { name: string; shape: number[] }[],
    /** Whether the graph drops adapter inputs (LoRA dropout): each step then takes a dropout seed. */
    readonly dropout: boolean,
  ) {}

  /** The step graph on `weights`, adapters from `initial` or PEFT's initialisation from `seed`. */
  static async create(
    a: HfArchitecture,
    weights: HfWeights,
    settings: LoraSettings | 'full',
    opts: { learningRate: number; seed: number; threads?: number; initial?: Float32Array[] },
  ): Promise<HfLoraTrainer> {
    const graph = buildHfLoraGraph(a, weights, settings);
    const initial =
      opts.initial ??
      (settings === 'full'
        ? graph.params.map((p) => weights.tensors.get(p.name)!)
        : initLoraParams(graph.adapters, settings.rank, opts.seed));
    const session = await OrtTrainingSession.create(graph.model, graph.params, initial, {
      learningRate: opts.learningRate,
      threads: opts.threads,
      externalData: graph.externalData,
    });
    return new HfLoraTrainer(a, session, graph.adapters, graph.params, settings !== 'full' && !!settings.dropout);
  }

  /**
   * One Adam step on a batch (right-padded into one run); returns the loss before the step. With LoRA dropout,
   * `dropoutSeed` (an integer in [0, 2^31 - 1)) decides this step's masks.
   */
  async step(batch: LoraExample[], dropoutSeed = 0): Promise<number> {
    const { Tensor } = this.session.ort;
    const a = this.a;
    const n = batch.length;
    const seq = Math.max(...batch.map((b) => b.ids.length));
    const ids = new BigInt64Array(n * seq);
    batch.forEach((b, r) => b.ids.forEach((id, t) => (ids[r * seq + t] = BigInt(id))));
    const bias = new Float32Array(seq * seq);
    for (let i = 0; i < seq; i++) bias.fill(MASKED, i * seq + i + 1, (i + 1) * seq);
    const targets = batch.flatMap((b, r) => b.targets.map((t) => ({ ...t, flat: r * seq + t.pos })));
    const m = targets.length;
    const k = Math.max(...targets.map((t) => t.ids.length));
    const targetIds = new BigInt64Array(m * k);
    const targetProbs = new Float32Array(m * k);
    targets.forEach((t, j) =>
      t.ids.forEach((id, i) => {
        targetIds[j * k + i] = BigInt(id);
        targetProbs[j * k + i] = t.probs[i];
      }),
    );
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', ids, [n, seq]),
      attention_bias: new Tensor('float32', bias, [1, 1, seq, seq]),
      loss_positions: new Tensor(
        'int64',
        BigInt64Array.from(targets, (t) => BigInt(t.flat)),
        [m],
      ),
      target_ids: new Tensor('int64', targetIds, [m, k]),
      target_probs: new Tensor('float32', targetProbs, [m, k]),
      loss_weights: new Tensor(
        'float32',
        Float32Array.from(targets, (t) => t.weight),
        [m],
      ),
    };
    if (this.dropout) feeds.lora_dropout_seed = new Tensor('int64', BigInt64Array.of(BigInt(dropoutSeed)), [1]);
    if (a.positions.kind === 'learned') {
      feeds.position_ids = new Tensor(
        'int64',
        BigInt64Array.from({ length: seq }, (_, t) => BigInt(t)),
        [1, seq],
      );
    } else {
      const { cos, sin } = ropeTables(a.positions, a.headDim, seq);
      feeds.rope_cos = new Tensor('float32', cos, [1, 1, seq, a.headDim]);
      feeds.rope_sin = new Tensor('float32', sin, [1, 1, seq, a.headDim]);
    }
    const loss = this.session.output('loss', []);
    await this.session.run(feeds, { loss });
    return (loss.data as Float32Array)[0];
  }

  /** Starts a new student on the same session: adapters from `initial`, Adam from zero. */
  reset(initial: Float32Array[]): void {
    this.session.reset(initial);
  }

  /** The adapters now: A then B of each (copies). */
  parameters(): Float32Array[] {
    return this.session.parameters();
  }

  /** The last step's gradients, in the order of parameters(). */
  gradients(): Float32Array[] {
    return this.session.gradients();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
