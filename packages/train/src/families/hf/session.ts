/**
 * A Hugging Face causal LM running in onnxruntime-node: exact per-token log-probabilities of given token ids,
 * batched by length (right-padded) with each run's batch sized to a memory budget (the head's [tokens, vocab]
 * logits and the [rows, heads, seq, seq] attention scores are what grows).
 */
import { DistillGateError } from '@distill-gate/core';
import { loadOnnxRuntime, type OrtProvider } from '../../onnx/runtime.js';
import type { HfArchitecture } from './config.js';
import { buildHfGraph, MASKED, ropeTables, type HfGraphBytes } from './graph.js';
import type { HfWeights } from './weights.js';

type Ort = typeof import('onnxruntime-node');

export interface HfSessionOptions {
  provider?: OrtProvider;
  /** onnxruntime's intra-op threads (default: its own choice, all cores). */
  threads?: number;
  /** Bytes one run's largest intermediate values may take (default 512 MiB); a longer sequence runs alone. */
  memoryBudgetBytes?: number;
}

export const DEFAULT_MEMORY_BUDGET = 512 * 1024 * 1024;

/** Groups sequence indices (longest first) into runs that fit the budget. */
export function planBatches(lengths: number[], bytesPerRow: (seq: number) => number, budget: number): number[][] {
  const order = lengths.map((_, i) => i).sort((x, y) => lengths[y] - lengths[x]);
  const batches: number[][] = [];
  let current: number[] = [];
  for (const i of order) {
    // Sorted longest first: the batch's length is its first sequence's.
    const seq = current.length ? lengths[current[0]] : lengths[i];
    if (current.length && (current.length + 1) * bytesPerRow(seq) > budget) {
      batches.push(current);
      current = [];
    }
    current.push(i);
  }
  if (current.length) batches.push(current);
  return batches;
}

export class HfSession {
  private constructor(
    private readonly ort: Ort,
    private readonly session: import('onnxruntime-node').InferenceSession,
    readonly architecture: HfArchitecture,
    readonly provider: OrtProvider,
    private readonly budget: number,
  ) {}

  /** Builds the graph from the weights and starts a session on it. */
  static create(a: HfArchitecture, weights: HfWeights, opts: HfSessionOptions = {}): Promise<HfSession> {
    return HfSession.fromGraph(a, buildHfGraph(a, weights), opts);
  }

  /**
   * Starts a session on a graph buildHfGraph made: onnxruntime copies the weights out of the model bytes and the
   * external data, which the caller may drop once this resolves.
   */
  static async fromGraph(a: HfArchitecture, graph: HfGraphBytes, opts: HfSessionOptions = {}): Promise<HfSession> {
    const ort = await loadOnnxRuntime();
    const provider = opts.provider ?? 'cpu';
    const session = await ort.InferenceSession.create(graph.model, {
      externalData: graph.externalData.map(({ path, data }) => ({ path, data })),
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    });
    return new HfSession(ort, session, a, provider, opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET);
  }

  /** The largest intermediates of one row of `seq` tokens: logits (twice: reduced and gathered), scores, MLP. */
  private bytesPerRow(seq: number): number {
    const a = this.architecture;
    return 4 * seq * (2 * a.vocabSize + 2 * a.heads * seq + 3 * a.intermediate + 8 * a.hidden);
  }

  private checkIds(ids: number[][]): void {
    const a = this.architecture;
    ids.forEach((row, r) => {
      if (row.length > a.maxPositions)
        throw new DistillGateError(
          `sequence ${r} has ${row.length} tokens; the model takes at most ${a.maxPositions} ` +
            '(config.json max positions)',
        );
      if (a.slidingWindow !== undefined && row.length > a.slidingWindow)
        throw new DistillGateError(
          `sequence ${r} has ${row.length} tokens, more than the sliding window (${a.slidingWindow}): ` +
            'sliding-window attention is not implemented',
        );
      row.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= a.vocabSize)
          throw new DistillGateError(`sequence ${r}, position ${t}: token id ${id} is not in [0, ${a.vocabSize})`);
      });
    });
  }

  /** logprobs[r][t] = log p(ids[r][t] | ids[r][<t]) (natural log, float32), null at t = 0. */
  async logprobs(ids: number[][]): Promise<(number | null)[][]> {
    this.checkIds(ids);
    const out: (number | null)[][] = ids.map((row) => (row.length ? [null] : []));
    const work = ids.map((row, i) => ({ row, i })).filter(({ row }) => row.length > 1);
    const batches = planBatches(
      work.map((w) => w.row.length),
      (seq) => this.bytesPerRow(seq),
      this.budget,
    );
    for (const batch of batches) {
      const rows = batch.map((b) => work[b].row);
      const lp = await this.run(rows);
      const seq = rows[0].length;
      batch.forEach((b, r) => {
        const row = out[work[b].i];
        for (let t = 1; t < rows[r].length; t++) row.push(lp[r * seq + t - 1]);
      });
    }
    return out;
  }

  /** One run on right-padded rows (the first is the longest): the [rows, seq] log-probs of each next token. */
  private async run(rows: number[][]): Promise<Float32Array> {
    const { Tensor } = this.ort;
    const a = this.architecture;
    const n = rows.length;
    const seq = rows[0].length;
    const inputIds = new BigInt64Array(n * seq);
    const targets = new BigInt64Array(n * seq);
    rows.forEach((row, r) => {
      for (let t = 0; t < row.length; t++) {
        inputIds[r * seq + t] = BigInt(row[t]);
        if (t + 1 < row.length) targets[r * seq + t] = BigInt(row[t + 1]);
      }
    });
    const bias = new Float32Array(seq * seq);
    for (let i = 0; i < seq; i++) bias.fill(MASKED, i * seq + i + 1, (i + 1) * seq);
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {
      input_ids: new Tensor('int64', inputIds, [n, seq]),
      targets: new Tensor('int64', targets, [n, seq]),
      attention_bias: new Tensor('float32', bias, [seq, seq]),
    };
    if (a.positions.kind === 'learned') {
      feeds.position_ids = new Tensor(
        'int64',
        BigInt64Array.from({ length: seq }, (_, t) => BigInt(t)),
        [seq],
      );
    } else {
      const { cos, sin } = ropeTables(a.positions, a.headDim, seq);
      feeds.rope_cos = new Tensor('float32', cos, [seq, a.headDim]);
      feeds.rope_sin = new Tensor('float32', sin, [seq, a.headDim]);
    }
    const result = await this.session.run(feeds, ['logprobs']);
    const lp = (result.logprobs.data as Float32Array).slice();
    result.logprobs.dispose();
    return lp;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
