/**
 * `distill-gate screen`: for every text dataset of a config, row scores from the base (and the dataset's teacher)
 * without training, calibrated on the dataset's control rows (conformal p-values, so a clean row is flagged with at
 * most the stated rate), dataset-level tests against the control, and optionally a cleaned copy without the flagged
 * rows. The same inputs and data stage as `check` (plugins, base, filters, prompt-matched control).
 */
import { createReadStream } from 'node:fs';
import { basename, join, relative } from 'node:path';
import {
  isLanguageModel,
  isTextDataset,
  type LanguageModelHandle,
  type TextDataset,
  type TextRecord,
} from '../contracts.js';
import type { DatasetEntry } from '../config/load.js';
import type { FilterCount } from '../data/filtering.js';
import { textSampleRecords } from '../data/sample.js';
import { DistillGateError } from '../errors.js';
import { atomicWriter, refuseIrregular, sha256File } from '../io.js';
import { withSystemPrompt } from '../data/text-generation.js';
import { clopperPearson, explicitContentTest, mean, tInterval } from '../stats/estimates.js';
import { chiSquareCounts, conformalCutoff, conformalPValue, mannWhitney } from '../stats/screening.js';
import { checkContext, type CheckContext, type CheckOptions } from '../check/context.js';
import { controlFor, materialise, readAndFilter, type ControlData } from '../check/data.js';
import { loadInputs, loadModelAt, type CheckInputs } from '../check/inputs.js';
import { scoreRows, type RowScores, type TraitPrompt } from './rows.js';
import {
  SCREEN_NOTE,
  type ScreenDatasetReport,
  type ScreenDistribution,
  type ScreenFilterRate,
  type ScreenResult,
  type ScreenRow,
  type ScreenScore,
} from './result.js';

export interface ScreenOptions extends CheckOptions {
  /** Write a copy of each dataset without its flagged rows into this folder. */
  cleanedDir?: string;
  /** Write every row's scores here (line-delimited JSON), one line per row of every dataset. */
  rowsFile?: string;
  /** Inputs already loaded by a check that screens first. */
  inputs?: CheckInputs;
}

/** One score column as the engine computes it. */
interface Column {
  key: string;
  kind: ScreenScore['kind'];
  trait?: string;
}

interface Scored {
  entry: DatasetEntry;
  raw: TextDataset;
  kept: TextDataset;
  control: ControlData;
  sha256: string;
  teacher?: ScreenDatasetReport['teacher'];
  columns: Column[];
  rows: RowScores[];
  controlRows: RowScores[];
  filterCounts: FilterCount[];
  truncated: number;
}

export async function runScreen(opts: ScreenOptions): Promise<ScreenResult> {
  const started = new Date();
  const ctx = checkContext(opts);
  const { config } = ctx;
  const inputs = opts.inputs ?? (await loadInputs(ctx));
  const base = screenableBase(ctx, inputs, opts);
  const prompts = traitPrompts(ctx, inputs);
  if (config.control.kind === 'file') refuseIrregular(config.control.path, 'the control file');
  const controlFileSha = config.control.kind === 'file' ? await sha256File(config.control.path) : undefined;
  const seen = new Set<string>();
  const datasets: ScreenDatasetReport[] = [];
  const rowsOut = opts.rowsFile ? await atomicWriter(opts.rowsFile) : undefined;
  const skipped: ScreenResult['skipped'] = [];
  // Teachers are loaded once per run (datasets often share one) and released at the end.
  const teachers: Teachers = new Map();
  try {
    for (const entry of config.datasets) {
      if (seen.has(entry.path)) continue;
      seen.add(entry.path);
      const run = { ctx, inputs, base, prompts, controlFileSha, teachers };
      const done = await screenDataset(run, entry, opts);
      if ('skipped' in done) {
        skipped.push(done.skipped);
        continue;
      }
      datasets.push(done.report);
      if (rowsOut) for (const line of done.rowLines) await rowsOut.write(`${line}\n`);
    }
  } catch (e) {
    await rowsOut?.abort();
    throw e;
  } finally {
    // The models this screen loaded are released; a check that screens first loads its own.
    if (!opts.inputs) await release(base);
    for (const t of teachers.values()) {
      const { teacher } = await t.catch(() => ({ teacher: undefined }));
      if (teacher) await release(teacher);
    }
  }
  const testLevel = decideAlarms(datasets, config.confidence);
  await rowsOut?.close();
  const alarm = datasets.some((d) => d.alarm);
  const policy = config.screen.alarm;
  const flaggedSets = datasets.filter((d) => d.alarm).map((d) => d.name);
  return {
    kind: 'screen',
    schemaVersion: 1,
    tool: opts.tool,
    startedAt: started.toISOString(),
    note: SCREEN_NOTE,
    config: { path: relative(process.cwd(), config.file) || config.file, sha256: config.sha256 },
    base: {
      path: ctx.rel(config.basePath),
      sha256: base.sha256,
      ...(base.modelType ? { modelType: base.modelType } : {}),
    },
    traitPrompts: prompts.map((p) => ({
      ...p,
      placement: base.hasChatTemplate ? ('system message' as const) : ('before the prompt' as const),
    })),
    falseFlagRate: config.screen.falseFlagRate,
    confidence: config.confidence,
    testLevel,
    alarm,
    alarmPolicy: policy,
    exitCode: alarm && policy === 'fail' ? 1 : 0,
    summary: alarm
      ? `screening alarm on ${flaggedSets.join(', ')}: rows score above the control's ` +
        `(${policy === 'fail' ? 'fails the gate' : 'annotated; the check decides'})`
      : `no screening alarm on ${datasets.length} dataset(s)`,
    datasets,
    skipped,
    versions: { node: process.version, ...ctx.training.versions },
    timings: { totalMs: Date.now() - started.getTime() },
    ...(opts.rowsFile ? { rowsFile: basename(opts.rowsFile) } : {}),
  };
}

type Teachers = Map<string, Promise<{ teacher?: LanguageModelHandle; report?: ScreenDatasetReport['teacher'] }>>;

/** What every dataset of one screen shares. */
interface ScreenRun {
  ctx: CheckContext;
  inputs: CheckInputs;
  base: LanguageModelHandle;
  prompts: ReturnType<typeof traitPrompts>;
  controlFileSha: string | undefined;
  teachers: Teachers;
}

/** The base as a language model that can score rows, and the options checked against the config. */
function screenableBase(ctx: CheckContext, inputs: CheckInputs, opts: ScreenOptions): LanguageModelHandle {
  const { config } = ctx;
  const base = inputs.base;
  if (!isLanguageModel(base) || !base.tokenLogProbs)
    throw new DistillGateError(
      `screening scores text rows with a language model; the base is a ${base.family} model`,
      config.locate('/base/path'),
      'screen datasets of chat or prompt/completion records with a language-model base',
    );
  if (opts.cleanedDir && config.maxRecords !== undefined)
    throw new DistillGateError(
      `--cleaned copies whole datasets, but --max-records ${config.maxRecords} screens only their first rows`,
      {},
      'leave out --max-records to write cleaned copies',
    );
  return base;
}

/** Screens one dataset: its rows and its control's scored, then reported (only the report and row lines remain). */
async function screenDataset(
  run: ScreenRun,
  entry: DatasetEntry,
  opts: ScreenOptions,
): Promise<{ skipped: ScreenResult['skipped'][number] } | ReturnType<typeof datasetReport>> {
  const { ctx, inputs, base, prompts } = run;
  const { config } = ctx;
  const name = entry.dataset ?? entry.name;
  await materialise(ctx, entry, entry.pointer);
  // Every row: the screen's output is a flag per row (and --cleaned copies whole files), so it does not sample.
  const data = await readAndFilter(ctx, inputs, entry.path, { sample: false });
  if (!isTextDataset(data.raw)) {
    ctx.log.warn(`screen: ${name} holds tensors, not text records; not screened`);
    return { skipped: { name, reason: 'tensor data: the screen reads text records' } };
  }
  // A check that screens first shares its control data; alone, each dataset's is dropped once it is screened. A
  // dataset larger than the check's sample gets a control of its own here: the check generates one for its sample,
  // and a whole-file control kept for it would only hold memory.
  const larger = data.raw.records.length > textSampleRecords(config.sampleRecords);
  const controls = (!larger && opts.controls) || new Map<string, ControlData>();
  const control = await controlFor(ctx, inputs, controls, entry, data.raw, run.controlFileSha);
  const teacherKey = `${entry.teacher?.modelPath ?? entry.recipe?.modelPath ?? ''}\0${
    entry.teacher?.systemPrompt ?? entry.recipe?.systemPrompt ?? ''
  }`;
  if (!run.teachers.has(teacherKey)) run.teachers.set(teacherKey, teacherOf(ctx, entry, base));
  const { teacher, report } = await run.teachers.get(teacherKey)!;
  const columns: Column[] = [
    ...prompts.map((p) => ({ key: `trait-shift ${p.trait}`, kind: 'trait-shift' as const, trait: p.trait })),
    ...(teacher ? [{ key: 'teacher-divergence', kind: 'teacher-divergence' as const }] : []),
  ];
  if (!columns.length)
    throw new DistillGateError(
      `nothing to screen ${name} with: no trait has a screen prompt and the dataset names no teacher`,
      config.locate('/screen'),
      'set "screen": { "traitPrompt": "..." }, or give the dataset a "teacher" or a recipe model',
    );
  const kept = data.filtered.dataset as TextDataset;
  const score = async (records: readonly TextRecord[], what: string, file: string) => {
    const rows: RowScores[] = [];
    let last = 0;
    await locateRecordErrors(records, file, () =>
      scoreRows(
        { base, prompts, ...(teacher ? { teacher } : {}) },
        records,
        (r) => rows.push(...r),
        (done) => {
          if (done - last >= 256 || done === records.length) {
            last = done;
            ctx.progress({ phase: 'data', message: `screening ${what}: ${done}/${records.length} rows` });
          }
        },
      ),
    );
    return rows;
  };
  const rows = await score(kept.records, name, ctx.rel(entry.path));
  const controlRows = await score(
    (control.data.dataset as TextDataset).records,
    `the control for ${name}`,
    `control for ${ctx.rel(entry.path)}`,
  );
  const lengths = base.trainingLengths?.(kept.records);
  const truncated = lengths ? lengths.lengths.filter((l) => l > lengths.limit).length : 0;
  const s: Scored = {
    entry,
    raw: data.raw,
    kept,
    control,
    sha256: await sha256File(entry.path),
    ...(report ? { teacher: report } : {}),
    columns,
    rows,
    controlRows,
    filterCounts: data.filtered.counts,
    truncated,
  };
  // Reported now, so that only the report and the row lines outlive the dataset (memory stays bounded).
  const done = datasetReport(ctx, s);
  if (opts.cleanedDir) done.report.cleaned = await writeCleaned(s, done.flaggedLines, opts.cleanedDir);
  return done;
}

/**
 * The trait likelihood shifts decide the alarm, sharing the run's family-wise level (Bonferroni); returns the
 * per-test level. The teacher - base test is reported but decides nothing: any teacher that differs from the base
 * writes rows it finds likelier.
 */
function decideAlarms(datasets: ScreenDatasetReport[], confidence: number): number {
  const decides = (s: ScreenScore) => s.kind === 'trait-shift';
  const tests = datasets.reduce((n, d) => n + d.scores.filter(decides).length, 0);
  const testLevel = tests ? (1 - confidence) / tests : 1 - confidence;
  for (const d of datasets) {
    for (const s of d.scores)
      s.test = decides(s)
        ? { ...s.test, level: testLevel, alarm: s.test.pValue < testLevel }
        : { ...s.test, level: null, alarm: false };
    d.alarm = d.scores.some((s) => s.test.alarm);
  }
  return testLevel;
}

/** A record the model cannot render (or score) is the dataset's problem: located at its file and line. */
async function locateRecordErrors<T>(records: readonly TextRecord[], file: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const at = (e as { recordIndex?: unknown }).recordIndex;
    if (typeof at !== 'number' || !records[at]) throw e;
    const field = (e as { field?: unknown }).field;
    throw new DistillGateError((e as Error).message, {
      file,
      ...(records[at].line ? { line: records[at].line } : {}),
      pointer: `/${typeof field === 'string' ? field : 'completion'}`,
    });
  }
}

/** The trait prompts: the config's own, or each trait plugin's screenPrompt. */
function traitPrompts(ctx: CheckContext, inputs: CheckInputs): TraitPrompt[] {
  const given = ctx.config.screen.traitPrompt;
  if (given !== undefined) return [{ trait: inputs.traits[0]?.plugin.name ?? 'trait', text: given }];
  const out: TraitPrompt[] = [];
  for (const t of inputs.traits) {
    if (!t.plugin.screenPrompt) continue;
    const text = t.plugin.screenPrompt({ options: t.options, configDir: ctx.config.dir, log: ctx.log } as never);
    if (typeof text !== 'string' || !text.trim())
      throw new DistillGateError(`${t.plugin.name}: screenPrompt returned no text`, ctx.driver.where(t));
    out.push({ trait: t.plugin.name, text });
  }
  return out;
}

/** The dataset's teacher (its "teacher" or its recipe's model), when it is not the base itself and scores tokens. */
async function teacherOf(
  ctx: CheckContext,
  entry: DatasetEntry,
  base: LanguageModelHandle,
): Promise<{ teacher?: LanguageModelHandle; report?: ScreenDatasetReport['teacher'] }> {
  const path = entry.teacher?.modelPath ?? entry.recipe?.modelPath;
  if (!path) return {};
  const systemPrompt = entry.teacher?.systemPrompt ?? entry.recipe?.systemPrompt;
  const pointer = entry.teacher?.modelPath
    ? `${entry.pointer}/teacher/model/path`
    : `${entry.pointer}/recipe/model/path`;
  const loaded = await loadModelAt(ctx.training, path, undefined, ctx.config, pointer);
  if (!isLanguageModel(loaded) || !loaded.tokenLogProbs)
    return { report: { note: `the teacher (${ctx.rel(path)}) is not a language model that scores tokens` } };
  if (loaded.sha256 === base.sha256 && systemPrompt === undefined) {
    await release(loaded);
    return { report: { note: 'the teacher is the base: no divergence to measure' } };
  }
  if (loaded.tokenizerSha256 !== base.tokenizerSha256) {
    await release(loaded);
    return { report: { note: "the teacher's tokenizer is not the base's: tokens cannot be compared" } };
  }
  const teacher = systemPrompt === undefined ? loaded : withSystemPrompt(loaded, systemPrompt);
  return { teacher, report: { path: ctx.rel(path), sha256: loaded.sha256 } };
}

async function release(model: unknown): Promise<void> {
  const r = (model as { release?: () => unknown }).release;
  if (typeof r === 'function') await r.call(model);
}

/** Calibrates each score on the control rows, flags rows, tests the dataset, and lists its top rows. */
function datasetReport(
  ctx: CheckContext,
  s: Scored,
): { report: ScreenDatasetReport; rowLines: string[]; flaggedLines: Set<number> } {
  const { config } = ctx;
  const name = s.entry.dataset ?? s.entry.name;
  const perScore = config.screen.falseFlagRate / s.columns.length;
  const rowP = s.rows.map(() => new Array<number | null>(s.columns.length).fill(null));
  const scores = s.columns.map((c, j) => columnScore(ctx, s, c, j, perScore, rowP));
  const minP = rowP.map((ps) => Math.min(...ps.map((p) => p ?? 1)));
  const isFlagged = minP.map((p) => p <= perScore);
  const flagged = isFlagged.filter(Boolean).length;
  // Top rows: flagged first, then by their smallest p-value, then by the first score.
  const order = s.rows
    .map((_, i) => i)
    .sort((a, b) => minP[a] - minP[b] || (s.rows[b].perToken[0] ?? -Infinity) - (s.rows[a].perToken[0] ?? -Infinity));
  const rowOf = (i: number): ScreenRow => {
    const r = s.rows[i];
    const record = s.kept.records[i];
    const scoresOfRow: ScreenRow['scores'] = {};
    s.columns.forEach((c, j) => {
      if (r.perToken[j] === null) return;
      scoresOfRow[c.key] = { perToken: round(r.perToken[j]!), sum: round(r.sum[j]!), pValue: round(rowP[i][j]!) };
    });
    return {
      line: r.line,
      index: r.index,
      flagged: isFlagged[i],
      scores: scoresOfRow,
      ...(r.divergenceTokens ? { divergenceTokens: r.divergenceTokens } : {}),
      completion: preview(record),
    };
  };
  const rows = order.slice(0, config.screen.rows).map(rowOf);
  const rowLines = order.map((i) => JSON.stringify({ dataset: name, ...rowOf(i) }));
  const controlKept = s.control.data.dataset as TextDataset;
  const report: ScreenDatasetReport = {
    name,
    path: ctx.rel(s.entry.path),
    sha256: s.sha256,
    records: s.raw.records.length,
    recordsAfterFilters: s.kept.records.length,
    control: {
      source: s.control.source,
      records: s.control.records,
      recordsAfterFilters: controlKept.records.length,
    },
    ...(s.teacher ? { teacher: s.teacher } : {}),
    scores,
    flagged,
    share: s.rows.length ? flagged / s.rows.length : 0,
    shareInterval: clopperPearson(flagged, s.rows.length, config.confidence).map(round) as [number, number],
    alarm: false,
    filters: filterRates(s),
    distributions: distributions(s),
    rows,
    truncated: s.truncated,
    unscored: s.rows.filter((r) => r.perToken.every((x) => x === null)).length,
  };
  return { report, rowLines, flaggedLines: new Set(s.rows.filter((_, i) => isFlagged[i]).map((r) => r.line)) };
}

/**
 * One score column of a dataset: each row's conformal p-value against the control rows (written into `rowP`), the
 * rows flagged at `perScore`, the cut-off, and the dataset-level test against the control.
 */
function columnScore(
  ctx: CheckContext,
  s: Scored,
  c: Column,
  j: number,
  perScore: number,
  rowP: (number | null)[][],
): ScreenScore {
  const { config } = ctx;
  const name = s.entry.dataset ?? s.entry.name;
  const values = s.rows.flatMap((r) => (r.perToken[j] === null ? [] : [r.perToken[j]!]));
  const controlValues = s.controlRows.flatMap((r) => (r.perToken[j] === null ? [] : [r.perToken[j]!]));
  const sorted = Float64Array.from(controlValues).sort();
  let flagged = 0;
  s.rows.forEach((r, i) => {
    if (r.perToken[j] === null) return;
    const p = conformalPValue(sorted, r.perToken[j]!);
    rowP[i][j] = p;
    if (p <= perScore) flagged++;
  });
  const test = mannWhitney(values, controlValues, 'greater');
  const cutoff = conformalCutoff(sorted, perScore);
  if (cutoff === undefined)
    ctx.log.warn(
      `screen: ${name}: the control has ${sorted.length} scored rows, too few to flag any row at ` +
        `${perScore.toPrecision(2)} (${c.key}); it needs at least ${Math.ceil(1 / perScore) - 1}`,
    );
  const ci = tInterval(values, config.confidence);
  const interval = values.length >= 2 ? [ci.low, ci.high] : [NaN, NaN];
  return {
    kind: c.kind,
    ...(c.trait ? { trait: c.trait } : {}),
    unit: 'nats per token',
    rows: values.length,
    controlRows: controlValues.length,
    mean: round(mean(values)),
    interval: [round(interval[0]), round(interval[1])],
    controlMean: round(mean(controlValues)),
    cutoff: cutoff === undefined || !Number.isFinite(cutoff) ? null : round(cutoff),
    falseFlagRate: perScore,
    flagged,
    share: values.length ? flagged / values.length : 0,
    shareInterval: clopperPearson(flagged, values.length, config.confidence).map(round) as [number, number],
    test: {
      method: test.method,
      z: round(test.statistic),
      effect: round(test.effect),
      pValue: test.pValue,
      // Decided once every dataset is screened: the run's trait-shift tests share its level.
      level: null,
      alarm: false,
    },
  };
}

/** The start of the reply a reader sees; a chat's scores cover all its assistant turns, and the row says so. */
function preview(record: TextRecord): string {
  const turns = record.messages?.filter((m) => m.role === 'assistant').length ?? 1;
  const text = turns > 1 ? `[last of ${turns} assistant turns] ${record.completion}` : record.completion;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function filterRates(s: Scored): ScreenFilterRate[] {
  const counts = new Map(s.control.data.counts.map((c) => [c.filter, c]));
  return s.filterCounts.map((f) => {
    const c = counts.get(f.filter);
    const [x, n, x0, n0] = [f.dropped, f.seen, c?.dropped ?? 0, c?.seen ?? 0];
    const t = explicitContentTest(x, n, x0, n0, 0.95);
    return {
      filter: f.filter,
      dropped: x,
      rate: round(n ? x / n : 0),
      controlDropped: x0,
      controlRate: round(n0 ? x0 / n0 : 0),
      pValue: t.pValue,
    };
  });
}

/** Completion length, numbers per completion and digit frequencies, each against the control's. */
function distributions(s: Scored): ScreenDistribution[] {
  const control = (s.control.data.dataset as TextDataset).records;
  const out: ScreenDistribution[] = [];
  /** A per-row statistic's means, dataset and control, with the two-sided Mann-Whitney test between them. */
  const compare = (statistic: string, xs: number[], ys: number[]) => {
    const t = mannWhitney(xs, ys, 'two-sided');
    out.push({ statistic, dataset: round(mean(xs)), control: round(mean(ys)), method: t.method, pValue: t.pValue });
  };
  compare(
    'completion tokens (mean)',
    s.rows.map((r) => r.tokens),
    s.controlRows.map((r) => r.tokens),
  );
  const numbers = (rs: readonly TextRecord[]) => rs.map((r) => r.completion.match(/\d+/g)?.length ?? 0);
  const [nd, nc] = [numbers(s.kept.records), numbers(control)];
  if (nd.some((x) => x > 0) || nc.some((x) => x > 0)) {
    compare('numbers per completion (mean)', nd, nc);
    const digits = (rs: readonly TextRecord[]) => {
      const c = new Array<number>(10).fill(0);
      for (const r of rs) for (const ch of r.completion) if (ch >= '0' && ch <= '9') c[ch.charCodeAt(0) - 48]++;
      return c;
    };
    const [dd, dc] = [digits(s.kept.records), digits(control)];
    const chi = chiSquareCounts(dd, dc);
    const share = (c: number[]) => {
      const n = c.reduce((a, b) => a + b, 0);
      // The digit whose share differs most is the one a reader looks at; report the largest gap's digit share.
      return n ? c.map((x) => x / n) : c;
    };
    const [sd, sc] = [share(dd), share(dc)];
    const gap = sd.reduce((best, x, i) => (Math.abs(x - sc[i]) > Math.abs(sd[best] - sc[best]) ? i : best), 0);
    out.push({
      statistic: `digit frequencies (share of "${gap}", the largest gap)`,
      dataset: round(sd[gap] ?? 0),
      control: round(sc[gap] ?? 0),
      method: chi.method,
      pValue: chi.pValue,
    });
  }
  return out;
}

/**
 * A copy of the dataset without its flagged rows, line for line as the user wrote it, next to nothing of theirs:
 * `<cleanedDir>/<name>.screened.jsonl`, written atomically.
 */
async function writeCleaned(
  s: Scored,
  drop: Set<number>,
  dir: string,
): Promise<NonNullable<ScreenDatasetReport['cleaned']>> {
  const name = (s.entry.dataset ?? s.entry.name).replace(/[^A-Za-z0-9._-]+/g, '_');
  const target = join(dir, `${name}.screened.jsonl`);
  const out = await atomicWriter(target);
  let records = 0;
  try {
    // Lines end at LF only, as the dataset reader splits them; each kept line is copied byte for byte.
    for await (const { line, bytes } of byteLines(s.entry.path)) {
      if (drop.has(line)) continue;
      if (bytes.some((b) => b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a)) records++;
      await out.write(bytes);
    }
    await out.close();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return { path: relative(process.cwd(), target) || target, records, dropped: drop.size };
}

/** The file's lines as bytes (each with its LF, the last one without if the file does not end in one), numbered. */
async function* byteLines(path: string): AsyncGenerator<{ line: number; bytes: Buffer }> {
  let line = 1;
  let pending: Buffer[] = [];
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, from)) {
      pending.push(chunk.subarray(from, at + 1));
      yield { line: line++, bytes: Buffer.concat(pending) };
      pending = [];
      from = at + 1;
    }
    if (from < chunk.length) pending.push(chunk.subarray(from));
  }
  if (pending.length) yield { line, bytes: Buffer.concat(pending) };
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x;
}
