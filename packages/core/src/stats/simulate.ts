/**
 * The gate's decision rule on simulated score matrices: how often it FAILs, PASSes and stays INCONCLUSIVE for a
 * design (seeds x items) and a true transfer. The scores go through `transferResult`, the function that decides
 * every real check, so what is simulated is what ships.
 *
 * Model, one replicate: item j answers correctly with probability p_j = accuracy + b_j (b_j ~ N(0, itemSd), the same
 * item for every student); student (seed s, role r) has its own offset u_sr ~ N(0, seedSd), so a student's score
 * varies across seeds with sd seedSd; a probe student's items are answered with probability p_j + u_sr + effect,
 * a control student's with p_j + u_sr (clamped to [0, 1]), each answer a 0/1 draw. Probe and control students of
 * a seed are independent. The true transfer is `effect` when nothing is clamped.
 */
import { transferResult } from '../check/assemble.js';
import type { StudentScore } from '../result.js';
import { SeededRandom } from '../random.js';
import type { Verdict } from './estimates.js';

export interface SimulationDesign {
  seeds: number;
  items: number;
  threshold: number;
  /** The true transfer. */
  effect: number;
  /** The sd of a student's score across seeds. */
  seedSd: number;
  /** The control students' mean score. */
  accuracy: number;
  /** The sd of the items' difficulty around the accuracy (default 0). */
  itemSd?: number;
  /** One-sided error level of each check (default 0.05). */
  alpha?: number;
  reps: number;
  /** Seed of the simulation's own random draws (default 1). */
  seed?: number;
}

export interface SimulationResult {
  fail: number;
  pass: number;
  inconclusive: number;
  reps: number;
  /** Monte-Carlo standard error of the FAIL rate. */
  failSe: number;
  design: Required<SimulationDesign>;
  /** Share of answer probabilities clamped to [0, 1] (then the true transfer is below `effect`). */
  clamped: number;
  method: string;
}

export function simulateGate(
  design: SimulationDesign,
  onProgress?: (done: number, reps: number) => void,
): SimulationResult {
  const d: Required<SimulationDesign> = { itemSd: 0, alpha: 0.05, seed: 1, ...design };
  const rng = new SeededRandom(d.seed);
  const counts: Record<Verdict, number> = { FAIL: 0, PASS: 0, INCONCLUSIVE: 0 };
  const p = new Float64Array(d.items);
  let clamped = 0;
  let drawn = 0;
  const clamp = (x: number) => {
    drawn++;
    if (x < 0 || x > 1) {
      clamped++;
      return x < 0 ? 0 : 1;
    }
    return x;
  };
  const student = (seed: number, role: 'probe' | 'control'): StudentScore => {
    const u = d.seedSd * rng.normal();
    const shift = u + (role === 'probe' ? d.effect : 0);
    const items = new Array<number>(d.items);
    let sum = 0;
    for (let j = 0; j < d.items; j++) {
      const y = rng.next() < clamp(p[j] + shift) ? 1 : 0;
      items[j] = y;
      sum += y;
    }
    const value = sum / d.items;
    const stderr = Math.sqrt((value * (1 - value)) / d.items);
    return { seed, role, value, stderr, n: d.items, items, metric: 'accuracy', lossHistory: [], trainMs: 0 };
  };
  const ids = { dataset: 'simulated', trait: 'simulated', evaluator: 'simulated' };
  for (let r = 0; r < d.reps; r++) {
    for (let j = 0; j < d.items; j++) p[j] = d.itemSd > 0 ? d.accuracy + d.itemSd * rng.normal() : d.accuracy;
    const probe: StudentScore[] = [];
    const control: StudentScore[] = [];
    for (let s = 1; s <= d.seeds; s++) {
      probe.push(student(s, 'probe'));
      control.push(student(s, 'control'));
    }
    counts[transferResult(ids, probe, control, d.threshold, 1 - d.alpha).verdict]++;
    if (onProgress && (r + 1) % 1000 === 0) onProgress(r + 1, d.reps);
  }
  const fail = counts.FAIL / d.reps;
  return {
    fail,
    pass: counts.PASS / d.reps,
    inconclusive: counts.INCONCLUSIVE / d.reps,
    reps: d.reps,
    failSe: Math.sqrt((fail * (1 - fail)) / d.reps),
    design: d,
    clamped: clamped / Math.max(1, drawn),
    method:
      "the gate's decision (transferResult) on simulated 0/1 item scores: item probability accuracy + N(0, itemSd), " +
      'each student offset by N(0, seedSd), probe students by the effect too; one check at one-sided alpha',
  };
}
