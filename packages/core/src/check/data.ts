/**
 * The data stage of a check: a dataset is materialised from its recipe when missing, read, checked against the base
 * and filtered; its control data is read from the control file or written by the base for the dataset's own inputs
 * (prompt-matched), with placebos; the dataset's report records what each step did.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  isTextDataset,
  type AnyModelHandle,
  type Dataset,
  type DatasetSample,
  type FilterPlugin,
  type GeneratorPlugin,
  type TensorDataset,
  type TensorReadOptions,
  type TextDataset,
  type TextRecord,
} from '../contracts.js';
import type { DatasetEntry, ProbeConfig, ResolvedConfig } from '../config/load.js';
import {
  applyFilters,
  applyTextFilters,
  FilterRun,
  filterKindProblem,
  keptRecords,
  type FilterCount,
  type FilteredDataset,
  type KeepDecision,
} from '../data/filtering.js';
import { Reservoir, TensorReservoir, tensorSampleRows, textSampleRecords } from '../data/sample.js';
import { isTextDatasetPath, readTextDataset, streamTextDataset, writeTextDataset } from '../data/text-data.js';
import { DistillGateError } from '../errors.js';
import { kindOf, sha256Floats, sha256Table } from '../io.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import type { DatasetReport, ProbeReport, TeacherReport } from '../result.js';
import { explicitContentTest } from '../stats/estimates.js';
import { withSystemPrompt } from '../data/text-generation.js';
import { hashKey } from './cache.js';
import type { CheckContext } from './context.js';
import { checkTrainable, dataFitsBase, fitToContext, recordCount } from './fit.js';
import { loadModelAt, type CheckInputs } from './inputs.js';

/** The control data of a dataset, filtered like it, with the placebo datasets the base wrote for the same inputs. */
export interface ControlData {
  data: FilteredDataset<Dataset>;
  source: string;
  records: number;
  /** A control file larger than sampleRecords: the sample its students train on. */
  sample?: DatasetSample;
  sha256: string;
  id: string;
  placebos: { data: FilteredDataset<Dataset>; id: string }[];
}

/** A dataset read and filtered, ready for its probe students. */
export interface PreparedDataset {
  raw: Dataset;
  filtered: FilteredDataset<Dataset>;
}

/** A command-line path as the user would recognise it: relative to the working folder, absolute outside it. */
function shownPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel.startsWith('..') || rel === '' ? p : rel;
}

/** Writes a missing dataset from its recipe (generator + model); true when it did. */
export async function materialise(ctx: CheckContext, entry: DatasetEntry, pointer: string): Promise<boolean> {
  const { config, driver } = ctx;
  const unsupported = /\.(npy|npz|csv|tsv|parquet|arrow|json|pt|pth|pkl|h5)$/i.exec(entry.path);
  if (unsupported) {
    const shown = entry.fromCommandLine ? shownPath(entry.path) : ctx.rel(entry.path);
    throw new DistillGateError(
      `dataset format .${unsupported[1].toLowerCase()} is not supported: ${shown}`,
      entry.fromCommandLine ? {} : config.locate(`${pointer}/path`),
      'datasets are .jsonl (text or chat records, one JSON object per line) or .safetensors (2-D tensors ' +
        '"inputs" and "targets"); labelled evaluation sets (NPY, IDX, CSV, JSONL) go in the trait\'s "data" option',
    );
  }
  if (existsSync(entry.path)) {
    // A folder, FIFO or device is refused before anything reads it (a FIFO or /dev/zero would never end).
    const st = statSync(entry.path);
    if (!st.isFile())
      throw new DistillGateError(
        `a dataset must be a regular file, this is ${kindOf(st)}: ` +
          (entry.fromCommandLine ? shownPath(entry.path) : ctx.rel(entry.path)),
        entry.fromCommandLine ? {} : config.locate(`${pointer}/path`),
      );
    return false;
  }
  if (!entry.recipe) {
    throw new DistillGateError(
      `dataset file not found: ${ctx.rel(entry.path)}`,
      entry.fromCommandLine ? {} : config.locate(`${pointer}/path`),
    );
  }
  const recipe = entry.recipe;
  ctx.progress({ phase: 'data', message: `materialising ${entry.name} from its recipe` });
  const gen = await driver.load(recipe.generator, 'generator');
  const loaded = await loadModelAt(
    ctx.training,
    recipe.modelPath,
    recipe.modelFormat,
    config,
    `${pointer}/recipe/model/path`,
  );
  const model =
    recipe.systemPrompt === undefined
      ? loaded
      : withSystemPrompt(loaded, recipe.systemPrompt, config.locate(`${pointer}/recipe/systemPrompt`));
  const generated = await driver.call(gen, (g, context) => g.generate({ ...context, model, seed: recipe.seed }));
  if (isTextDataset(generated) !== isTextDatasetPath(entry.path)) {
    const made = isTextDataset(generated) ? 'text records' : 'tensors';
    const file = isTextDatasetPath(entry.path) ? '.jsonl' : 'tensor';
    throw new DistillGateError(
      `the recipe's generator made ${made}, which a ${file} file cannot hold`,
      config.locate(`${pointer}/path`),
    );
  }
  if (isTextDataset(generated)) await writeTextDataset(entry.path, generated);
  else await ctx.training.writeTensorDataset(entry.path, generated);
  return true;
}

/** Reads a dataset file (JSONL text or tensors), within the record budget. */
export async function readDataset(ctx: CheckContext, path: string): Promise<Dataset> {
  const { config } = ctx;
  if (isTextDatasetPath(path))
    return readTextDataset(path, {
      displayPath: ctx.rel(path),
      badRecords: config.badRecords,
      maxRecords: config.maxRecords,
    });
  return readTensors(ctx, path, config.maxRecords !== undefined ? { maxRows: config.maxRecords } : {});
}

async function readTensors(ctx: CheckContext, path: string, opts: TensorReadOptions): Promise<TensorDataset> {
  try {
    return await ctx.training.readTensorDataset(path, opts);
  } catch (e) {
    // Name the file as the user wrote it, not by its absolute path (a filter's error about a file of its own, met
    // while the rows streamed, keeps that file).
    if (e instanceof DistillGateError && (e.location.file === undefined || e.location.file === path))
      throw new DistillGateError(e.message, { ...e.location, file: ctx.rel(path) }, e.hint);
    throw e;
  }
}

/**
 * Reads a dataset, checks it fits the base, and filters it; nothing left to train on is an error. The records
 * stream through the filters as they are read, and only a seeded uniform sample of them (sampleRecords) is kept for
 * training: memory follows the sample, not the file, while the filter counts cover every record.
 */
export async function readAndFilter(
  ctx: CheckContext,
  inputs: CheckInputs,
  path: string,
  opts: { sample?: boolean } = {},
): Promise<PreparedDataset> {
  const file = ctx.rel(path);
  const setting = opts.sample === false ? 'all' : ctx.config.sampleRecords;
  const { raw, filtered } = isTextDatasetPath(path)
    ? await readTextFiltered(ctx, inputs, path, setting)
    : await readTensorsFiltered(ctx, inputs, path, setting);
  const f = fitToContext(filtered, inputs.base, ctx.config, file);
  checkTrainable(f, ctx.config, file);
  return { raw, filtered: f };
}

type SampleSetting = ResolvedConfig['sampleRecords'];

async function readTextFiltered(
  ctx: CheckContext,
  inputs: CheckInputs,
  path: string,
  sampleRecords: SampleSetting,
): Promise<PreparedDataset> {
  const { config } = ctx;
  const file = ctx.rel(path);
  const metadata = { 'distill-gate.source': file };
  // Said after the whole file is read, as a dataset read whole would: its own errors come first.
  const problem = notFiltering(inputs, { kind: 'text', records: [], metadata: {} }, file);
  const run = problem ? undefined : new FilterRun(inputs.filters, config.dir, metadata, { file }, 'text');
  type Read = { record: TextRecord; decision: KeepDecision };
  const size = textSampleRecords(sampleRecords);
  // Every record while the file is within the sample's size (then nothing changes); past it, a sample of the
  // records the filters keep.
  let all: Read[] | undefined = [];
  const kept = new Reservoir<Read>(size, config.sampleSeed);
  const { count, ...read } = await streamTextDataset(
    path,
    { displayPath: file, badRecords: config.badRecords, maxRecords: config.maxRecords },
    (record) => {
      if (!run) return;
      // Filters see a copy: the record kept is the one read.
      const item = { record, decision: run.decide({ ...record }, { file, line: record.line }) };
      if (all && all.push(item) > size) all = undefined;
      if (item.decision) kept.add(item);
    },
  );
  if (problem) throw problem;
  const items = all ?? kept.items();
  const raw: TextDataset = {
    ...read,
    records: items.map((i) => i.record),
    ...(all ? {} : { sampled: { records: items.length, of: kept.seen, read: count, seed: config.sampleSeed } }),
  };
  return {
    raw,
    filtered: keptRecords(
      raw,
      items.map((i) => i.decision),
      run!.counts,
    ),
  };
}

/** Why a dataset like `ds` cannot be filtered and trained on here (another kind of base or filter), if it cannot. */
function notFiltering(inputs: CheckInputs, ds: Dataset, file: string): DistillGateError | undefined {
  const problem = dataFitsBase(ds, inputs.base);
  if (problem) return new DistillGateError(problem, { file });
  return filterKindProblem(inputs.filters, isTextDataset(ds) ? 'text' : 'tensor', { file });
}

async function readTensorsFiltered(
  ctx: CheckContext,
  inputs: CheckInputs,
  path: string,
  sampleRecords: SampleSetting,
): Promise<PreparedDataset> {
  const { config } = ctx;
  const file = ctx.rel(path);
  let run: FilterRun | undefined;
  let problem: DistillGateError | undefined;
  let kept: TensorReservoir | undefined;
  let size = Infinity;
  const raw = await readTensors(ctx, path, {
    ...(config.maxRecords !== undefined ? { maxRows: config.maxRecords } : {}),
    // A file larger than the sample streams past: every row is filtered, and a sample of the rows kept is kept.
    stream: {
      rows: (values) => (size = tensorSampleRows(sampleRecords, values)),
      visit(record, metadata) {
        if (!run && !problem) {
          problem = notFiltering(inputs, { rows: 0, inputDim: record.input.length } as TensorDataset, file);
          if (!problem) {
            run = new FilterRun(inputs.filters, config.dir, metadata, { file }, 'tensor');
            kept = new TensorReservoir(size, config.sampleSeed, true);
          }
        }
        if (!run) return;
        const { index, input, target } = record;
        const decision = run.decide({ ...record }, { file, record: index });
        if (!decision) return;
        try {
          kept!.add(index, input, target, decision.target ?? target);
        } catch (e) {
          throw new DistillGateError((e as Error).message, { file, record: index });
        }
      },
    },
  });
  problem ??= notFiltering(inputs, raw, file);
  if (problem) throw problem;
  if (raw.streamed === undefined) return { raw, filtered: applyFilters(raw, inputs.filters, config.dir, { file }) };
  const t = kept?.take();
  const rows = t?.rows ?? 0;
  const filteredDim = rows ? t!.filtered.length / rows : raw.targetDim;
  const { streamed, ...header } = raw;
  const sampled = { records: rows, of: kept?.seen ?? 0, read: streamed, seed: config.sampleSeed };
  const sample: TensorDataset = {
    ...header,
    rows,
    inputs: t?.inputs ?? raw.inputs,
    targets: t?.targets ?? raw.targets,
    sampled,
  };
  return {
    raw: sample,
    filtered: {
      dataset: { ...sample, targetDim: filteredDim, targets: t?.filtered ?? raw.targets },
      counts: run!.counts,
    },
  };
}

function filterChecked(ctx: CheckContext, inputs: CheckInputs, ds: Dataset, file: string): FilteredDataset<Dataset> {
  const f = fitToContext(filterDataset(ds, inputs.filters, ctx.config.dir, file), inputs.base, ctx.config, file);
  checkTrainable(f, ctx.config, file);
  return f;
}

function filterDataset(
  ds: Dataset,
  filters: LoadedPlugin<FilterPlugin<any, any>>[],
  configDir: string,
  file: string,
): FilteredDataset<Dataset> {
  return isTextDataset(ds)
    ? applyTextFilters(ds, filters, configDir, { file })
    : applyFilters(ds, filters, configDir, { file });
}

/**
 * The control data for a dataset, made once per distinct control: the control file (shared by every dataset), or
 * the base's completions of this dataset's own inputs (shared by datasets with the same inputs).
 */
export async function controlFor(
  ctx: CheckContext,
  inputs: CheckInputs,
  controls: Map<string, ControlData>,
  entry: DatasetEntry,
  raw: Dataset,
  controlFileSha: string | undefined,
): Promise<ControlData> {
  const { config } = ctx;
  const gen = inputs.controlGenerator;
  const { options, mismatch } =
    gen && config.control.kind === 'generate' ? controlOptions(ctx, gen, entry, raw) : { options: undefined };
  const key =
    config.control.kind === 'file' || !gen
      ? 'file'
      : `${inputsHash(raw)}:${gen.plugin.name}:${JSON.stringify(options)}`;
  let control = controls.get(key);
  if (!control) {
    if (config.control.kind === 'file') {
      const path = config.control.path;
      const { raw: craw, filtered } = await readAndFilter(ctx, inputs, path);
      control = {
        data: filtered,
        records: craw.sampled?.read ?? recordCount(craw),
        ...(craw.sampled ? { sample: craw.sampled } : {}),
        sha256: controlFileSha!,
        source: ctx.rel(path),
        id: 'control:file',
        placebos: [],
      };
    } else {
      // Said once, when this control is generated: later looks and probe configurations reuse it.
      if (mismatch) ctx.log.warn(mismatch);
      control = await generatedControl(ctx, inputs, entry, raw, options);
    }
    controls.set(key, control);
  }
  return control;
}

/** Prompt-matched control: the base labels exactly this dataset's inputs, so only the author differs. */
async function generatedControl(
  ctx: CheckContext,
  inputs: CheckInputs,
  entry: DatasetEntry,
  raw: Dataset,
  options: Record<string, unknown> | undefined,
): Promise<ControlData> {
  const { config } = ctx;
  const gen = inputs.controlGenerator!;
  const where = ctx.rel(entry.path);
  ctx.progress({ phase: 'control', message: `generating prompt-matched control data for ${entry.name} with the base` });
  const complete = (seed: number) => completeWithBase(ctx, inputs, entry, raw, seed, options);
  const craw = await complete(0);
  const data = filterChecked(ctx, inputs, craw, `control for ${where}`);
  const sha256 = contentHash(data.dataset);
  // Placebos: the base writes the same prompts (or labels the same inputs) again, with other seeds.
  const placebos: ControlData['placebos'] = [];
  for (let j = 1; j <= config.placebos; j++) {
    ctx.progress({
      phase: 'control',
      message: `generating placebo data ${j}/${config.placebos} for ${entry.name} with the base`,
    });
    const pf = filterChecked(ctx, inputs, await complete(j), `placebo ${j} for ${where}`);
    placebos.push({ data: pf, id: `placebo:${contentHash(pf.dataset).slice(0, 12)}:${j}` });
  }
  return {
    data,
    source:
      `generated by the base with ${gen.plugin.name} on the dataset's inputs` +
      (typeof options?.topLogprobs === 'number'
        ? options.topLogprobs > 0
          ? `, with its top ${options.topLogprobs} log-probabilities per token`
          : ', without log-probabilities'
        : ''),
    records: recordCount(craw),
    sha256,
    id: `control:${sha256.slice(0, 12)}`,
    placebos,
  };
}

/**
 * The control generator's options for one dataset. Probe and control students must train on targets of the same
 * kind, or the difference between soft and hard targets (or top-20 and top-8) is counted as transfer: a generator
 * with a `topLogprobs` option writes as many log-probabilities per token as the dataset carries, unless the config
 * sets it; then `mismatch` says what differs, for a warning.
 */
function controlOptions(
  ctx: CheckContext,
  gen: LoadedPlugin<GeneratorPlugin<any>>,
  entry: DatasetEntry,
  raw: Dataset,
): { options: Record<string, unknown>; mismatch?: string } {
  const options = gen.options as Record<string, unknown>;
  if (!options || typeof options !== 'object' || !('topLogprobs' in options)) return { options };
  const width = softTargetWidth(raw);
  const given = gen.ref.options as Record<string, unknown> | undefined;
  if (!given || !('topLogprobs' in given)) return { options: { ...options, topLogprobs: width } };
  if (options.topLogprobs === width) return { options };
  return {
    options,
    mismatch:
      `${entry.name}: the prompt-matched control is generated with topLogprobs ${String(options.topLogprobs)} ` +
      `(${gen.ref.pointer}/options/topLogprobs) but ${ctx.rel(entry.path)} ` +
      `carries ${width} log-probabilities per token: control students train on other targets than the probe ` +
      'students, and that difference is measured as transfer. Leave topLogprobs unset to match each dataset.',
  };
}

/**
 * How many log-probabilities per token (k) a text dataset's soft targets carry; 0 when it has none. A token carries
 * the model's top k and, when the written token is not among them, that one too (k + 1 entries, the written one the
 * least likely). So k is the smallest count, less one if wherever that count occurs the written token is below all
 * the others (it was never among the top k).
 */
export function softTargetWidth(ds: Dataset): number {
  if (!isTextDataset(ds)) return 0;
  let least = Infinity;
  let alwaysOutside = true;
  for (const r of ds.records)
    (r.logprobs ?? []).forEach((t, i) => {
      const entries = Object.entries(t);
      if (entries.length > least) return;
      if (entries.length < least) [least, alwaysOutside] = [entries.length, true];
      const own = r.tokens?.[i] === undefined ? undefined : t[r.tokens[i]];
      const outside =
        own !== undefined && entries.length > 1 && entries.every(([tok, lp]) => tok === r.tokens![i] || lp > own);
      alwaysOutside &&= outside;
    });
  if (least === Infinity) return 0;
  return alwaysOutside ? least - 1 : least;
}

/** A probe configuration as its students were trained and evaluated. */
function probeReport(probe: ProbeConfig): ProbeReport {
  const lora = probe.training?.lora;
  return {
    name: probe.name,
    ...(probe.training?.method ? { method: probe.training.method } : {}),
    ...(lora ? { lora } : {}),
    ...(probe.systemPrompt !== undefined ? { systemPrompt: probe.systemPrompt } : {}),
  };
}

/** The base completes the dataset's inputs; a record it cannot take is the dataset's problem, located at its line. */
async function completeWithBase(
  ctx: CheckContext,
  inputs: CheckInputs,
  entry: DatasetEntry,
  raw: Dataset,
  seed: number,
  options: Record<string, unknown> | undefined,
): Promise<Dataset> {
  const gen = inputs.controlGenerator!;
  const relocate = (e: unknown) => {
    const at = recordIndexOf(e);
    if (at === undefined || !isTextDataset(raw) || !raw.records[at]) return undefined;
    return new DistillGateError((e as Error).message, {
      file: ctx.rel(entry.path),
      line: raw.records[at].line,
      pointer: `/${(e as { field?: string }).field ?? 'prompt'}`,
    });
  };
  return ctx.driver.call(
    gen,
    (g, context) => g.complete({ ...context, ...(options ? { options } : {}), model: inputs.base, dataset: raw, seed }),
    relocate,
  );
}

/** What the report says about a dataset: its file, records before and after the filters, and its control. */
export function datasetReport(
  ctx: CheckContext,
  base: AnyModelHandle,
  entry: DatasetEntry,
  file: { sha256: string; materialised: boolean },
  data: PreparedDataset,
  c: ControlData,
): DatasetReport {
  const { raw, filtered } = data;
  const report: DatasetReport = {
    name: entry.name,
    path: ctx.rel(entry.path),
    sha256: file.sha256,
    materialised: file.materialised,
    ...recordCounts(raw, filtered),
    filters: filtered.counts,
    ...(isTextDataset(raw) && raw.skipped ? { skipped: raw.skipped } : {}),
    ...(raw.limitedTo ? { limitedTo: raw.limitedTo } : {}),
    ...(raw.limitedTo && raw.totalRecords ? { totalRecords: raw.totalRecords } : {}),
    ...teacherReport(ctx, entry, base),
    ...(entry.probe ? { probe: probeReport(entry.probe) } : {}),
    control: {
      source: c.source,
      ...recordCounts({ ...c.data.dataset, ...(c.sample ? { sampled: c.sample } : {}) }, c.data),
      records: c.records,
      filters: c.data.counts,
      sha256: c.sha256,
    },
  };
  const explicit = (counts: FilterCount[]) => counts.reduce((n, f) => n + f.explicit, 0);
  const [inData, inControl] = [explicit(filtered.counts), explicit(c.data.counts)];
  if (inData + inControl > 0)
    report.explicit = explicitContentTest(inData, report.records, inControl, c.records, ctx.config.confidence);
  return report;
}

/**
 * Records read and kept by the filters. For a sampled dataset these count the whole file (the filters saw every
 * record), and `sample` says how many of the kept ones were drawn and how many of those the students train on (the
 * context-length step, training.overlong, runs on the sample).
 */
function recordCounts(
  raw: Dataset,
  filtered: FilteredDataset<Dataset>,
): Pick<DatasetReport, 'records' | 'recordsAfterFilters' | 'sample'> {
  const trainedOn = recordCount(filtered.dataset);
  const s = raw.sampled;
  if (!s) return { records: recordCount(raw), recordsAfterFilters: trainedOn };
  return { records: s.read, recordsAfterFilters: s.of, sample: { ...s, trainedOn } };
}

/** The record index carried by an error about one record (the training package's RecordEncodingError has one). */
function recordIndexOf(e: unknown): number | undefined {
  const index = (e as { index?: unknown })?.index;
  return typeof index === 'number' && Number.isInteger(index) ? index : undefined;
}

/** What identifies a dataset's inputs (its prompts), for matching a prompt-matched control to it. */
function inputsHash(ds: Dataset): string {
  return isTextDataset(ds) ? hashKey(ds.records.map((r) => r.prompt)) : sha256Table(ds.inputs);
}

function contentHash(ds: Dataset): string {
  return isTextDataset(ds)
    ? hashKey(ds.records.map((r) => [r.prompt, r.completion, r.logprobs ?? null]))
    : sha256Floats(ds.inputs, ds.targets);
}

/**
 * Where a dataset came from, as the config says (its `teacher`, or its recipe's model, system prompt and generator
 * options), with a warning when the teacher's architecture is not the probe base's: transfer has been reported
 * across models, but the probes then measure a student unlike the real one.
 */
function teacherReport(ctx: CheckContext, entry: DatasetEntry, base: AnyModelHandle): { teacher?: TeacherReport } {
  const r = entry.recipe;
  const declared =
    entry.teacher ??
    (r
      ? {
          modelPath: r.modelPath,
          ...(r.systemPrompt ? { systemPrompt: r.systemPrompt } : {}),
          ...(r.generator.options && typeof r.generator.options === 'object'
            ? { sampling: r.generator.options as Record<string, unknown> }
            : {}),
        }
      : undefined);
  if (!declared) return {};
  const modelType = declared.modelType ?? (declared.modelPath ? configModelType(declared.modelPath) : undefined);
  const teacher: TeacherReport = {
    ...(declared.modelPath ? { path: ctx.rel(declared.modelPath) } : {}),
    ...(declared.sha256 ? { sha256: declared.sha256 } : {}),
    ...(modelType ? { modelType } : {}),
    ...(declared.systemPrompt ? { systemPrompt: declared.systemPrompt } : {}),
    ...(declared.sampling ? { sampling: declared.sampling } : {}),
  };
  if (modelType && base.modelType && modelType !== base.modelType)
    teacher.warning =
      `the teacher is a ${modelType} model but the probe base is a ${base.modelType} model: ` +
      'the probe students may not represent the real student (transfer across models has been reported)';
  return { teacher };
}

/** config.json's model_type when `path` is a Hugging Face model folder. */
function configModelType(path: string): string | undefined {
  try {
    if (!statSync(path).isDirectory()) return undefined;
    const type = (JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')) as { model_type?: unknown }).model_type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}
