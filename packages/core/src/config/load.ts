import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { parse as parseWithPointers } from 'json-source-map';
import type { ModelFormat, TrainingSettings } from '../contracts.js';
import { configSchema } from './schema.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';
import { compileSchema, describeAjvErrors, schemaError } from '../validation.js';

export interface PluginRef {
  use: string;
  options: Record<string, unknown>;
  /** JSON pointer of this reference inside the config, for error messages. */
  pointer: string;
}

export interface EvaluatorRef extends PluginRef {
  traits?: string[];
}

export interface DatasetEntry {
  name: string;
  path: string;
  recipe?: { generator: PluginRef; modelPath: string; modelFormat?: ModelFormat; seed: number };
  /** Named on the command line rather than in the config file. */
  fromCommandLine?: boolean;
}

export type ControlSource = { kind: 'file'; path: string } | { kind: 'generate'; generator: PluginRef };

export type InconclusivePolicy = 'fail' | 'pass' | 'warn';
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
/** What runs inference (generation, evaluation): onnxruntime-node where installed, or the tfjs backend. */
export type InferencePreference = 'auto' | 'tfjs' | 'onnxruntime';
/** What trains the students: distill-gate's training graphs on onnxruntime-node where it is installed (auto), or tfjs. */
export type TrainerPreference = 'auto' | 'tfjs' | 'onnxruntime';

export interface ResolvedConfig {
  file: string;
  dir: string;
  /** SHA-256 of the config file's bytes. */
  sha256: string;
  basePath: string;
  baseFormat?: ModelFormat;
  /** A base with a different initialisation, trained the same way: tells subliminal transfer from leakage. */
  crossBasePath?: string;
  crossBaseFormat?: ModelFormat;
  datasets: DatasetEntry[];
  control: ControlSource;
  traits: PluginRef[];
  filters: PluginRef[];
  evaluators: EvaluatorRef[];
  training: TrainingSettings;
  seeds: number[];
  threshold: number;
  confidence: number;
  multipleChecks: 'bonferroni' | 'none';
  placebos: number;
  sequential?: { maxSeeds: number; roundSize: number };
  inconclusive: InconclusivePolicy;
  backend: BackendPreference;
  inference: InferencePreference;
  trainer: TrainerPreference;
  workers?: number;
  badRecords: 'fail' | 'skip';
  maxRecords?: number;
  maxMinutes?: number;
  reportDir: string;
  /** Verdict cache folder, or undefined when the cache is off. */
  cacheDir?: string;
  /** Maps a JSON pointer in the config to file:line:column. */
  locate(pointer: string): ErrorLocation;
}

/** Overrides from the command line (or the Action's inputs); they win over the file. */
export interface ConfigOverrides {
  /** Dataset files to check instead of the config's (paths relative to cwd). */
  datasets?: string[];
  /** Keep only the config's datasets whose files are among these absolute paths (e.g. those a PR changed). */
  onlyDatasets?: string[];
  seeds?: number[];
  threshold?: number;
  backend?: BackendPreference;
  inference?: InferencePreference;
  trainer?: TrainerPreference;
  reportDir?: string;
  inconclusive?: InconclusivePolicy;
  workers?: number;
  badRecords?: 'fail' | 'skip';
  maxRecords?: number;
  maxMinutes?: number;
  /** A folder, or false to turn the cache off. */
  cacheDir?: string | false;
}

/** Parses "5" (seeds 1..5) or "1,2,7" (exactly those). */
export function parseSeeds(text: string): number[] {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (n < 1 || n > 1000) throw new DistillGateError(`--seeds count must be between 1 and 1000, got ${n}`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const parts = trimmed.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^-?\d+$/.test(p))) {
    throw new DistillGateError(
      `--seeds must be a count ("5") or a comma-separated list of integers ("1,2,3"), got "${text}"`,
    );
  }
  const seeds = parts.map(Number);
  if (new Set(seeds).size !== seeds.length) throw new DistillGateError(`--seeds has duplicates: "${text}"`);
  return seeds;
}

export async function loadConfig(
  file: string,
  overrides: ConfigOverrides = {},
  cwd = process.cwd(),
): Promise<ResolvedConfig> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DistillGateError(
      code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code ?? String(e)})`,
      { file: relative(cwd, path) || path },
      code === 'ENOENT' ? 'pass --config <path> or run from the folder that holds distill-gate.config.json' : undefined,
    );
  }
  const display = relative(cwd, path) || path;
  let parsed: {
    data: unknown;
    pointers: Record<string, { value: { line: number; column: number }; key?: { line: number; column: number } }>;
  };
  try {
    parsed = parseWithPointers(text);
  } catch (e) {
    const m = /at position (\d+)|line (\d+) column (\d+)/.exec(String((e as Error).message));
    let line: number | undefined;
    let column: number | undefined;
    if (m?.[1]) {
      const before = text.slice(0, Number(m[1]));
      line = before.split('\n').length;
      column = before.length - before.lastIndexOf('\n');
    } else if (m?.[2]) {
      line = Number(m[2]);
      column = Number(m[3]);
    }
    throw new DistillGateError(`config is not valid JSON: ${(e as Error).message}`, { file: display, line, column });
  }
  const locate = (pointer: string): ErrorLocation => {
    // Walk up to the nearest pointer that exists (a missing key is reported at its parent object).
    let p = pointer;
    for (;;) {
      const m = parsed.pointers[p];
      if (m) {
        const pos = m.key ?? m.value;
        return { file: display, line: pos.line + 1, column: pos.column + 1, pointer };
      }
      if (p === '') return { file: display, pointer };
      p = p.slice(0, p.lastIndexOf('/'));
    }
  };
  const raw = parsed.data as Record<string, any>;
  const validate = compileSchema(configSchema);
  if (!validate(raw)) {
    throw schemaError('invalid config', describeAjvErrors(validate.errors ?? []), locate);
  }
  const dir = dirname(path);
  const at = (p: string) => resolve(dir, p);
  const ref = (r: { use: string; options?: Record<string, unknown> }, pointer: string): PluginRef => ({
    use: r.use,
    options: r.options ?? {},
    pointer,
  });

  const datasets: DatasetEntry[] = overrides.datasets?.length
    ? overrides.datasets.map((d) => ({
        name: relative(cwd, resolve(cwd, d)) || d,
        path: resolve(cwd, d),
        fromCommandLine: true,
      }))
    : raw.datasets.map((d: any, i: number) => ({
        name: d.name ?? d.path,
        path: at(d.path),
        recipe: d.recipe
          ? {
              generator: ref(d.recipe.generator, `/datasets/${i}/recipe/generator`),
              modelPath: at(d.recipe.model.path),
              modelFormat: d.recipe.model.format,
              seed: d.recipe.seed,
            }
          : undefined,
      }));
  if (overrides.onlyDatasets && !overrides.datasets?.length) {
    const keep = new Set(overrides.onlyDatasets.map((p) => resolve(cwd, p)));
    datasets.splice(0, datasets.length, ...datasets.filter((d) => keep.has(d.path)));
  }
  const names = new Set<string>();
  for (const [i, d] of datasets.entries()) {
    if (names.has(d.name))
      throw new DistillGateError(
        `two datasets are named "${d.name}"`,
        locate(`/datasets/${i}`),
        'give each a distinct "name"',
      );
    names.add(d.name);
  }
  const seeds: number[] =
    overrides.seeds ?? (Array.isArray(raw.seeds) ? raw.seeds : Array.from({ length: raw.seeds }, (_, i) => i + 1));
  if (raw.sequential && raw.sequential.maxSeeds <= seeds.length) {
    throw new DistillGateError(
      `sequential.maxSeeds (${raw.sequential.maxSeeds}) must be more than the ${seeds.length} first seed(s)`,
      locate('/sequential/maxSeeds'),
    );
  }
  if (raw.placebos > 0 && raw.control.path) {
    throw new DistillGateError(
      'placebos need control data the base generates ("control": { "generate": ... }); a control file has no second draw',
      locate('/placebos'),
    );
  }
  const training: TrainingSettings = raw.training;
  if (training.outputs && training.outputs.end <= training.outputs.start) {
    throw new DistillGateError('training.outputs.end must be greater than start', locate('/training/outputs'));
  }
  return {
    file: path,
    dir,
    sha256: createHash('sha256').update(text).digest('hex'),
    basePath: at(raw.base.path),
    baseFormat: raw.base.format,
    ...(raw.crossBase ? { crossBasePath: at(raw.crossBase.path), crossBaseFormat: raw.crossBase.format } : {}),
    datasets,
    control: raw.control.path
      ? { kind: 'file', path: at(raw.control.path) }
      : { kind: 'generate', generator: ref(raw.control.generate, '/control/generate') },
    traits: raw.traits.map((t: any, i: number) => ref(t, `/traits/${i}`)),
    filters: raw.filters.map((f: any, i: number) => ref(f, `/filters/${i}`)),
    evaluators: raw.evaluators.map((e: any, i: number) => ({ ...ref(e, `/evaluators/${i}`), traits: e.traits })),
    training,
    seeds,
    threshold: overrides.threshold ?? raw.threshold,
    confidence: raw.confidence,
    multipleChecks: raw.multipleChecks,
    placebos: raw.placebos,
    ...(raw.sequential ? { sequential: raw.sequential } : {}),
    inconclusive: overrides.inconclusive ?? raw.inconclusive,
    backend: overrides.backend ?? raw.backend,
    inference: overrides.inference ?? raw.inference,
    trainer: overrides.trainer ?? raw.trainer,
    workers: overrides.workers ?? raw.workers,
    badRecords: overrides.badRecords ?? raw.badRecords,
    ...((overrides.maxRecords ?? raw.maxRecords) !== undefined
      ? { maxRecords: overrides.maxRecords ?? raw.maxRecords }
      : {}),
    ...((overrides.maxMinutes ?? raw.maxMinutes) !== undefined
      ? { maxMinutes: overrides.maxMinutes ?? raw.maxMinutes }
      : {}),
    reportDir: overrides.reportDir ? resolve(cwd, overrides.reportDir) : at(raw.reportDir),
    cacheDir:
      overrides.cacheDir === false
        ? undefined
        : overrides.cacheDir
          ? resolve(cwd, overrides.cacheDir)
          : at(raw.cacheDir),
    locate,
  };
}
