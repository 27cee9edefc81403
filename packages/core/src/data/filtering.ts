import type {
  FilterDecision,
  FilterPlugin,
  TensorDataset,
  TensorRecord,
  TextDataset,
  TextRecord,
  TokenLogprobs,
} from '../contracts.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';
import { pluginError } from '../plugins/driver.js';
import type { LoadedPlugin } from '../plugins/loader.js';

export interface FilterCount {
  filter: string;
  version: string;
  seen: number;
  kept: number;
  dropped: number;
  /** Drop reasons with their counts. */
  reasons: Record<string, number>;
  /** Records dropped because they state the trait outright (leakage). */
  explicit: number;
}

export interface FilteredDataset<D = TensorDataset> {
  dataset: D;
  counts: FilterCount[];
}

type AnyFilter = LoadedPlugin<FilterPlugin<any, any>>;

/** A filter that reads another kind of record than the dataset holds, as an error; undefined when none does. */
export function filterKindProblem(
  filters: AnyFilter[],
  kind: 'tensor' | 'text',
  where: ErrorLocation,
): DistillGateError | undefined {
  const other = filters.find((f) => (f.plugin.records ?? 'tensor') !== kind);
  return other
    ? new DistillGateError(
        `filter reads ${other.plugin.records ?? 'tensor'} records but the dataset holds ${kind} records`,
        { ...where, plugin: other.plugin.name },
      )
    : undefined;
}

/** A record's final keep decision, merged over the filters that kept it; undefined when a filter dropped it. */
export type KeepDecision = Extract<FilterDecision, { keep: true }> | undefined;

/**
 * The filters of a run, applied record by record as the records stream past: a record dropped by one filter is not
 * shown to later ones, and each filter's counts grow with every record. Records need not be held: a dataset read
 * once can be filtered whole while only a sample of it is kept.
 */
export class FilterRun {
  readonly counts: FilterCount[];
  private readonly contexts: { options: unknown; configDir: string; log: unknown; metadata: Record<string, string> }[];

  constructor(
    private readonly filters: AnyFilter[],
    configDir: string,
    metadata: Record<string, string>,
    file: ErrorLocation,
    kind: 'tensor' | 'text',
  ) {
    const problem = filterKindProblem(filters, kind, file);
    if (problem) throw problem;
    this.counts = filters.map((f) => ({
      filter: f.plugin.name,
      version: f.plugin.version,
      seen: 0,
      kept: 0,
      dropped: 0,
      reasons: {},
      explicit: 0,
    }));
    const silentLog = { info: () => {}, warn: () => {} };
    this.contexts = filters.map((f) => ({ options: f.options, configDir, log: silentLog, metadata }));
  }

  /**
   * One record through the filters. A replacement target or soft targets are written into `record` for the later
   * filters to see, so it must be the caller's own copy (or views it may lose).
   */
  decide<R extends { index: number }>(record: R, where: ErrorLocation): KeepDecision {
    const { filters, counts } = this;
    let merged: KeepDecision = { keep: true };
    for (let f = 0; f < filters.length; f++) {
      const c = counts[f];
      c.seen++;
      let decision: FilterDecision;
      try {
        decision = filters[f].plugin.test(record, this.contexts[f] as never);
      } catch (e) {
        throw pluginError(e, filters[f].plugin.name, where, 'filter threw');
      }
      if (!decision || typeof decision.keep !== 'boolean') {
        throw new DistillGateError('filter returned no {keep} decision', { ...where, plugin: filters[f].plugin.name });
      }
      if (!decision.keep) {
        c.dropped++;
        const reason = decision.reason || 'unspecified';
        c.reasons[reason] = (c.reasons[reason] ?? 0) + 1;
        if (decision.explicit) {
          if (!filters[f].plugin.marksExplicit)
            throw new DistillGateError(
              'filter marked a record as explicit content but does not declare "marksExplicit: true": the run ' +
                'budgets a leakage test only for filters that do',
              { ...where, plugin: filters[f].plugin.name },
            );
          c.explicit++;
        }
        return undefined;
      }
      c.kept++;
      merged = { ...merged, ...decision };
      // Later filters see the replacement.
      if (decision.target || decision.logprobs)
        Object.assign(
          record,
          decision.target ? { target: decision.target } : {},
          decision.logprobs ? { logprobs: decision.logprobs } : {},
        );
    }
    return merged;
  }
}

/** Streams every record through the filters in order; returns each record's final keep decision and the counts. */
function runFilters<R extends { index: number }>(
  count: number,
  recordAt: (i: number) => R,
  run: FilterRun,
  where: (i: number) => ErrorLocation,
): { decisions: KeepDecision[]; counts: FilterCount[] } {
  const decisions: KeepDecision[] = [];
  for (let i = 0; i < count; i++) decisions.push(run.decide(recordAt(i), where(i)));
  return { decisions, counts: run.counts };
}

/**
 * Filters a tensor dataset. A filter may replace the record's target (e.g. strip explicit outputs); every kept record
 * must then have the same target width. The input dataset is never modified.
 */
export function applyFilters(
  source: TensorDataset,
  filters: AnyFilter[],
  configDir: string,
  where: ErrorLocation,
): FilteredDataset {
  const recordAt = (i: number): TensorRecord => ({
    index: i,
    input: source.inputs.subarray(i * source.inputDim, (i + 1) * source.inputDim),
    target: source.targets.subarray(i * source.targetDim, (i + 1) * source.targetDim),
  });
  const run = new FilterRun(filters, configDir, source.metadata, where, 'tensor');
  const located = (i: number): ErrorLocation => ({ ...where, record: i });
  const { decisions, counts } = runFilters(source.rows, recordAt, run, located);
  return keptRows(source, decisions, counts, located);
}

/**
 * The rows of `source` its decisions keep, with their replacement targets; `counts` are reported as they are (a
 * sample's rows with the counts of the whole file they were drawn from).
 */
function keptRows(
  source: TensorDataset,
  decisions: KeepDecision[],
  counts: FilterCount[],
  where: (i: number) => ErrorLocation,
): FilteredDataset {
  let targetDim: number | undefined;
  const kept: { src: number; target: Float32Array }[] = [];
  decisions.forEach((d, i) => {
    if (!d) return;
    const target = d.target ?? source.targets.subarray(i * source.targetDim, (i + 1) * source.targetDim);
    if (targetDim === undefined) targetDim = target.length;
    else if (target.length !== targetDim) {
      throw new DistillGateError(
        `filters produced targets of different widths (${targetDim} and ${target.length})`,
        where(i),
      );
    }
    kept.push({ src: i, target });
  });
  const rows = kept.length;
  const dim = targetDim ?? source.targetDim;
  // Every row kept: the inputs are the source's own (read-only from here on), not a second copy of a dataset that
  // may be hundreds of MB.
  const allRows = rows === source.rows;
  const inputs = allRows ? source.inputs.subarray(0, rows * source.inputDim) : new Float32Array(rows * source.inputDim);
  const targets = new Float32Array(rows * dim);
  kept.forEach(({ src, target }, r) => {
    if (!allRows)
      inputs.set(source.inputs.subarray(src * source.inputDim, (src + 1) * source.inputDim), r * source.inputDim);
    targets.set(target, r * dim);
  });
  return {
    dataset: { rows, inputDim: source.inputDim, targetDim: dim, inputs, targets, metadata: source.metadata },
    counts,
  };
}

/** Filters a text dataset. Filters see copies of the records, so the source dataset is never modified. */
export function applyTextFilters(
  source: TextDataset,
  filters: AnyFilter[],
  configDir: string,
  where: ErrorLocation,
): FilteredDataset<TextDataset> {
  const recordAt = (i: number): TextRecord => ({ ...source.records[i] });
  const located = (i: number): ErrorLocation => ({
    ...where,
    ...(source.records[i]?.line ? { line: source.records[i].line } : { record: i }),
  });
  const run = new FilterRun(filters, configDir, source.metadata, where, 'text');
  const { decisions, counts } = runFilters(source.records.length, recordAt, run, located);
  return keptRecords(source, decisions, counts);
}

/** The records of `source` its decisions keep, with their replacement soft targets. */
export function keptRecords(
  source: TextDataset,
  decisions: KeepDecision[],
  counts: FilterCount[],
): FilteredDataset<TextDataset> {
  const records: TextRecord[] = [];
  decisions.forEach((d, i) => {
    if (!d) return;
    const r = source.records[i];
    const logprobs: TokenLogprobs[] | undefined = d.logprobs ?? r.logprobs;
    records.push({ ...r, ...(logprobs ? { logprobs } : {}) });
  });
  return { dataset: { kind: 'text', records, metadata: source.metadata }, counts };
}
