/**
 * The verdict cache and the units of work. A check is made of (dataset, seed) units; a unit's scores are cached under
 * a content hash of everything that decides them (tool version, engines, base, control, filters, training settings,
 * plugins, the dataset's bytes and the seed), so a later run, round or shard reuses them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedConfig, DatasetEntry } from '../config/load.js';
import { DEFAULT_SAMPLE_TENSOR_BYTES, DEFAULT_SAMPLE_TEXT_RECORDS } from '../data/sample.js';
import { writeFileAtomic } from '../io.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import type { ProbeSet } from '../contracts.js';
import type { DatasetReport, StudentScore } from '../result.js';
import type { CheckContext, ShardSpec } from './context.js';
import type { CheckInputs } from './inputs.js';

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

/** What every unit's cache key shares: all that decides a score except the dataset and the seed. */
export function settingsKey(
  ctx: CheckContext,
  inputs: CheckInputs,
  tool: { version: string },
  controlFileSha: string | undefined,
): Record<string, unknown> {
  const { config, training } = ctx;
  const plugin = (p: LoadedPlugin) => ({ name: p.plugin.name, version: p.plugin.version, options: p.options });
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
    evaluations: inputs.evaluations.map((e) => ({
      trait: plugin(e.trait),
      evaluator: plugin(e.evaluator),
      probes: probeSetHash(e.probes),
    })),
    // Placebo students train with their own seeds (placeboSeed), so that the null holds training noise too.
    ...(config.placebos ? { placebos: { count: config.placebos, seeds: 'seed + 100003 j' } } : {}),
  };
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
export type CacheLookup = { entry: UnitScores } | { missing: true } | { corrupt: string };

/** sha256 of an entry's JSON without its own `sha256` field: what `writeCache` stores and `readCache` checks. */
function entryHash(unit: UnitScores): string {
  const { sha256: _, ...body } = unit as UnitScores & { sha256?: string };
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/**
 * Reads a unit's entry and verifies it before use: it must parse, carry the key it is filed under, and hash to the
 * content hash written with it. A file that fails is reported as corrupt (the caller warns and trains the unit
 * again, and the rewrite replaces it); an absent file is a plain miss.
 */
export async function readCache(dir: string, key: string): Promise<CacheLookup> {
  let text: string;
  try {
    text = await readFile(join(dir, `${key}.json`), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { corrupt: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  let entry: UnitScores & { sha256?: unknown };
  try {
    entry = JSON.parse(text) as UnitScores & { sha256?: unknown };
  } catch {
    return { corrupt: 'is not valid JSON (truncated or overwritten?)' };
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return { corrupt: 'is not a JSON object' };
  if (entry.key !== key) return { corrupt: 'is filed under another key' };
  if (typeof entry.sha256 !== 'string') return { corrupt: 'has no content hash' };
  if (entry.sha256 !== entryHash(entry)) return { corrupt: 'does not match its content hash (edited or damaged)' };
  const { sha256: _, ...unit } = entry;
  return { entry: unit };
}

/** Writes a unit's entry atomically, with the sha256 of its content for `readCache` to verify. */
export async function writeCache(dir: string, unit: UnitScores): Promise<void> {
  await writeFileAtomic(join(dir, `${unit.key}.json`), `${JSON.stringify({ ...unit, sha256: entryHash(unit) })}\n`);
}
