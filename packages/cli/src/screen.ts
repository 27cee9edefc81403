/**
 * `distill-gate screen [datasets...]`: row scores without training for the config's text datasets, calibrated on
 * their control data; reports (screen.json, screen.md, screen.sarif, screen.html, screen-rows.jsonl) in the report
 * folder, and optionally a cleaned copy of each dataset without its flagged rows.
 */
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  checkCommandOptions,
  formatRowScores,
  loadConfig,
  runScreen,
  settingOverrides,
  writeScreenReports,
  type ResolvedConfig,
  type RunSettingValues,
  type ScreenResult,
  type CliSettingKey,
  type TrainingCore,
  type CheckOptions,
} from '@distill-gate/core';
import { createTrainingCore } from '@distill-gate/train';
import { builtinPlugins } from './builtins.js';
import { createProgressReporter } from './progress.js';
import { VERSION } from './version.js';
import { commanderOption, progressOptions } from './program.js';

type Output = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

/** The `check` settings a screen reads. */
const SCREEN_SETTINGS: CliSettingKey[] = [
  'config',
  'backend',
  'inference',
  'badRecords',
  'maxRecords',
  'reportDir',
  'json',
  'progress',
];

export interface ScreenCommandOptions extends Partial<Pick<RunSettingValues, CliSettingKey>> {
  config: string;
  cleaned?: string;
  rows?: number;
  falseFlagRate?: number;
  alarm?: 'annotate' | 'fail';
}

/** The config with the command line's screen settings over its "screen". */
function withScreenFlags(config: ResolvedConfig, opts: ScreenCommandOptions): ResolvedConfig {
  if (opts.rows !== undefined) config.screen.rows = opts.rows;
  if (opts.falseFlagRate !== undefined) config.screen.falseFlagRate = opts.falseFlagRate;
  if (opts.alarm !== undefined) config.screen.alarm = opts.alarm;
  return config;
}

/** Screens with a training core of the caller's (check's first stage) or one of its own. */
export async function screen(
  datasets: string[],
  opts: ScreenCommandOptions,
  io = { stderr: process.stderr },
  shared?: { config: ResolvedConfig; training: TrainingCore; controls: CheckOptions['controls'] },
): Promise<{ result: ScreenResult; reportPath: string }> {
  const config =
    shared?.config ??
    withScreenFlags(
      await loadConfig(opts.config, {
        datasets,
        ...settingOverrides(opts),
      }),
      opts,
    );
  const training =
    shared?.training ?? (await createTrainingCore({ backend: config.backend, inference: config.inference }));
  const progress = createProgressReporter(io.stderr, opts.progress !== false, progressOptions(opts));
  try {
    const result = await runScreen({
      config,
      training,
      tool: { name: 'distill-gate', version: VERSION },
      builtinPlugins,
      ...(shared?.controls ? { controls: shared.controls } : {}),
      rowsFile: join(config.reportDir, 'screen-rows.jsonl'),
      ...(opts.cleaned ? { cleanedDir: resolve(opts.cleaned) } : {}),
      onProgress: (p) => progress.update(p),
      log: {
        info: (m) => progress.update({ phase: 'data', message: m }),
        warn: (m) => io.stderr.write(`warning: ${m}\n`),
      },
    });
    const reportPath = await writeScreenReports(result, config.reportDir, config.dir);
    return { result, reportPath };
  } finally {
    progress.done();
    if (!shared) await training.dispose();
  }
}

/** The terminal's view of a screen: per dataset and score, the flagged share and the test; then the top rows. */
export function formatScreenTable(r: ScreenResult): string {
  const lines = [`distill-gate screen: ${r.alarm ? 'ALARM' : 'no alarm'}. ${r.summary}.`, r.note, ''];
  for (const d of r.datasets) {
    lines.push(
      `${d.name}: ${d.flagged} of ${d.recordsAfterFilters} kept rows flagged (${(100 * d.share).toFixed(1)}%; ` +
        `at most ${(100 * r.falseFlagRate).toFixed(1)}% of clean rows would be)${d.alarm ? '  ALARM' : ''}`,
    );
    for (const s of d.scores)
      lines.push(
        `  ${s.kind === 'trait-shift' ? 'trait shift' : 'teacher - base'}: mean ${s.mean.toFixed(4)} nats/token ` +
          `(control ${s.controlMean.toFixed(4)}), flagged ${s.flagged}, Mann-Whitney p = ` +
          `${s.test.pValue < 1e-4 ? s.test.pValue.toExponential(1) : s.test.pValue.toFixed(4)}` +
          `${s.test.alarm ? ' (alarm)' : ''}`,
      );
    for (const x of d.rows.filter((y) => y.flagged).slice(0, 5))
      lines.push(`  line ${x.line}: ${formatRowScores(x)}  ${JSON.stringify(x.completion.slice(0, 60))}`);
    if (d.cleaned) lines.push(`  cleaned copy: ${d.cleaned.path} (${d.cleaned.dropped} flagged rows dropped)`);
  }
  for (const s of r.skipped) lines.push(`${s.name}: not screened (${s.reason})`);
  return `${lines.join('\n')}\n`;
}

function rateArg(v: string): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x <= 0 || x > 0.5)
    throw new InvalidArgumentError(`must be a number in (0, 0.5], got "${v}"`);
  return x;
}

export function screenCommand(program: Command, out: Output, exit: { code: number }): void {
  const command = program
    .command('screen')
    .description(
      "score every row of the config's text datasets without training (trait likelihood shift on the base, " +
        'teacher-minus-base log-probs), flag rows above cut-offs calibrated on the control data',
    )
    .argument('[datasets...]', 'dataset files to screen (default: the datasets the config names)');
  for (const o of checkCommandOptions().filter((o) => SCREEN_SETTINGS.includes(o.key)))
    command.addOption(commanderOption(o));
  command
    .option('--cleaned <dir>', 'write a copy of each dataset without its flagged rows into <dir>')
    .addOption(
      new Option('--rows <n>', 'top rows listed per dataset (config screen.rows; default 10)').argParser((v) => {
        if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`must be an integer >= 0, got "${v}"`);
        return Number(v);
      }),
    )
    .addOption(
      new Option('--false-flag-rate <rate>', 'per-row false-flag rate on clean rows (default 0.01)').argParser(rateArg),
    )
    .addOption(
      new Option('--alarm <policy>', 'annotate: report only (default); fail: exit 1 on a screening alarm').choices([
        'annotate',
        'fail',
      ]),
    )
    .addHelpText(
      'after',
      '\nA screen ranks rows; it does not measure transfer (check does).\n' +
        'Exit codes: 0 done (alarm or not, unless --alarm fail), 1 alarm with --alarm fail, 2 bad usage, config or ' +
        'input, 3 internal error.',
    )
    .action(async (datasets: string[], opts: ScreenCommandOptions) => {
      const { result, reportPath } = await screen(datasets, opts);
      if (opts.json) out.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else out.stdout.write(`${formatScreenTable(result)}report: ${reportPath}\n`);
      exit.code = result.exitCode;
    });
}
