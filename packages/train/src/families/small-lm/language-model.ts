import * as tf from '@tensorflow/tfjs';
import {
  SeededRandom,
  type SampledCompletion,
  type SampleOptions as CoreSampleOptions,
  type TextRecord,
  tokenLogprobs,
} from '@distill-gate/core';
import { RecordEncodingError } from '../records.js';
import { round4, sampleFromProbs, sampleToken, topTokens } from '../sampling.js';

export { RecordEncodingError };
import { buildLmBatch, completionLogProbs, type LmBatch, type LmTrainingData } from './trainer.js';
import { BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK, type Tokenizer } from './tokenizer.js';
import { TransformerModel, disposeCache, type TransformerParameters } from './transformer.js';

/** The tokens a completion never holds (their pieces are not text). */
const STRUCTURAL = [PAD, BOS, UNK, SEP];

/** A prompt/completion pair, with the teacher's soft targets and written tokens when known. */
export type TextPair = Pick<TextRecord, 'prompt' | 'completion' | 'logprobs' | 'tokens' | 'messages'>;

export interface SampleOptions extends CoreSampleOptions {
  /** Prompts decoded together (default 256). */
  batchSize?: number;
}

/**
 * This family trains on a chat's last assistant reply only: turn weights that ask for anything else are refused,
 * never ignored.
 */
function checkWeights(r: TextPair, i: number): void {
  const last = (r.messages?.length ?? 0) - 1;
  r.messages?.forEach((m, k) => {
    if (m.weight === undefined || m.weight === (k === last ? 1 : 0)) return;
    throw new RecordEncodingError(
      i,
      `messages/${k}/weight`,
      `weight ${m.weight} on ${k === last ? 'the last' : 'an earlier'} assistant message: ` +
        "the project's small language model trains on the last assistant reply only " +
        "(a Hugging Face model's chat template trains every weighted turn)",
    );
  });
}

/**
 * One record's token ids (<bos> prompt <sep> completion <eos>, the completion as the teacher wrote it where `tokens`
 * gives it) and where its completion starts, at any length; a RecordEncodingError where it cannot be encoded.
 */
function fullRecordIds(tokenizer: Tokenizer, r: TextPair, i: number): { ids: number[]; completionStart: number } {
  checkWeights(r, i);
  const { ids, completionStart: cs } = tokenizer.encodePair(r.prompt, r.completion);
  if (r.tokens) {
    if (r.tokens.join('') !== r.completion)
      throw new RecordEncodingError(i, 'tokens', 'the tokens do not concatenate to the completion');
    const written = r.tokens.map((piece, k) => {
      const id = tokenizer.idOf(piece);
      if (id === undefined || id < SPECIAL_TOKENS.length)
        throw new RecordEncodingError(
          i,
          `tokens/${k}`,
          `token ${JSON.stringify(piece)} is not in the base's vocabulary`,
        );
      return id;
    });
    ids.splice(cs, ids.length - cs, ...written, EOS);
  }
  return { ids, completionStart: cs };
}

/**
 * The tokens the model reads when training on each record (all of them but the last, which is only a target), to
 * hold against the context length.
 */
export function recordLengths(tokenizer: Tokenizer, records: TextPair[]): number[] {
  return records.map((r, i) => fullRecordIds(tokenizer, r, i).ids.length - 1);
}

/**
 * One record's token ids within the context: a record longer than the context is an error, or with `truncate` loses
 * the end of its completion (at least one completion token must remain).
 */
function withinContext(
  full: { ids: number[]; completionStart: number },
  i: number,
  contextLength: number,
  truncate: boolean,
): { ids: number[]; completionStart: number } {
  const { ids, completionStart: cs } = full;
  if (ids.length - 1 <= contextLength) return { ids, completionStart: cs };
  if (truncate && cs < contextLength + 1) return { ids: ids.slice(0, contextLength + 1), completionStart: cs };
  throw new RecordEncodingError(
    i,
    'prompt',
    `the record is ${ids.length} tokens long with <bos>, <sep> and <eos>; ` +
      `the model reads at most ${contextLength + 1}` +
      (truncate ? ', and its prompt alone fills that, so truncating it leaves nothing to learn' : ''),
  );
}

/**
 * Tokenizes prompt/completion records for training: <bos> prompt <sep> completion <eos>, loss on the completion
 * and <eos>. Log-probabilities, when given, become soft targets: one entry per completion token, optionally one
 * more for <eos>; their keys must be pieces of the model's vocabulary.
 */
export function encodeRecords(
  tokenizer: Tokenizer,
  records: TextPair[],
  contextLength: number,
  opts: { truncate?: boolean } = {},
): LmTrainingData {
  const tokens: number[] = [];
  const offsets = new Int32Array(records.length + 1);
  const completionStart = new Int32Array(records.length);
  const anySoft = records.some((r) => r.logprobs);
  const slotBegin = new Int32Array(records.length).fill(-1);
  const entryOffsets: number[] = [0];
  const entryTokens: number[] = [];
  const entryProbs: number[] = [];
  records.forEach((r, i) => {
    const full = fullRecordIds(tokenizer, r, i);
    const { ids, completionStart: cs } = withinContext(full, i, contextLength, opts.truncate ?? false);
    completionStart[i] = cs;
    tokens.push(...ids);
    offsets[i + 1] = tokens.length;
    if (!r.logprobs) return;
    // Soft targets are checked against the whole completion, then cut with it.
    const fullSlots = full.ids.length - cs;
    const slots = ids.length - cs;
    if (r.logprobs.length !== fullSlots && r.logprobs.length !== fullSlots - 1) {
      throw new RecordEncodingError(
        i,
        'logprobs',
        `has ${r.logprobs.length} entries but the completion is ${fullSlots - 1} tokens (+1 for <eos>)` +
          (r.tokens ? '' : ` under the base's tokenizer (give "tokens" if the teacher split it otherwise)`),
      );
    }
    slotBegin[i] = entryOffsets.length - 1;
    for (let k = 0; k < slots; k++) {
      const top = r.logprobs[k] ?? {};
      for (const [piece, lp] of Object.entries(top)) {
        const id = piece === '<eos>' ? EOS : tokenizer.idOf(piece);
        if (id === undefined)
          throw new RecordEncodingError(
            i,
            `logprobs/${k}`,
            `token ${JSON.stringify(piece)} is not in the base's vocabulary`,
          );
        if (typeof lp !== 'number' || !(lp <= 0))
          throw new RecordEncodingError(
            i,
            `logprobs/${k}`,
            `log-probability of ${JSON.stringify(piece)} must be a number <= 0, got ${JSON.stringify(lp)}`,
          );
        entryTokens.push(id);
        entryProbs.push(Math.exp(lp));
      }
      entryOffsets.push(entryTokens.length);
    }
  });
  return {
    records: records.length,
    tokens: Int32Array.from(tokens),
    offsets,
    completionStart,
    ...(anySoft
      ? {
          soft: {
            slotBegin,
            entryOffsets: Int32Array.from(entryOffsets),
            entryTokens: Int32Array.from(entryTokens),
            entryProbs: Float32Array.from(entryProbs),
          },
        }
      : {}),
  };
}

/** What each decoding step gives per row: log-probabilities, or probabilities (the softmax at temperature 1). */
export type DecodeOutput = 'logprobs' | 'probs';

/** Decoding in progress: next-token rows [n, vocab] for n sequences, advanced one token at a time. */
export interface Decoding {
  /** The first step's rows [n, vocab], of the kind `begin` was asked for; `next` returns the same kind. */
  rows: Float32Array;
  next(ids: Int32Array): Promise<Float32Array>;
  end(): void;
}

/** What runs a language model's forward pass: tfjs on the training backend, or onnxruntime-node. */
export interface LmEngine {
  /** "tfjs-wasm", "onnxruntime-node cpu", ... (recorded with results). */
  readonly description: string;
  /** log P(target) at every target position of a batch: the target distribution dotted with the log-softmax. */
  targetLogProbs(batch: LmBatch): Promise<Float32Array>;
  /** Starts decoding n prefixes of `len` tokens each (ids [n, len]); each step gives `output` (default logprobs). */
  begin(prefix: Int32Array, n: number, len: number, output?: DecodeOutput): Promise<Decoding>;
  release(): void;
}

/** The tfjs engine: the same TransformerModel code the trainer uses, with a KV cache for decoding. */
export class TfjsLmEngine implements LmEngine {
  readonly description: string;
  private readonly model: TransformerModel;

  constructor(params: TransformerParameters, backend: string) {
    this.model = new TransformerModel(params.config, params.tensors, backend, false);
    this.description = `tfjs-${backend}`;
  }

  async targetLogProbs(batch: LmBatch): Promise<Float32Array> {
    const v = this.model.config.vocabSize;
    const perTarget = tf.tidy(() =>
      tf.sum(tf.mul(tf.tensor2d(batch.targets, [batch.weight, v]), completionLogProbs(this.model, batch)), 1),
    );
    const lp = (await perTarget.data()) as Float32Array;
    perTarget.dispose();
    return lp;
  }

  async begin(prefix: Int32Array, n: number, len: number, output: DecodeOutput = 'logprobs'): Promise<Decoding> {
    const model = this.model;
    const finish = (logits: tf.Tensor2D) => (output === 'probs' ? tf.softmax(logits) : tf.logSoftmax(logits));
    const cache = model.newCache();
    const read = async (t: tf.Tensor) => {
      const lp = (await t.data()) as Float32Array;
      t.dispose();
      return lp;
    };
    const first = tf.tidy(() => {
      const h = model.hidden(tf.tensor2d(prefix, [n, len], 'int32'), cache);
      const last = tf.gather(
        h,
        tf.tensor1d(
          Array.from({ length: n }, (_, k) => k * len + len - 1),
          'int32',
        ),
      );
      return finish(model.head(last as tf.Tensor2D));
    });
    return {
      rows: await read(first),
      next: (ids) => read(tf.tidy(() => finish(model.head(model.hidden(tf.tensor2d(ids, [n, 1], 'int32'), cache))))),
      end: () => disposeCache(cache),
    };
  }

  release(): void {
    this.model.dispose();
  }
}

/** Inference with a probe language model: exact sequence log-probabilities and sampling with a KV cache. */
export class LanguageModel {
  private live: Promise<LmEngine> | undefined;

  /**
   * `engine` is a tfjs backend name ("wasm", "cpu", "tensorflow") or a function that creates another engine
   * (onnxruntime-node: see `OnnxLmEngine.create`).
   */
  constructor(
    readonly params: TransformerParameters,
    readonly tokenizer: Tokenizer,
    private readonly engineSource: string | ((params: TransformerParameters) => Promise<LmEngine>),
  ) {}

  engine(): Promise<LmEngine> {
    const source = this.engineSource;
    this.live ??=
      typeof source === 'string' ? Promise.resolve(new TfjsLmEngine(this.params, source)) : source(this.params);
    return this.live;
  }

  /** log P(completion <eos> | prompt) for every pair, summed over the completion's tokens. */
  async sequenceLogProbs(pairs: TextPair[], batchSize = 64): Promise<Float64Array> {
    const data = encodeRecords(
      this.tokenizer,
      pairs.map((p) => ({ prompt: p.prompt, completion: p.completion })),
      this.params.config.contextLength,
    );
    const out = new Float64Array(pairs.length);
    const order = Array.from({ length: pairs.length }, (_, i) => i).sort(
      (a, b) => data.offsets[a + 1] - data.offsets[a] - (data.offsets[b + 1] - data.offsets[b]),
    );
    const engine = await this.engine();
    const v = this.params.config.vocabSize;
    for (let from = 0; from < order.length; from += batchSize) {
      const picks = order.slice(from, from + batchSize);
      const lp = await engine.targetLogProbs(buildLmBatch(data, v, picks));
      // Targets come row by row, in order: each row's completion tokens are consecutive.
      let at = 0;
      picks.forEach((r) => {
        let sum = 0;
        for (let j = data.completionStart[r]; j < data.offsets[r + 1] - data.offsets[r]; j++) sum += lp[at++];
        out[r] = sum;
      });
    }
    return out;
  }

  /**
   * Per completion token (with <eos>): the piece and its log-probability. A record longer than the context keeps its
   * first tokens; one whose prompt alone fills the context gives null.
   */
  async tokenLogProbs(pairs: TextPair[], batchSize = 64): Promise<({ tokens: string[]; logprobs: number[] } | null)[]> {
    const { contextLength, vocabSize } = this.params.config;
    const out: ({ tokens: string[]; logprobs: number[] } | null)[] = pairs.map(() => null);
    const fits = pairs.flatMap((p, i) => {
      try {
        encodeRecords(this.tokenizer, [{ prompt: p.prompt, completion: p.completion }], contextLength, {
          truncate: true,
        });
        return [i];
      } catch (e) {
        if (e instanceof RecordEncodingError) return [];
        throw e;
      }
    });
    const engine = await this.engine();
    for (let from = 0; from < fits.length; from += batchSize) {
      const picks = fits.slice(from, from + batchSize);
      const data = encodeRecords(
        this.tokenizer,
        picks.map((i) => ({ prompt: pairs[i].prompt, completion: pairs[i].completion })),
        contextLength,
        { truncate: true },
      );
      const lp = await engine.targetLogProbs(
        buildLmBatch(
          data,
          vocabSize,
          Array.from(picks, (_, k) => k),
        ),
      );
      let at = 0;
      picks.forEach((i, k) => {
        const tokens: string[] = [];
        const logprobs: number[] = [];
        for (let j = data.completionStart[k]; j < data.offsets[k + 1] - data.offsets[k]; j++) {
          tokens.push(this.tokenizer.pieces[data.tokens[data.offsets[k] + j]]);
          logprobs.push(lp[at++]);
        }
        out[i] = { tokens, logprobs };
      });
    }
    return out;
  }

  /**
   * Samples one completion per prompt (temperature, nucleus top-p). Prompts of equal length decode together with a
   * KV cache; each prompt draws from its own seeded stream, so results do not depend on batching.
   */
  async generate(prompts: string[], opts: SampleOptions): Promise<SampledCompletion[]> {
    const engine = await this.engine();
    const { contextLength } = this.params.config;
    const encoded = prompts.map((p) => [BOS, ...this.tokenizer.encode(p), SEP]);
    const results = new Array<SampledCompletion>(prompts.length);
    const groups = new Map<number, number[]>();
    encoded.forEach((ids, i) => {
      if (ids.length >= contextLength)
        throw new RecordEncodingError(
          i,
          'prompt',
          `the prompt is ${ids.length} tokens; the model's context holds ${contextLength}`,
        );
      const group = groups.get(ids.length);
      if (group) group.push(i);
      else groups.set(ids.length, [i]);
    });
    const root = new SeededRandom(opts.seed);
    const batchSize = opts.batchSize ?? 256;
    const v = this.params.config.vocabSize;
    // At temperature 1 the engine gives probabilities (its softmax, vectorised) and the draw needs no exponential
    // per token; log-probabilities where they are reported or a temperature reshapes them.
    const output: DecodeOutput = opts.temperature === 1 && !opts.topLogprobs ? 'probs' : 'logprobs';
    for (const [len, members] of [...groups].sort((a, b) => a[0] - b[0])) {
      for (let at = 0; at < members.length; at += batchSize) {
        const rows = members.slice(at, at + batchSize);
        const n = rows.length;
        const rngs = rows.map((i) => root.fork(`prompt-${i}`));
        const out = rows.map(() => ({ ids: [] as number[], logprobs: [] as Record<string, number>[], done: false }));
        const prefix = new Int32Array(n * len);
        rows.forEach((i, k) => prefix.set(encoded[i], k * len));
        const decoding = await engine.begin(prefix, n, len, output);
        try {
          let rows = decoding.rows;
          for (let t = 0; t < opts.maxTokens && len + t < contextLength; t++) {
            const next = new Int32Array(n).fill(PAD);
            for (let k = 0; k < n; k++) {
              if (out[k].done) continue;
              const row = rows.subarray(k * v, (k + 1) * v);
              // Never write the structural tokens inside a completion (their pieces are not text).
              for (const special of STRUCTURAL) row[special] = output === 'probs' ? 0 : -Infinity;
              const id =
                output === 'probs'
                  ? sampleFromProbs(row, opts.topP, rngs[k])
                  : sampleToken(row, opts.temperature, opts.topP, rngs[k]);
              // The top-k, plus the written token when it is not among them (as chat APIs report logprobs).
              if (opts.topLogprobs)
                out[k].logprobs.push(
                  tokenLogprobs([...this.topK(row, opts.topLogprobs), [this.pieceOf(id), round4(row[id])]]),
                );
              if (id === EOS) out[k].done = true;
              else out[k].ids.push(id);
              next[k] = id;
            }
            if (out.every((o) => o.done) || t + 1 >= opts.maxTokens || len + t + 1 >= contextLength) break;
            rows = await decoding.next(next);
          }
        } finally {
          decoding.end();
        }
        rows.forEach((i, k) => {
          results[i] = {
            completion: this.tokenizer.decode(out[k].ids),
            finished: out[k].done,
            ...(opts.topLogprobs
              ? { logprobs: out[k].logprobs, tokens: out[k].ids.map((id) => this.tokenizer.pieces[id]) }
              : {}),
          };
        });
      }
    }
    return results;
  }

  /** The k most likely tokens (ties: lower id first), skipping the structural specials: [piece, log-prob]. */
  private topK(row: Float32Array, k: number): [string, number][] {
    const ids = topTokens(row, k, (i) => i === EOS || i >= SPECIAL_TOKENS.length);
    return ids.map((i) => [this.pieceOf(i), round4(row[i])]);
  }

  private pieceOf(id: number): string {
    return id === EOS ? '<eos>' : this.tokenizer.pieces[id];
  }

  release(): void {
    void this.live?.then(
      (e) => e.release(),
      () => undefined,
    );
    this.live = undefined;
  }
}
