import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { kindOf } from '../io.js';
import { dirname, relative, resolve } from 'node:path';
import { parse as parseWithPointers } from 'json-source-map';
import { duplicateKeyPointer, nonFinitePointer, stripBom } from '../json-strict.js';
import type { LoraSettings, ModelFormat, TrainingSettings } from '../contracts.js';
import { configSchema } from './schema.js';
import { resolveRunSettings, type ResolvedRunSettings, type SettingOverrides } from './settings.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';
import { MIN_DECISION_SEEDS } from '../stats/estimates.js';
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
  /** Its place in the config (errors about its recipe point there). */
  pointer: string;
  recipe?: {
    generator: PluginRef;
    modelPath: string;
    modelFormat?: ModelFormat;
    /** The teacher's system prompt, with which the model answers every prompt. */
    systemPrompt?: string;
    seed: number;
  };
  /** Named on the command line rather than in the config file. */
  fromCommandLine?: boolean;
  /** Where the data came from, as the config declares it (a recipe declares its own). */
  teacher?: TeacherDeclaration;
  /**
   * With `probes` in the config, each dataset is one entry per probe configuration, named "<dataset> [<probe>]";
   * `dataset` is then the dataset's own name.
   */
  probe?: ProbeConfig;
  dataset?: string;
}

/** One probe configuration: how its students differ from `training`, and how they are evaluated. */
export interface ProbeConfig {
  name: string;
  /** Over training.lora. */
  lora?: Partial<LoraSettings>;
  /** Students are evaluated under this system prompt. */
  systemPrompt?: string;
  /** Its place in the config, for errors. */
  pointer: string;
  /** The training settings its students get (training with its LoRA settings), once the base is known. */
  training?: TrainingSettings;
}

export interface TeacherDeclaration {
  modelPath?: string;
  sha256?: string;
  modelType?: string;
  systemPrompt?: string;
  sampling?: Record<string, unknown>;
}

export type ControlSource = { kind: 'file'; path: string } | { kind: 'generate'; generator: PluginRef };

export {
  parseSeeds,
  type BackendPreference,
  type InconclusivePolicy,
  type InferencePreference,
  type TrainerPreference,
} from './settings.js';

/** A loaded config: its files and plugins, and the run settings (settings.ts) after defaults and overrides. */
export interface ResolvedConfig extends ResolvedRunSettings {
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
  screen: ScreenSettings;
  /** Maps a JSON pointer in the config to file:line:column. */
  locate(pointer: string): ErrorLocation;
}

/** The screen's settings (config "screen"), with their defaults. */
export interface ScreenSettings {
  enabled: boolean;
  alarm: 'annotate' | 'fail';
  falseFlagRate: number;
  rows: number;
  traitPrompt?: string;
}

/** Overrides from the command line (or the Action's inputs); they win over the file. */
export interface ConfigOverrides extends SettingOverrides {
  /** Dataset files to check instead of the config's (paths relative to cwd). */
  datasets?: string[];
  /** Keep only the config's datasets whose files are among these absolute paths (e.g. those a PR changed). */
  onlyDatasets?: string[];
}

type SourceMap = Record<string, { value: { line: number; column: number }; key?: { line: number; column: number } }>;

async function readConfigText(path: string, cwd: string): Promise<string> {
  // A FIFO or a device would block the read forever (or never end): only a regular file is read.
  const st = await stat(path).catch(() => undefined);
  if (st && !st.isFile())
    throw new DistillGateError(`config must be a regular file, this is ${kindOf(st)}`, {
      file: relative(cwd, path) || path,
    });
  try {
    return stripBom(await readFile(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DistillGateError(
      code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code ?? String(e)})`,
      { file: relative(cwd, path) || path },
      code === 'ENOENT' ? 'pass --config <path> or run from the folder that holds distill-gate.config.json' : undefined,
    );
  }
}

function parseConfigText(text: string, display: string): { data: unknown; pointers: SourceMap } {
  let parsed: { data: unknown; pointers: SourceMap };
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
  // JSON.parse keeps the last of two equal keys and reads 1e999 as Infinity, both without a word: refused here.
  const at = locator(parsed.pointers, display);
  const dup = duplicateKeyPointer(text);
  if (dup !== undefined)
    throw new DistillGateError(
      `key "${dup.slice(dup.lastIndexOf('/') + 1)}" appears twice in one object (JSON would keep the last silently)`,
      at(dup),
      'keep one of them',
    );
  const inf = nonFinitePointer(parsed.data);
  if (inf !== undefined)
    throw new DistillGateError('number is out of range (it reads as Infinity)', at(inf), 'write a finite number');
  return parsed;
}

/**
 * Maps a JSON pointer to file:line:column, walking up to the nearest pointer that exists (a missing key is reported
 * at its parent object).
 */
function locator(pointers: SourceMap, display: string): (pointer: string) => ErrorLocation {
  return (pointer) => {
    let p = pointer;
    for (;;) {
      const m = pointers[p];
      if (m) {
        const pos = m.key ?? m.value;
        return { file: display, line: pos.line + 1, column: pos.column + 1, pointer };
      }
      if (p === '') return { file: display, pointer };
      p = p.slice(0, p.lastIndexOf('/'));
    }
  };
}

const pluginRef = (r: { use: string; options?: Record<string, unknown> }, pointer: string): PluginRef => ({
  use: r.use,
  options: r.options ?? {},
  pointer,
});

/** The datasets to check: those named on the command line, or the config's (narrowed to onlyDatasets). */
function datasetEntries(
  raw: Record<string, any>,
  overrides: ConfigOverrides,
  at: { cwd: string; dir: string },
  locate: (pointer: string) => ErrorLocation,
): DatasetEntry[] {
  const { cwd, dir } = at;
  const datasets: DatasetEntry[] = overrides.datasets?.length
    ? overrides.datasets.map((d) => ({
        name: relative(cwd, resolve(cwd, d)) || d,
        path: resolve(cwd, d),
        pointer: '/datasets',
        fromCommandLine: true,
      }))
    : raw.datasets.map((d: any, i: number) => ({
        name: d.name ?? d.path,
        path: resolve(dir, d.path),
        pointer: `/datasets/${i}`,
        recipe: d.recipe
          ? {
              generator: pluginRef(d.recipe.generator, `/datasets/${i}/recipe/generator`),
              modelPath: resolve(dir, d.recipe.model.path),
              modelFormat: d.recipe.model.format,
              ...(d.recipe.systemPrompt !== undefined ? { systemPrompt: d.recipe.systemPrompt } : {}),
              seed: d.recipe.seed,
            }
          : undefined,
        ...(d.teacher ? { teacher: teacherOf(d.teacher, dir) } : {}),
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
  return datasets;
}

/** Each dataset once per probe configuration (when the config lists them), in dataset order. */
function withProbes(
  datasets: DatasetEntry[],
  probes: { name: string; lora?: Partial<LoraSettings>; systemPrompt?: string }[] | undefined,
  locate: (pointer: string) => ErrorLocation,
): DatasetEntry[] {
  if (!probes) return datasets;
  const configs: ProbeConfig[] = probes.map((p, i) => ({ ...p, pointer: `/probes/${i}` }));
  const names = new Set<string>();
  for (const p of configs) {
    if (names.has(p.name))
      throw new DistillGateError(`two probe configurations are named "${p.name}"`, locate(p.pointer), 'rename one');
    names.add(p.name);
  }
  return datasets.flatMap((d) =>
    configs.map((probe) => ({ ...d, name: `${d.name} [${probe.name}]`, dataset: d.name, probe })),
  );
}

/** The rules the schema cannot state: they relate settings to each other. */
function checkCombinations(
  raw: Record<string, any>,
  settings: ResolvedRunSettings,
  locate: (pointer: string) => ErrorLocation,
): void {
  const { sequential, seeds } = settings;
  const reachable = Math.max(seeds.length, sequential?.maxSeeds ?? 0);
  if (reachable < MIN_DECISION_SEEDS) {
    throw new DistillGateError(
      `${seeds.length} seed(s) can never give a verdict: PASS or FAIL needs at least ${MIN_DECISION_SEEDS} paired ` +
        'seeds (with 2, the interval rests on 1 degree of freedom and one unlucky seed decides)',
      locate('/seeds'),
      `use "seeds": ${MIN_DECISION_SEEDS} or more (5 is the default), or adaptive seeds with "sequential"`,
    );
  }
  if (sequential && sequential.maxSeeds <= seeds.length) {
    throw new DistillGateError(
      `sequential.maxSeeds (${sequential.maxSeeds}) must be more than the ${seeds.length} first seed(s)`,
      locate('/sequential/maxSeeds'),
    );
  }
  if (settings.placebos > 0 && raw.control.path) {
    throw new DistillGateError(
      'placebos need control data the base generates ("control": { "generate": ... }); ' +
        'a control file has no second draw',
      locate('/placebos'),
    );
  }
  const training: TrainingSettings = raw.training;
  if (training.outputs && training.outputs.end <= training.outputs.start) {
    throw new DistillGateError('training.outputs.end must be greater than start', locate('/training/outputs'));
  }
}

export async function loadConfig(
  file: string,
  overrides: ConfigOverrides = {},
  cwd = process.cwd(),
): Promise<ResolvedConfig> {
  const path = resolve(cwd, file);
  const text = await readConfigText(path, cwd);
  const display = relative(cwd, path) || path;
  const parsed = parseConfigText(text, display);
  const locate = locator(parsed.pointers, display);
  const raw = parsed.data as Record<string, any>;
  const validate = compileSchema(configSchema);
  if (!validate(raw)) {
    throw schemaError('invalid config', describeAjvErrors(validate.errors ?? []), locate);
  }
  const dir = dirname(path);
  const at = (p: string) => resolve(dir, p);
  const datasets = withProbes(datasetEntries(raw, overrides, { cwd, dir }, locate), raw.probes, locate);
  const settings = resolveRunSettings(raw, overrides, { cwd, dir });
  checkCombinations(raw, settings, locate);
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
      : { kind: 'generate', generator: pluginRef(raw.control.generate, '/control/generate') },
    traits: raw.traits.map((t: any, i: number) => pluginRef(t, `/traits/${i}`)),
    filters: raw.filters.map((f: any, i: number) => pluginRef(f, `/filters/${i}`)),
    evaluators: raw.evaluators.map((e: any, i: number) => ({ ...pluginRef(e, `/evaluators/${i}`), traits: e.traits })),
    training: raw.training,
    screen: {
      enabled: raw.screen?.enabled ?? false,
      alarm: raw.screen?.alarm ?? 'annotate',
      falseFlagRate: raw.screen?.falseFlagRate ?? 0.01,
      rows: raw.screen?.rows ?? 10,
      ...(raw.screen?.traitPrompt !== undefined ? { traitPrompt: raw.screen.traitPrompt } : {}),
    },
    ...settings,
    locate,
  };
}

function teacherOf(t: any, dir: string): TeacherDeclaration {
  return {
    ...(t.model ? { modelPath: resolve(dir, t.model.path) } : {}),
    ...(t.sha256 ? { sha256: t.sha256 } : {}),
    ...(t.modelType ? { modelType: t.modelType } : {}),
    ...(t.systemPrompt ? { systemPrompt: t.systemPrompt } : {}),
    ...(t.sampling ? { sampling: t.sampling } : {}),
  };
}
