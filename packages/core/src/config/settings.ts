/**
 * The run settings: one table, one row per setting, and the helpers that derive from it the config schema's
 * properties (schema.ts), the `check` command's options (the CLI turns the descriptors into commander options), the
 * Action's inputs (action.yml is written from them) and the overrides the command line or the inputs apply to the
 * config file (loadConfig). A setting is added, renamed or documented here and nowhere else.
 */
import { resolve } from 'node:path';
import type { JsonSchema } from '../contracts.js';
import { DistillGateError, isDistillGateError } from '../errors.js';
import { parseShard, type ShardSpec } from '../check/context.js';

export type InconclusivePolicy = 'fail' | 'pass' | 'warn';
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
/** What runs inference (generation, evaluation): onnxruntime-node where installed, or the tfjs backend. */
export type InferencePreference = 'auto' | 'tfjs' | 'onnxruntime';
/** What trains the students: distill-gate's training graphs on onnxruntime-node where installed (auto), or tfjs. */
export type TrainerPreference = 'auto' | 'tfjs' | 'onnxruntime';
export type BadRecordsPolicy = 'fail' | 'skip';
/** The Action's onnxruntime input: install onnxruntime-node into the tool cache, or run on tfjs only. */
export type OnnxRuntimeInput = 'install' | 'skip';

/** The value of each run setting once parsed, by its key (the name in the config, ResolvedConfig and commander). */
export interface RunSettingValues {
  config: string;
  /** The Action's dataset globs (the CLI takes dataset files as arguments instead). */
  datasets: string[];
  changedOnly: boolean;
  seeds: number[];
  threshold: number;
  confidence: number;
  placebos: number;
  multipleChecks: 'bonferroni' | 'none';
  sequential: { maxSeeds: number; roundSize: number };
  backend: BackendPreference;
  trainer: TrainerPreference;
  inference: InferencePreference;
  onnxruntime: OnnxRuntimeInput;
  inconclusive: InconclusivePolicy;
  workers: number;
  badRecords: BadRecordsPolicy;
  maxMinutes: number;
  maxRecords: number;
  sampleRecords: number | 'all';
  sampleSeed: number;
  reportDir: string;
  shard: ShardSpec;
  cacheDir: string;
  /** False with --no-cache (input no-cache: true). */
  cache: boolean;
  saveStudents: string;
  /** Screen the datasets first (the config's screen.enabled turns it on too). */
  screen: boolean;
  json: boolean;
  progress: boolean;
  /** The Action's partial-result globs (merge mode). */
  merge: string[];
}

export type RunSettingKey = keyof RunSettingValues;

/** One row of the table. */
export interface RunSetting<T = unknown> {
  /** JSON-schema fragment of the value (a config setting's property in the schema, less default and description). */
  type: JsonSchema;
  /** The default, as JSON: the config file's for a config setting, else the CLI's and the Action's. */
  default?: unknown;
  /** What it does: the config schema's description; the CLI and the Action use it unless they say otherwise. */
  description: string;
  /** JSON pointer of the setting in the config file; absent for settings of the CLI or the Action only. */
  configPath?: `/${string}`;
  /** A path: resolved against the working folder when a flag or input gives it, else against the config's folder. */
  path?: boolean;
  /** A boolean whose flag (--no-cache) and input (no-cache) turn it off. */
  negated?: boolean;
  /**
   * Parses the text of a flag or an input, the same for both. Throws a DistillGateError with the whole message the
   * user sees, or an Error that says what the value must be ("must be an integer >= 1"): the CLI puts the flag
   * before it, the Action the input and the value given (`input "max-records" must be ..., got "1.5"`).
   */
  parse?(text: string): T;
  /** The config file's form of the value, when it differs (seeds: a count n means 1..n). */
  fromFile?(value: unknown): T;
  /** What a CLI/Action-only setting overrides in the config (--no-cache turns the cache off). */
  override?(value: T): Partial<Record<RunSettingKey, unknown>>;
  /**
   * The `check` option: its long flag as typed (--no-cache for a negated setting), short flag, value name, help
   * text; parse when the CLI parses differently from the Action (bad-records: the Action reads the enum), choices
   * to offer the type's enum (shown in the help).
   */
  cli?: {
    flag: `--${string}`;
    short?: `-${string}`;
    value?: string;
    description?: string;
    parse?(text: string): T;
    choices?: boolean;
  };
  /** The Action input; default: the setting's default, or '' (the config's value) for a config setting. */
  action?: { input: string; description?: string; default?: string; required?: boolean };
}

type RunSettingTable = { [K in RunSettingKey]: RunSetting<RunSettingValues[K]> };

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

function integerAtLeast(min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`must be an integer >= ${min}`);
    return Number(v);
  };
}

function sampleRecordsValue(v: string): number | 'all' {
  if (v.trim() === 'all') return 'all';
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw new Error('must be an integer >= 1 or "all"');
  return Number(v);
}

function finiteNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error('must be a number');
  return n;
}

function positiveMinutes(v: string): number {
  const m = Number(v);
  if (!(m > 0)) throw new Error('must be a number of minutes > 0');
  return m;
}

function badRecordsPolicy(v: string): BadRecordsPolicy {
  if (v !== 'fail' && v !== 'skip') throw new Error('must be fail or skip');
  return v;
}

const ENGINES = ['auto', 'tfjs', 'onnxruntime'];
const globs = { type: 'array', items: { type: 'string' } };

/**
 * Every run setting, in the order of `distill-gate check --help` (the config schema and action.yml list them in
 * the same order). Descriptions: the config schema's; the CLI's help and the Action's input where they differ.
 */
export const runSettings = {
  config: {
    type: { type: 'string' },
    default: 'distill-gate.config.json',
    description: 'config file',
    path: true,
    cli: { flag: '--config', short: '-c', value: 'path' },
    action: { input: 'config', description: 'Path of distill-gate.config.json, relative to the workspace.' },
  },
  datasets: {
    type: globs,
    description: 'Dataset globs to check, one per line. Default - the datasets the config names.',
    action: { input: 'datasets' },
  },
  changedOnly: {
    type: { type: 'boolean' },
    default: true,
    description:
      'On pull_request events, check only the datasets the pull request changed ' +
      '(needs actions/checkout with fetch-depth 0).',
    action: { input: 'changed-only' },
  },
  seeds: {
    type: {
      oneOf: [
        { type: 'integer', minimum: 1, maximum: 1000 },
        { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer' } },
      ],
    },
    default: 5,
    description: 'Seeds for probe/control pairs: a count n (seeds 1..n) or an explicit list.',
    configPath: '/seeds',
    parse: parseSeeds,
    fromFile: (v) => (Array.isArray(v) ? (v as number[]) : Array.from({ length: v as number }, (_, i) => i + 1)),
    cli: { flag: '--seeds', value: 'n|list', description: 'seed count (1..n) or comma-separated seeds' },
    action: { input: 'seeds', description: "Seed count (e.g. 5) or list (e.g. 1,2,3). Default - the config's seeds." },
  },
  threshold: {
    type: { type: 'number' },
    default: 0.05,
    description: 'Largest acceptable transfer (score units of the evaluator, e.g. accuracy points as a fraction).',
    configPath: '/threshold',
    parse: finiteNumber,
    cli: { flag: '--threshold', value: 'number', description: 'largest acceptable transfer' },
    action: { input: 'threshold', description: "Largest acceptable transfer. Default - the config's threshold." },
  },
  confidence: {
    type: { type: 'number', exclusiveMinimum: 0.5, exclusiveMaximum: 1 },
    default: 0.95,
    description:
      'Family-wise confidence: the chance that no verdict of the run is wrong (every dataset x trait check at ' +
      'every sequential look, and every explicit-content test) is at least this; see multipleChecks and sequential.',
    configPath: '/confidence',
  },
  placebos: {
    type: { type: 'integer', minimum: 0, maximum: 100 },
    default: 0,
    description:
      "Placebo datasets per dataset: the base answers the dataset's prompts (or labels its inputs) again with " +
      'seeds 1..K, and students trained on each (each with a training seed of its own), paired by seed with the ' +
      'control students, show the transfer measured when there is none. The result gives their transfers and the ' +
      'empirical p-value (1 + #{placebo >= observed}) / (K + 1), which cannot go below 1 / (K + 1): K >= 19 for ' +
      '0.05. Needs generated control data. Costs K more students per seed.',
    configPath: '/placebos',
  },
  multipleChecks: {
    type: { enum: ['bonferroni', 'none'] },
    default: 'bonferroni',
    description:
      "How the error rate is held across the run's tests: bonferroni (alpha = 1 - confidence split evenly over " +
      'the dataset x trait checks x planned looks and the explicit-content tests, so all hold together) or none ' +
      '(each check at alpha on its own, over its own looks).',
    configPath: '/multipleChecks',
  },
  sequential: {
    type: {
      type: 'object',
      additionalProperties: false,
      required: ['maxSeeds'],
      properties: {
        maxSeeds: { type: 'integer', minimum: 2, maximum: 1000 },
        roundSize: { type: 'integer', minimum: 1, default: 5 },
      },
    },
    description:
      'Adaptive seeds: after the first seeds, checks that are INCONCLUSIVE get more seeds, roundSize at a time, ' +
      'until they are decided or maxSeeds (or maxMinutes) is reached. Every look is planned in advance and takes ' +
      'its share of the error rate (Bonferroni over looks), so peeking does not inflate it.',
    configPath: '/sequential',
  },
  backend: {
    type: { enum: ['auto', 'tensorflow', 'wasm', 'cpu'] },
    default: 'auto',
    description:
      'The tfjs backend: auto (the first that initialises of tensorflow, wasm and cpu), tensorflow (native), ' +
      'wasm or cpu.',
    configPath: '/backend',
    cli: { flag: '--backend', value: 'name', description: 'tfjs backend', choices: true },
    action: { input: 'backend', description: "auto, tensorflow, wasm or cpu. Default - the config's backend." },
  },
  trainer: {
    type: { enum: ENGINES },
    default: 'auto',
    description:
      "What trains the probe students: distill-gate's training graphs (forward, backward and Adam in one ONNX " +
      'graph per step, for MLPs and transformers) on onnxruntime-node where it is installed (auto), or tfjs. ' +
      'auto keeps tfjs on the native tensorflow backend.',
    configPath: '/trainer',
    cli: {
      flag: '--trainer',
      value: 'engine',
      description:
        "what trains the students: distill-gate's training graphs on onnxruntime-node where installed (auto), " +
        'or tfjs',
      choices: true,
    },
    action: {
      input: 'trainer',
      description:
        'What trains the probe students - auto (onnxruntime-node where the runner has it installed), tfjs or ' +
        "onnxruntime. Default - the config's.",
    },
  },
  inference: {
    type: { enum: ENGINES },
    default: 'auto',
    description:
      'What runs the models for generation and evaluation (training is chosen by trainer): onnxruntime-node ' +
      'where it is installed (auto), or one named. onnxruntime uses its CUDA provider when that is installed and ' +
      'works, else its CPU provider.',
    configPath: '/inference',
    cli: {
      flag: '--inference',
      value: 'engine',
      description: 'what runs generation and evaluation: onnxruntime-node where installed (auto), or tfjs',
      choices: true,
    },
    action: {
      input: 'inference',
      description:
        'What runs generation and evaluation - auto (onnxruntime-node where the runner has it installed), tfjs ' +
        "or onnxruntime. Default - the config's.",
    },
  },
  onnxruntime: {
    type: { enum: ['install', 'skip'] },
    default: 'install',
    description:
      "install (default) - install onnxruntime-node (CPU) with npm into the runner's tool cache on first use, so " +
      'that training and inference run on it (several times faster than tfjs-wasm; cache the folder with ' +
      'actions/cache to skip the download); skip - run on tfjs only.',
    action: { input: 'onnxruntime' },
  },
  inconclusive: {
    type: { enum: ['fail', 'pass', 'warn'] },
    default: 'fail',
    description:
      'What an INCONCLUSIVE verdict does to the exit code: fail (exit 1), pass (exit 0) or warn (exit 0 with a ' +
      'warning).',
    configPath: '/inconclusive',
    cli: {
      flag: '--inconclusive',
      value: 'policy',
      description: 'exit code of an INCONCLUSIVE verdict',
      choices: true,
    },
    action: {
      input: 'inconclusive',
      description: "What an INCONCLUSIVE verdict does - fail, pass or warn. Default - the config's policy.",
    },
  },
  workers: {
    type: { type: 'integer', minimum: 1 },
    description: 'Parallel training workers (default: number of cores).',
    configPath: '/workers',
    parse: integerAtLeast(1),
    cli: { flag: '--workers', value: 'n', description: 'parallel training workers (default: cores)' },
  },
  badRecords: {
    type: { enum: ['fail', 'skip'] },
    default: 'fail',
    description:
      'A malformed dataset record: stop with a located error (fail), or skip it, counted and reported with the ' +
      'first few errors (skip).',
    configPath: '/badRecords',
    cli: {
      flag: '--bad-records',
      value: 'policy',
      description: 'a malformed dataset record: fail (stop with its location) or skip (count and report it)',
      parse: badRecordsPolicy,
    },
    action: {
      input: 'bad-records',
      description:
        'A malformed dataset record - fail (stop with its location) or skip (count and report it). ' +
        "Default - the config's policy.",
    },
  },
  maxMinutes: {
    type: { type: 'number', exclusiveMinimum: 0 },
    description:
      'Time budget: no student starts training after this many minutes; the verdict covers the seeds that were ' +
      'trained and says so.',
    configPath: '/maxMinutes',
    parse: positiveMinutes,
    cli: {
      flag: '--max-minutes',
      value: 'm',
      description: 'time budget: start no student after m minutes; the verdict covers the seeds trained and says so',
    },
    action: {
      input: 'max-minutes',
      description:
        'Time budget in minutes - no probe student starts after it; the verdict covers what was trained and says ' +
        "so. Default - the config's (none).",
    },
  },
  maxRecords: {
    type: { type: 'integer', minimum: 1 },
    description:
      'Check at most this many records of each dataset (its first ones); the report says the check was limited.',
    configPath: '/maxRecords',
    parse: integerAtLeast(1),
    cli: {
      flag: '--max-records',
      value: 'n',
      description: 'check at most n records of each dataset (its first ones); the report says so',
    },
    action: {
      input: 'max-records',
      description: "Check at most this many records of each dataset (its first ones). Default - the config's (all).",
    },
  },
  sampleRecords: {
    type: { oneOf: [{ type: 'integer', minimum: 1 }, { const: 'all' }] },
    description:
      'A dataset (or control file) of more records than this is checked on a seeded uniform sample of at most this ' +
      'many of the records its filters keep, so that memory and training time stay bounded whatever its size: ' +
      'every record is still read, parsed and filtered (the filter counts and the explicit-content test cover them ' +
      "all); the probe students train on the sample, and the sample's prompts are the ones the base answers for " +
      "the control. The base's checks (context length, training.overlong) apply to the sample. Default: 10,000 " +
      "text records (the size of the design's reference fine-tuning sets), and for tensor data as many rows as " +
      '256 MiB holds (84,201 rows of 784 inputs and 13 targets, as in the MNIST example). "all": no sample ' +
      '(memory then grows with the dataset).',
    configPath: '/sampleRecords',
    parse: sampleRecordsValue,
    cli: {
      flag: '--sample-records',
      value: 'n|all',
      description:
        'train probe students on a seeded uniform sample of at most n of the records the filters keep (default ' +
        '10,000 text records; tensor rows up to 256 MiB); all: every record',
    },
    action: {
      input: 'sample-records',
      description:
        'Probe students train on a seeded uniform sample of at most this many of the records the filters keep, or ' +
        "all. Default - the config's (10,000 text records; tensor rows up to 256 MiB).",
    },
  },
  sampleSeed: {
    type: { type: 'integer' },
    default: 0,
    description: 'Seed of the sample of records that sampleRecords draws (the same seed and file, the same sample).',
    configPath: '/sampleSeed',
  },
  reportDir: {
    type: { type: 'string' },
    default: 'distill-gate-report',
    description: 'Where result.json is written, relative to this file.',
    configPath: '/reportDir',
    path: true,
    cli: {
      flag: '--report-dir',
      value: 'dir',
      description: "where result.json is written (default: the config's reportDir)",
    },
    action: {
      input: 'report-dir',
      description: 'Where result.json and report.md are written.',
      default: 'distill-gate-report',
    },
  },
  shard: {
    type: { type: 'string', pattern: '^\\d+/\\d+$' },
    description: 'check only slice i of n of the (dataset, seed) work and write a partial result for merge',
    parse: parseShard,
    cli: { flag: '--shard', value: 'i/n' },
    action: {
      input: 'shard',
      description: 'i/n to check only slice i of n (matrix jobs); combine the partial results with distill-gate merge.',
    },
  },
  cacheDir: {
    type: { type: 'string' },
    default: '.distill-gate-cache',
    description:
      'Verdict cache: scores of each (dataset, seed) keyed by the content hashes of dataset, base, plugins and ' +
      'settings, relative to this file. Keep it with actions/cache.',
    configPath: '/cacheDir',
    path: true,
    cli: { flag: '--cache-dir', value: 'dir', description: "verdict cache folder (default: the config's cacheDir)" },
    action: {
      input: 'cache-dir',
      description: "Verdict cache folder (keep it with actions/cache). Default - the config's cacheDir.",
    },
  },
  cache: {
    type: { type: 'boolean' },
    default: true,
    description: 'neither read nor write the verdict cache',
    negated: true,
    override: (on: boolean) => (on ? {} : { cacheDir: false }),
    cli: { flag: '--no-cache' },
    action: { input: 'no-cache', description: 'Set to true to neither read nor write the verdict cache.' },
  },
  saveStudents: {
    type: { type: 'string' },
    description: 'write every student this run trains to <dir> as ONNX, indexed by students.json',
    path: true,
    cli: { flag: '--save-students', value: 'dir' },
  },
  screen: {
    type: { type: 'boolean' },
    default: false,
    description: 'screen every dataset first, without training (as the config\'s "screen": { "enabled": true })',
    cli: { flag: '--screen' },
    action: {
      input: 'screen',
      description:
        "Set to true to screen the datasets before training and annotate flagged rows (as the config's " +
        'screen.enabled).',
    },
  },
  json: {
    type: { type: 'boolean' },
    default: false,
    description: 'print the JSON result on stdout instead of the table',
    cli: { flag: '--json' },
  },
  progress: {
    type: { type: 'boolean' },
    default: true,
    description: 'no progress output on stderr',
    negated: true,
    cli: { flag: '--no-progress' },
  },
  merge: {
    type: globs,
    description:
      'Partial-result globs (one per line) from shard jobs; when set, the Action merges them instead of checking.',
    action: { input: 'merge' },
  },
} satisfies RunSettingTable;

type Table = typeof runSettings;
type KeysWith<P> = { [K in RunSettingKey]: Table[K] extends P ? K : never }[RunSettingKey];
/** The settings a config file holds. */
export type ConfigSettingKey = KeysWith<{ configPath: string }>;
/** The settings `check` takes as options. */
export type CliSettingKey = KeysWith<{ cli: object }>;
/** The settings the Action takes as inputs. */
export type ActionSettingKey = KeysWith<{ action: object }>;
type DefaultedKey = KeysWith<{ default: unknown }>;

/** What flags and inputs override in the config file: any config setting; cacheDir false turns the cache off. */
export type SettingOverrides = Partial<Pick<RunSettingValues, Exclude<ConfigSettingKey, 'cacheDir'>>> & {
  /** A folder, or false to turn the cache off. */
  cacheDir?: string | false;
};

/** The config settings after defaults and overrides; those without a default may be absent (and cacheDir when off). */
export type ResolvedRunSettings = Pick<RunSettingValues, Exclude<ConfigSettingKey & DefaultedKey, 'cacheDir'>> &
  Partial<Pick<RunSettingValues, Exclude<ConfigSettingKey, DefaultedKey> | 'cacheDir'>>;

/** The rows as a list, each with its key. */
export const runSettingList: readonly (RunSetting & { key: RunSettingKey })[] = Object.entries(runSettings).map(
  ([key, s]) => ({ key: key as RunSettingKey, ...(s as RunSetting) }),
);

function propertyName(pointer: string): string {
  const parts = pointer.split('/').slice(1);
  if (parts.length !== 1) throw new Error(`settings table: ${pointer} is not a top-level config property`);
  return parts[0].replace(/~1/g, '/').replace(/~0/g, '~');
}

/** (a) The config schema's properties for the run settings (their type, default and description). */
export function runSettingsSchemaProperties(): Record<string, JsonSchema> {
  const properties: Record<string, JsonSchema> = {};
  for (const s of runSettingList) {
    if (!s.configPath) continue;
    properties[propertyName(s.configPath)] = {
      ...s.type,
      ...(s.default !== undefined ? { default: s.default } : {}),
      description: s.description,
    };
  }
  return properties;
}

/** A `check` option as plain data; the CLI makes a commander Option of it. */
export interface CliOptionDescriptor {
  key: CliSettingKey;
  /** '-c, --config <path>', '--no-cache'. */
  flags: string;
  description: string;
  default?: unknown;
  /** The allowed values (shown in the help). */
  choices?: readonly string[];
  /** Parses the argument; throws an Error, naming the flag, that the CLI reports as the argument's problem. */
  parse?: (text: string) => unknown;
}

/**
 * A row's parser whose errors name the flag or input: a DistillGateError passes as it is; any other Error (what the
 * value must be) becomes `${subject} ${message}${suffix}`.
 */
function namedParser(subject: string, parse: (text: string) => unknown, suffix: (text: string) => string = () => '') {
  return (text: string): unknown => {
    try {
      return parse(text);
    } catch (e) {
      if (isDistillGateError(e)) throw e;
      throw new DistillGateError(`${subject} ${(e as Error).message}${suffix(text)}`);
    }
  };
}

/** (b) The `check` command's options, in help order. */
export function checkCommandOptions(): CliOptionDescriptor[] {
  return runSettingList.flatMap((s): CliOptionDescriptor[] => {
    if (!s.cli) return [];
    const { flag, short, value } = s.cli;
    const choices = s.cli.choices ? (s.type.enum as string[]) : undefined;
    const rowParse = s.cli.parse ?? s.parse;
    const parse = choices || !rowParse ? undefined : namedParser(flag, rowParse);
    // Only a CLI-only setting that takes a value has a CLI default (the config's defaults live in the config).
    const withDefault = !s.configPath && value !== undefined && s.default !== undefined;
    return [
      {
        key: s.key as CliSettingKey,
        flags: `${short ? `${short}, ` : ''}${flag}${value ? ` <${value}>` : ''}`,
        description: s.cli.description ?? s.description,
        ...(withDefault ? { default: s.default } : {}),
        ...(choices ? { choices } : {}),
        ...(parse ? { parse } : {}),
      },
    ];
  });
}

/** An Action input as action.yml declares it. */
export interface ActionInputDescriptor {
  key: ActionSettingKey;
  description: string;
  /** As action.yml writes it: '' means the config's value (or none). */
  default: string;
  required: boolean;
  /** One value per line (read with getMultilineInput). */
  multiline: boolean;
}

function actionDefault(s: RunSetting): string {
  if (s.action?.default !== undefined) return s.action.default;
  if (s.configPath || s.default === undefined) return '';
  return String(s.negated ? !s.default : s.default);
}

/** (c) The Action's inputs by name, in action.yml's order. */
export function actionInputs(): Record<string, ActionInputDescriptor> {
  const inputs: Record<string, ActionInputDescriptor> = {};
  for (const s of runSettingList) {
    if (!s.action) continue;
    inputs[s.action.input] = {
      key: s.key as ActionSettingKey,
      description: s.action.description ?? s.description,
      default: actionDefault(s),
      required: s.action.required ?? false,
      multiline: s.type.type === 'array',
    };
  }
  return inputs;
}

function inputChoice(name: string, value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value))
    throw new DistillGateError(`input "${name}" must be one of ${allowed.join(', ')}, got "${value}"`);
  return value;
}

/**
 * The value of an Action input, from its text as @actions/core reads it (the lines of a multiline input): undefined
 * when empty and without default (the config's value applies). Throws a DistillGateError naming the input.
 */
export function settingFromInput(name: string, text: string | string[], cwd: string): unknown {
  const s = runSettingList.find((r) => r.action?.input === name);
  if (!s) throw new Error(`settings table: no input "${name}"`);
  if (Array.isArray(text)) return text;
  const fallback = actionDefault(s);
  const t = text || fallback;
  if (t === '') return undefined;
  // The row's parser, as the CLI's flag uses it: an input accepts and rejects what the flag does.
  if (s.parse) return namedParser(`input "${name}"`, s.parse, (v) => `, got "${v}"`)(t);
  if (Array.isArray(s.type.enum)) return inputChoice(name, t, s.type.enum as string[]);
  if (s.type.type === 'number' || s.type.type === 'integer')
    throw new Error(`settings table: input "${name}" is a number without a parse`);
  if (s.type.type === 'boolean') {
    // Only the literal that differs from the default changes it (as the inputs always behaved).
    const on = fallback === 'true' ? t !== 'false' : t === 'true';
    return s.negated ? !on : on;
  }
  return s.path ? resolve(cwd, t) : t;
}

/** (d) The overrides that flag or input values apply to the config file. */
export function settingOverrides(values: Partial<RunSettingValues>): SettingOverrides {
  const overrides: Record<string, unknown> = {};
  for (const s of runSettingList) {
    const value = values[s.key];
    if (value === undefined) continue;
    if (s.configPath) overrides[s.key] = value;
    else if (s.override) Object.assign(overrides, s.override(value));
  }
  return overrides as SettingOverrides;
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const part of pointer.split('/').slice(1)) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

/**
 * The config's run settings: each override (paths resolved against cwd) or else the file's value (defaults filled
 * in by the schema; paths resolved against the config's folder, dir). An override of false turns a setting off.
 */
export function resolveRunSettings(
  file: unknown,
  overrides: SettingOverrides,
  at: { cwd: string; dir: string },
): ResolvedRunSettings {
  const settings: Record<string, unknown> = {};
  for (const s of runSettingList) {
    if (!s.configPath) continue;
    const given = (overrides as Record<string, unknown>)[s.key];
    if (given === false) continue;
    let value: unknown;
    if (given !== undefined && given !== '') value = s.path ? resolve(at.cwd, given as string) : given;
    else {
      const v = valueAt(file, s.configPath);
      if (v !== undefined) value = s.path ? resolve(at.dir, v as string) : s.fromFile ? s.fromFile(v) : v;
    }
    if (value !== undefined) settings[s.key] = value;
  }
  return settings as ResolvedRunSettings;
}
