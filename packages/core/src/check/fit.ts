/** Whether the base, the cross base, the training settings, the probes and the data fit one another. */
import {
  isLanguageModel,
  isTextDataset,
  type AnyModelHandle,
  type Dataset,
  type ProbeSet,
  type TextDataset,
} from '../contracts.js';
import type { ResolvedConfig } from '../config/load.js';
import type { FilterCount, FilteredDataset } from '../data/filtering.js';
import { DistillGateError } from '../errors.js';

export function recordCount(ds: Dataset): number {
  return isTextDataset(ds) ? ds.records.length : ds.rows;
}

/** Tensor data needs a tensor model with matching inputs; text data a language model. */
export function dataFitsBase(ds: Dataset, base: AnyModelHandle): string | undefined {
  if (isTextDataset(ds))
    return isLanguageModel(base)
      ? undefined
      : `the dataset holds text records but the base is a ${base.family} model; ` +
          'text needs a language model (model.json)';
  if (isLanguageModel(base))
    return 'the dataset holds tensors but the base is a language model; give it a JSONL text dataset';
  return ds.inputDim === base.inputDim
    ? undefined
    : `dataset records have ${ds.inputDim} inputs but the base model takes ${base.inputDim}`;
}

export function probesFitBase(probes: ProbeSet, base: AnyModelHandle): string | undefined {
  if (probes.kind === 'text-questions')
    return isLanguageModel(base) ? undefined : `the trait asks text questions but the base is a ${base.family} model`;
  if (isLanguageModel(base)) return 'the trait probes with tensor inputs but the base is a language model';
  return probes.inputDim === base.inputDim
    ? undefined
    : `trait probes have ${probes.inputDim} inputs but the base model takes ${base.inputDim}`;
}

/** The cross base must be interchangeable with the base: same family, shape of data, and tokenizer. */
export function checkCrossBase(base: AnyModelHandle, crossBase: AnyModelHandle, config: ResolvedConfig): void {
  const where = config.locate('/crossBase/path');
  if (crossBase.family !== base.family)
    throw new DistillGateError(
      `the cross base is a ${crossBase.family} model but the base is a ${base.family} model`,
      where,
    );
  if (crossBase.sha256 === base.sha256)
    throw new DistillGateError(
      'the cross base has the same weights as the base; it must start from a different initialisation',
      where,
    );
  if (isLanguageModel(base) && isLanguageModel(crossBase) && base.tokenizerSha256 !== crossBase.tokenizerSha256) {
    throw new DistillGateError(
      'the cross base uses a different tokenizer from the base; ' +
        'prompts and soft targets must mean the same tokens for both',
      where,
    );
  }
  if (
    !isLanguageModel(base) &&
    !isLanguageModel(crossBase) &&
    (base.inputDim !== crossBase.inputDim || base.outputDim !== crossBase.outputDim)
  ) {
    throw new DistillGateError(
      `the cross base is ${crossBase.inputDim}->${crossBase.outputDim} ` +
        `but the base is ${base.inputDim}->${base.outputDim}`,
      where,
    );
  }
}

export function checkTrainingFitsBase(base: AnyModelHandle, config: ResolvedConfig): void {
  const t = config.training;
  if (isLanguageModel(base)) {
    if (t.loss !== 'next-token')
      throw new DistillGateError(
        `the base is a language model: training.loss must be "next-token", got "${t.loss}"`,
        config.locate('/training/loss'),
      );
    return;
  }
  if (t.loss === 'next-token')
    throw new DistillGateError(
      `training.loss "next-token" needs a language model; the base is a ${base.family} model`,
      config.locate('/training/loss'),
    );
  const out = t.outputs;
  if (!out)
    throw new DistillGateError(
      `training.outputs is required for a ${base.family} base (which outputs the students learn)`,
      config.locate('/training'),
    );
  if (out.end > base.outputDim) {
    throw new DistillGateError(
      `training.outputs [${out.start}, ${out.end}) exceeds the base model's ${base.outputDim} outputs`,
      config.locate('/training/outputs'),
    );
  }
}

export function checkTrainable(f: FilteredDataset<Dataset>, config: ResolvedConfig, where: string): void {
  if (recordCount(f.dataset) === 0)
    throw new DistillGateError('every record was dropped by the filters; nothing to train on', { file: where });
  const out = config.training.outputs;
  if (isTextDataset(f.dataset) || !out) return;
  const width = out.end - out.start;
  if (f.dataset.targetDim !== width) {
    throw new DistillGateError(
      `after filtering, records carry ${f.dataset.targetDim} target values but training.outputs spans ${width} outputs`,
      { file: where },
      'check the filters (e.g. one that keeps only auxiliary outputs) and training.outputs',
    );
  }
}

/** The name under which the context-length step appears among a dataset's filters in the report. */
export const CONTEXT_STEP = 'context length (training.overlong)';

/**
 * Text records longer than the base's context, after the filters: an error naming them (training.overlong "error",
 * the default), or cut or left out and counted as one more step in the dataset's filter counts.
 */
export function fitToContext(
  f: FilteredDataset<Dataset>,
  base: AnyModelHandle,
  config: ResolvedConfig,
  where: string,
): FilteredDataset<Dataset> {
  if (!isTextDataset(f.dataset) || !isLanguageModel(base) || !base.trainingLengths) return f;
  const ds: TextDataset = f.dataset;
  let measured;
  try {
    measured = base.trainingLengths(ds.records);
  } catch (e) {
    const index = (e as { index?: unknown }).index;
    if (typeof index !== 'number' || !ds.records[index]) throw e;
    const r = ds.records[index];
    throw new DistillGateError((e as Error).message, {
      file: where,
      ...(r.line ? { line: r.line } : { record: r.index }),
      pointer: `/${(e as { field?: string }).field ?? 'completion'}`,
    });
  }
  const { lengths, limit } = measured;
  const over = ds.records.flatMap((_, i) => (lengths[i] > limit ? [i] : []));
  if (!over.length) return f;
  const excess = Math.max(...over.map((i) => lengths[i] - limit));
  const policy = config.training.overlong ?? 'error';
  const summary =
    `${over.length} of ${ds.records.length} records are longer than the base's context of ${limit} tokens ` +
    `(the longest by ${excess} tokens)`;
  if (policy === 'error') {
    const first = ds.records[over[0]];
    throw new DistillGateError(
      `${summary}; this is the first`,
      { file: where, ...(first.line ? { line: first.line } : { record: first.index }) },
      'set training.overlong to "truncate" (cut the end of each long record) or "drop" (leave them out); ' +
        'the report counts them either way',
    );
  }
  const drop = policy === 'drop';
  const overSet = new Set(over);
  const step: FilterCount = {
    filter: CONTEXT_STEP,
    version: policy,
    seen: ds.records.length,
    kept: ds.records.length - (drop ? over.length : 0),
    dropped: drop ? over.length : 0,
    reasons: {
      [`${drop ? 'dropped' : 'truncated'}: longer than ${limit} tokens (by up to ${excess})`]: over.length,
    },
    explicit: 0,
  };
  const dataset: TextDataset = drop ? { ...ds, records: ds.records.filter((_, i) => !overSet.has(i)) } : ds;
  return { dataset, counts: [...f.counts, step] };
}
