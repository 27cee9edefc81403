/**
 * A Hugging Face causal LM running in onnxruntime-node: exact per-token log-probabilities of given token ids,
 * batched by length (right-padded) with each run's batch sized to a memory budget (the head's [tokens, vocab]
 * logits and the [rows, heads, seq, seq] attention scores are what grows).
 */
import { DistillGateError, type LoraSettings } from '@distill-gate/core';
import { loadOnnxRuntime, type OrtProvider } from '../../onnx/runtime.js';
import type { HfArchitecture } from './config.js';
import { adapterParams, buildHfGraph, MASKED, ropeTables, type HfGraphBytes, type LoraAdapterSpec } from './graph.js';
import type { HfWeights } from './weights.js';

type Ort = typeof import('onnxruntime-node');
type OrtTensor = import('onnxruntime-node').Tensor;
export type Feeds = Record<string, OrtTensor>;

/** How generate() continues a batch: the next token of each prompt, chosen from its distribution. */
export interface HfGenerateOptions {
  /** The most new tokens per prompt (fewer where the context ends first). */
  maxTokens: number;
  /** Ids that end a completion (they are returned as its last token). */
  stopIds: readonly number[];
  /**
   * Picks prompt `index`'s next token from `logprobs` (log softmax over the vocabulary, float32; the caller may
   * write into it), or from probabilities (their exp, computed in the graph) with `probabilities`. Called in order
   * of steps, and within a step in order of prompts.
   */
  choose(index: number, logprobs: Float32Array): number;
  /** Give `choose` probabilities, not log-probabilities (sampling at temperature 1 then needs no exponential). */
  probabilities?: boolean;
  /** Called after each decoding step with the tokens written so far (all prompts). */
  onStep?(tokens: number): void;
}

/** One generated continuation: its token ids (a stop id last when it stopped) and whether a stop id ended it. */
export interface HfGenerated {
  ids: number[];
  finished: boolean;
}

export interface HfSessionOptions {
  /** LoRA adapters as inputs of the graph (fed with each run): one session for the base and all its students. */
  lora?: LoraSettings;
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
    return HfSession.fromGraph(a, buildHfGraph(a, weights, opts.lora ? { lora: opts.lora } : {}), opts);
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
      // Errors only: onnxruntime's warnings (an unused constant removed...) are not the user's business.
      logSeverityLevel: 3,
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

  /**
   * logprobs[r][t] = log p(ids[r][t] | ids[r][<t]) (natural log, float32), null at t = 0. With `only`, just the
   * tokens where only[r][t] is true are scored (the others are null): the head runs on their positions alone.
   */
  async logprobs(ids: number[][], adapters: Feeds = {}, only?: boolean[][]): Promise<(number | null)[][]> {
    this.checkIds(ids);
    const out: (number | null)[][] = ids.map((row) => row.map(() => null));
    const work = ids.map((row, i) => ({ row, i })).filter(({ row }) => row.length > 1);
    const batches = planBatches(
      work.map((w) => w.row.length),
      (seq) => this.bytesPerRow(seq),
      this.budget,
    );
    for (const batch of batches) {
      const rows = batch.map((b) => work[b].row);
      const wanted = batch.map((b) => (t: number) => !only || only[work[b].i][t]);
      const { lp, at } = await this.run(rows, wanted, adapters);
      at.forEach(([r, t], k) => (out[work[batch[r]].i][t] = lp[k]));
    }
    return out;
  }

  /**
   * One run on right-padded rows (the first is the longest): the log-probs of the tokens `wanted` asks for (t >= 1),
   * and which (row, t) each is.
   */
  private async run(
    rows: number[][],
    wanted: ((t: number) => boolean)[],
    adapters: Feeds,
  ): Promise<{ lp: Float32Array; at: [number, number][] }> {
    const { Tensor } = this.ort;
    const n = rows.length;
    const seq = rows[0].length;
    const inputIds = new BigInt64Array(n * seq);
    const at: [number, number][] = [];
    rows.forEach((row, r) => {
      for (let t = 0; t < row.length; t++) {
        inputIds[r * seq + t] = BigInt(row[t]);
        if (t > 0 && wanted[r](t)) at.push([r, t]);
      }
    });
    if (!at.length) return { lp: new Float32Array(0), at };
    const bias = new Float32Array(seq * seq);
    for (let i = 0; i < seq; i++) bias.fill(MASKED, i * seq + i + 1, (i + 1) * seq);
    const feeds: Feeds = {
      input_ids: new Tensor('int64', inputIds, [n, seq]),
      // The log-prob of token t is read at position t - 1.
      score_positions: new Tensor(
        'int64',
        BigInt64Array.from(at, ([r, t]) => BigInt(r * seq + t - 1)),
        [at.length],
      ),
      targets: new Tensor(
        'int64',
        BigInt64Array.from(at, ([r, t]) => BigInt(rows[r][t])),
        [at.length],
      ),
      attention_bias: new Tensor('float32', bias, [1, 1, seq, seq]),
      ...this.positionFeeds(
        Int32Array.from({ length: seq }, (_, t) => t),
        1,
        seq,
      ),
      ...this.emptyCache(n),
      ...adapters,
    };
    const result = await this.session.run(feeds, ['logprobs']);
    const lp = (result.logprobs.data as Float32Array).slice();
    result.logprobs.dispose();
    return { lp, at };
  }

  /** Position inputs for `rows` rows of `seq` positions each (positions laid out row-major). */
  private positionFeeds(positions: Int32Array, rows: number, seq: number): Feeds {
    const { Tensor } = this.ort;
    const a = this.architecture;
    if (a.positions.kind === 'learned')
      return {
        position_ids: new Tensor(
          'int64',
          BigInt64Array.from(positions, (p) => BigInt(p)),
          [rows, seq],
        ),
      };
    let longest = 0;
    for (const p of positions) longest = Math.max(longest, p);
    const d = a.headDim;
    const table = ropeTables(a.positions, d, longest + 1);
    const cos = new Float32Array(positions.length * d);
    const sin = new Float32Array(positions.length * d);
    positions.forEach((p, i) => {
      cos.set(table.cos.subarray(p * d, (p + 1) * d), i * d);
      sin.set(table.sin.subarray(p * d, (p + 1) * d), i * d);
    });
    return {
      rope_cos: new Tensor('float32', cos, [rows, 1, seq, d]),
      rope_sin: new Tensor('float32', sin, [rows, 1, seq, d]),
    };
  }

  /** A cache with no positions (scoring and a generation's first step). */
  private emptyCache(rows: number): Feeds {
    const { Tensor } = this.ort;
    const a = this.architecture;
    const feeds: Feeds = {};
    for (let l = 0; l < a.layers; l++)
      for (const kv of ['key', 'value'])
        feeds[`past_${kv}.${l}`] = new Tensor('float32', new Float32Array(0), [0, rows, a.kvHeads, a.headDim]);
    return feeds;
  }

  /**
   * Continues each prompt (token ids) until a stop id, `maxTokens` new tokens or the end of the context, with a KV
   * cache: prompts are batched by length (longest first, left-padded, the padding masked out and positions counted
   * from each prompt's first token), each batch sized to the memory budget, and each step runs the new tokens only.
   */
  async generate(prompts: number[][], opts: HfGenerateOptions, adapters: Feeds = {}): Promise<HfGenerated[]> {
    this.checkIds(prompts);
    const a = this.architecture;
    prompts.forEach((p, i) => {
      if (!p.length) throw new DistillGateError(`prompt ${i} has no tokens: the first token has no context`);
      if (p.length >= a.maxPositions)
        throw new DistillGateError(
          `prompt ${i} has ${p.length} tokens; the model's context holds ${a.maxPositions}, ` +
            'leaving no room to generate',
        );
    });
    const out: HfGenerated[] = prompts.map(() => ({ ids: [], finished: false }));
    const room = prompts.map((p) => Math.min(opts.maxTokens, a.maxPositions - p.length));
    const batches = planBatches(
      prompts.map((p, i) => p.length + room[i]),
      (seq) => this.bytesPerRow(seq) + this.cacheBytes(seq),
      this.budget,
    );
    const progress = { tokens: 0 };
    for (const batch of batches) await this.decodeBatch(batch, prompts, room, out, { ...opts, adapters }, progress);
    return out;
  }

  /** Bytes of one row's KV cache at `seq` positions (twice: the held cache and onnxruntime's inner copy of it). */
  private cacheBytes(seq: number): number {
    const a = this.architecture;
    return 2 * 2 * 4 * a.layers * a.kvHeads * a.headDim * seq;
  }

  /**
   * Generates for one batch (indices into prompts; `room[i]` new tokens at most for prompt i),
   * writing into `out`.
   */
  private async decodeBatch(
    batch: number[],
    prompts: number[][],
    room: number[],
    out: HfGenerated[],
    opts: HfGenerateOptions & { adapters: Feeds },
    progress: { tokens: number },
  ): Promise<void> {
    const { Tensor } = this.ort;
    const a = this.architecture;
    const n = batch.length;
    const len = Math.max(...batch.map((i) => prompts[i].length));
    const pads = batch.map((i) => len - prompts[i].length);
    const steps = Math.max(...batch.map((i) => room[i]));
    const stop = new Set(opts.stopIds);
    // The first step: the left-padded prompts, causal and padding masked.
    const ids = new BigInt64Array(n * len);
    const positions = new Int32Array(n * len);
    const bias = new Float32Array(n * len * len).fill(MASKED);
    batch.forEach((i, r) => {
      prompts[i].forEach((id, t) => (ids[r * len + pads[r] + t] = BigInt(id)));
      for (let q = 0; q < len; q++) {
        positions[r * len + q] = Math.max(0, q - pads[r]);
        // A padding position attends to itself only, so its row stays finite; real rows skip the padding.
        const from = q < pads[r] ? q : pads[r];
        bias.fill(0, (r * len + q) * len + from, (r * len + q) * len + q + 1);
      }
    });
    let feeds: Feeds = {
      input_ids: new Tensor('int64', ids, [n, len]),
      score_positions: new Tensor('int64', new BigInt64Array(1), [1]),
      targets: new Tensor('int64', new BigInt64Array(1), [1]),
      attention_bias: new Tensor('float32', bias, [n, 1, len, len]),
      ...this.positionFeeds(positions, n, len),
      ...this.emptyCache(n),
    };
    const cacheNames = Array.from({ length: a.layers }, (_, l) => [`key.${l}`, `value.${l}`]).flat();
    // The cache on the host, time-major ([time, n, kv_heads, head_dim]) in one buffer per layer and kind, sized for
    // the whole batch: each run reads its leading part as the past and returns its own keys and values to append.
    const slot = n * a.kvHeads * a.headDim;
    const caches = cacheNames.map(() => new Float32Array((len + steps) * slot));
    let held = 0;
    const live = new Array<boolean>(n).fill(true);
    for (let step = 0; step < steps; step++) {
      const rowsOut = opts.probabilities ? 'next_probs' : 'next_logprobs';
      const result = await this.session.run({ ...feeds, ...opts.adapters }, [
        rowsOut,
        ...cacheNames.map((c) => `new_${c}`),
      ]);
      cacheNames.forEach((c, k) => {
        const fresh = result[`new_${c}`];
        caches[k].set(fresh.data as Float32Array, held * slot);
        fresh.dispose();
      });
      held += step === 0 ? len : 1;
      const lp = result[rowsOut].data as Float32Array;
      const v = lp.length / n;
      const next = new BigInt64Array(n);
      for (let r = 0; r < n; r++) {
        if (!live[r]) continue;
        const i = batch[r];
        const id = opts.choose(i, lp.subarray(r * v, (r + 1) * v));
        out[i].ids.push(id);
        progress.tokens++;
        next[r] = BigInt(id);
        if (stop.has(id)) out[i].finished = true;
        if (stop.has(id) || out[i].ids.length >= room[i]) live[r] = false;
      }
      result[rowsOut].dispose();
      opts.onStep?.(progress.tokens);
      if (!live.some(Boolean)) break;
      // The next step: one new token per row, attending to the cache (less the padding) and itself.
      const total = len + step + 1;
      const stepBias = new Float32Array(n * total);
      pads.forEach((p, r) => stepBias.fill(MASKED, r * total, r * total + p));
      // (A finished row keeps running until the batch ends; its position is held inside the context.)
      const stepPositions = Int32Array.from(pads, (p) => Math.min(total - 1 - p, a.maxPositions - 1));
      feeds = {
        input_ids: new Tensor('int64', next, [n, 1]),
        score_positions: new Tensor('int64', new BigInt64Array(1), [1]),
        targets: new Tensor('int64', new BigInt64Array(1), [1]),
        attention_bias: new Tensor('float32', stepBias, [n, 1, 1, total]),
        ...this.positionFeeds(stepPositions, n, 1),
        ...Object.fromEntries(
          cacheNames.map((c, k) => [
            `past_${c}`,
            new Tensor('float32', caches[k].subarray(0, held * slot), [held, n, a.kvHeads, a.headDim]),
          ]),
        ),
      };
    }
  }

  /** The adapters' tensors as this session's inputs (A then B of each adapter, in the order of `specs`). */
  adapterFeeds(specs: LoraAdapterSpec[], rank: number, params: Float32Array[]): Feeds {
    const { Tensor } = this.ort;
    return Object.fromEntries(
      specs.flatMap((s, i) => {
        const p = adapterParams(s.projection);
        return [
          [p.a, new Tensor('float32', params[2 * i], [rank, s.in])],
          [p.b, new Tensor('float32', params[2 * i + 1], [s.out, rank])],
        ];
      }),
    );
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
