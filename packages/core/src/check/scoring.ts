/**
 * The scoring stage of a check: every fresh student is scored by every (trait, evaluator) pair, each student once;
 * a unit whose every evaluation succeeded is written to the verdict cache. An evaluator that fails on one evaluation
 * is reported by name and its (dataset, trait) result is dropped; every other result is kept.
 */
import { itemsProblem, type TrainedStudent } from '../contracts.js';
import { DistillGateError } from '../errors.js';
import type { CheckError, StudentScore } from '../result.js';
import { studentScoreKey, writeCache, writeStudentScore, type CachedScore, type UnitScores } from './cache.js';
import type { CheckContext } from './context.js';
import type { CheckInputs, Evaluation } from './inputs.js';
import { crossJob, scoreKey, trainingJob, unitJobs, type PendingUnit, type StudentWork } from './students.js';
import type { ProbeConfig } from '../config/load.js';
import { withSystemPrompt } from '../data/text-generation.js';

export interface Scored {
  units: UnitScores[];
  errors: CheckError[];
  /** "dataset|evaluation index" of the evaluations that failed. */
  failed: Set<string>;
  /** Units whose students did not start before the time budget ran out. */
  unitsCut: number;
}

/** The cache folder, and the tool's version for the student cache's keys. */
export interface ScoreCache {
  dir: string;
  tool: { version: string };
}

export async function scoreUnits(
  ctx: CheckContext,
  inputs: CheckInputs,
  work: Pick<StudentWork, 'pending' | 'sameAs' | 'studentKeys' | 'fromCache' | 'cachedScores'>,
  students: Map<string, TrainedStudent>,
  cache: ScoreCache | undefined,
): Promise<Scored> {
  const { evaluations } = inputs;
  const { pending } = work;
  const cross = inputs.crossBase !== undefined;
  // Jobs that shared a student share it here too: each student is evaluated once.
  const distinct = new Set(students.values()).size;
  if (distinct)
    ctx.progress({
      phase: 'evaluate',
      message: `evaluating ${distinct} students on ${inputs.traits.length} trait(s)`,
    });
  const scorer = new StudentScorer(ctx, students, work, cache);
  const out: Scored = { units: [], errors: [], failed: new Set(), unitsCut: 0 };
  for (const p of pending) {
    const needed = unitJobs(p, cross);
    if (!needed.every((id) => students.has(id) || work.fromCache?.has(trainingJob(work, id)))) {
      out.unitsCut++; // its students did not start before the time budget ran out
      continue;
    }
    const unit: UnitScores = { key: p.key, dataset: p.report.name, seed: p.unit.seed, report: p.report, scores: [] };
    for (const [k, e] of evaluations.entries()) {
      const id = `${p.report.name}|${k}`;
      if (out.failed.has(id)) continue;
      try {
        unit.scores[k] = await scorer.unitScores(p, e, cross);
      } catch (err) {
        out.failed.add(id);
        out.errors.push({
          plugin: e.evaluator.plugin.name,
          dataset: p.report.name,
          trait: e.trait.plugin.name,
          message: (err as DistillGateError).format?.() ?? String(err),
        });
      }
    }
    out.units.push(unit);
    if (cache && unit.scores.filter(Boolean).length === evaluations.length) await writeCache(cache.dir, unit);
  }
  return out;
}

/**
 * Scores students, each (student, evaluation) once, and checks what the evaluator returns. A student the student
 * cache held is not trained; its cached scores are used. Fresh scores are written to the student cache.
 */
class StudentScorer {
  private readonly done = new Map<string, CachedScore>();

  constructor(
    private readonly ctx: CheckContext,
    private readonly students: Map<string, TrainedStudent>,
    private readonly work: Pick<StudentWork, 'sameAs' | 'studentKeys' | 'cachedScores'>,
    private readonly cache: ScoreCache | undefined,
  ) {}

  async unitScores(p: PendingUnit, e: Evaluation, cross: boolean): Promise<UnitScores['scores'][number]> {
    const seed = p.unit.seed;
    // A probe configuration's system prompt: probe and control students alike are evaluated under it.
    const probe = p.unit.entry.probe;
    const score = (jobId: string, role: 'probe' | 'control') => this.score(jobId, e, seed, role, probe);
    return {
      trait: e.trait.plugin.name,
      evaluator: e.evaluator.plugin.name,
      probe: await score(p.probeJob, 'probe'),
      control: await score(p.controlJob, 'control'),
      ...(cross
        ? {
            crossProbe: await score(crossJob(p.probeJob), 'probe'),
            crossControl: await score(crossJob(p.controlJob), 'control'),
          }
        : {}),
      ...(p.placeboJobs.length ? { placebo: await Promise.all(p.placeboJobs.map((id) => score(id, 'control'))) } : {}),
    };
  }

  private async score(
    jobId: string,
    e: Evaluation,
    seed: number,
    role: 'probe' | 'control',
    probe: ProbeConfig | undefined,
  ): Promise<StudentScore> {
    const systemPrompt = probe?.systemPrompt;
    // By the job that trains the student: a job that shares another's student shares its scores too.
    const trainer = trainingJob(this.work, jobId);
    const key = scoreKey(trainer, e, systemPrompt);
    const hit = this.done.get(key) ?? this.work.cachedScores?.get(key);
    if (hit) return { ...hit, seed, role };
    const student = this.students.get(jobId)!;
    const { driver, config } = this.ctx;
    const model =
      systemPrompt === undefined
        ? student.model
        : withSystemPrompt(student.model, systemPrompt, config.locate(`${probe!.pointer}/systemPrompt`));
    const s = await driver.call(e.evaluator, (ev, context) =>
      ev.evaluate({ ...context, model, probes: e.probes, trait: e.trait.plugin.name }),
    );
    if (!s || !Number.isFinite(s.value) || !(s.stderr >= 0))
      throw new DistillGateError(
        `evaluator returned a malformed score (${JSON.stringify(s)})`,
        driver.where(e.evaluator),
      );
    const badItems = itemsProblem(s);
    if (badItems) {
      throw new DistillGateError(
        `evaluator returned items that are not ${s.n} finite per-item scores averaging to its value (${badItems})`,
        driver.where(e.evaluator),
      );
    }
    const result: CachedScore = {
      value: s.value,
      stderr: s.stderr,
      n: s.n,
      metric: s.metric,
      ...(s.details ? { details: s.details } : {}),
      ...(s.items ? { items: s.items } : {}),
      lossHistory: student.lossHistory,
      trainMs: Math.round(student.ms),
    };
    this.done.set(key, result);
    const studentKey = this.work.studentKeys?.get(trainer);
    if (this.cache && studentKey !== undefined)
      await writeStudentScore(
        this.cache.dir,
        studentScoreKey(this.ctx, this.cache.tool, studentKey, e, systemPrompt),
        result,
      );
    return { ...result, seed, role };
  }
}
