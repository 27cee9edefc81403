import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type {
  EvaluatorPlugin,
  FilterPlugin,
  GeneratorPlugin,
  Logger,
  ModelHandle,
  ProbeSet,
  StudentJob,
  TensorDataset,
  TraitPlugin,
  TrainedStudent,
  TrainingCore,
  TrainingProgress,
} from './contracts.js';
import type { ResolvedConfig } from './config.js';
import { DistillGateError } from './errors.js';
import { applyFilters, type FilteredDataset } from './filtering.js';
import { sha256File, sha256Floats } from './io.js';
import { loadPlugin, type BuiltinPlugins, type LoadedPlugin } from './plugins.js';
import { RESULT_SCHEMA_VERSION, type CheckResult, type DatasetReport, type StudentScore, type TransferResult } from './result.js';
import { decideVerdict, pairedTransfer, type Verdict } from './stats.js';

export type CheckPhase = 'load' | 'data' | 'control' | 'train' | 'evaluate' | 'verdict';

export interface CheckProgress {
  phase: CheckPhase;
  message: string;
  training?: TrainingProgress;
}

export interface CheckOptions {
  config: ResolvedConfig;
  training: TrainingCore;
  tool: { name: string; version: string };
  log?: Logger;
  onProgress?: (p: CheckProgress) => void;
  /** Plugins shipped with the caller (CLI, Action), found by package name without node_modules. */
  builtinPlugins?: BuiltinPlugins;
}

interface PreparedDataset {
  report: DatasetReport;
  filtered: FilteredDataset;
  controlKey: string;
}

const quietLog: Logger = { info: () => {}, warn: () => {} };

/**
 * `distill-gate check`: filter each dataset, train probe students (shared base) on it and control students (same
 * seeds) on control data, score both on every trait, and turn the paired differences into verdicts.
 */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const { config, training } = opts;
  const log = opts.log ?? quietLog;
  const progress = opts.onProgress ?? (() => {});
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
  const traits = await Promise.all(config.traits.map((r) => loadPlugin(r, 'trait', config.dir, config.locate, opts.builtinPlugins)));
  const evaluators = await Promise.all(config.evaluators.map((r) => loadPlugin(r, 'evaluator', config.dir, config.locate, opts.builtinPlugins)));
  const filters = await Promise.all(config.filters.map((r) => loadPlugin(r, 'filter', config.dir, config.locate, opts.builtinPlugins)));
  const controlGenerator =
    config.control.kind === 'generate' ? await loadPlugin(config.control.generator, 'generator', config.dir, config.locate, opts.builtinPlugins) : undefined;
  const base = await loadModelAt(training, config.basePath, config, '/base/path');
  const out = config.training.outputs;
  if (out.end > base.outputDim) {
    throw new DistillGateError(`training.outputs [${out.start}, ${out.end}) exceeds the base model's ${base.outputDim} outputs`, config.locate('/training/outputs'));
  }

  const probesByTrait = new Map<string, ProbeSet>();
  const traitEvaluators = new Map<string, LoadedPlugin<EvaluatorPlugin<any>>[]>();
  for (const t of traits) {
    const ctx = { options: t.options, configDir: config.dir, log };
    let probes: ProbeSet;
    try {
      probes = await t.plugin.loadProbes(ctx);
    } catch (e) {
      throw asPluginError(e, t.plugin.name, config.locate(t.ref.pointer));
    }
    if (probes.inputDim !== base.inputDim) {
      throw new DistillGateError(`trait probes have ${probes.inputDim} inputs but the base model takes ${base.inputDim}`, { ...config.locate(t.ref.pointer), plugin: t.plugin.name });
    }
    probesByTrait.set(t.plugin.name, probes);
    const matching = evaluators.filter((e) => (e.ref as { traits?: string[] }).traits?.includes(t.plugin.name) ?? e.plugin.accepts.includes(t.plugin.probeKind));
    if (!matching.length) {
      throw new DistillGateError(`no evaluator scores trait "${t.plugin.name}" (probe kind ${t.plugin.probeKind})`, config.locate('/evaluators'), 'add an evaluator that accepts these probes, or list the trait in its "traits"');
    }
    traitEvaluators.set(t.plugin.name, matching);
  }
  endPhase('loadMs');

  // ---- datasets, filters, control data
  const prepared: PreparedDataset[] = [];
  const controls = new Map<string, { data: FilteredDataset; source: string; records: number; sha256: string }>();
  let fileControl: { data: FilteredDataset; records: number; sha256: string } | undefined;
  for (const [i, entry] of config.datasets.entries()) {
    const pointer = `/datasets/${i}`;
    let materialised = false;
    if (!existsSync(entry.path)) {
      if (!entry.recipe) {
        throw new DistillGateError(`dataset file not found: ${rel(entry.path)}`, entry.fromCommandLine ? {} : config.locate(`${pointer}/path`));
      }
      progress({ phase: 'data', message: `materialising ${entry.name} from its recipe` });
      const gen = await loadPlugin(entry.recipe.generator, 'generator', config.dir, config.locate, opts.builtinPlugins);
      const model = await loadModelAt(training, entry.recipe.modelPath, config, `${pointer}/recipe/model/path`);
      let generated: TensorDataset;
      try {
        generated = await gen.plugin.generate({ options: gen.options, configDir: config.dir, log, model, seed: entry.recipe.seed });
      } catch (e) {
        throw asPluginError(e, gen.plugin.name, config.locate(entry.recipe.generator.pointer));
      }
      await training.writeTensorDataset(entry.path, generated);
      materialised = true;
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
      if (!fileControl) {
        const controlPath = config.control.path;
        const craw = await training.readTensorDataset(controlPath);
        const cf = applyFilters(craw, filters, config.dir, { file: rel(controlPath) });
        checkTrainable(cf, config, rel(controlPath));
        fileControl = { data: cf, records: craw.rows, sha256: await sha256File(controlPath) };
        controls.set('file', { ...fileControl, source: rel(controlPath) });
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
        controls.set(controlKey, { data: cf, source: `generated by the base with ${gen.plugin.name} on the dataset's inputs`, records: craw.rows, sha256: sha256Floats(cf.dataset.inputs, cf.dataset.targets) });
      }
    }
    const c = controls.get(controlKey)!;
    prepared.push({
      filtered,
      controlKey,
      report: {
        name: entry.name,
        path: rel(entry.path),
        sha256: await sha256File(entry.path),
        materialised,
        records: raw.rows,
        recordsAfterFilters: filtered.dataset.rows,
        filters: filtered.counts,
        control: { source: c.source, records: c.records, recordsAfterFilters: c.data.dataset.rows, filters: c.data.counts, sha256: c.sha256 },
      },
    });
  }
  endPhase('dataMs');

  // ---- students
  const jobs: StudentJob[] = [];
  for (const p of prepared) {
    for (const seed of config.seeds) {
      jobs.push({ id: `probe:${p.report.name}:${seed}`, role: 'probe', seed, init: base, data: p.filtered.dataset, training: config.training });
    }
  }
  const controlIds = new Map<string, string>();
  [...controls.keys()].forEach((key, k) => controlIds.set(key, `control:${k}`));
  for (const [key, c] of controls) {
    for (const seed of config.seeds) {
      jobs.push({ id: `${controlIds.get(key)}:${seed}`, role: 'control', seed, init: base, data: c.data.dataset, training: config.training });
    }
  }
  progress({ phase: 'train', message: `training ${jobs.length} students (${prepared.length} dataset(s) x ${config.seeds.length} seeds + ${controls.size} control set(s)) on ${training.backend.name} with ${training.backend.workers} worker(s)` });
  const trained = await training.trainStudents(jobs, (t) => progress({ phase: 'train', message: `training students ${t.jobsDone}/${t.jobsTotal}`, training: t }));
  const studentById = new Map<string, TrainedStudent>(trained.map((s) => [s.jobId, s]));
  endPhase('trainMs');

  // ---- evaluation
  progress({ phase: 'evaluate', message: `evaluating ${trained.length} students on ${traits.length} trait(s)` });
  const scoreCache = new Map<string, StudentScore>();
  const score = async (jobId: string, trait: LoadedPlugin<TraitPlugin<any>>, ev: LoadedPlugin<EvaluatorPlugin<any>>, seed: number, role: 'probe' | 'control') => {
    const key = `${jobId}|${trait.plugin.name}|${ev.ref.pointer}`;
    const hit = scoreCache.get(key);
    if (hit) return hit;
    const student = studentById.get(jobId)!;
    let s;
    try {
      s = await ev.plugin.evaluate({ options: ev.options, configDir: config.dir, log, model: student.model, probes: probesByTrait.get(trait.plugin.name)!, trait: trait.plugin.name });
    } catch (e) {
      throw asPluginError(e, ev.plugin.name, config.locate(ev.ref.pointer));
    }
    if (!s || !Number.isFinite(s.value) || !(s.stderr >= 0)) {
      throw new DistillGateError(`evaluator returned a malformed score (${JSON.stringify(s)})`, { ...config.locate(ev.ref.pointer), plugin: ev.plugin.name });
    }
    const result: StudentScore = { ...s, seed, role, lossHistory: student.lossHistory, trainMs: Math.round(student.ms) };
    scoreCache.set(key, result);
    return result;
  };
  const results: TransferResult[] = [];
  for (const p of prepared) {
    for (const t of traits) {
      for (const ev of traitEvaluators.get(t.plugin.name)!) {
        const probe: StudentScore[] = [];
        const control: StudentScore[] = [];
        for (const seed of config.seeds) {
          probe.push(await score(`probe:${p.report.name}:${seed}`, t, ev, seed, 'probe'));
          control.push(await score(`${controlIds.get(p.controlKey)}:${seed}`, t, ev, seed, 'control'));
        }
        const estimate = pairedTransfer(
          config.seeds.map((seed, k) => ({ seed, probe: probe[k].value, control: control[k].value })),
          config.confidence,
        );
        const decision = decideVerdict(estimate, config.threshold);
        results.push({
          dataset: p.report.name,
          trait: t.plugin.name,
          evaluator: ev.plugin.name,
          metric: probe[0]?.metric ?? '',
          probe,
          control,
          transfer: {
            mean: estimate.mean,
            sd: estimate.sd,
            se: estimate.se,
            n: estimate.n,
            level: estimate.level,
            interval: [estimate.low, estimate.high],
            differences: estimate.differences,
            method: estimate.method,
          },
          threshold: config.threshold,
          verdict: decision.verdict,
          pValue: decision.pValue,
          explanation: decision.explanation,
        });
      }
    }
  }
  endPhase('evaluateMs');

  // ---- overall verdict
  const verdicts = results.map((r) => r.verdict);
  const verdict: Verdict = verdicts.includes('FAIL') ? 'FAIL' : verdicts.includes('INCONCLUSIVE') ? 'INCONCLUSIVE' : 'PASS';
  const exitCode = verdict === 'FAIL' || (verdict === 'INCONCLUSIVE' && config.inconclusive === 'fail') ? 1 : 0;
  const failed = results.filter((r) => r.verdict === 'FAIL');
  const summary =
    verdict === 'FAIL'
      ? `${failed.length} of ${results.length} dataset x trait check(s) transfer above the threshold ${config.threshold}: ${failed.map((r) => `${r.dataset} (${r.trait}, transfer ${r.transfer.mean.toFixed(3)})`).join(', ')}`
      : verdict === 'PASS'
        ? `all ${results.length} dataset x trait check(s) transfer below the threshold ${config.threshold}`
        : `${verdicts.filter((v) => v === 'INCONCLUSIVE').length} check(s) inconclusive at threshold ${config.threshold} (policy: ${config.inconclusive})`;
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
    verdict,
    exitCode,
    summary,
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
    datasets: prepared.map((p) => p.report),
    results,
    timings,
  };
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
