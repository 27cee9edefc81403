/**
 * Probe students of a Hugging Face base: LoRA adapters trained on the frozen base (lora-train.ts) from text records
 * rendered as `score` renders them (the chat template; the loss on the assistant's tokens and its end-of-turn
 * token), with the teacher's log-probabilities as soft targets where the records carry them.
 *
 * A job travels to a worker as the base folder's path and hash and the encoded records (flat typed arrays). Each
 * worker reads the base once and keeps one training session per LoRA configuration, reset for every job: the base's
 * weights are held once by the worker and once by onnxruntime, whatever the number of students.
 */
import { createHash } from 'node:crypto';
import {
  DistillGateError,
  SeededRandom,
  type LoraSettings,
  type OverlongPolicy,
  type TextRecord,
  type TrainingSettings,
} from '@distill-gate/core';
import type { TrainingRun } from '../family.js';
import type { TrainingRunResult } from '../../training-run.js';
import { RenderError, renderRecord, type RenderedRecord } from '../../tokenizers/render.js';
import { RecordEncodingError } from '../records.js';
import { readHfModelFolder, type HfModelFolder } from './folder.js';
import { DROPOUT_HASH } from './graph.js';
import { buildHfLoraGraph, initLoraParams, loraAdapterSpecs, type LoraAdapterSpec } from './lora.js';
import { HfLoraTrainer, type LoraExample } from './lora-train.js';

/** The LoRA the paper's students had: rank 8, alpha 8, every attention and MLP projection. */
export const DEFAULT_LORA: LoraSettings = { rank: 8, alpha: 8, dropout: 0, targets: 'all' };

/** Trained adapters on a base: what a student adds to the base folder. */
export interface HfAdapters {
  settings: LoraSettings;
  specs: LoraAdapterSpec[];
  /** A then B of each adapter, in the order of specs. */
  params: Float32Array[];
}

/** A Hugging Face model as the family holds it: a folder, and for a student its adapters. */
export type HfFamilyModel = HfModelFolder & { adapters?: HfAdapters };

/** Text records as token ids with their loss targets, in flat arrays (they travel to the workers). */
export interface HfExamples {
  ids: Int32Array;
  /** Record r's tokens are ids[offsets[r]] .. ids[offsets[r + 1] - 1]. */
  offsets: Int32Array;
  /** 1 where a token is a target of the loss (the assistant's tokens). */
  loss: Uint8Array;
  /** Soft targets: for token i with one, its distribution's entries entryOffsets[soft[i]] .. (else soft[i] = -1). */
  soft?: { at: Int32Array; entryOffsets: Int32Array; entryIds: Int32Array; entryProbs: Float32Array };
}

/** The tokens of one record as training renders it, and which are targets of the loss. */
function renderForTraining(model: HfModelFolder, r: TextRecord, i: number): RenderedRecord {
  let rendered: RenderedRecord;
  try {
    rendered = renderRecord(r, model.tokenizer.forRendering());
  } catch (e) {
    if (e instanceof RenderError) throw new RecordEncodingError(i, e.field, e.message);
    throw e;
  }
  return r.tokens && !r.messages ? asWritten(model, r, i, rendered) : rendered;
}

/**
 * A prompt/completion record whose `tokens` say how the teacher split its completion (as generated records do):
 * the prompt as the teacher saw it without a system prompt (the chat template's user turn with the assistant's
 * opened), then the teacher's tokens and the end of the turn (the token the template's rendering ends the reply with),
 * so that soft targets line up with the tokens they were sampled for.
 */
function asWritten(model: HfModelFolder, r: TextRecord, i: number, rendered: RenderedRecord): RenderedRecord {
  const tok = model.tokenizer;
  const prompt = tok.chatTemplate
    ? tok.encode(tok.renderChat([{ role: 'user', content: r.prompt }], { addGenerationPrompt: true })).ids
    : tok.encode(r.prompt, { addSpecialTokens: true }).ids;
  const written = r.tokens!.map((t, k) => {
    const id = tok.tokenToId(t);
    if (id === undefined)
      throw new RecordEncodingError(i, `tokens/${k}`, `token ${JSON.stringify(t)} is not in the base's vocabulary`);
    return id;
  });
  // Vocabulary pieces mark spaces their own way ("▁", "Ġ"): decoded, they must give the completion.
  if (tok.decode(written, { skipSpecialTokens: true }) !== r.completion)
    throw new RecordEncodingError(
      i,
      'tokens',
      `the tokens decode to ${JSON.stringify(tok.decode(written, { skipSpecialTokens: true }).slice(0, 60))} under ` +
        "the base's tokenizer, not to the completion",
    );
  const end = rendered.ids[rendered.assistant.lastIndexOf(true)];
  const ids = [...prompt, ...written, end];
  return { ids, assistant: ids.map((_, t) => t >= prompt.length), unknown: rendered.unknown };
}

/** Each record's length as training renders it, against the context. */
export function hfTrainingLengths(model: HfModelFolder, records: TextRecord[]): { lengths: number[]; limit: number } {
  return {
    lengths: records.map((r, i) => renderForTraining(model, r, i).ids.length),
    limit: model.architecture.maxPositions,
  };
}

/**
 * Renders records for training. Soft targets: a record's `logprobs` give one distribution per loss token (the reply's
 * tokens, then its end-of-turn token, which may be left out), keyed by tokens of the base's tokenizer.json.
 */
export function encodeHfExamples(model: HfModelFolder, records: TextRecord[], overlong: OverlongPolicy): HfExamples {
  const ids: number[] = [];
  const loss: number[] = [];
  const offsets = new Int32Array(records.length + 1);
  const anySoft = records.some((r) => r.logprobs);
  const at: number[] = [];
  const entryOffsets = [0];
  const entryIds: number[] = [];
  const entryProbs: number[] = [];
  const limit = model.architecture.maxPositions;
  records.forEach((r, i) => {
    const rendered = renderForTraining(model, r, i);
    // Soft targets are checked against the whole reply, then cut with it.
    const lossTokens = rendered.assistant.reduce((n, a, t) => (a && t > 0 ? n + 1 : n), 0);
    const soft = r.logprobs ? softTargets(model, r, i, lossTokens) : undefined;
    if (rendered.ids.length > limit) {
      if (overlong !== 'truncate')
        throw new RecordEncodingError(
          i,
          'completion',
          `the record is ${rendered.ids.length} tokens; the model reads ${limit}`,
        );
      rendered.ids.length = limit;
      rendered.assistant.length = limit;
    }
    if (!rendered.assistant.slice(1).some(Boolean))
      throw new RecordEncodingError(i, 'completion', 'no assistant token is left to learn from');
    let k = 0;
    rendered.ids.forEach((id, t) => {
      const target = rendered.assistant[t] && t > 0;
      ids.push(id);
      loss.push(target ? 1 : 0);
      if (!anySoft) return;
      const entry = target && soft ? soft[k] : undefined;
      if (target) k++;
      if (!entry) {
        at.push(-1);
        return;
      }
      at.push(entryOffsets.length - 1);
      for (const [id2, p] of entry) {
        entryIds.push(id2);
        entryProbs.push(p);
      }
      entryOffsets.push(entryIds.length);
    });
    offsets[i + 1] = ids.length;
  });
  return {
    ids: Int32Array.from(ids),
    offsets,
    loss: Uint8Array.from(loss),
    ...(anySoft
      ? {
          soft: {
            at: Int32Array.from(at),
            entryOffsets: Int32Array.from(entryOffsets),
            entryIds: Int32Array.from(entryIds),
            entryProbs: Float32Array.from(entryProbs),
          },
        }
      : {}),
  };
}

/** A record's log-probabilities as distributions (normalised over the kept top-k) per loss token. */
function softTargets(model: HfModelFolder, r: TextRecord, i: number, lossTokens: number): [number, number][][] {
  const logprobs = r.logprobs!;
  if (logprobs.length !== lossTokens && logprobs.length !== lossTokens - 1)
    throw new RecordEncodingError(
      i,
      'logprobs',
      `has ${logprobs.length} entries but the reply is ${lossTokens - 1} tokens (+1 for its end) under the base's ` +
        'tokenizer: soft targets must come from a teacher with the same tokenizer',
    );
  return logprobs.map((top, k) => {
    const entries = Object.entries(top).map(([token, lp]): [number, number] => {
      const id = model.tokenizer.tokenToId(token);
      if (id === undefined)
        throw new RecordEncodingError(
          i,
          `logprobs/${k}`,
          `token ${JSON.stringify(token)} is not in the base's vocabulary`,
        );
      if (typeof lp !== 'number' || !(lp <= 0))
        throw new RecordEncodingError(i, `logprobs/${k}`, `log-probability of ${JSON.stringify(token)} must be <= 0`);
      return [id, Math.exp(lp)];
    });
    const z = entries.reduce((s, [, p]) => s + p, 0);
    return entries.map(([id, p]) => [id, p / z]);
  });
}

/** What a worker needs for one student. */
export interface HfJobArgs {
  dir: string;
  sha256: string;
  /** The adapters to train, or 'full': every weight. */
  lora: LoraSettings | 'full';
  examples: HfExamples;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export function hfJobArgs(
  model: HfModelFolder,
  examples: HfExamples,
  training: TrainingSettings,
  seed: number,
): HfJobArgs {
  return {
    dir: model.dir,
    sha256: model.sha256,
    lora: training.method === 'full' ? 'full' : (training.lora ?? DEFAULT_LORA),
    examples,
    epochs: training.epochs,
    batchSize: training.batchSize,
    learningRate: training.learningRate,
    seed,
  };
}

/** Per worker: the bases read, and one trainer per base and LoRA configuration. */
const folders = new Map<string, Promise<HfModelFolder>>();
const trainers = new Map<string, Promise<HfLoraTrainer>>();

async function baseFolder(dir: string, sha256: string): Promise<HfModelFolder> {
  let folder = folders.get(dir);
  if (!folder) folders.set(dir, (folder = readHfModelFolder(dir)));
  const f = await folder;
  if (f.sha256 !== sha256)
    throw new DistillGateError('the base model folder changed on disk while students were being trained', {
      file: dir,
    });
  return f;
}

/** The targets of one record: each loss token's distribution (the written token, or the teacher's soft target). */
function exampleOf(x: HfExamples, r: number): LoraExample {
  const from = x.offsets[r];
  const to = x.offsets[r + 1];
  const ids = Array.from(x.ids.subarray(from, to));
  const targets: LoraExample['targets'] = [];
  for (let t = 1; t < ids.length; t++) {
    if (!x.loss[from + t]) continue;
    const s = x.soft?.at[from + t] ?? -1;
    if (s < 0) targets.push({ pos: t - 1, ids: [ids[t]], probs: [1], weight: 0 });
    else {
      const e0 = x.soft!.entryOffsets[s];
      const e1 = x.soft!.entryOffsets[s + 1];
      targets.push({
        pos: t - 1,
        ids: Array.from(x.soft!.entryIds.subarray(e0, e1)),
        probs: Array.from(x.soft!.entryProbs.subarray(e0, e1)),
        weight: 0,
      });
    }
  }
  return { ids, targets };
}

/**
 * Trains one student's adapters (in a worker): PEFT's initialisation, the data order and the LoRA dropout masks from
 * the job's seed, Adam,
 * the loss averaged over the batch's target tokens (as Hugging Face's Trainer averages it).
 */
export async function trainHfJob(args: HfJobArgs, run: TrainingRun): Promise<TrainingRunResult> {
  const started = performance.now();
  const base = await baseFolder(args.dir, args.sha256);
  const key = `${args.dir}:${args.sha256}:${JSON.stringify(args.lora)}:${args.learningRate}`;
  let trainer = trainers.get(key);
  if (!trainer) {
    trainer = HfLoraTrainer.create(base.architecture, base.weights, args.lora, {
      learningRate: args.learningRate,
      seed: args.seed,
      threads: run.threads,
    });
    trainers.set(key, trainer);
  }
  const t = await trainer;
  // Every student starts from the base: its own adapters (PEFT's initialisation from its seed), or the weights.
  t.reset(
    args.lora === 'full'
      ? t.params.map((p) => base.weights.tensors.get(p.name)!)
      : initLoraParams(t.adapters, args.lora.rank, args.seed),
  );
  const n = args.examples.offsets.length - 1;
  const rng = new SeededRandom(args.seed).fork('order');
  // LoRA dropout: each step's masks from the student's own stream.
  const dropoutRng = new SeededRandom(args.seed).fork('lora-dropout');
  const perEpoch = Math.ceil(n / args.batchSize);
  const total = perEpoch * args.epochs;
  const lossHistory: number[] = [];
  let steps = 0;
  for (let epoch = 0; epoch < args.epochs; epoch++) {
    const order = rng.permutation(n);
    let sum = 0;
    for (let b = 0; b < perEpoch; b++) {
      const rows = order.subarray(b * args.batchSize, (b + 1) * args.batchSize);
      const batch = Array.from(rows, (r) => exampleOf(args.examples, r));
      const count = batch.reduce((k, e) => k + e.targets.length, 0);
      for (const e of batch) for (const target of e.targets) target.weight = 1 / count;
      sum += await t.step(batch, t.dropout ? dropoutRng.int(DROPOUT_HASH.P) : 0);
      run.onStep(++steps, total);
    }
    lossHistory.push(sum / perEpoch);
  }
  return { weights: t.parameters(), lossHistory, steps, ms: performance.now() - started };
}

/**
 * A fully fine-tuned student: the base's folder with the trained weights (in the order the training graph lists
 * them), hashed anew. Its handle runs its own session: full students share nothing with the base.
 */
export function fullyTrained(base: HfFamilyModel, weights: Float32Array[]): HfFamilyModel {
  const names = trainingWeightNames(base);
  if (names.length !== weights.length)
    throw new Error(`a fully trained student has ${weights.length} tensors; the base has ${names.length}`);
  const tensors = new Map(names.map((n, i) => [n, weights[i]]));
  const h = createHash('sha256').update(base.sha256).update('\0full\0');
  for (const w of weights) h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  return { ...base, weights: { tensors, specs: base.weights.specs }, sha256: h.digest('hex') };
}

/** The weights' names in the order the full training graph takes them (its first use of each), once per base. */
function trainingWeightNames(base: HfFamilyModel): string[] {
  let names = weightOrder.get(base.weights);
  if (!names) {
    names = buildHfLoraGraph(base.architecture, base.weights, 'full').params.map((p) => p.name);
    weightOrder.set(base.weights, names);
  }
  return names;
}

const weightOrder = new WeakMap<object, string[]>();

/** The adapters of a student trained from `base` with `lora`. */
export function studentAdapters(base: HfModelFolder, lora: LoraSettings, params: Float32Array[]): HfAdapters {
  return { settings: lora, specs: loraAdapterSpecs(base.architecture, base.weights, lora), params };
}
