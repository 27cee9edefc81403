import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type {
  EvaluatorPlugin,
  Logger,
  ModelHandle,
  ProbeSet,
  StudentJob,
  TensorDataset,
  TraitPlugin,
  TrainingCore,
  TrainingProgress,
} from './contracts.js';
import type { DatasetEntry, ResolvedConfig } from './config.js';
import { DistillGateError } from './errors.js';
import { applyFilters, type FilteredDataset } from './filtering.js';
import { sha256File, sha256Floats, writeFileAtomic } from './io.js';
import { loadPlugin, type BuiltinPlugins, type LoadedPlugin } from './plugins.js';
import { RESULT_SCHEMA_VERSION, type CheckError, type CheckResult, type DatasetReport, type StudentScore, type TransferResult } from './result.js';
import { overallVerdict, transferResult } from './verdicts.js';

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
}

/** Bump when the meaning of a cached entry changes, so old entries stop matching. */
const CACHE_FORMAT = 1;

/** One (dataset, seed) unit's scores: for every (trait, evaluator), the probe's and the control's. */
interface UnitScores {
  key: string;
  dataset: string;
  seed: number;
  report: DatasetReport;
  scores: { trait: string; evaluator: string; probe: StudentScore; control: StudentScore }[];
}

const quietLog: Logger = { info: () => {}, warn: () => {} };

/** Parses "i/n" (1 <= i <= n). */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) throw new DistillGateError(`--shard must be i/n with 1 <= i <= n, got "${text}"`);
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
  const traits = await Promise.all(config.traits.map((r) => loadPlugin(r, 'trait', config.dir, config.locate, builtins)));
  const evaluators = await Promise.all(config.evaluators.map((r) => loadPlugin(r, 'evaluator', config.dir, config.locate, builtins)));
  const filters = await Promise.all(config.filters.map((r) => loadPlugin(r, 'filter', config.dir, config.locate, builtins)));
  const controlGenerator =
    config.control.kind === 'generate' ? await loadPlugin(config.control.generator, 'generator', config.dir, config.locate, builtins) : undefined;
  const base = await loadModelAt(training, config.basePath, config, '/base/path');
  const out = config.training.outputs;
  if (out.end > base.outputDim) {
    throw new DistillGateError(`training.outputs [${out.start}, ${out.end}) exceeds the base model's ${base.outputDim} outputs`, config.locate('/training/outputs'));
  }
  const evaluations: { trait: LoadedPlugin<TraitPlugin<any>>; evaluator: LoadedPlugin<EvaluatorPlugin<any>>; probes: ProbeSet }[] = [];
  for (const t of traits) {
    let probes: ProbeSet;
    try {
      probes = await t.plugin.loadProbes({ options: t.options, configDir: config.dir, log });
    } catch (e) {
      throw asPluginError(e, t.plugin.name, config.locate(t.ref.pointer));
    }
    if (probes.inputDim !== base.inputDim) {
      throw new DistillGateError(`trait probes have ${probes.inputDim} inputs but the base model takes ${base.inputDim}`, { ...config.locate(t.ref.pointer), plugin: t.plugin.name });
    }
    const matching = evaluators.filter((e) => (e.ref as { traits?: string[] }).traits?.includes(t.plugin.name) ?? e.plugin.accepts.includes(t.plugin.probeKind));
    if (!matching.length) {
      throw new DistillGateError(`no evaluator scores trait "${t.plugin.name}" (probe kind ${t.plugin.probeKind})`, config.locate('/evaluators'), 'add an evaluator that accepts these probes, or list the trait in its "traits"');
    }
    for (const evaluator of matching) evaluations.push({ trait: t, evaluator, probes });
  }
  endPhase('loadMs');

  // ---- the units of work this job does
  const units = config.datasets.flatMap((entry, d) => config.seeds.map((seed, s) => ({ entry, d, seed, index: d * config.seeds.length + s })));
  const mine = opts.shard ? units.filter((u) => u.index % opts.shard!.count === opts.shard!.index - 1) : units;
  const plugin = (p: LoadedPlugin) => ({ name: p.plugin.name, version: p.plugin.version, options: p.options });
  // Hashed once: it keys the cache and is reported with the control data.
  const controlFileSha = config.control.kind === 'file' && existsSync(config.control.path) ? await sha256File(config.control.path) : undefined;
  const settingsKey = {
    format: CACHE_FORMAT,
    tool: opts.tool.version,
    backend: training.backend.name,
    base: base.sha256,
    control: config.control.kind === 'file' ? { file: controlFileSha ?? 'missing' } : plugin(controlGenerator!),
    filters: filters.map(plugin),
    training: config.training,
    evaluations: evaluations.map((e) => ({ trait: plugin(e.trait), evaluator: plugin(e.evaluator) })),
  };

  // ---- datasets: materialise, hash, look up the cache; read and filter only what must be trained
  const scores: UnitScores[] = [];
  const jobs: StudentJob[] = [];
  const pending: { unit: (typeof mine)[number]; key: string; probeJob: string; controlJob: string; report: DatasetReport }[] = [];
  const controls = new Map<string, { data: FilteredDataset; source: string; records: number; sha256: string; id: string }>();
  const controlSeedsQueued = new Set<string>();
  let hits = 0;
  for (const [d, entry] of config.datasets.entries()) {
    const seeds = mine.filter((u) => u.d === d);
    if (!seeds.length) continue;
    const pointer = `/datasets/${d}`;
    const materialised = await materialise(entry, pointer);
    const sha256 = await sha256File(entry.path);
    const keyed = seeds.map((u) => ({ unit: u, key: hashKey({ ...settingsKey, dataset: sha256, seed: u.seed }) }));
    const cached = opts.cacheDir ? await Promise.all(keyed.map((k) => readCache(opts.cacheDir!, k.key))) : keyed.map(() => undefined);
    const misses = keyed.filter((_, i) => !cached[i]);
    for (const c of cached) if (c) scores.push({ ...c, dataset: entry.name });
    hits += keyed.length - misses.length;
    if (!misses.length) {
      progress({ phase: 'data', message: `${entry.name}: all ${keyed.length} seed(s) found in the verdict cache` });
      continue;
    }
    progress({ phase: 'data', message: `reading and filtering ${entry.name}` });
    const raw = await training.readTensorDataset(entry.path);
    if (raw.inputDim !== base.inputDim) {
      throw new DistillGateError(`dataset records have ${raw.inputDim} inputs but the base model takes ${base.inputDim}`, { file: rel(entry.path) });
    }
    const filtered = applyFilters(raw, filters, config.dir, { file: rel(entry.path) });
    checkTrainable(filtered, config, rel(entry.path));

    let controlKey: string;
    if (config.control.kind === 'file') {
      if (!controls.has('file')) {
        const controlPath = config.control.path;
        const craw = await training.readTensorDataset(controlPath);
        const cf = applyFilters(craw, filters, config.dir, { file: rel(controlPath) });
        checkTrainable(cf, config, rel(controlPath));
        controls.set('file', { data: cf, records: craw.rows, sha256: controlFileSha!, source: rel(controlPath), id: 'control:file' });
      }
      controlKey = 'file';
    } else {
      const gen = controlGenerator!;
      // Prompt-matched control: the base labels exactly this dataset's inputs, so only the author differs.
      controlKey = `${sha256Floats(raw.inputs)}:${gen.plugin.name}:${JSON.stringify(gen.options)}`;
      if (!controls.has(controlKey)) {
        progress({ phase: 'control', message: `generating prompt-matched control data for ${entry.name} with the base` });
        let craw: TensorDataset;
        try {
          craw = await gen.plugin.complete({ options: gen.options, configDir: config.dir, log, model: base, dataset: raw });
        } catch (e) {
          throw asPluginError(e, gen.plugin.name, config.locate(config.control.generator.pointer));
        }
        const cf = applyFilters(craw, filters, config.dir, { file: `control for ${rel(entry.path)}` });
        checkTrainable(cf, config, `control for ${rel(entry.path)}`);
        const controlSha = sha256Floats(cf.dataset.inputs, cf.dataset.targets);
        controls.set(controlKey, {
          data: cf,
          source: `generated by the base with ${gen.plugin.name} on the dataset's inputs`,
          records: craw.rows,
          sha256: controlSha,
          id: `control:${controlSha.slice(0, 12)}`,
        });
      }
    }
    const c = controls.get(controlKey)!;
    const report: DatasetReport = {
      name: entry.name,
      path: rel(entry.path),
      sha256,
      materialised,
      records: raw.rows,
      recordsAfterFilters: filtered.dataset.rows,
      filters: filtered.counts,
      control: { source: c.source, records: c.records, recordsAfterFilters: c.data.dataset.rows, filters: c.data.counts, sha256: c.sha256 },
    };
    for (const { unit, key } of misses) {
      const probeJob = `probe:${entry.name}:${unit.seed}`;
      const controlJob = `${c.id}:${unit.seed}`;
      jobs.push({ id: probeJob, role: 'probe', seed: unit.seed, init: base, data: filtered.dataset, training: config.training });
      if (!controlSeedsQueued.has(controlJob)) {
        controlSeedsQueued.add(controlJob);
        jobs.push({ id: controlJob, role: 'control', seed: unit.seed, init: base, data: c.data.dataset, training: config.training });
      }
      pending.push({ unit, key, probeJob, controlJob, report });
    }
  }
  endPhase('dataMs');

  // ---- students
  if (jobs.length) {
    const nProbe = jobs.filter((j) => j.role === 'probe').length;
    progress({
      phase: 'train',
      message: `training ${jobs.length} students (${nProbe} probe, ${jobs.length - nProbe} control${hits ? `; ${hits} unit(s) from the cache` : ''}) on ${training.backend.name} with ${training.backend.workers} worker(s)`,
    });
  }
  const trained = jobs.length
    ? await training.trainStudents(jobs, (t) => progress({ phase: 'train', message: `training students ${t.jobsDone}/${t.jobsTotal}`, training: t }))
    : [];
  const studentById = new Map(trained.map((s) => [s.jobId, s]));
  endPhase('trainMs');

  // ---- evaluation of the fresh students; cache what was computed
  if (trained.length) progress({ phase: 'evaluate', message: `evaluating ${trained.length} students on ${traits.length} trait(s)` });
  const scoreCache = new Map<string, StudentScore>();
  const score = async (jobId: string, e: (typeof evaluations)[number], seed: number, role: 'probe' | 'control') => {
    const key = `${jobId}|${e.trait.plugin.name}|${e.evaluator.ref.pointer}`;
    const hit = scoreCache.get(key);
    if (hit) return hit;
    const student = studentById.get(jobId)!;
    let s;
    try {
      s = await e.evaluator.plugin.evaluate({ options: e.evaluator.options, configDir: config.dir, log, model: student.model, probes: e.probes, trait: e.trait.plugin.name });
    } catch (err) {
      throw asPluginError(err, e.evaluator.plugin.name, config.locate(e.evaluator.ref.pointer));
    }
    if (!s || !Number.isFinite(s.value) || !(s.stderr >= 0)) {
      throw new DistillGateError(`evaluator returned a malformed score (${JSON.stringify(s)})`, { ...config.locate(e.evaluator.ref.pointer), plugin: e.evaluator.plugin.name });
    }
    const result: StudentScore = { value: s.value, stderr: s.stderr, n: s.n, metric: s.metric, seed, role, lossHistory: student.lossHistory, trainMs: Math.round(student.ms) };
    scoreCache.set(key, result);
    return result;
  };
  // A plugin that fails on one evaluation is reported by name; every other (dataset, trait) result is kept.
  const errors: CheckError[] = [];
  const failed = new Set<string>();
  for (const p of pending) {
    const unitScores: UnitScores = { key: p.key, dataset: p.report.name, seed: p.unit.seed, report: p.report, scores: [] };
    for (const [k, e] of evaluations.entries()) {
      const id = `${p.report.name}|${k}`;
      if (failed.has(id)) continue;
      try {
        unitScores.scores[k] = {
          trait: e.trait.plugin.name,
          evaluator: e.evaluator.plugin.name,
          probe: await score(p.probeJob, e, p.unit.seed, 'probe'),
          control: await score(p.controlJob, e, p.unit.seed, 'control'),
        };
      } catch (err) {
        failed.add(id);
        const de = err as DistillGateError;
        errors.push({ plugin: e.evaluator.plugin.name, dataset: p.report.name, trait: e.trait.plugin.name, message: de.format?.() ?? String(err) });
      }
    }
    scores.push(unitScores);
    if (opts.cacheDir && unitScores.scores.filter(Boolean).length === evaluations.length) {
      await writeFileAtomic(join(opts.cacheDir, `${p.key}.json`), `${JSON.stringify(unitScores)}\n`);
    }
  }
  endPhase('evaluateMs');

  // ---- results per (dataset, trait, evaluator), in config and seed order
  const results: TransferResult[] = [];
  const reports: DatasetReport[] = [];
  const seedOrder = new Map(config.seeds.map((s, i) => [s, i]));
  for (const entry of config.datasets) {
    const unitsHere = scores.filter((u) => u.dataset === entry.name).sort((a, b) => seedOrder.get(a.seed)! - seedOrder.get(b.seed)!);
    if (!unitsHere.length) continue;
    reports.push({ ...unitsHere[0].report, name: entry.name });
    for (const [k, e] of evaluations.entries()) {
      if (failed.has(`${entry.name}|${k}`)) continue;
      const pick = (u: UnitScores) => u.scores[k];
      results.push(
        transferResult(
          { dataset: entry.name, trait: e.trait.plugin.name, evaluator: e.evaluator.plugin.name },
          unitsHere.map((u) => pick(u).probe),
          unitsHere.map((u) => pick(u).control),
          config.threshold,
          config.confidence,
        ),
      );
    }
  }
  const overall = overallVerdict(results, config.threshold, config.inconclusive);
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
    backend: training.backend,
    seeds: config.seeds,
    threshold: config.threshold,
    confidence: config.confidence,
    inconclusivePolicy: config.inconclusive,
    training: { ...config.training },
    versions: { node: process.version, ...training.versions },
    plugins,
    datasets: reports,
    results,
    timings,
    ...(errors.length ? { errors } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
    ...(opts.cacheDir ? { cache: { dir: relative(process.cwd(), opts.cacheDir) || opts.cacheDir, hits, misses: pending.length } } : {}),
  };

  async function materialise(entry: DatasetEntry, pointer: string): Promise<boolean> {
    if (existsSync(entry.path)) return false;
    if (!entry.recipe) {
      throw new DistillGateError(`dataset file not found: ${rel(entry.path)}`, entry.fromCommandLine ? {} : config.locate(`${pointer}/path`));
    }
    progress({ phase: 'data', message: `materialising ${entry.name} from its recipe` });
    const gen = await loadPlugin(entry.recipe.generator, 'generator', config.dir, config.locate, builtins);
    const model = await loadModelAt(training, entry.recipe.modelPath, config, `${pointer}/recipe/model/path`);
    let generated: TensorDataset;
    try {
      generated = await gen.plugin.generate({ options: gen.options, configDir: config.dir, log, model, seed: entry.recipe.seed });
    } catch (e) {
      throw asPluginError(e, gen.plugin.name, config.locate(entry.recipe.generator.pointer));
    }
    await training.writeTensorDataset(entry.path, generated);
    return true;
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

async function loadModelAt(training: TrainingCore, path: string, config: ResolvedConfig, pointer: string): Promise<ModelHandle> {
  if (!existsSync(path)) throw new DistillGateError(`model file not found: ${relative(config.dir, path)}`, config.locate(pointer));
  return training.loadModel(path);
}

function checkTrainable(f: FilteredDataset, config: ResolvedConfig, where: string): void {
  const width = config.training.outputs.end - config.training.outputs.start;
  if (f.dataset.rows === 0) throw new DistillGateError('every record was dropped by the filters; nothing to train on', { file: where });
  if (f.dataset.targetDim !== width) {
    throw new DistillGateError(
      `after filtering, records carry ${f.dataset.targetDim} target values but training.outputs spans ${width} outputs`,
      { file: where },
      'check the filters (e.g. one that keeps only auxiliary outputs) and training.outputs',
    );
  }
}

function asPluginError(e: unknown, plugin: string, where: object): DistillGateError {
  if (e instanceof DistillGateError) return new DistillGateError(e.message, { ...where, ...e.location, plugin }, e.hint);
  return new DistillGateError(`plugin failed: ${(e as Error)?.message ?? String(e)}`, { ...where, plugin });
}
