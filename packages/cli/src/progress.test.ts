import { describe, expect, it } from 'vitest';
import { createProgressReporter } from './progress.js';

function sink() {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  return { lines, stream };
}

const training = (done: number, total: number) => ({
  phase: 'train' as const,
  message: 'training',
  training: { jobId: 'probe:numbers:1', completedSteps: done, totalSteps: total, jobsDone: done, jobsTotal: total },
});

describe('progress reporter (plain lines)', () => {
  it('prints training deciles again for every training phase, as in each look of a sequential check', () => {
    const { lines, stream } = sink();
    const r = createProgressReporter(stream);
    for (const look of [1, 2]) {
      r.update({ phase: 'data', message: `look ${look}/2: reading the data` });
      for (let i = 0; i <= 10; i++) r.update(training(i, 10));
    }
    const trainingLines = lines.filter((l) => / training \d+% /.test(l));
    expect(trainingLines).toHaveLength(22);
    expect(trainingLines[11]).toMatch(/training 0% \(0\/10 students done\)/);
    expect(lines.filter((l) => /look 2\/2: reading the data/.test(l))).toHaveLength(1);
  });
});
