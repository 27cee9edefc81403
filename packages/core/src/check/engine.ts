import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  isLanguageModel,
  isTextDataset,
  itemsProblem,
  type AnyModelHandle,
  type Dataset,
  type EvaluatorPlugin,
  type FilterPlugin,
  type ModelFormat,
  type TensorDataset,
  type Logger,
  type ProbeSet,
  type StudentJob,
  type TraitPlugin,
  type TrainedStudent,
  type TrainingCore,
  type TrainingProgress,
} from '../contracts.js';
import type { DatasetEntry, ResolvedConfig } from '../config/load.js';
import { DistillGateError } from '../errors.js';
import { applyFilters, applyTextFilters, type FilterCount, type FilteredDataset } from '../data/filtering.js';
import { explicitContentTest } from '../stats/estimates.js';
import { sha256File, sha256Floats, writeFileAtomic } from '../io.js';
import { loadPlugin, type BuiltinPlugins, type LoadedPlugin } from '../plugins/loader.js';
import {
  RESULT_SCHEMA_VERSION,
  type CheckError,
  type CheckResult,
  type DatasetReport,
  type Multiplicity,
  type StudentScore,
  type TransferResult,
} from '../result.js';
import { isTextDatasetPath, readTextDataset, writeTextDataset } from '../data/text-data.js';
import { exitCodeFor, overallVerdict, transferResult, withCrossBase, withPlacebo } from './verdicts.js';

export type CheckPhase = 'load' | 'data' | 'control' | 'train' | 'evaluate' | 'verdict';

export interface CheckProgress {
  phase: CheckPhase;
  message: string;
  training?: TrainingProgress;
}

/** Shard i of n (1-based): this job checks the (dataset, seed) units whose index is i-1 modulo n. */
export interface ShardSpec {
  index: number;
  count: number;
}

export interface CheckOptions {
  config: ResolvedConfig;
  training: TrainingCore;
  tool: { name: string; version: string };
  log?: Logger;
  onProgress?: (p: CheckProgress) => void;
  /** Plugins shipped with the caller (CLI, Action), found by package name without node_modules. */
  builtinPlugins?: BuiltinPlugins;
  shard?: ShardSpec;
  /** Verdict cache folder; undefined turns the cache off. */
  cacheDir?: string;
  /** Write every student trained by this run to this folder as ONNX, with a students.json index. */
  saveStudentsDir?: string;
  /**
   * How the family-wise error rate is shared out (set by the sequential runner): the number of checks in the whole
   * run (default: this config's datasets x evaluations) and the number of planned looks (default 1).
   */
  errorBudget?: { checks?: number; looks?: number };
}

/** Bump when the meaning of a cached entry changes, so old entries stop matching. */
const CACHE_FORMAT = 2;

/** One (dataset, seed) unit's scores: for every (trait, evaluator), the probe's and the control's. */
interface UnitScores {
  key: string;
  dataset: string;
  seed: number;
  report: DatasetReport;
  scores: {
    trait: string;
    evaluator: string;
    probe: StudentScore;
    control: StudentScore;
    crossProbe?: StudentScore;
    crossControl?: StudentScore;
    placebo?: StudentScore[];
  }[];
}

const quietLog: Logger = { info: () => {}, warn: () => {} };

/** Parses "i/n" (1 <= i <= n). */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count)
    throw new DistillGateError(`--shard must be i/n with 1 <= i <= n, got "${text}"`);
  return { index, count };
}

/**
 * `distill-gate check`: filter each dataset, train probe students (shared base) on it and control students (same
 * seeds) on control data, score both on every trait, and turn the paired differences into verdicts. The work is
 * made of (dataset, seed) units; each unit's scores are cached by a content hash and can be sharded across jobs.
 */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const { config, training } = opts;
  const log = opts.log ?? quietLog;
  const progress = opts.onProgress ?? (() => {});
  const builtins = opts.builtinPlugins;
  const startedAt = new Date();
  const timings: Record<string, number> = {};
  let phaseStart = performance.now();
  const endPhase = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - phaseStart);
    phaseStart = now;
  };
  const rel = (p: string) => relative(config.dir, p) || p;

  // ---- plugins and base
  progress({ phase: 'load', message: 'loading plugins and the base model' });
  const traits = await Promise.all(
    config.traits.map((r) => loadPlugin(r, 'trait', config.dir, config.locate, builtins)),
  );
  const evaluators = await Promise.all(
    config.evaluators.map((r) => loadPlugin(r, 'evaluator', config.dir, config.locate, builtins)),
  );
  const filters = await Promise.all(
    config.filters.map((r) => loadPlugin(r, 'filter', config.dir, config.locate, builtins)),
  );
  const controlGenerator =
    config.control.kind === 'generate'
      ? await loadPlugin(config.control.generator, 'generator', config.dir, config.locate, builtins)
      : undefined;
  const base = await loadModelAt(training, config.basePath, config.baseFormat, config, '/base/path');
  checkTrainingFitsBase(base, config);
  const crossBase = config.crossBasePath
    ? await loadModelAt(training, config.crossBasePath, config.crossBaseFormat, config, '/crossBase/path')
    : undefined;
  if (crossBase) checkCrossBase(base, crossBase, config);
  const evaluations: {
    trait: LoadedPlugin<TraitPlugin<any>>;
    evaluator: LoadedPlugin<EvaluatorPlugin<any>>;
    probes: ProbeSet;
  }[] = [];
  for (const t of traits) {
    let probes: ProbeSet;
    try {
      probes = await t.plugin.loadProbes({ options: t.options, configDir: config.dir, log });
    } catch (e) {
      throw asPluginError(e, t.plugin.name, config.locate(t.ref.pointer));
    }
    const probeProblem = probesFitBase(probes, base);
    if (probeProblem)
      throw new DistillGateError(probeProblem, { ...config.locate(t.ref.pointer), plugin: t.plugin.name });
    const matching = evaluators.filter(
      (e) =>
        (e.ref as { traits?: string[] }).traits?.includes(t.plugin.name) ??
        e.plugin.accepts.includes(t.plugin.probeKind),
    );
    if (!matching.length) {
      throw new DistillGateError(
        `no evaluator scores trait "${t.plugin.name}" (probe kind ${t.plugin.probeKind})`,
        config.locate('/evaluators'),
        'add an evaluator that accepts these probes, or list the trait in its "traits"',
      );
    }
    for (const evaluator of matching) evaluations.push({ trait: t, evaluator, probes });
  }
  endPhase('loadMs');

  // ---- the units of work this job does
  const units = config.datasets.flatMap((entry, d) =>
    config.seeds.map((seed, s) => ({ entry, d, seed, index: d * config.seeds.length + s })),
  );
  const mine = opts.shard ? units.filter((u) => u.index % opts.shard!.count === opts.shard!.index - 1) : units;
  const plugin = (p: LoadedPlugin) => ({ name: p.plugin.name, version: p.plugin.version, options: p.options });
  // Hashed once: it keys the cache and is reported with the control data.
  const controlFileSha =
    config.control.kind === 'file' && existsSync(config.control.path)
      ? await sha256File(config.control.path)
      : undefined;
  const settingsKey = {
    format: CACHE_FORMAT,
    tool: opts.tool.version,
    backend: training.backend.name,
    // Generated data and scores depend (at about 1e-6 in the logits) on what ran the models.
    ...(training.backend.inference?.engine === 'onnxruntime'
      ? { inference: `onnxruntime-${training.backend.inference.provider}` }
      : {}),
    // Students trained by onnxruntime's graphs differ from tfjs's at float rounding.
    ...(training.backend.training?.engine === 'onnxruntime' ? { trainer: 'onnxruntime-cpu' } : {}),
    base: base.sha256,
    ...(crossBase ? { crossBase: crossBase.sha256 } : {}),
    control: config.control.kind === 'file' ? { file: controlFileSha ?? 'missing' } : plugin(controlGenerator!),
    filters: filters.map(plugin),
    training: config.training,
    ...(config.maxRecords || config.badRecords === 'skip'
      ? { records: { max: config.maxRecords ?? null, bad: config.badRecords } }
      : {}),
    evaluations: evaluations.map((e) => ({ trait: plugin(e.trait), evaluator: plugin(e.evaluator) })),
    ...(config.placebos ? { placebos: config.placebos } : {}),
  };

  // ---- datasets: materialise, hash, look up the cache; read and filter only what must be trained
  const scores: UnitScores[] = [];
  const jobs: StudentJob[] = [];
  const pending: {
    unit: (typeof mine)[number];
    key: string;
    probeJob: string;
    controlJob: string;
    placeboJobs: string[];
    report: DatasetReport;
  }[] = [];
  const cross = (jobId: string) => `cross-base:${jobId}`;
  const controls = new Map<
    string,
    {
      data: FilteredDataset<Dataset>;
      source: string;
      records: number;
      sha256: string;
      id: string;
      placebos: { data: FilteredDataset<Dataset>; id: string }[];
    }
  >();
  const controlSeedsQueued = new Set<string>();
  let hits = 0;
  for (const [d, entry] of config.datasets.entries()) {
    const seeds = mine.filter((u) => u.d === d);
    if (!seeds.length) continue;
    const pointer = `/datasets/${d}`;
    const materialised = await materialise(entry, pointer);
    const sha256 = await sha256File(entry.path);
    const keyed = seeds.map((u) => ({ unit: u, key: hashKey({ ...settingsKey, dataset: sha256, seed: u.seed }) }));
    const cached = opts.cacheDir
      ? await Promise.all(keyed.map((k) => readCache(opts.cacheDir!, k.key)))
      : keyed.map(() => undefined);
    const misses = keyed.filter((_, i) => !cached[i]);
    for (const c of cached) if (c) scores.push({ ...c, dataset: entry.name });
    hits += keyed.length - misses.length;
    if (!misses.length) {
      progress({ phase: 'data', message: `${entry.name}: all ${keyed.length} seed(s) found in the verdict cache` });
      continue;
    }
    progress({ phase: 'data', message: `reading and filtering ${entry.name}` });
    const raw = await readDataset(entry.path);
    const dataProblem = dataFitsBase(raw, base);
    if (dataProblem) throw new DistillGateError(dataProblem, { file: rel(entry.path) });
    const filtered = filterDataset(raw, filters, config.dir, rel(entry.path));
    checkTrainable(filtered, config, rel(entry.path));

    let controlKey: string;
    if (config.control.kind === 'file') {
      if (!controls.has('file')) {
        const controlPath = config.control.path;
        const craw = await readDataset(controlPath);
        const controlProblem = dataFitsBase(craw, base);
        if (controlProblem) throw new DistillGateError(controlProblem, { file: rel(controlPath) });
        const cf = filterDataset(craw, filters, config.dir, rel(controlPath));
        checkTrainable(cf, config, rel(controlPath));
        controls.set('file', {
          data: cf,
          records: recordCount(craw),
          sha256: controlFileSha!,
          source: rel(controlPath),
          id: 'control:file',
          placebos: [],
        });
      }
      controlKey = 'file';
    } else {
      const gen = controlGenerator!;
      // Prompt-matched control: the base labels exactly this dataset's inputs, so only the author differs.
      controlKey = `${inputsHash(raw)}:${gen.plugin.name}:${JSON.stringify(gen.options)}`;
      if (!controls.has(controlKey)) {
        progress({
          phase: 'control',
          message: `generating prompt-matched control data for ${entry.name} with the base`,
        });
        const generatorPointer = config.control.generator.pointer;
        const complete = async (seed: number) => {
          try {
            return await gen.plugin.complete({
              options: gen.options,
              configDir: config.dir,
              log,
              model: base,
              dataset: raw,
              seed,
            });
          } catch (e) {
            // A record the base cannot take (e.g. a prompt longer than its context) is the dataset's problem: say where.
            const at = recordIndexOf(e);
            if (at !== undefined && isTextDataset(raw) && raw.records[at]) {
              throw new DistillGateError((e as Error).message, {
                file: rel(entry.path),
                line: raw.records[at].line,
                pointer: `/${(e as { field?: string }).field ?? 'prompt'}`,
              });
            }
            throw asPluginError(e, gen.plugin.name, config.locate(generatorPointer));
          }
        };
        const craw = await complete(0);
        const cf = filterDataset(craw, filters, config.dir, `control for ${rel(entry.path)}`);
        checkTrainable(cf, config, `control for ${rel(entry.path)}`);
        const controlSha = contentHash(cf.dataset);
        // Placebos: the base writes the same prompts (or labels the same inputs) again, with other seeds.
        const placebos: { data: FilteredDataset<Dataset>; id: string }[] = [];
        for (let j = 1; j <= config.placebos; j++) {
          progress({
            phase: 'control',
            message: `generating placebo data ${j}/${config.placebos} for ${entry.name} with the base`,
          });
          const pf = filterDataset(await complete(j), filters, config.dir, `placebo ${j} for ${rel(entry.path)}`);
          checkTrainable(pf, config, `placebo ${j} for ${rel(entry.path)}`);
          placebos.push({ data: pf, id: `placebo:${contentHash(pf.dataset).slice(0, 12)}:${j}` });
        }
        controls.set(controlKey, {
          data: cf,
          source: `generated by the base with ${gen.plugin.name} on the dataset's inputs`,
          records: recordCount(craw),
          sha256: controlSha,
          id: `control:${controlSha.slice(0, 12)}`,
          placebos,
        });
      }
    }
    const c = controls.get(controlKey)!;
    const report: DatasetReport = {
      name: entry.name,
      path: rel(entry.path),
      sha256,
      materialised,
      records: recordCount(raw),
      recordsAfterFilters: recordCount(filtered.dataset),
      filters: filtered.counts,
      ...(isTextDataset(raw) && raw.skipped ? { skipped: raw.skipped } : {}),
      ...(raw.limitedTo ? { limitedTo: raw.limitedTo } : {}),
      control: {
        source: c.source,
        records: c.records,
        recordsAfterFilters: recordCount(c.data.dataset),
        filters: c.data.counts,
        sha256: c.sha256,
      },
    };
    const explicit = (counts: FilterCount[]) => counts.reduce((n, f) => n + f.explicit, 0);
    const [inData, inControl] = [explicit(filtered.counts), explicit(c.data.counts)];
    if (inData + inControl > 0)
      report.explicit = explicitContentTest(inData, report.records, inControl, c.records, config.confidence);
    for (const { unit, key } of misses) {
      const probeJob = `probe:${entry.name}:${unit.seed}`;
      const controlJob = `${c.id}:${unit.seed}`;
      jobs.push({
        id: probeJob,
        role: 'probe',
        seed: unit.seed,
        init: base,
        data: filtered.dataset,
        training: config.training,
      });
      const placeboJobs = c.placebos.map((p) => `${p.id}:${unit.seed}`);
      if (!controlSeedsQueued.has(controlJob)) {
        controlSeedsQueued.add(controlJob);
        jobs.push({
          id: controlJob,
          role: 'control',
          seed: unit.seed,
          init: base,
          data: c.data.dataset,
          training: config.training,
        });
        if (crossBase)
          jobs.push({
            id: cross(controlJob),
            role: 'control',
            seed: unit.seed,
            init: crossBase,
            data: c.data.dataset,
            training: config.training,
          });
        c.placebos.forEach((p, j) =>
          jobs.push({
            id: placeboJobs[j],
            role: 'control',
            seed: unit.seed,
            init: base,
            data: p.data.dataset,
            training: config.training,
          }),
        );
      }
      if (crossBase)
        jobs.push({
          id: cross(probeJob),
          role: 'probe',
          seed: unit.seed,
          init: crossBase,
          data: filtered.dataset,
          training: config.training,
        });
      pending.push({ unit, key, probeJob, controlJob, placeboJobs, report });
    }
  }
  endPhase('dataMs');

  // ---- students
  if (jobs.length) {
    const nProbe = jobs.filter((j) => j.role === 'probe').length;
    progress({
      phase: 'train',
      message: `training ${jobs.length} students (${nProbe} probe, ${jobs.length - nProbe} control${hits ? `; ${hits} unit(s) from the cache` : ''}) on ${training.backend.training?.engine === 'onnxruntime' ? 'onnxruntime-node' : training.backend.name} with ${training.backend.workers} worker(s)`,
    });
  }
  // Seed by seed, so that a time budget that stops the run leaves whole seeds of every dataset trained.
  const seedRank = new Map(config.seeds.map((s, i) => [s, i]));
  jobs.sort((a, b) => seedRank.get(a.seed)! - seedRank.get(b.seed)!);
  const deadline = config.maxMinutes !== undefined ? startedAt.getTime() + config.maxMinutes * 60_000 : undefined;
  const trained = jobs.length
    ? await training.trainStudents(
        jobs,
        (t) => progress({ phase: 'train', message: `training students ${t.jobsDone}/${t.jobsTotal}`, training: t }),
        deadline !== undefined ? { deadline } : undefined,
      )
    : [];
  const studentById = new Map(trained.map((s) => [s.jobId, s]));
  endPhase('trainMs');
  const savedStudents = opts.saveStudentsDir ? await saveStudents(opts.saveStudentsDir, jobs, trained) : undefined;

  // ---- evaluation of the fresh students; cache what was computed
  if (trained.length)
    progress({ phase: 'evaluate', message: `evaluating ${trained.length} students on ${traits.length} trait(s)` });
  const scoreCache = new Map<string, StudentScore>();
  const score = async (jobId: string, e: (typeof evaluations)[number], seed: number, role: 'probe' | 'control') => {
    const key = `${jobId}|${e.trait.plugin.name}|${e.evaluator.ref.pointer}`;
    const hit = scoreCache.get(key);
    if (hit) return hit;
    const student = studentById.get(jobId)!;
    let s;
    try {
      s = await e.evaluator.plugin.evaluate({
        options: e.evaluator.options,
        configDir: config.dir,
        log,
        model: student.model,
        probes: e.probes,
        trait: e.trait.plugin.name,
      });
    } catch (err) {
      throw asPluginError(err, e.evaluator.plugin.name, config.locate(e.evaluator.ref.pointer));
    }
    if (!s || !Number.isFinite(s.value) || !(s.stderr >= 0)) {
      throw new DistillGateError(`evaluator returned a malformed score (${JSON.stringify(s)})`, {
        ...config.locate(e.evaluator.ref.pointer),
        plugin: e.evaluator.plugin.name,
      });
    }
    const badItems = itemsProblem(s);
    if (badItems) {
      throw new DistillGateError(
        `evaluator returned items that are not ${s.n} finite per-item scores averaging to its value (${badItems})`,
        { ...config.locate(e.evaluator.ref.pointer), plugin: e.evaluator.plugin.name },
      );
    }
    const result: StudentScore = {
      value: s.value,
      stderr: s.stderr,
      n: s.n,
      metric: s.metric,
      ...(s.details ? { details: s.details } : {}),
      ...(s.items ? { items: s.items } : {}),
      seed,
      role,
      lossHistory: student.lossHistory,
      trainMs: Math.round(student.ms),
    };
    scoreCache.set(key, result);
    return result;
  };
  // A plugin that fails on one evaluation is reported by name; every other (dataset, trait) result is kept.
  const errors: CheckError[] = [];
  const failed = new Set<string>();
  let unitsCut = 0;
  for (const p of pending) {
    const needed = [
      p.probeJob,
      p.controlJob,
      ...p.placeboJobs,
      ...(crossBase ? [cross(p.probeJob), cross(p.controlJob)] : []),
    ];
    if (!needed.every((id) => studentById.has(id))) {
      unitsCut++; // its students did not start before the time budget ran out
      continue;
    }
    const unitScores: UnitScores = {
      key: p.key,
      dataset: p.report.name,
      seed: p.unit.seed,
      report: p.report,
      scores: [],
    };
    for (const [k, e] of evaluations.entries()) {
      const id = `${p.report.name}|${k}`;
      if (failed.has(id)) continue;
      try {
        unitScores.scores[k] = {
          trait: e.trait.plugin.name,
          evaluator: e.evaluator.plugin.name,
          probe: await score(p.probeJob, e, p.unit.seed, 'probe'),
          control: await score(p.controlJob, e, p.unit.seed, 'control'),
          ...(crossBase
            ? {
                crossProbe: await score(cross(p.probeJob), e, p.unit.seed, 'probe'),
                crossControl: await score(cross(p.controlJob), e, p.unit.seed, 'control'),
              }
            : {}),
          ...(p.placeboJobs.length
            ? { placebo: await Promise.all(p.placeboJobs.map((id) => score(id, e, p.unit.seed, 'control'))) }
            : {}),
        };
      } catch (err) {
        failed.add(id);
        const de = err as DistillGateError;
        errors.push({
          plugin: e.evaluator.plugin.name,
          dataset: p.report.name,
          trait: e.trait.plugin.name,
          message: de.format?.() ?? String(err),
        });
      }
    }
    scores.push(unitScores);
    if (opts.cacheDir && unitScores.scores.filter(Boolean).length === evaluations.length) {
      await writeFileAtomic(join(opts.cacheDir, `${p.key}.json`), `${JSON.stringify(unitScores)}\n`);
    }
  }
  endPhase('evaluateMs');

  // ---- results per (dataset, trait, evaluator), in config and seed order
  const multiplicity = errorShare(config, {
    checks: opts.errorBudget?.checks ?? config.datasets.length * evaluations.length,
    looks: opts.errorBudget?.looks ?? 1,
  });
  const results: TransferResult[] = [];
  const reports: DatasetReport[] = [];
  const seedOrder = new Map(config.seeds.map((s, i) => [s, i]));
  for (const entry of config.datasets) {
    const unitsHere = scores
      .filter((u) => u.dataset === entry.name)
      .sort((a, b) => seedOrder.get(a.seed)! - seedOrder.get(b.seed)!);
    if (!unitsHere.length) continue;
    reports.push({ ...unitsHere[0].report, name: entry.name });
    for (const [k, e] of evaluations.entries()) {
      if (failed.has(`${entry.name}|${k}`)) continue;
      const picked = unitsHere.map((u) => u.scores[k]);
      const result = transferResult(
        { dataset: entry.name, trait: e.trait.plugin.name, evaluator: e.evaluator.plugin.name },
        picked.map((x) => x.probe),
        picked.map((x) => x.control),
        config.threshold,
        multiplicity.perCheckConfidence,
      );
      const crossScores = picked.every((x) => x.crossProbe && x.crossControl);
      const withCross =
        crossBase && crossScores
          ? withCrossBase(
              result,
              picked.map((x) => x.crossProbe!),
              picked.map((x) => x.crossControl!),
              multiplicity.perCheckConfidence,
            )
          : result;
      const placebo = config.placebos && picked.every((x) => x.placebo?.length === config.placebos);
      results.push(
        placebo
          ? withPlacebo(
              withCross,
              picked.map((x) => ({ seed: x.probe.seed, values: x.placebo!.map((s) => s.value) })),
            )
          : withCross,
      );
    }
  }
  const overall = overallVerdict(results, config.threshold, config.inconclusive, reports);
  const datasetsUnchecked = config.datasets
    .filter((d, i) => mine.some((u) => u.d === i) && !reports.some((r) => r.name === d.name))
    .map((d) => d.name);
  const budget =
    config.maxMinutes !== undefined
      ? {
          maxMinutes: config.maxMinutes,
          reached: unitsCut > 0,
          unitsPlanned: mine.length,
          unitsChecked: mine.length - unitsCut,
          datasetsUnchecked,
        }
      : undefined;
  if (budget?.reached) {
    // What was not checked cannot pass.
    if (overall.verdict === 'PASS' && datasetsUnchecked.length) {
      overall.verdict = 'INCONCLUSIVE';
      overall.exitCode = exitCodeFor('INCONCLUSIVE', config.inconclusive);
    }
    overall.summary = `time budget of ${config.maxMinutes} min reached: ${budget.unitsChecked} of ${budget.unitsPlanned} (dataset, seed) unit(s) checked${datasetsUnchecked.length ? `, ${datasetsUnchecked.join(', ')} not at all` : ''}; ${overall.summary}`;
  }
  const skippedNotes = reports
    .filter((d) => d.skipped)
    .map((d) => `${d.skipped!.count} malformed record(s) skipped in ${d.name}`);
  const limitNotes = reports
    .filter((d) => d.limitedTo)
    .map((d) => `${d.name} checked on its first ${d.limitedTo} records only`);
  if (skippedNotes.length || limitNotes.length) overall.summary += ` (${[...skippedNotes, ...limitNotes].join('; ')})`;
  if (errors.length) {
    overall.summary = `${errors.length} evaluation(s) failed (${[...new Set(errors.map((x) => x.plugin))].join(', ')}); of the rest: ${overall.summary}`;
    overall.exitCode = 2;
  }
  if (opts.shard) {
    // A shard sees only some seeds: its verdicts are provisional, and the merge job decides the exit code.
    overall.summary = `shard ${opts.shard.index}/${opts.shard.count}, partial (the verdict comes from distill-gate merge): ${overall.summary}`;
    overall.exitCode = 0;
  }
  const plugins = [...traits, ...evaluators, ...filters, ...(controlGenerator ? [controlGenerator] : [])].map((p) => ({
    kind: p.plugin.kind,
    name: p.plugin.name,
    version: p.plugin.version,
    options: p.options,
  }));
  timings.totalMs = Date.now() - startedAt.getTime();
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    tool: opts.tool,
    ...overall,
    startedAt: startedAt.toISOString(),
    config: { path: relative(process.cwd(), config.file) || config.file, sha256: config.sha256 },
    base: { path: rel(config.basePath), sha256: base.sha256, family: base.family },
    ...(crossBase
      ? { crossBase: { path: rel(config.crossBasePath!), sha256: crossBase.sha256, family: crossBase.family } }
      : {}),
    ...(budget ? { budget } : {}),
    backend: training.backend,
    seeds: config.seeds,
    threshold: config.threshold,
    confidence: config.confidence,
    multiplicity,
    inconclusivePolicy: config.inconclusive,
    training: { ...config.training },
    versions: { node: process.version, ...training.versions },
    plugins,
    datasets: reports,
    results,
    timings,
    ...(errors.length ? { errors } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
    ...(opts.cacheDir
      ? { cache: { dir: relative(process.cwd(), opts.cacheDir) || opts.cacheDir, hits, misses: pending.length } }
      : {}),
    ...(savedStudents ? { savedStudents } : {}),
  };

  async function materialise(entry: DatasetEntry, pointer: string): Promise<boolean> {
    if (existsSync(entry.path)) return false;
    if (!entry.recipe) {
      throw new DistillGateError(
        `dataset file not found: ${rel(entry.path)}`,
        entry.fromCommandLine ? {} : config.locate(`${pointer}/path`),
      );
    }
    progress({ phase: 'data', message: `materialising ${entry.name} from its recipe` });
    const gen = await loadPlugin(entry.recipe.generator, 'generator', config.dir, config.locate, builtins);
    const model = await loadModelAt(
      training,
      entry.recipe.modelPath,
      entry.recipe.modelFormat,
      config,
      `${pointer}/recipe/model/path`,
    );
    let generated: Dataset;
    try {
      generated = await gen.plugin.generate({
        options: gen.options,
        configDir: config.dir,
        log,
        model,
        seed: entry.recipe.seed,
      });
    } catch (e) {
      throw asPluginError(e, gen.plugin.name, config.locate(entry.recipe.generator.pointer));
    }
    if (isTextDataset(generated) !== isTextDatasetPath(entry.path)) {
      throw new DistillGateError(
        `the recipe's generator made ${isTextDataset(generated) ? 'text records' : 'tensors'}, which a ${isTextDatasetPath(entry.path) ? '.jsonl' : 'tensor'} file cannot hold`,
        config.locate(`${pointer}/path`),
      );
    }
    if (isTextDataset(generated)) await writeTextDataset(entry.path, generated);
    else await training.writeTensorDataset(entry.path, generated);
    return true;
  }

  async function readDataset(path: string): Promise<Dataset> {
    if (isTextDatasetPath(path))
      return readTextDataset(path, {
        displayPath: rel(path),
        badRecords: config.badRecords,
        maxRecords: config.maxRecords,
      });
    let ds: TensorDataset;
    try {
      ds = await training.readTensorDataset(
        path,
        config.maxRecords !== undefined ? { maxRows: config.maxRecords } : {},
      );
    } catch (e) {
      // Name the file as the user wrote it, not by its absolute path.
      if (e instanceof DistillGateError)
        throw new DistillGateError(e.message, { ...e.location, file: rel(path) }, e.hint);
      throw e;
    }
    return ds;
  }
}

type LoadedFilter = LoadedPlugin<FilterPlugin<any, any>>;

function filterDataset(
  ds: Dataset,
  filters: LoadedFilter[],
  configDir: string,
  file: string,
): FilteredDataset<Dataset> {
  return isTextDataset(ds)
    ? applyTextFilters(ds, filters, configDir, { file })
    : applyFilters(ds, filters, configDir, { file });
}

/** The record index carried by an error about one record (the training package's RecordEncodingError has one). */
function recordIndexOf(e: unknown): number | undefined {
  const index = (e as { index?: unknown })?.index;
  return typeof index === 'number' && Number.isInteger(index) ? index : undefined;
}

function recordCount(ds: Dataset): number {
  return isTextDataset(ds) ? ds.records.length : ds.rows;
}

/** What identifies a dataset's inputs (its prompts), for matching a prompt-matched control to it. */
function inputsHash(ds: Dataset): string {
  return isTextDataset(ds) ? hashKey(ds.records.map((r) => r.prompt)) : sha256Floats(ds.inputs);
}

function contentHash(ds: Dataset): string {
  return isTextDataset(ds)
    ? hashKey(ds.records.map((r) => [r.prompt, r.completion, r.logprobs ?? null]))
    : sha256Floats(ds.inputs, ds.targets);
}

/** Tensor data needs a tensor model with matching inputs; text data a language model. */
function dataFitsBase(ds: Dataset, base: AnyModelHandle): string | undefined {
  if (isTextDataset(ds))
    return isLanguageModel(base)
      ? undefined
      : `the dataset holds text records but the base is a ${base.family} model; text needs a language model (model.json)`;
  if (isLanguageModel(base))
    return 'the dataset holds tensors but the base is a language model; give it a JSONL text dataset';
  return ds.inputDim === base.inputDim
    ? undefined
    : `dataset records have ${ds.inputDim} inputs but the base model takes ${base.inputDim}`;
}

function probesFitBase(probes: ProbeSet, base: AnyModelHandle): string | undefined {
  if (probes.kind === 'text-questions')
    return isLanguageModel(base) ? undefined : `the trait asks text questions but the base is a ${base.family} model`;
  if (isLanguageModel(base)) return 'the trait probes with tensor inputs but the base is a language model';
  return probes.inputDim === base.inputDim
    ? undefined
    : `trait probes have ${probes.inputDim} inputs but the base model takes ${base.inputDim}`;
}

/** The cross base must be interchangeable with the base: same family, shape of data, and tokenizer. */
function checkCrossBase(base: AnyModelHandle, crossBase: AnyModelHandle, config: ResolvedConfig): void {
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
      'the cross base uses a different tokenizer from the base; prompts and soft targets must mean the same tokens for both',
      where,
    );
  }
  if (
    !isLanguageModel(base) &&
    !isLanguageModel(crossBase) &&
    (base.inputDim !== crossBase.inputDim || base.outputDim !== crossBase.outputDim)
  ) {
    throw new DistillGateError(
      `the cross base is ${crossBase.inputDim}->${crossBase.outputDim} but the base is ${base.inputDim}->${base.outputDim}`,
      where,
    );
  }
}

function checkTrainingFitsBase(base: AnyModelHandle, config: ResolvedConfig): void {
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

function hashKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

async function readCache(dir: string, key: string): Promise<UnitScores | undefined> {
  try {
    const entry = JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as UnitScores;
    return entry.key === key ? entry : undefined;
  } catch {
    // absent or unreadable: a miss (the entry is rewritten after training)
    return undefined;
  }
}

async function loadModelAt(
  training: TrainingCore,
  path: string,
  format: ModelFormat | undefined,
  config: ResolvedConfig,
  pointer: string,
): Promise<AnyModelHandle> {
  if (!existsSync(path))
    throw new DistillGateError(`model file not found: ${relative(config.dir, path)}`, config.locate(pointer));
  try {
    return await training.loadModel(path, format);
  } catch (e) {
    // Name the file as the config does.
    if (e instanceof DistillGateError)
      throw new DistillGateError(e.message, { ...e.location, file: relative(config.dir, path) || path }, e.hint);
    throw e;
  }
}

function checkTrainable(f: FilteredDataset<Dataset>, config: ResolvedConfig, where: string): void {
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

function asPluginError(e: unknown, plugin: string, where: object): DistillGateError {
  if (e instanceof DistillGateError)
    return new DistillGateError(e.message, { ...where, ...e.location, plugin }, e.hint);
  return new DistillGateError(`plugin failed: ${(e as Error)?.message ?? String(e)}`, { ...where, plugin });
}

/**
 * Writes each trained student as `<job id>.onnx` (characters other than letters, digits, `.`, `_` and `-` become
 * `_`) and an index, students.json, giving each file's job, role, seed, base, sha256 and loss history.
 */
async function saveStudents(
  dir: string,
  jobs: StudentJob[],
  trained: TrainedStudent[],
): Promise<{ dir: string; count: number }> {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const index = [];
  for (const s of trained) {
    const job = byId.get(s.jobId)!;
    if (!s.model.toOnnx)
      throw new DistillGateError(`--save-students: the training core cannot export ${s.model.family} students to ONNX`);
    const file = `${s.jobId.replace(/[^A-Za-z0-9._-]/g, '_')}.onnx`;
    await writeFileAtomic(join(dir, file), s.model.toOnnx());
    index.push({
      file,
      job: s.jobId,
      role: job.role,
      seed: job.seed,
      base: job.init.id,
      family: s.model.family,
      sha256: s.model.sha256,
      lossHistory: s.lossHistory,
    });
  }
  await writeFileAtomic(join(dir, 'students.json'), `${JSON.stringify(index, null, 2)}\n`);
  return { dir: relative(process.cwd(), dir) || dir, count: index.length };
}

/**
 * The per-check confidence that holds the family-wise level: Bonferroni over the run's checks (unless
 * multipleChecks is "none") and over the planned sequential looks (always: each look is a chance to be wrong).
 */
export function errorShare(
  config: Pick<ResolvedConfig, 'confidence' | 'multipleChecks'>,
  budget: { checks: number; looks: number },
): Multiplicity {
  const checks = Math.max(1, budget.checks);
  const looks = Math.max(1, budget.looks);
  const across = config.multipleChecks;
  const split = (across === 'none' ? 1 : checks) * looks;
  const overLooks = looks > 1 ? `${looks} planned looks` : '';
  const method =
    across === 'none'
      ? `no adjustment across the ${checks} check(s)${overLooks ? `; Bonferroni over ${overLooks}` : ''}`
      : split === 1
        ? 'one check, one look'
        : `Bonferroni over ${checks} check(s)${overLooks ? ` x ${overLooks}` : ''}`;
  return {
    method,
    across,
    checks,
    looks,
    familyConfidence: config.confidence,
    perCheckConfidence: 1 - (1 - config.confidence) / split,
  };
}
