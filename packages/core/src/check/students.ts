/**
 * The students stage of a check: for each dataset, the (dataset, seed) units the verdict cache does not hold are
 * turned into student jobs (probe, control, cross-base and placebo students, each control trained once per seed),
 * then trained seed by seed by the training core.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isTextDataset, type Dataset, type StudentJob, type TrainedStudent } from '../contracts.js';
import { DistillGateError } from '../errors.js';
import { refuseIrregular, sha256File, sha256Floats, sha256Table, writeFileAtomic } from '../io.js';
import {
  hashKey,
  readCache,
  readStudentScore,
  settingsKey,
  studentScoreKey,
  type CachedScore,
  type Unit,
  type UnitScores,
} from './cache.js';
import type { CheckContext } from './context.js';
import { controlFor, datasetReport, materialise, readAndFilter, type ControlData } from './data.js';
import type { DatasetEntry } from '../config/load.js';
import type { CheckInputs, Evaluation } from './inputs.js';
import type { DatasetReport } from '../result.js';

/** A unit whose students are queued: the job ids its scores will come from. */
export interface PendingUnit {
  unit: Unit;
  key: string;
  probeJob: string;
  controlJob: string;
  placeboJobs: string[];
  report: DatasetReport;
}

export interface StudentWork {
  /** Units found in the verdict cache. */
  cached: UnitScores[];
  pending: PendingUnit[];
  jobs: StudentJob[];
  /** The seed of the unit each job belongs to (a placebo student trains with a seed of its own). */
  unitSeed?: Map<string, number>;
  /**
   * Jobs not queued because another job trains the same student (same base, data, seed and settings), by the id
   * of that job: e.g. a dataset the base wrote itself, whose prompt-matched control is the same data.
   */
  sameAs?: Map<string, string>;
  /** What decides each job's student (base, data, seed and training settings), by job id: the student cache's key. */
  studentKeys?: Map<string, string>;
  /**
   * Students not trained because the student cache holds all their scores, by the id of the job that would have
   * trained them; with `cachedScores`, those scores by scoreKey.
   */
  fromCache?: Set<string>;
  cachedScores?: Map<string, CachedScore>;
}

/** The job that trains a job's student: the job itself, or the one it shares a student with. */
export const trainingJob = (work: Pick<StudentWork, 'sameAs'>, jobId: string): string =>
  work.sameAs?.get(jobId) ?? jobId;

/** One student's score on one evaluation under one system prompt, by the job that trains the student. */
export const scoreKey = (trainingJobId: string, e: Evaluation, systemPrompt: string | undefined): string =>
  `${trainingJobId}|${e.trait.plugin.name}|${e.evaluator.ref.pointer}|${systemPrompt ?? ''}`;

/** The job id of a student trained from the cross base on the same data as `jobId`. */
export const crossJob = (jobId: string) => `cross-base:${jobId}`;

/** Looks every unit up in the cache; reads, filters and controls only the datasets with misses, and queues jobs. */
export async function planStudents(
  ctx: CheckContext,
  inputs: CheckInputs,
  mine: Unit[],
  opts: { tool: { version: string }; cacheDir?: string; controls?: Map<string, ControlData> },
): Promise<StudentWork> {
  const { config } = ctx;
  // Hashed once: it keys the cache and is reported with the control data. A FIFO or device would never end.
  if (config.control.kind === 'file') refuseIrregular(config.control.path, 'the control file');
  const controlFileSha =
    config.control.kind === 'file' && existsSync(config.control.path)
      ? await sha256File(config.control.path)
      : undefined;
  const settings = settingsKey(ctx, inputs, opts.tool, controlFileSha);
  const work: StudentWork = { cached: [], pending: [], jobs: [] };
  work.unitSeed ??= new Map();
  work.sameAs ??= new Map();
  work.studentKeys ??= new Map();
  const queue = new JobQueue(work, config.training, inputs);
  const controls = opts.controls ?? new Map<string, ControlData>();
  const files = new Map<string, DatasetFile>();
  for (const [d, entry] of config.datasets.entries()) {
    const seeds = mine.filter((u) => u.d === d);
    if (!seeds.length) continue;
    // A dataset checked under several probe configurations is materialised, hashed, read and filtered once.
    const file = files.get(entry.path) ?? (await datasetFile(ctx, entry));
    files.set(entry.path, file);
    const { materialised, sha256 } = file;
    const probe = entry.probe && { training: entry.probe.training, systemPrompt: entry.probe.systemPrompt };
    const keyed = seeds.map((unit) => ({
      unit,
      key: hashKey({ ...settings, dataset: sha256, seed: unit.seed, ...(probe ? { probe } : {}) }),
    }));
    const lookups = opts.cacheDir
      ? await Promise.all(keyed.map((k) => readCache(opts.cacheDir!, k.key)))
      : keyed.map(() => ({ missing: true }) as const);
    const cached = lookups.map((l, i) => {
      if ('corrupt' in l)
        ctx.log.warn(
          `verdict cache entry ${keyed[i].key}.json (${entry.name}, seed ${keyed[i].unit.seed}) ${l.corrupt}: ` +
            'ignored; the seed is done again (its students trained unless the student cache holds their scores) and ' +
            'its entry rewritten once scored',
        );
      return 'entry' in l ? l.entry : undefined;
    });
    const misses = keyed.filter((_, i) => !cached[i]);
    for (const c of cached) if (c) work.cached.push({ ...c, dataset: entry.name });
    if (!misses.length) {
      ctx.progress({ phase: 'data', message: `${entry.name}: all ${keyed.length} seed(s) found in the verdict cache` });
      continue;
    }
    ctx.progress({ phase: 'data', message: `reading and filtering ${entry.name}` });
    file.data ??= await readAndFilter(ctx, inputs, entry.path);
    const data = file.data;
    const control = await controlFor(ctx, inputs, controls, entry, data.raw, controlFileSha);
    const report = datasetReport(ctx, inputs.base, entry, { sha256, materialised }, data, control);
    for (const { unit, key } of misses)
      work.pending.push({ unit, key, report, ...queue.add(entry, unit.seed, data.filtered.dataset, control) });
  }
  if (opts.cacheDir) await reuseStudentScores(ctx, inputs, work, opts.cacheDir, opts.tool);
  return work;
}

/** The jobs whose students a pending unit is scored on. */
export function unitJobs(p: PendingUnit, cross: boolean): string[] {
  return [p.probeJob, p.controlJob, ...p.placeboJobs, ...(cross ? [p.probeJob, p.controlJob].map(crossJob) : [])];
}

/**
 * Takes out of the queue every student whose scores on every evaluation, under every system prompt its units are
 * evaluated under, are in the student cache; the scorer uses the cached scores. A unit whose dataset changed then
 * trains only its own students: its control students, which it shares with the datasets that did not change, were
 * scored before.
 */
async function reuseStudentScores(
  ctx: CheckContext,
  inputs: CheckInputs,
  work: StudentWork,
  cacheDir: string,
  tool: { version: string },
): Promise<void> {
  const prompts = new Map<string, Set<string | undefined>>();
  for (const p of work.pending) {
    for (const id of unitJobs(p, inputs.crossBase !== undefined)) {
      const job = trainingJob(work, id);
      prompts.set(job, (prompts.get(job) ?? new Set()).add(p.unit.entry.probe?.systemPrompt));
    }
  }
  work.fromCache = new Set();
  work.cachedScores = new Map();
  const kept: StudentJob[] = [];
  for (const job of work.jobs) {
    const found = new Map<string, CachedScore>();
    for (const systemPrompt of prompts.get(job.id) ?? [undefined]) {
      for (const e of inputs.evaluations) {
        const key = studentScoreKey(ctx, tool, work.studentKeys!.get(job.id)!, e, systemPrompt);
        const lookup = await readStudentScore(cacheDir, key);
        if ('corrupt' in lookup)
          ctx.log.warn(`student cache entry students/${key}.json (${job.id}) ${lookup.corrupt}: ignored`);
        if ('entry' in lookup) found.set(scoreKey(job.id, e, systemPrompt), lookup.entry.score);
      }
    }
    if (found.size === inputs.evaluations.length * (prompts.get(job.id)?.size ?? 1)) {
      work.fromCache.add(job.id);
      for (const [k, v] of found) work.cachedScores.set(k, v);
    } else kept.push(job);
  }
  work.jobs.splice(0, work.jobs.length, ...kept);
}

interface DatasetFile {
  materialised: boolean;
  sha256: string;
  data?: Awaited<ReturnType<typeof readAndFilter>>;
}

async function datasetFile(ctx: CheckContext, entry: DatasetEntry): Promise<DatasetFile> {
  return { materialised: await materialise(ctx, entry, entry.pointer), sha256: await sha256File(entry.path) };
}

/**
 * The training seed of placebo student j (1..K) of a seed: its own, so that even when the base writes the same
 * placebo data as the control (a deterministic generator) the placebo transfers hold the training noise of a
 * student that differs from its control student in everything but the data's origin. Paired-by-seed probe and
 * control students share more than that, so the null is, if anything, wider than the probe's: the placebo p-value
 * is conservative.
 */
export function placeboSeed(seed: number, j: number): number {
  return seed + 100003 * j;
}

/**
 * Student jobs in the order they are queued; a control student is queued once per (control data, training settings,
 * seed), and probe configurations that train alike (they differ only in how students are evaluated) share students.
 */
class JobQueue {
  private readonly queued = new Set<string>();
  /** The job that trains each student, by what decides the student: base, data, seed and training settings. */
  private readonly byStudent = new Map<string, string>();

  private readonly jobs: StudentJob[];
  private readonly unitSeed: Map<string, number>;
  private readonly sameAs: Map<string, string>;
  private readonly studentKeys: Map<string, string>;

  constructor(
    work: StudentWork,
    private readonly training: StudentJob['training'],
    private readonly inputs: CheckInputs,
  ) {
    this.jobs = work.jobs;
    this.unitSeed = work.unitSeed!;
    this.sameAs = work.sameAs!;
    this.studentKeys = work.studentKeys!;
  }

  add(entry: DatasetEntry, seed: number, data: Dataset, c: ControlData) {
    const { crossBase } = this.inputs;
    const training = entry.probe?.training ?? this.training;
    // With probe configurations, job ids carry the training settings' hash: alike settings, one student.
    const tag = entry.probe ? `:${hashKey(training).slice(0, 8)}` : '';
    const probeJob = `probe:${entry.dataset ?? entry.name}${tag}:${seed}`;
    const controlJob = `${c.id}${tag}:${seed}`;
    const placeboJobs = c.placebos.map((p) => `${p.id}${tag}:${seed}`);
    for (const id of [probeJob, controlJob, ...placeboJobs]) this.unitSeed.set(id, seed);
    for (const id of [probeJob, controlJob]) this.unitSeed.set(crossJob(id), seed);
    this.push(probeJob, 'probe', seed, data, training);
    this.push(controlJob, 'control', seed, c.data.dataset, training);
    if (crossBase) this.push(crossJob(controlJob), 'control', seed, c.data.dataset, training, crossBase);
    c.placebos.forEach((p, j) =>
      this.push(placeboJobs[j], 'control', placeboSeed(seed, j + 1), p.data.dataset, training),
    );
    if (crossBase) this.push(crossJob(probeJob), 'probe', seed, data, training, crossBase);
    return { probeJob, controlJob, placeboJobs };
  }

  private push(
    id: string,
    role: StudentJob['role'],
    seed: number,
    data: Dataset,
    training: StudentJob['training'],
    init = this.inputs.base,
  ) {
    if (this.queued.has(id)) return;
    this.queued.add(id);
    // Training is deterministic in these, so a second job with the same ones would train the same student again.
    const base = { sha256: init.sha256, family: init.family, modelType: init.modelType ?? null };
    const student = hashKey({ base, seed, training, data: trainingDataHash(data) });
    this.studentKeys.set(id, student);
    const same = this.byStudent.get(student);
    if (same !== undefined) {
      this.sameAs.set(id, same);
      return;
    }
    this.byStudent.set(student, id);
    this.jobs.push({ id, role, seed, init, data, training });
  }
}

const dataHashes = new WeakMap<Dataset, string>();

/**
 * sha256 of everything in a dataset that training reads (the training core does not read its metadata): the tensors
 * with their shapes, or each text record's prompt, completion, chat messages, tokens and soft targets. Computed once
 * per dataset.
 */
export function trainingDataHash(ds: Dataset): string {
  let h = dataHashes.get(ds);
  if (h === undefined) {
    h = isTextDataset(ds)
      ? hashKey(
          ds.records.map((r) => [r.prompt, r.completion, r.messages ?? null, r.tokens ?? null, r.logprobs ?? null]),
        )
      : hashKey([ds.rows, ds.inputDim, ds.targetDim, sha256Table(ds.inputs), sha256Floats(ds.targets)]);
    dataHashes.set(ds, h);
  }
  return h;
}

/**
 * Trains the queued students seed by seed, so that a time budget that stops the run leaves whole seeds of every
 * dataset trained. Returns the students by job id; jobs that did not start before the deadline are absent.
 */
export async function trainStudents(
  ctx: CheckContext,
  work: StudentWork,
  startedAt: Date,
): Promise<Map<string, TrainedStudent>> {
  const { config, training } = ctx;
  const { jobs } = work;
  const reused = work.fromCache?.size ?? 0;
  if (!jobs.length) {
    if (reused) ctx.progress({ phase: 'train', message: `all ${reused} students' scores found in the student cache` });
    return new Map();
  }
  const nProbe = jobs.filter((j) => j.role === 'probe').length;
  const hits = work.cached.length;
  // Jobs sharing a student that is trained here (not one whose scores came from the student cache).
  const queued = new Set(jobs.map((j) => j.id));
  const shared = [...(work.sameAs ?? [])].filter(([, trainer]) => queued.has(trainer)).length;
  const engine = training.backend.training?.engine === 'onnxruntime' ? 'onnxruntime-node' : training.backend.name;
  ctx.progress({
    phase: 'train',
    message:
      `training ${jobs.length} students (${nProbe} probe, ${jobs.length - nProbe} control` +
      `${shared ? `; ${shared} more the same as one of these, trained once` : ''}` +
      `${hits ? `; ${hits} unit(s) from the cache` : ''}` +
      `${reused ? `; ${reused} student(s) scored before, from the student cache` : ''}) on ${engine} with ` +
      `${training.backend.workers} worker(s)`,
  });
  // Seed by seed, in the config's order: a time budget then cuts whole seeds. A placebo student trains with a seed
  // of its own but belongs to its unit's seed.
  const seedRank = new Map(config.seeds.map((s, i) => [s, i]));
  const rank = (j: StudentJob) => seedRank.get(work.unitSeed?.get(j.id) ?? j.seed) ?? Number.MAX_SAFE_INTEGER;
  jobs.sort((a, b) => rank(a) - rank(b));
  const deadline = config.maxMinutes !== undefined ? startedAt.getTime() + config.maxMinutes * 60_000 : undefined;
  const trained = await training.trainStudents(
    jobs,
    (t) => ctx.progress({ phase: 'train', message: `training students ${t.jobsDone}/${t.jobsTotal}`, training: t }),
    deadline !== undefined ? { deadline } : undefined,
  );
  const students = new Map(trained.map((s) => [s.jobId, s]));
  for (const [id, same] of work.sameAs ?? []) {
    const student = students.get(same);
    if (student) students.set(id, student);
  }
  return students;
}

/**
 * Writes each trained student as `<job id>.onnx` (characters other than letters, digits, `.`, `_` and `-` become
 * `_`) and an index, students.json, giving each file's job, role, seed, base, sha256 and loss history, and the
 * jobs that shared the student (`sameStudentFor`).
 */
export async function saveStudents(
  dir: string,
  jobs: StudentJob[],
  students: Map<string, TrainedStudent>,
  sameAs: Map<string, string> = new Map(),
): Promise<{ dir: string; count: number }> {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const index = [];
  // Each student once, with the jobs that shared it.
  for (const s of new Set(students.values())) {
    const shared = [...sameAs].filter(([id, same]) => same === s.jobId && students.has(id)).map(([id]) => id);
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
      ...(shared.length ? { sameStudentFor: shared } : {}),
    });
  }
  await writeFileAtomic(join(dir, 'students.json'), `${JSON.stringify(index, null, 2)}\n`);
  return { dir: relative(process.cwd(), dir) || dir, count: index.length };
}
