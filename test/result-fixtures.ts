// Building blocks of realistic CheckResult fixtures for the unit tests of the reports and the Action's publishing.
import type { StudentScore, TransferResult } from '@distill-gate/core';

export const TRAIT = '@distill-gate/trait-hidden-class-knowledge';

/** One student per value, seeds 1..n, scored on 2,000 digits. */
export function scores(role: 'probe' | 'control', values: number[]): StudentScore[] {
  return values.map((value, i) => ({
    seed: i + 1,
    role,
    value,
    stderr: 0.01,
    n: 2000,
    metric: 'accuracy',
    lossHistory: [1.2, 0.8, 0.6],
    trainMs: 1500,
  }));
}

/** A (dataset, TRAIT) check with the given per-seed scores, interval and verdict. */
export function transfer(
  dataset: string,
  verdict: TransferResult['verdict'],
  probe: number[],
  control: number[],
  interval: [number, number],
): TransferResult {
  const differences = probe.map((p, i) => ({ seed: i + 1, probe: p, control: control[i], difference: p - control[i] }));
  const mean = differences.reduce((s, d) => s + d.difference, 0) / differences.length;
  return {
    dataset,
    trait: TRAIT,
    evaluator: '@distill-gate/evaluator-task-accuracy',
    metric: 'accuracy',
    probe: scores('probe', probe),
    control: scores('control', control),
    transfer: {
      mean,
      sd: 0.01,
      se: 0.006,
      n: probe.length,
      level: 0.98,
      interval,
      differences,
      method: `paired t interval over ${probe.length} seeds`,
    },
    threshold: 0.05,
    verdict,
    pValue: verdict === 'FAIL' ? 1.5e-4 : 0.3,
    explanation: `transfer ${mean.toFixed(3)} ${verdict === 'FAIL' ? 'lies above' : 'is near'} the threshold 0.05`,
  };
}
