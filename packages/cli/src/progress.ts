import type { CheckProgress } from '@distill-gate/core';

export interface ProgressOptions {
  /** GitHub Actions: fold each look of the check into a `::group::` (markers written to `groupStream`). */
  groups?: boolean;
  groupStream?: { write(s: string): unknown };
  /** --verbose: in plain-line mode, a line per finished student instead of per ~10% of training. */
  verbose?: boolean;
  /** Environment (NO_COLOR, TERM): with NO_COLOR or TERM=dumb the redrawn line is cleared with spaces, no escapes. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Progress on stderr. On a terminal: one line redrawn in place with a bar and an ETA. Otherwise (CI logs, pipes):
 * plain lines, one per phase and one per ~10% of training, so logs stay readable; in GitHub Actions each look of
 * the check is a folded group.
 */
export function createProgressReporter(
  stream: NodeJS.WriteStream = process.stderr,
  enabled = true,
  options: ProgressOptions = {},
) {
  const tty = Boolean(stream.isTTY);
  const env = options.env ?? process.env;
  const noEscapes = (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb';
  let drawnWidth = 0;
  let group: string | undefined;
  const groupOut = options.groupStream ?? process.stdout;
  const endGroup = () => {
    if (group !== undefined) groupOut.write('::endgroup::\n');
    group = undefined;
  };
  const started = Date.now();
  let trainStart = 0;
  let lastMessage = '';
  let lastDecile = -1;
  let drawn = false;
  let lastDraw = 0;
  let lastJobsDone = -1;
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
  const clear = () => {
    if (tty && drawn) stream.write(noEscapes ? `\r${' '.repeat(drawnWidth)}\r` : '\r\x1b[2K');
    drawn = false;
  };
  const draw = (line: string) => {
    if (noEscapes) {
      stream.write(`\r${line.padEnd(drawnWidth)}`);
      drawnWidth = Math.max(drawnWidth, line.length);
    } else stream.write(`\r\x1b[2K${line}`);
    drawn = true;
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
          draw(
            `[${bar}] ${(frac * 100).toFixed(0)}% students ${t.jobsDone}/${t.jobsTotal}` +
              (eta !== undefined ? `, ~${eta}s left` : ''),
          );
        } else {
          // A line per ~10% of training; with --verbose, one more whenever a student finishes.
          const decile = Math.floor(frac * 10);
          const studentDone = options.verbose && t.jobsDone > lastJobsDone && lastJobsDone >= 0;
          if (decile > lastDecile || studentDone) {
            lastDecile = Math.max(decile, lastDecile);
            lastJobsDone = t.jobsDone;
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
      const look = /^(look \d+\/\d+):/.exec(p.message)?.[1];
      if (options.groups && look && look !== group) {
        endGroup();
        group = look;
        groupOut.write(`::group::distill-gate ${look}\n`);
      }
      stream.write(`[${elapsed()}] ${p.message}\n`);
    },
    done() {
      clear();
      endGroup();
    },
  };
}
