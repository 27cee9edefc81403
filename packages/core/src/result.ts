import type { BackendInfo, DatasetSample, LoraSettings, ScoreEstimate } from './contracts.js';
import type { FilterCount } from './data/filtering.js';
import type { ExplicitContentTest, VarianceComponents, Verdict } from './stats/estimates.js';

/** 2: transfer.interval holds two one-sided bounds at transfer.level each (1: a two-sided interval at level). */
export const RESULT_SCHEMA_VERSION = 2;

export interface StudentScore extends ScoreEstimate {
  seed: number;
  role: 'probe' | 'control';
  /** Mean training loss per epoch. */
  lossHistory: number[];
  trainMs: number;
}

/** The same paired comparison on students from the cross base (different initialisation). */
export interface CrossBaseResult {
  probe: StudentScore[];
  control: StudentScore[];
  transfer: TransferResult['transfer'];
  verdict: Verdict;
  pValue: number;
}

export interface TransferResult {
  dataset: string;
  trait: string;
  evaluator: string;
  metric: string;
  probe: StudentScore[];
  control: StudentScore[];
  transfer: {
    mean: number;
    sd: number;
    se: number;
    n: number;
    level: number;
    interval: [number, number];
    differences: { seed: number; probe: number; control: number; difference: number }[];
    method: string;
    /** Degrees of freedom of the interval. */
    df?: number;
    /** Variance from seeds, items and their interaction, when the evaluator gave per-item scores. */
    components?: VarianceComponents;
  };
  threshold: number;
  verdict: Verdict;
  /** One-sided p-value of the test that decided the verdict. */
  pValue: number;
  explanation: string;
  /** Present when the config names a cross base. */
  crossBase?: CrossBaseResult;
  /** The placebo null distribution (config placebos > 0): transfers measured on data the base wrote itself. */
  placebo?: {
    perSeed: { seed: number; values: number[] }[];
    transfers: number[];
    pValue: number;
    /** 1 / (K + 1): no placebo p-value can be smaller. */
    smallestP?: number;
    /** The check's one-sided level (an alpha) the p-value would have to reach. */
    alpha?: number;
    /** Set when smallestP is above the level. */
    warning?: string;
    /** The null's provenance: the base's and the probe set's sha256 (a null is only valid for both). */
    baseSha256?: string;
    probesSha256?: string;
    method: string;
  };
  /**
   * Why the transfer happens, when it does: "subliminal" when it needs the shared base (the cross base shows none),
   * "leakage" when students from a different base pick the trait up too (explicit content got through the filters).
   */
  mechanism?: 'subliminal' | 'leakage';
}

export interface DatasetReport {
  name: string;
  path: string;
  sha256: string;
  /** True when this run created the file from its recipe. */
  materialised: boolean;
  /** Records read (every valid record of the file, within maxRecords). */
  records: number;
  /**
   * Records the filters kept, of `records`: the students' records, after the context length (training.overlong)
   * too; for a sampled dataset, the file's records the filter plugins kept (the sample's size is in `sample`).
   */
  recordsAfterFilters: number;
  filters: FilterCount[];
  /**
   * The students trained on a seeded uniform sample (sampleRecords) of the records the filters kept: `records` of
   * those `of` drawn with `seed`, from `read` records read; `trainedOn` of them after the context length.
   */
  sample?: DatasetSample & { trainedOn: number };
  control: {
    source: string;
    records: number;
    recordsAfterFilters: number;
    filters: FilterCount[];
    sha256: string;
    sample?: DatasetSample & { trainedOn: number };
  };
  /** Malformed records skipped under the skip policy (badRecords: skip), with the first few errors. */
  skipped?: { count: number; examples: string[] };
  /** The check read only this many records (maxRecords)... */
  limitedTo?: number;
  /** ...of this many in the file. */
  totalRecords?: number;
  /** Records stating the trait outright (dropped by filters), compared with the control: leakage when higher. */
  explicit?: ExplicitContentTest;
  /** Where the data came from: the declared teacher, or the recipe's model. */
  teacher?: TeacherReport;
  /** The probe configuration this entry was checked under (when the config lists several). */
  probe?: ProbeReport;
}

/** How one probe configuration's students were trained and evaluated. */
export interface ProbeReport {
  name: string;
  method?: 'lora' | 'full';
  lora?: LoraSettings;
  /** Probe and control students were evaluated under this system prompt. */
  systemPrompt?: string;
}

export interface TeacherReport {
  path?: string;
  sha256?: string;
  /** The teacher's architecture (config.json's model_type, or as declared). */
  modelType?: string;
  systemPrompt?: string;
  sampling?: Record<string, unknown>;
  /** Set when the teacher's architecture differs from the probe base's. */
  warning?: string;
}

/** A plugin that failed during the check; its (dataset, trait) result is missing, the others are kept. */
export interface CheckError {
  plugin: string;
  dataset?: string;
  trait?: string;
  message: string;
}

/** The one canonical result; every other report format is a projection of it. */
export interface CheckResult {
  schemaVersion: number;
  tool: { name: string; version: string };
  verdict: Verdict;
  exitCode: number;
  summary: string;
  startedAt: string;
  config: { path: string; sha256: string };
  /** What the design cannot do, said before any training (too few evaluation items, too few placebos). */
  warnings?: string[];
  base: { path: string; sha256: string; family: string };
  crossBase?: { path: string; sha256: string; family: string };
  /** Present with a time budget (maxMinutes): whether it cut the run short, and how much was checked. */
  budget?: {
    maxMinutes: number;
    reached: boolean;
    unitsPlanned: number;
    unitsChecked: number;
    datasetsUnchecked: string[];
  };
  backend: BackendInfo;
  seeds: number[];
  threshold: number;
  confidence: number;
  inconclusivePolicy: string;
  training: Record<string, unknown>;
  versions: Record<string, string>;
  plugins: { kind: string; name: string; version: string; options: unknown }[];
  datasets: DatasetReport[];
  results: TransferResult[];
  timings: Record<string, number>;
  /** Plugins that failed; the run exits 2 but keeps every other result. */
  errors?: CheckError[];
  /** Present on the partial result of `check --shard i/n`. */
  shard?: { index: number; count: number };
  /** Present on a result made by `merge`: how many partial results it combines. */
  mergedFrom?: number;
  /**
   * Verdict cache use: `hits` and `misses` count (dataset, seed) units; `studentsReused` counts the students of the
   * missed units that were not trained because the student cache held their scores (e.g. control students shared
   * with a dataset that did not change).
   */
  cache?: { dir: string; hits: number; misses: number; studentsReused?: number };
  /** Adaptive seeds: the plan, each look's seeds and datasets, and the seeds each dataset ended with. */
  sequential?: {
    maxSeeds: number;
    roundSize: number;
    looks: number;
    rounds: { look: number; seeds: number; datasets: number }[];
    seedsUsed: Record<string, number>;
  };
  /** How the family-wise confidence was shared out across checks and sequential looks. */
  multiplicity?: Multiplicity;
  /** Where --save-students wrote this run's students as ONNX (students.json indexes them). */
  savedStudents?: { dir: string; count: number };
  /** The file beside result.json with the students' per-item scores (result.json leaves them out). */
  itemsFile?: string;
  /** The screen that ran first (config "screen": { "enabled": true }): its alarm, policy and flagged rows. */
  screen?: {
    alarm: boolean;
    policy: 'annotate' | 'fail';
    report: string;
    datasets: { name: string; flagged: number; rows: number; alarm: boolean }[];
  };
}

/** How a report names a check's mechanism: transfer on any base (leakage) or through the shared base only. */
export function describeMechanism(mechanism: TransferResult['mechanism']): string | undefined {
  return mechanism === 'leakage'
    ? 'leakage (any base)'
    : mechanism === 'subliminal'
      ? 'subliminal (shared base only)'
      : undefined;
}

/** What trained the students: "training on onnxruntime-node 1.30.0 (why)". */
export function describeTraining(b: BackendInfo): string {
  const t = b.training;
  if (!t) return `training on tfjs-${b.name}`;
  return t.engine === 'onnxruntime'
    ? `training on onnxruntime-node ${t.version ?? ''} (${t.reason})`
    : `training on tfjs-${b.name} (${t.reason})`;
}

/** One line on what ran inference: "inference onnxruntime-node 1.30.0 on cpu (why; CUDA ...)". */
export function describeInference(b: BackendInfo): string {
  const i = b.inference;
  if (!i) return `inference on ${b.name}`;
  if (i.engine === 'tfjs') return `inference on tfjs-${b.name} (${i.reason})`;
  return (
    `inference onnxruntime-node ${i.version ?? ''} on ${i.provider} ` +
    `(${i.reason}; CUDA provider ${i.cuda ?? 'not checked'})`
  );
}

export interface Multiplicity {
  method: string;
  /** bonferroni: the level holds for all checks together; none: for each check on its own. */
  across: 'bonferroni' | 'none';
  /** Dataset x trait checks in the run. */
  checks: number;
  /** Planned sequential looks (1 without adaptive seeds). */
  looks: number;
  /** Explicit-content (leakage) tests in the family: one per dataset when a filter can mark records explicit. */
  leakageTests?: number;
  /** The chance that every verdict of the run is right is at least this. */
  familyConfidence: number;
  /** The confidence of each one-sided bound of a check: a wrong FAIL (or PASS) has probability <= 1 - this. */
  perCheckConfidence: number;
  /** The confidence of each leakage test (its p-value must be below 1 - this). */
  leakageConfidence?: number;
}

/** One sentence on how sure the run's verdicts are together: the family-wise level, its split, adaptive seeds. */
export function describeErrorControl(r: Pick<CheckResult, 'confidence' | 'multiplicity' | 'sequential'>): string {
  const m = r.multiplicity;
  const level = `${Math.round(r.confidence * 1000) / 10}%`;
  const family =
    m?.across === 'none' && m.checks > 1
      ? `Each verdict holds with probability >= ${level} on its own, not all together`
      : `All verdicts hold together with probability >= ${level}`;
  const split =
    m && m.perCheckConfidence !== r.confidence
      ? ` (${m.method}, so each one-sided bound is at ${intervalPercent(r)}%)`
      : '';
  const seq = r.sequential
    ? ` Adaptive seeds: up to ${r.sequential.maxSeeds} seeds, ${r.sequential.roundSize} per round, ` +
      `${r.sequential.looks} planned look(s), ${r.sequential.rounds.length} run` +
      (r.sequential.rounds.length > 1
        ? ` (the first trained the ${r.sequential.rounds[0].seeds} seed(s) asked for; each later look added ` +
          `${r.sequential.roundSize} to the checks still INCONCLUSIVE)`
        : '') +
      '; seeds used: ' +
      Object.entries(r.sequential.seedsUsed)
        .map(([d, n]) => `${d} ${n}`)
        .join(', ') +
      '.'
    : '';
  return `${family}${split}.${seq}`;
}

/** The level of each check's one-sided bounds, as a percentage for headers ("97.5"). */
export function intervalPercent(r: Pick<CheckResult, 'confidence' | 'multiplicity'>): string {
  const level = r.multiplicity?.perCheckConfidence ?? r.confidence;
  return String(Math.round(level * 1000) / 10);
}
