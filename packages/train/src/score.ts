/**
 * Teacher-forced log-probabilities of text records under a causal language model, each record rendered exactly as
 * training renders it (tokenizers/render.ts): the raw material of `distill-gate score`, of divergence-token analysis
 * and of a check that a model folder loaded right.
 */
import { DistillGateError, type TextRecord } from '@distill-gate/core';
import { loadHfModel, type LoadHfModelOptions } from './families/hf/index.js';
import { RenderError, renderRecord, type RenderTokenizer } from './tokenizers/render.js';

/** A language model that can score token sequences. */
export interface ScoringModel {
  /** The longest sequence the model reads (its positions). */
  readonly contextLength: number;
  readonly tokenizer: RenderTokenizer;
  /** For each sequence, log p(ids[t] | ids[<t]) (natural log), null at t = 0. */
  logprobs(batch: number[][]): Promise<(number | null)[][]>;
  /** Frees the engine's copy of the weights. */
  release(): Promise<void>;
}

/** A Hugging Face model folder as a scoring model: its chat template and tokenizer render, onnxruntime scores. */
export async function loadScoringModel(dir: string, opts: LoadHfModelOptions = {}): Promise<ScoringModel> {
  const model = await loadHfModel(dir, opts);
  return {
    contextLength: model.contextLength,
    tokenizer: model.tokenizer.forRendering(),
    logprobs: (batch) => model.logprobs(batch),
    release: () => model.release(),
  };
}

/** What to do with a record longer than the model's context: keep its first tokens, or leave it out. */
export type OverlongPolicy = 'truncate' | 'drop';

export interface ScoredRecord {
  index: number;
  /** The dataset line the record came from. */
  line: number;
  ids: number[];
  logprobs: (number | null)[];
  assistant: boolean[];
  /** Tokens cut off the end (policy truncate). */
  truncated?: number;
  /** Pieces the tokenizer could not represent (each became its unknown token). */
  unknown: number;
}

export interface ScoreSummary {
  records: number;
  scored: number;
  tokens: number;
  assistantTokens: number;
  /** Pieces the tokenizer could not represent, and in how many records. */
  unknown: { pieces: number; records: number };
  /** Records longer than the context: how many, and by how many tokens at most. */
  overlong: { count: number; maxExcess: number; policy: OverlongPolicy };
}

export interface ScoreOptions {
  overlong: OverlongPolicy;
  /** Tokens per forward batch (records are grouped up to this many padded tokens). */
  batchTokens?: number;
  /** Where the records came from, for located errors. */
  file: string;
}

/**
 * Scores records in order, a batch at a time, calling `emit` for each (so output streams and memory stays bounded by
 * one batch); returns the totals.
 */
export async function scoreRecords(
  model: ScoringModel,
  records: Iterable<TextRecord>,
  opts: ScoreOptions,
  emit: (r: ScoredRecord) => void,
): Promise<ScoreSummary> {
  const summary: ScoreSummary = {
    records: 0,
    scored: 0,
    tokens: 0,
    assistantTokens: 0,
    unknown: { pieces: 0, records: 0 },
    overlong: { count: 0, maxExcess: 0, policy: opts.overlong },
  };
  const budget = Math.max(opts.batchTokens ?? 8192, model.contextLength);
  let batch: ScoredRecord[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const lps = await model.logprobs(batch.map((r) => r.ids));
    batch.forEach((r, k) => emit({ ...r, logprobs: lps[k] }));
    batch = [];
  };
  for (const record of records) {
    summary.records++;
    const rendered = render(record, model, opts.file);
    const excess = rendered.ids.length - model.contextLength;
    if (excess > 0) {
      summary.overlong.count++;
      summary.overlong.maxExcess = Math.max(summary.overlong.maxExcess, excess);
      if (opts.overlong === 'drop') continue;
      rendered.ids.length = model.contextLength;
      rendered.assistant.length = model.contextLength;
    }
    const scored: ScoredRecord = {
      index: record.index,
      line: record.line,
      ...rendered,
      logprobs: [],
      ...(excess > 0 ? { truncated: excess } : {}),
    };
    const longest = Math.max(scored.ids.length, ...batch.map((r) => r.ids.length));
    if (batch.length && longest * (batch.length + 1) > budget) await flush();
    batch.push(scored);
    summary.scored++;
    summary.tokens += scored.ids.length;
    summary.assistantTokens += scored.assistant.filter(Boolean).length;
    summary.unknown.pieces += scored.unknown;
    summary.unknown.records += scored.unknown ? 1 : 0;
  }
  await flush();
  return summary;
}

function render(record: TextRecord, model: ScoringModel, file: string) {
  try {
    return renderRecord(record, model.tokenizer);
  } catch (e) {
    if (e instanceof RenderError)
      throw new DistillGateError(e.message, { file, line: record.line, pointer: `/${e.field}` });
    throw e;
  }
}
