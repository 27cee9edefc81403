import type { CheckProgress } from '@distill-gate/core';

/**
 * Progress on stderr. On a terminal: one line redrawn in place with a bar and an ETA. Otherwise (CI logs, pipes):
 * plain lines, one per phase and one per ~10% of training, so logs stay readable.
 */
export function createProgressReporter(stream: NodeJS.WriteStream = process.stderr, enabled = true) {
  const tty = Boolean(stream.isTTY);
  const started = Date.now();
  let trainStart = 0;
  let lastMessage = '';
  let lastDecile = -1;
  let drawn = false;
  let lastDraw = 0;
  let lastJobsDone = -1;
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
  const clear = () => {
    if (tty && drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    update(p: CheckProgress) {
      if (!enabled) return;
      if (p.training) {
        const t = p.training;
        trainStart ||= Date.now();
        const frac = t.totalSteps ? t.completedSteps / t.totalSteps : 0;
        const eta = frac > 0.02 ? Math.round(((Date.now() - trainStart) / 1000) * (1 / frac - 1)) : undefined;
        if (tty) {
          // Redraw at most 10 times a second, and whenever a student finishes.
          const now = Date.now();
          if (now - lastDraw < 100 && t.jobsDone === lastJobsDone && t.completedSteps < t.totalSteps) return;
          lastDraw = now;
          lastJobsDone = t.jobsDone;
          const width = 24;
          const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
          stream.write(
            `\r\x1b[2K[${bar}] ${(frac * 100).toFixed(0)}% students ${t.jobsDone}/${t.jobsTotal}` +
              (eta !== undefined ? `, ~${eta}s left` : ''),
          );
          drawn = true;
        } else {
          const decile = Math.floor(frac * 10);
          if (decile > lastDecile) {
            lastDecile = decile;
            stream.write(
              `[${elapsed()}] training ${(frac * 100).toFixed(0)}% (${t.jobsDone}/${t.jobsTotal} students done` +
                `${eta !== undefined ? `, ~${eta}s left` : ''})\n`,
            );
          }
        }
        return;
      }
      // Any other phase ends a training phase: the next one (the next look of a sequential check) starts its own
      // deciles and ETA.
      [trainStart, lastDecile, lastJobsDone] = [0, -1, -1];
      if (p.message === lastMessage) return;
      lastMessage = p.message;
      clear();
      stream.write(`[${elapsed()}] ${p.message}\n`);
    },
    done() {
      clear();
    },
  };
}
