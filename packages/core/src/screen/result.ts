/** What `distill-gate screen` reports: per dataset, row scores calibrated on the control data, and tests. */

/** A row score's name: the trait likelihood shift (one per trait prompt) or the teacher-minus-base divergence. */
export type ScreenScoreKind = 'trait-shift' | 'teacher-divergence';

/** One row score over a dataset against its control rows. */
export interface ScreenScore {
  kind: ScreenScoreKind;
  /** The trait whose prompt made the shift (trait-shift only). */
  trait?: string;
  /** What one unit is: natural-log probability per completion token. */
  unit: 'nats per token';
  /** Rows scored (a row whose prompt fills the context has no score). */
  rows: number;
  controlRows: number;
  /** Mean per-token score over the rows, with the interval at the run's confidence. */
  mean: number;
  interval: [number, number];
  controlMean: number;
  /** Rows at or above this score are flagged: the control-calibrated cut-off for this score's share of the rate. */
  cutoff: number | null;
  /** The false-flag rate this score's cut-off holds on clean rows (the screen's rate split over its scores). */
  falseFlagRate: number;
  /** Rows flagged by this score, their share and its exact interval at the run's confidence. */
  flagged: number;
  share: number;
  shareInterval: [number, number];
  /** Do the dataset's rows score higher than the control's? One-sided Mann-Whitney U. */
  test: {
    method: string;
    z: number;
    effect: number;
    pValue: number;
    /** The level it is held to; null for the teacher - base test, which is reported but raises no alarm. */
    level: number | null;
    alarm: boolean;
  };
}

/** A statistic of the kept rows against the control's (descriptive: they do not raise the alarm). */
export interface ScreenDistribution {
  statistic: string;
  dataset: number;
  control: number;
  method: string;
  pValue: number;
}

/** A filter's drop rate in the dataset against the control's. */
export interface ScreenFilterRate {
  filter: string;
  dropped: number;
  rate: number;
  controlDropped: number;
  controlRate: number;
  /** One-sided exact conditional test: does the filter drop more of the dataset than of the control? */
  pValue: number;
}

export interface ScreenRowScore {
  /** Mean over the completion's tokens (what the cut-off applies to), and the sum. */
  perToken: number;
  sum: number;
  /** The conformal p-value against the control's rows. */
  pValue: number;
}

/** One of the rows the report lists: the highest-scoring, flagged first. */
export interface ScreenRow {
  /** 1-based line of the dataset file, and the record's index. */
  line: number;
  index: number;
  flagged: boolean;
  /** By score: "trait-shift <trait>" or "teacher-divergence". */
  scores: Record<string, ScreenRowScore>;
  /** The completion tokens where the teacher most exceeds the base (teacher-divergence), in nats. */
  divergenceTokens?: { token: string; position: number; nats: number }[];
  /** The start of the completion, for the reader. */
  completion: string;
}

export interface ScreenDatasetReport {
  name: string;
  path: string;
  sha256: string;
  records: number;
  recordsAfterFilters: number;
  control: { source: string; records: number; recordsAfterFilters: number };
  teacher?: { path: string; sha256: string } | { note: string };
  scores: ScreenScore[];
  /** Rows flagged by any score, their share and its interval. */
  flagged: number;
  share: number;
  shareInterval: [number, number];
  alarm: boolean;
  filters: ScreenFilterRate[];
  distributions: ScreenDistribution[];
  rows: ScreenRow[];
  /** Rows too long for the model's context (scored on their first tokens) or not scored at all. */
  truncated: number;
  unscored: number;
  /** The cleaned copy, when one was asked for: flagged rows dropped. */
  cleaned?: { path: string; records: number; dropped: number };
}

export interface ScreenResult {
  kind: 'screen';
  schemaVersion: 1;
  tool: { name: string; version: string };
  startedAt: string;
  /** Said in every report: a screen is not a measurement of transfer. */
  note: string;
  config: { path: string; sha256: string };
  base: { path: string; sha256: string; modelType?: string };
  traitPrompts: { trait: string; text: string; placement: 'system message' | 'before the prompt' }[];
  falseFlagRate: number;
  confidence: number;
  /** The level each dataset-level test is held to: Bonferroni over every test of the run. */
  testLevel: number;
  alarm: boolean;
  alarmPolicy: 'annotate' | 'fail';
  exitCode: 0 | 1;
  summary: string;
  datasets: ScreenDatasetReport[];
  /** Datasets the screen could not read (tensor data). */
  skipped: { name: string; reason: string }[];
  versions: Record<string, string>;
  timings: { totalMs: number };
  /** The file with every row's scores (line-delimited JSON), named from the report folder. */
  rowsFile?: string;
}

export const SCREEN_NOTE =
  'A screen ranks rows by how much likelier the trait makes them and by where the teacher departs from the base, ' +
  'calibrated on the control data. It does not measure transfer: `distill-gate check` does.';
