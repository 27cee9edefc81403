import { relative, resolve } from 'node:path';
import * as core from '@actions/core';
import {
  datasetPathFromCwd,
  formatMarkdown,
  formatRowScores,
  formatScreenMarkdown,
  type CheckResult,
  type ScreenResult,
} from '@distill-gate/core';

/** Writes the outputs, the job summary and the annotations for a finished check. */
export async function publish(result: CheckResult, reportPath: string, cwd: string): Promise<void> {
  const worst = [...result.results].sort((a, b) => b.transfer.mean - a.transfer.mean)[0];
  core.setOutput('verdict', result.verdict);
  core.setOutput('max-transfer', worst ? String(worst.transfer.mean) : '');
  core.setOutput('max-transfer-low', worst ? String(worst.transfer.interval[0]) : '');
  core.setOutput('max-transfer-high', worst ? String(worst.transfer.interval[1]) : '');
  core.setOutput('report-path', relative(cwd, reportPath) || reportPath);
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(formatMarkdown(result)).write();
  for (const r of result.results) {
    if (r.verdict === 'PASS') continue;
    const props = {
      file: datasetPathFromCwd(result, r.dataset, cwd),
      title: `distill-gate: ${r.verdict} (${r.trait})`,
    };
    const text = `${r.dataset}: ${r.explanation}.`;
    if (r.verdict === 'FAIL') core.error(text, props);
    else core.warning(text, props);
  }
}

/**
 * The screen on the pull request: each flagged row it lists is a warning annotation at its line of the JSONL file (at
 * most SCREEN_ANNOTATIONS, the highest-scoring first per dataset; GitHub shows only a few per step), and the job
 * summary gets the screen's table of scores and top rows.
 */
export const SCREEN_ANNOTATIONS = 10;

export async function publishScreen(screen: ScreenResult, configDir: string, cwd: string): Promise<void> {
  let left = SCREEN_ANNOTATIONS;
  for (const d of screen.datasets) {
    const file = relative(cwd, resolve(configDir, d.path)) || d.path;
    for (const row of d.rows.filter((r) => r.flagged)) {
      if (left-- <= 0) break;
      core.warning(
        `${d.name}: row flagged by the screen (nats per token): ${formatRowScores(row)}. A screen ranks rows; the ` +
          'check measures transfer.',
        { file, startLine: row.line, title: 'distill-gate screen: flagged row' },
      );
    }
  }
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(formatScreenMarkdown(screen)).write();
}

/** Publishes a finished check, fails the step unless it passed, and returns the exit code. */
export async function finish(
  result: CheckResult,
  reportPath: string,
  cwd: string,
  screen?: { result: ScreenResult; configDir: string },
): Promise<number> {
  // The check's annotations first: GitHub shows a limited number per step, and the verdict's come before the rows'.
  await publish(result, reportPath, cwd);
  if (screen) await publishScreen(screen.result, screen.configDir, cwd);
  core.info(`${result.verdict}: ${result.summary}`);
  if (result.exitCode !== 0) core.setFailed(`distill-gate ${result.verdict}: ${result.summary}.`);
  else if (result.verdict === 'INCONCLUSIVE')
    core.warning(`distill-gate is INCONCLUSIVE (policy ${result.inconclusivePolicy}): ${result.summary}.`);
  return result.exitCode;
}

/** A pull request that changed no dataset the config names: PASS, nothing checked. Returns the exit code (0). */
export async function passNothingChanged(env: NodeJS.ProcessEnv): Promise<number> {
  core.setOutput('verdict', 'PASS');
  core.setOutput('max-transfer', '');
  if (env.GITHUB_STEP_SUMMARY)
    await core.summary
      .addRaw(
        '## distill-gate: ✅ PASS\n\nNo dataset named by the config changed in this pull request; nothing to check.\n',
      )
      .write();
  core.info('no dataset changed in this pull request: nothing to check');
  return 0;
}

/** Merge mode without partial results: the shard jobs found no changed dataset. Returns the exit code (0). */
export async function passWithoutPartials(patterns: string[]): Promise<number> {
  // Shard jobs write no partial result when the pull request changed no dataset: nothing was checked.
  core.notice(`no partial result matches ${patterns.join(', ')}: the shard jobs found no changed dataset to check`);
  core.setOutput('verdict', 'PASS');
  if (process.env.GITHUB_STEP_SUMMARY)
    await core.summary
      .addRaw(
        '## distill-gate: ✅ PASS\n\nNo shard produced a partial result: no dataset named by the config changed; ' +
          'nothing to check.\n',
      )
      .write();
  return 0;
}
