/**
 * The verdict cache and the units of work. A check is made of (dataset, seed) units; a unit's scores are cached under
 * a content hash of everything that decides them (tool version, engines, base, control, filters, training settings,
 * plugins, the dataset's bytes and the seed), so a later run, round or shard reuses them.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedConfig, DatasetEntry } from '../config/load.js';
import { DEFAULT_SAMPLE_TENSOR_BYTES, DEFAULT_SAMPLE_TEXT_RECORDS } from '../data/sample.js';
import { writeFileAtomic } from '../io.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import type { ProbeSet } from '../contracts.js';
import type { DatasetReport, StudentScore } from '../result.js';
import type { CheckContext, ShardSpec } from './context.js';
import type { CheckInputs, Evaluation } from './inputs.js';

/** Bump when the meaning of a cached entry changes, so old entries stop matching. */
const CACHE_FORMAT = 3;

/** One (dataset, seed) unit of work, numbered in config order. */
export interface Unit {
  entry: DatasetEntry;
  /** The dataset's index in the config. */
  d: number;
  seed: number;
  index: number;
}

/** One (dataset, seed) unit's scores: for every (trait, evaluator), the probe's and the control's. */
export interface UnitScores {
  key: string;
  dataset: string;
  seed: number;
  report: DatasetReport;
  scores: {
    trait: string;
    evaluator: string;
    probe: StudentScore;
    control: StudentScore;
    crossProbe?: StudentScore;
    crossControl?: StudentScore;
    placebo?: StudentScore[];
  }[];
}

/** Every (dataset, seed) unit of the config, and the ones this job does (all, or its shard's). */
export function planUnits(config: ResolvedConfig, shard?: ShardSpec): { all: Unit[]; mine: Unit[] } {
  const all = config.datasets.flatMap((entry, d) =>
    config.seeds.map((seed, s) => ({ entry, d, seed, index: d * config.seeds.length + s })),
  );
  return { all, mine: shard ? all.filter((u) => u.index % shard.count === shard.index - 1) : all };
}

const plugin = (p: LoadedPlugin) => ({ name: p.plugin.name, version: p.plugin.version, options: p.options });

/** The tool and the engines: what decides any cached number besides its inputs. */
function enginesKey(ctx: CheckContext, tool: { version: string }): Record<string, unknown> {
  const { training } = ctx;
  return {
    format: CACHE_FORMAT,
    tool: tool.version,
    backend: training.backend.name,
    // Generated data and scores depend (at about 1e-6 in the logits) on what ran the models.
    ...(training.backend.inference?.engine === 'onnxruntime'
      ? { inference: `onnxruntime-${training.backend.inference.provider}` }
      : {}),
    // Students trained by onnxruntime's graphs differ from tfjs's at float rounding.
    ...(training.backend.training?.engine === 'onnxruntime' ? { trainer: 'onnxruntime-cpu' } : {}),
  };
}

/** What every unit's cache key shares: all that decides a score except the dataset and the seed. */
export function settingsKey(
  ctx: CheckContext,
  inputs: CheckInputs,
  tool: { version: string },
  controlFileSha: string | undefined,
): Record<string, unknown> {
  const { config } = ctx;
  return {
    ...enginesKey(ctx, tool),
    base: inputs.base.sha256,
    ...(inputs.crossBase ? { crossBase: inputs.crossBase.sha256 } : {}),
    control: config.control.kind === 'file' ? { file: controlFileSha ?? 'missing' } : plugin(inputs.controlGenerator!),
    filters: inputs.filters.map(plugin),
    training: config.training,
    ...(config.maxRecords || config.badRecords === 'skip'
      ? { records: { max: config.maxRecords ?? null, bad: config.badRecords } }
      : {}),
    // Which records the students train on when a dataset is larger than the sample.
    sample: {
      records: config.sampleRecords ?? `default ${DEFAULT_SAMPLE_TEXT_RECORDS} text, ${DEFAULT_SAMPLE_TENSOR_BYTES} B`,
      seed: config.sampleSeed,
    },
    // The probe set's content, not only the trait's options: a probe file edited in place changes every score.
    evaluations: inputs.evaluations.map(evaluationKey),
    // Placebo students train with their own seeds (placeboSeed), so that the null holds training noise too.
    ...(config.placebos ? { placebos: { count: config.placebos, seeds: 'seed + 100003 j' } } : {}),
  };
}

const evaluationKeys = new WeakMap<Evaluation, Record<string, unknown>>();

/** What decides how a student is scored on one evaluation: the trait, the evaluator and the probe set's content. */
function evaluationKey(e: Evaluation): Record<string, unknown> {
  let key = evaluationKeys.get(e);
  if (!key) {
    key = { trait: plugin(e.trait), evaluator: plugin(e.evaluator), probes: probeSetHash(e.probes) };
    evaluationKeys.set(e, key);
  }
  return key;
}

/**
 * The student cache's key of one student's score on one evaluation: the student (what decides it: base, training
 * data, seed and training settings; students.ts), the evaluation, the system prompt it is evaluated under, and the
 * tool and engines. The unit cache holds whole (dataset, seed) units; this one holds each student's scores, so that a
 * run whose datasets changed in part trains only the students whose training data changed: a control student
 * shared with an unchanged dataset is not trained again.
 */
export function studentScoreKey(
  ctx: CheckContext,
  tool: { version: string },
  student: string,
  e: Evaluation,
  systemPrompt: string | undefined,
): string {
  return hashKey({
    ...enginesKey(ctx, tool),
    student,
    evaluation: evaluationKey(e),
    systemPrompt: systemPrompt ?? null,
  });
}

/** sha256 of a probe set's content (its typed arrays by their bytes). */
export function probeSetHash(probes: ProbeSet): string {
  const h = createHash('sha256');
  const replacer = (_k: string, v: unknown) => {
    if (ArrayBuffer.isView(v)) {
      h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      return `<${v.constructor.name} ${v.byteLength} bytes>`;
    }
    return v;
  };
  h.update(JSON.stringify(probes, replacer));
  return h.digest('hex');
}

export function hashKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** What a cache lookup found: a verified entry, nothing, or a file that failed verification (and why). */
export type CacheLookup<T = UnitScores> = { entry: T } | { missing: true } | { corrupt: string };

/** sha256 of an entry's JSON without its own `sha256` field: what `writeEntry` stores and `readEntry` checks. */
function entryHash(entry: { key: string }): string {
  const { sha256: _, ...body } = entry as { key: string; sha256?: string };
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/**
 * Reads a cache entry and verifies it before use: it must parse, carry the key it is filed under, and hash to the
 * content hash written with it. A file that fails is reported as corrupt (the caller warns and does the work again,
 * and the rewrite replaces it); an absent file is a plain miss.
 */
async function readEntry<T extends { key: string }>(path: string, key: string): Promise<CacheLookup<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { corrupt: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  let entry: T & { sha256?: unknown };
  try {
    entry = JSON.parse(text) as T & { sha256?: unknown };
  } catch {
    return { corrupt: 'is not valid JSON (truncated or overwritten?)' };
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return { corrupt: 'is not a JSON object' };
  if (entry.key !== key) return { corrupt: 'is filed under another key' };
  if (typeof entry.sha256 !== 'string') return { corrupt: 'has no content hash' };
  if (entry.sha256 !== entryHash(entry)) return { corrupt: 'does not match its content hash (edited or damaged)' };
  const { sha256: _, ...body } = entry;
  return { entry: body as unknown as T };
}

/** Writes an entry atomically, with the sha256 of its content for `readEntry` to verify. */
async function writeEntry<T extends { key: string }>(path: string, entry: T): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify({ ...entry, sha256: entryHash(entry) })}\n`);
}

/** Reads and verifies a unit's entry (readEntry). */
export function readCache(dir: string, key: string): Promise<CacheLookup> {
  return readEntry<UnitScores>(join(dir, `${key}.json`), key);
}

/** Writes a unit's entry atomically, with the sha256 of its content for `readCache` to verify. */
export async function writeCache(dir: string, unit: UnitScores): Promise<void> {
  await writeEntry(join(dir, `${unit.key}.json`), unit);
}

/** One student's score on one evaluation, as the student cache holds it (the unit gives it its seed and role). */
export type CachedScore = Omit<StudentScore, 'seed' | 'role'>;

/** The student cache: students/ in the cache folder, one entry per (student, evaluation, system prompt). */
const studentsDir = (dir: string) => join(dir, 'students');

export function readStudentScore(dir: string, key: string): Promise<CacheLookup<{ key: string; score: CachedScore }>> {
  return readEntry(join(studentsDir(dir), `${key}.json`), key);
}

export async function writeStudentScore(dir: string, key: string, score: CachedScore): Promise<void> {
  await mkdir(studentsDir(dir), { recursive: true });
  await writeEntry(join(studentsDir(dir), `${key}.json`), { key, score });
}
