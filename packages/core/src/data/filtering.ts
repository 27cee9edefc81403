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

/**
 * Streams every record through the filters in order; a record dropped by one filter is not shown to later ones.
 * Returns each record's final keep decision (undefined: dropped), merged over the filters that kept it.
 */
function runFilters<R extends { index: number }>(
  count: number,
  recordAt: (i: number) => R,
  filters: AnyFilter[],
  configDir: string,
  metadata: Record<string, string>,
  file: ErrorLocation,
  where: (i: number) => ErrorLocation,
  kind: 'tensor' | 'text',
): { decisions: (Extract<FilterDecision, { keep: true }> | undefined)[]; counts: FilterCount[] } {
  for (const f of filters) {
    if ((f.plugin.records ?? 'tensor') !== kind) {
      throw new DistillGateError(
        `filter reads ${f.plugin.records ?? 'tensor'} records but the dataset holds ${kind} records`,
        { ...file, plugin: f.plugin.name },
      );
    }
  }
  const counts: FilterCount[] = filters.map((f) => ({
    filter: f.plugin.name,
    version: f.plugin.version,
    seen: 0,
    kept: 0,
    dropped: 0,
    reasons: {},
    explicit: 0,
  }));
  const silentLog = { info: () => {}, warn: () => {} };
  const contexts = filters.map((f) => ({ options: f.options, configDir, log: silentLog, metadata }));
  const decisions: (Extract<FilterDecision, { keep: true }> | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    const record = recordAt(i);
    let merged: Extract<FilterDecision, { keep: true }> | undefined = { keep: true };
    for (let f = 0; f < filters.length; f++) {
      const c = counts[f];
      c.seen++;
      let decision: FilterDecision;
      try {
        decision = filters[f].plugin.test(record, contexts[f]);
      } catch (e) {
        throw pluginError(e, filters[f].plugin.name, where(i), 'filter threw');
      }
      if (!decision || typeof decision.keep !== 'boolean') {
        throw new DistillGateError('filter returned no {keep} decision', {
          ...where(i),
          plugin: filters[f].plugin.name,
        });
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
              { ...where(i), plugin: filters[f].plugin.name },
            );
          c.explicit++;
        }
        merged = undefined;
        break;
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
    decisions.push(merged);
  }
  return { decisions, counts };
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
  const { decisions, counts } = runFilters(
    source.rows,
    recordAt,
    filters,
    configDir,
    source.metadata,
    where,
    (i) => ({ ...where, record: i }),
    'tensor',
  );
  let targetDim: number | undefined;
  const kept: { src: number; target: Float32Array }[] = [];
  decisions.forEach((d, i) => {
    if (!d) return;
    const target = d.target ?? source.targets.subarray(i * source.targetDim, (i + 1) * source.targetDim);
    if (targetDim === undefined) targetDim = target.length;
    else if (target.length !== targetDim) {
      throw new DistillGateError(`filters produced targets of different widths (${targetDim} and ${target.length})`, {
        ...where,
        record: i,
      });
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
  const { decisions, counts } = runFilters(
    source.records.length,
    recordAt,
    filters,
    configDir,
    source.metadata,
    where,
    located,
    'text',
  );
  const records: TextRecord[] = [];
  decisions.forEach((d, i) => {
    if (!d) return;
    const r = source.records[i];
    const logprobs: TokenLogprobs[] | undefined = d.logprobs ?? r.logprobs;
    records.push({ ...r, ...(logprobs ? { logprobs } : {}) });
  });
  return { dataset: { kind: 'text', records, metadata: source.metadata }, counts };
}
