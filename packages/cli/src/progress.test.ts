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

describe('progress reporter in GitHub Actions and without escapes', () => {
  it('folds each look into a ::group:: and closes the last one', () => {
    const { lines, stream } = sink();
    const groups: string[] = [];
    const r = createProgressReporter(stream, true, {
      groups: true,
      groupStream: { write: (s: string) => groups.push(s) },
    });
    r.update({ phase: 'data', message: 'look 1/2: reading the data' });
    r.update({ phase: 'data', message: 'look 1/2: training 3 students' });
    r.update({ phase: 'data', message: 'look 2/2: reading the data' });
    r.done();
    expect(groups).toEqual([
      '::group::distill-gate look 1/2\n',
      '::endgroup::\n',
      '::group::distill-gate look 2/2\n',
      '::endgroup::\n',
    ]);
    expect(lines).toHaveLength(3);
  });

  it('redraws a terminal line with spaces, not escape codes, under NO_COLOR', () => {
    const { lines, stream } = sink();
    (stream as { isTTY: boolean }).isTTY = true;
    const r = createProgressReporter(stream, true, { env: { NO_COLOR: '1' } });
    r.update(training(1, 4));
    r.update({ phase: 'data', message: 'evaluating' });
    r.done();
    expect(lines.join('')).not.toContain('\u001b');
    expect(lines.join('')).toContain('students 1/4');
  });

  it('with --verbose prints a line per finished student', () => {
    const { lines, stream } = sink();
    const r = createProgressReporter(stream, true, { verbose: true });
    for (let i = 0; i <= 20; i++) r.update(training(i, 20));
    expect(lines.filter((l) => / training \d+% /.test(l)).length).toBeGreaterThan(11);
  });
});
