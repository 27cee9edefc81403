import type { FilterPlugin, TensorDataset } from './contracts.js';
import { DistillGateError, type ErrorLocation } from './errors.js';
import type { LoadedPlugin } from './plugins.js';

export interface FilterCount {
  filter: string;
  version: string;
  seen: number;
  kept: number;
  dropped: number;
  /** Drop reasons with their counts. */
  reasons: Record<string, number>;
}

export interface FilteredDataset {
  dataset: TensorDataset;
  counts: FilterCount[];
}

/**
 * Streams every record through the filters in order. A record dropped by one filter is not shown to later ones.
 * A filter may replace the record's target (e.g. strip explicit outputs); every kept record must then have the
 * same target width. The input dataset is never modified.
 */
export function applyFilters(
  source: TensorDataset,
  filters: LoadedPlugin<FilterPlugin<any>>[],
  configDir: string,
  where: ErrorLocation,
): FilteredDataset {
  const counts: FilterCount[] = filters.map((f) => ({ filter: f.plugin.name, version: f.plugin.version, seen: 0, kept: 0, dropped: 0, reasons: {} }));
  const keptInputs: number[] = [];
  const keptTargets: Float32Array[] = [];
  let targetDim: number | undefined;
  const silentLog = { info: () => {}, warn: () => {} };
  const contexts = filters.map((f) => ({ options: f.options, configDir, log: silentLog, metadata: source.metadata }));
  for (let i = 0; i < source.rows; i++) {
    let target = source.targets.subarray(i * source.targetDim, (i + 1) * source.targetDim);
    const input = source.inputs.subarray(i * source.inputDim, (i + 1) * source.inputDim);
    let kept = true;
    for (let f = 0; f < filters.length; f++) {
      const c = counts[f];
      c.seen++;
      let decision;
      try {
        decision = filters[f].plugin.test({ index: i, input, target }, contexts[f]);
      } catch (e) {
        throw new DistillGateError(`filter threw: ${(e as Error).message}`, { ...where, record: i, plugin: filters[f].plugin.name });
      }
      if (!decision || typeof decision.keep !== 'boolean') {
        throw new DistillGateError('filter returned no {keep} decision', { ...where, record: i, plugin: filters[f].plugin.name });
      }
      if (!decision.keep) {
        c.dropped++;
        const reason = decision.reason || 'unspecified';
        c.reasons[reason] = (c.reasons[reason] ?? 0) + 1;
        kept = false;
        break;
      }
      c.kept++;
      if (decision.target) target = decision.target;
    }
    if (!kept) continue;
    if (targetDim === undefined) targetDim = target.length;
    else if (target.length !== targetDim) {
      throw new DistillGateError(`filters produced targets of different widths (${targetDim} and ${target.length})`, { ...where, record: i });
    }
    keptInputs.push(i);
    keptTargets.push(target);
  }
  const rows = keptInputs.length;
  const dim = targetDim ?? source.targetDim;
  const inputs = new Float32Array(rows * source.inputDim);
  const targets = new Float32Array(rows * dim);
  keptInputs.forEach((src, r) => {
    inputs.set(source.inputs.subarray(src * source.inputDim, (src + 1) * source.inputDim), r * source.inputDim);
    targets.set(keptTargets[r], r * dim);
  });
  return { dataset: { rows, inputDim: source.inputDim, targetDim: dim, inputs, targets, metadata: source.metadata }, counts };
}
