import { scoreCommand } from './score.js';
import { screen, screenCommand } from './screen.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  checkCommandOptions,
  DistillGateError,
  ensureWritableFolder,
  isDistillGateError,
  loadConfig,
  formatMarkdown,
  mergeResults,
  resultSummary,
  runSequentialCheck,
  settingOverrides,
  writeReports,
  type CheckResult,
  type ScreenResult,
  type CliOptionDescriptor,
  type CliSettingKey,
  type RunSettingValues,
  type ModelFormat,
  seedsForPower,
  simulateGate,
  type PowerPlan,
  type SimulationResult,
  type AnyPlugin,
} from '@distill-gate/core';
import { pathToFileURL } from 'node:url';
import { convertModel, createTrainingCore } from '@distill-gate/train';
import { defaultOptions, describePlugin, formatPluginList, pluginCatalog } from './plugin-catalog.js';
import { starterCommands } from './starter.js';
import { createProgressReporter } from './progress.js';
import { formatResultTable } from './table.js';
import { useColor } from './color.js';
import { VERSION } from './version.js';
import { builtinPlugins } from './builtins.js';

/** The options of `check` (the settings table's CLI settings) and the Action's changed-files filter. */
export interface CheckCommandOptions extends Partial<Pick<RunSettingValues, CliSettingKey>> {
  config: string;
  /** Keep only the config's datasets with these absolute paths (the Action's changed-files filter). */
  onlyDatasets?: string[];
  /** --verbose: a progress line per finished student. */
  verbose?: boolean;
}

/** How progress is shown: folded per look in GitHub Actions (unless stdout carries JSON), verbose on request. */
export function progressOptions(opts: { json?: boolean; verbose?: boolean }) {
  return { groups: process.env.GITHUB_ACTIONS === 'true' && !opts.json, verbose: opts.verbose === true };
}

/** Runs `check` and returns the result (the CLI and the Action both call this). */
export async function check(
  datasets: string[],
  opts: CheckCommandOptions,
  io = { stderr: process.stderr },
): Promise<{ result: CheckResult; reportPath: string; screen?: ScreenResult }> {
  const config = await loadConfig(opts.config, {
    datasets,
    onlyDatasets: opts.onlyDatasets,
    ...settingOverrides(opts),
  });
  if (opts.screen) config.screen.enabled = true;
  // A shard's exit is always 0 (the verdict is the merge's) and merge does not see the screen: an alarm that fails
  // the gate would make a sharded run and a single job disagree.
  if (opts.shard && config.screen.enabled && config.screen.alarm === 'fail')
    throw new DistillGateError(
      'a screening alarm cannot fail a sharded check (screen.alarm "fail" with --shard): the shards\' exit codes ' +
        'are provisional and merge does not see the screen',
      config.locate('/screen/alarm'),
      'run `distill-gate screen` once beside the shards, or set screen.alarm to "annotate"',
    );
  // The folders the run writes into are proved writable before any training.
  await ensureWritableFolder(config.reportDir, 'report', relative(process.cwd(), config.reportDir) || '.');
  if (config.cacheDir)
    await ensureWritableFolder(config.cacheDir, 'cache', relative(process.cwd(), config.cacheDir) || '.');
  const training = await createTrainingCore({
    backend: config.backend,
    inference: config.inference,
    trainer: config.trainer,
    workers: config.workers,
  });
  const progress = createProgressReporter(io.stderr, opts.progress !== false, progressOptions(opts));
  try {
    // The screen first (seconds to minutes): its reports land beside the check's, its alarm per the config's policy.
    // The control data the screen generates is the check's too: generated once, shared through this map.
    const controls = new Map();
    const screened = config.screen.enabled
      ? await screen(datasets, opts, io, { config, training, controls })
      : undefined;
    const checked = await runSequentialCheck({
      config,
      training,
      controls,
      tool: { name: 'distill-gate', version: VERSION },
      builtinPlugins,
      shard: opts.shard,
      cacheDir: config.cacheDir,
      ...(opts.saveStudents ? { saveStudentsDir: resolve(opts.saveStudents) } : {}),
      onProgress: (p) => progress.update(p),
      log: {
        info: (m) => progress.update({ phase: 'data', message: m }),
        warn: (m) => io.stderr.write(`warning: ${m}\n`),
      },
    });
    const result = screened ? withScreen(checked, screened.result) : checked;
    const reportPath = await writeReports(result, config.reportDir);
    return { result, reportPath, ...(screened ? { screen: screened.result } : {}) };
  } finally {
    progress.done();
    await training.dispose();
  }
}

/** The check's result with the screen's summary; an alarm fails the gate when the screen's policy says so. */
function withScreen(result: CheckResult, s: ScreenResult): CheckResult {
  const fails = s.alarm && s.alarmPolicy === 'fail';
  return {
    ...result,
    ...(fails && result.exitCode === 0
      ? { exitCode: 1, summary: `${result.summary}; the screening alarm fails the gate (screen.alarm "fail")` }
      : {}),
    screen: {
      alarm: s.alarm,
      policy: s.alarmPolicy,
      report: 'screen.md',
      datasets: s.datasets.map((d) => ({
        name: d.name,
        flagged: d.flagged,
        rows: d.recordsAfterFilters,
        alarm: d.alarm,
      })),
    },
  };
}

/** A plugin file's default export, with located errors. */
async function localPlugin(file: string): Promise<AnyPlugin> {
  if (!existsSync(file)) throw new DistillGateError('plugin file not found', { file: relative(process.cwd(), file) });
  let mod: { default?: AnyPlugin; plugin?: AnyPlugin };
  try {
    mod = (await import(pathToFileURL(file).href)) as typeof mod;
  } catch (e) {
    throw new DistillGateError(`cannot load plugin: ${(e as Error).message.split('\n')[0]}`, {
      file: relative(process.cwd(), file),
    });
  }
  const plugin = mod.default ?? mod.plugin;
  if (!plugin?.name || !plugin.kind)
    throw new DistillGateError('not a distill-gate plugin: no default export made with defineTrait/defineFilter/...', {
      file: relative(process.cwd(), file),
    });
  return plugin;
}

/** Reads a result (or partial result) JSON file written by check. */
export async function readResultFile(file: string): Promise<CheckResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DistillGateError(`cannot read partial result (${(e as NodeJS.ErrnoException).code ?? String(e)})`, {
      file,
    });
  }
  try {
    const r = JSON.parse(text) as CheckResult;
    if (!r || typeof r !== 'object' || !Array.isArray(r.results)) throw new Error('it holds no "results"');
    return r;
  } catch (e) {
    throw new DistillGateError(`not a distill-gate result: ${(e as Error).message}`, { file });
  }
}

function intArg(name: string, min: number) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return Number(v);
  };
}

function floatArg(name: string, v: string, min = -Infinity, max = Infinity): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x <= min || x >= max)
    throw new InvalidArgumentError(
      `${name} must be a number${Number.isFinite(min) ? ` in (${min}, ${max})` : ''}, got "${v}"`,
    );
  return x;
}

type Output = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

/** A commander option from a row of the settings table; a parse error becomes commander's "argument is invalid". */
export function commanderOption(d: CliOptionDescriptor): Option {
  const option = new Option(d.flags, d.description);
  if (d.choices) option.choices(d.choices);
  const parse = d.parse;
  if (parse)
    option.argParser((v: string) => {
      try {
        return parse(v);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    });
  if (d.default !== undefined) option.default(d.default);
  return option;
}

export function buildProgram(out: Output = process): { program: Command; exitCode: () => number } {
  const exit = { code: 0 };
  const program = new Command('distill-gate')
    .description(
      'Stops synthetic datasets that transfer hidden traits (subliminal learning) from reaching model training.',
    )
    .version(VERSION, '-v, --version', 'print the version')
    .option('-q, --quiet', 'no progress; print only the verdict line (and errors)')
    .option('--verbose', 'a progress line per finished student; stack traces for internal errors')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.stdout.write(s), writeErr: (s) => out.stderr.write(s) });
  checkCommand(program, out, exit);
  starterCommands(program, out, exit, (config) => check([], { config }));
  pluginsCommand(program, out);
  powerCommand(program, out);
  convertCommand(program, out);
  scoreCommand(program, out);
  screenCommand(program, out, exit);
  mergeCommand(program, out, exit);
  return { program, exitCode: () => exit.code };
}

/** `check`: its options are the settings table's (core's checkCommandOptions), in its order. */
function checkCommand(program: Command, out: Output, exit: { code: number }): void {
  const command = program
    .command('check')
    .description(
      'train probe students on the datasets and control students on control data; fail when a trait transfers',
    )
    .argument('[datasets...]', 'dataset files to check (default: the datasets the config names)');
  for (const o of checkCommandOptions()) command.addOption(commanderOption(o));
  command
    .addHelpText(
      'after',
      '\nExit codes: 0 PASS, 1 FAIL (transfer above threshold), 2 bad usage, config or input, 3 internal error.',
    )
    .action(async (datasets: string[], opts: CheckCommandOptions) => {
      const { quiet, verbose } = program.opts<{ quiet?: boolean; verbose?: boolean }>();
      if (quiet && verbose) throw new DistillGateError('--quiet and --verbose contradict each other: pass one');
      const { result, reportPath } = await check(datasets, {
        ...opts,
        ...(quiet ? { progress: false } : {}),
        verbose,
      });
      if (quiet && !opts.json) {
        out.stdout.write(`${result.verdict}: ${result.summary} (report: ${reportPath})\n`);
        exit.code = result.exitCode;
        return;
      }
      if (opts.json) out.stdout.write(`${JSON.stringify(resultSummary(result), null, 2)}\n`);
      else out.stdout.write(`${formatResultTable(result, useColor(out.stdout))}\nreport: ${reportPath}\n`);
      if (result.verdict === 'INCONCLUSIVE' && result.inconclusivePolicy === 'warn')
        out.stderr.write('warning: the verdict is INCONCLUSIVE (policy: warn)\n');
      exit.code = result.exitCode;
    });
}

function pluginsCommand(program: Command, out: Output): void {
  const plugins = program.command('plugins').description('the plugins distill-gate can use: built-in and installed');
  plugins
    .command('list')
    .description('list built-in plugins and installed packages with the "distill-gate-plugin" keyword')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const entries = await pluginCatalog(process.cwd());
      out.stdout.write(
        opts.json
          ? `${JSON.stringify(
              entries.map((e) => ({
                kind: e.plugin.kind,
                name: e.plugin.name,
                version: e.plugin.version,
                description: e.plugin.description,
                source: e.source,
                optionsSchema: e.plugin.optionsSchema,
                defaults: defaultOptions(e.plugin),
              })),
              null,
              2,
            )}\n`
          : `${formatPluginList(entries)}\n`,
      );
    });
  plugins
    .command('describe')
    .description("show a plugin's options schema, its defaults and how to use it in a config")
    .argument('<name>', 'plugin name (or the end of it, e.g. task-accuracy), or a plugin file (./my-trait.mjs)')
    .action(async (name: string) => {
      const entries = await pluginCatalog(process.cwd());
      if (name.startsWith('.') || isAbsolute(name)) {
        const plugin = await localPlugin(resolve(name));
        entries.push({ plugin, source: name });
        name = plugin.name;
      }
      out.stdout.write(`${describePlugin(entries, name)}\n`);
    });
}

function powerCommand(program: Command, out: Output): void {
  const atLeast = (name: string, min: number) => (v: string) => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || x < min)
      throw new InvalidArgumentError(`${name} must be a number >= ${min}, got "${v}"`);
    return x;
  };
  program
    .command('power')
    .description(
      'plan seeds: from the variance a finished run measured, the seeds each check needs to FAIL at --effect and to ' +
        "PASS a clean dataset; or, with --simulate, the gate's own decision on simulated scores for a design",
    )
    .argument('[result]', 'a result.json from check (its seeds and per-item scores give the variance)')
    .option('--effect <x>', 'the true transfer (default: twice the threshold; with --simulate: the threshold)', (v) =>
      floatArg('--effect', v),
    )
    .option('--power <p>', 'probability of reaching the verdict', (v) => floatArg('--power', v, 0, 1), 0.95)
    .option('--max-seeds <n>', 'largest seed count to consider', intArg('--max-seeds', 3), 1000)
    .option('--simulate', "run the gate's decision rule on simulated score matrices (no result file)")
    .option('--seeds <n>', 'simulate: paired seeds per check', intArg('--seeds', 1), 5)
    .option('--items <m>', 'simulate: evaluation items', intArg('--items', 2), 500)
    .option('--threshold <t>', 'simulate: the gate threshold', atLeast('--threshold', 0), 0.05)
    .option('--seed-sd <s>', "simulate: sd of a student's score across seeds", atLeast('--seed-sd', 0), 0.02)
    .option('--item-sd <s>', "simulate: sd of the items' difficulty", atLeast('--item-sd', 0), 0)
    .option('--accuracy <p>', "simulate: the control students' mean score", (v) => floatArg('--accuracy', v, 0, 1), 0.5)
    .option('--alpha <a>', 'simulate: one-sided error level of the check', (v) => floatArg('--alpha', v, 0, 0.5), 0.05)
    .option('--reps <r>', 'simulate: replicates', intArg('--reps', 1), 20000)
    .option('--random-seed <n>', "simulate: seed of the simulation's draws", intArg('--random-seed', 0), 1)
    .option('--json', 'print one JSON object')
    .action(async (file: string | undefined, opts: PowerOptions, command: Command) => {
      // A flag that the chosen mode does not read is a mistake, not a no-op.
      const given = (names: string[]) => names.filter((n) => command.getOptionValueSource(n) === 'cli');
      const simulateOnly = [
        'seeds',
        'items',
        'threshold',
        'seedSd',
        'itemSd',
        'accuracy',
        'alpha',
        'reps',
        'randomSeed',
      ];
      const unused = opts.simulate ? given(['power', 'maxSeeds']) : given(simulateOnly);
      if (unused.length) {
        const flags = unused.map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
        throw new DistillGateError(
          opts.simulate
            ? `${flags}: planning from a result only; --simulate reads --seeds, --items, --threshold, --effect, ...`
            : `${flags}: --simulate only; from a result, the run's own seeds, items and threshold are used`,
        );
      }
      if (opts.simulate) {
        if (file)
          throw new DistillGateError('power --simulate takes no result file: it simulates the design its flags give');
        const r = simulateGate({
          seeds: opts.seeds,
          items: opts.items,
          threshold: opts.threshold,
          effect: opts.effect ?? opts.threshold,
          seedSd: opts.seedSd,
          itemSd: opts.itemSd,
          accuracy: opts.accuracy,
          alpha: opts.alpha,
          reps: opts.reps,
          seed: opts.randomSeed,
        });
        const { design, ...rates } = r;
        out.stdout.write(opts.json ? `${JSON.stringify({ ...rates, ...design })}\n` : `${formatSimulation(r)}\n`);
        return;
      }
      if (!file)
        throw new DistillGateError(
          'power needs a result.json from check, or --simulate with a design (--seeds, --items, ...)',
        );
      const r = await readResultFile(file);
      if (opts.json) out.stdout.write(`${JSON.stringify(powerPlans(r, opts), null, 2)}\n`);
      else out.stdout.write(`${formatPowerTable(r, opts)}\n`);
    });
}

interface PowerOptions {
  effect?: number;
  power: number;
  maxSeeds: number;
  simulate?: boolean;
  seeds: number;
  items: number;
  threshold: number;
  seedSd: number;
  itemSd: number;
  accuracy: number;
  alpha: number;
  reps: number;
  randomSeed: number;
  json?: boolean;
}

/** The simulation as a sentence and three rates with their Monte-Carlo standard errors. */
export function formatSimulation(r: SimulationResult): string {
  const d = r.design;
  const rate = (x: number) =>
    `${(x * 100).toFixed(2)}% (± ${(Math.sqrt((x * (1 - x)) / r.reps) * 100 || 0).toFixed(2)})`;
  return [
    `${d.seeds} seeds x ${d.items} items, true transfer ${d.effect} against threshold ${d.threshold}, ` +
      `seed sd ${d.seedSd}, item sd ${d.itemSd}, accuracy ${d.accuracy}, one-sided alpha ${d.alpha}, ` +
      `${r.reps} replicates:`,
    `  FAIL          ${rate(r.fail)}`,
    `  PASS          ${rate(r.pass)}`,
    `  INCONCLUSIVE  ${rate(r.inconclusive)}`,
    ...(r.clamped > 0 ? [`  (${(r.clamped * 100).toFixed(2)}% of answer probabilities clamped to [0, 1])`] : []),
    `(Monte-Carlo standard errors in brackets; ${r.method})`,
  ].join('\n');
}

function convertCommand(program: Command, out: Output): void {
  program
    .command('convert')
    .description(
      'convert a model between formats: an MLP between safetensors and onnx, a language model between tfjs ' +
        '(model.json) and onnx; the output is read back and must hold exactly the same weights',
    )
    .argument('<model>', 'the model file to read')
    .argument('<output>', 'the file to write (its extension gives the format unless --to is given)')
    .addOption(
      new Option('--from <format>', 'the input format (default: from the extension)').choices([
        'safetensors',
        'tfjs',
        'onnx',
      ]),
    )
    .addOption(
      new Option('--to <format>', 'the output format (default: from the extension)').choices([
        'safetensors',
        'tfjs',
        'onnx',
      ]),
    )
    .option('--force', 'replace the output file if it exists')
    .action(async (model: string, output: string, opts: { from?: ModelFormat; to?: ModelFormat; force?: boolean }) => {
      const r = await convertModel(model, output, opts);
      out.stdout.write(
        `${output}: ${r.label} written as ${r.to} from ${r.from} ` +
          `(weights sha256 ${r.sha256.slice(0, 12)}, read back identical)\n`,
      );
    });
}

function mergeCommand(program: Command, out: Output, exit: { code: number }): void {
  program
    .command('merge')
    .description('combine the partial results of check --shard i/n into one verdict and one report')
    .argument('<partials...>', 'partial result files (partial-<i>-of-<n>.json)')
    .option('--report-dir <dir>', 'where the merged result.json is written', '.')
    .option('--json', 'print the JSON result on stdout instead of the table')
    .option('--markdown', 'print the markdown report on stdout instead of the table')
    .action(async (files: string[], opts: { reportDir: string; json?: boolean; markdown?: boolean }) => {
      const partials = await Promise.all(files.map((f) => readResultFile(f)));
      const result = mergeResults(partials);
      const reportPath = await writeReports(result, opts.reportDir);
      if (opts.json) out.stdout.write(`${JSON.stringify(resultSummary(result), null, 2)}\n`);
      else if (opts.markdown) out.stdout.write(formatMarkdown(result));
      else out.stdout.write(`${formatResultTable(result, useColor(out.stdout))}\nreport: ${reportPath}\n`);
      exit.code = result.exitCode;
    });
}

/**
 * The process entry (the bin): `main` on process.argv, with the exit-code contract kept when the output streams
 * fail. A reader that closes the pipe early (`distill-gate check | head`) is not an error: the rest of the output is
 * dropped and the exit code stays the verdict's. Any other failure to write standard output (a full disk, a closed
 * descriptor) would otherwise crash Node with a stack trace and exit 1, which reads as FAIL; it is exit 3.
 */
export async function runProcess(argv: string[] = process.argv): Promise<void> {
  let failed: NodeJS.ErrnoException | undefined;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || failed) return;
    failed = e;
    process.exitCode = 3;
    try {
      process.stderr.write(`distill-gate: internal error: cannot write standard output (${e.code ?? e.message})\n`);
    } catch {
      // stderr is gone too: the exit code is all that is left
    }
  });
  process.stderr.on('error', () => {});
  const code = await main(argv);
  process.exitCode = failed ? 3 : code;
}

/** Entry point: parses argv, runs, returns the process exit code; never throws. */
export async function main(argv: string[], out: Output = process): Promise<number> {
  const { program, exitCode } = buildProgram(out);
  try {
    await program.parseAsync(argv);
    return exitCode();
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isDistillGateError(e)) {
      out.stderr.write(`distill-gate: error: ${(e as DistillGateError).format()}\n`);
      return 2;
    }
    out.stderr.write(`distill-gate: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.env.DISTILL_GATE_DEBUG || program.opts().verbose) out.stderr.write(`${(e as Error)?.stack}\n`);
    else out.stderr.write('(run with --verbose or DISTILL_GATE_DEBUG=1 to see the stack trace)\n');
    return 3;
  }
}

/** One check's plan: seeds to FAIL at the effect and to PASS at zero transfer, under the gate's own rule. */
export interface CheckPowerPlan {
  dataset: string;
  trait: string;
  source: string;
  /** Fewer than 2 seeds: nothing to plan from. */
  unmeasured?: true;
  fail?: PowerPlan;
  pass?: PowerPlan;
}

/** The per-check plans of `power`, at the run's per-check one-sided level. */
export function powerPlans(
  r: CheckResult,
  opts: { effect?: number; power: number; maxSeeds: number },
): { alpha: number; effect: number; threshold: number; power: number; checks: CheckPowerPlan[] } {
  const alpha = 1 - (r.multiplicity?.perCheckConfidence ?? r.confidence);
  const effect = opts.effect ?? 2 * r.threshold;
  const checks = r.results.map((x): CheckPowerPlan => {
    const c = x.transfer.components;
    const v = c ?? { varSeeds: x.transfer.sd ** 2, varItems: 0, varResidual: 0, items: 1 };
    if (!Number.isFinite(v.varSeeds))
      return {
        dataset: x.dataset,
        trait: x.trait,
        source: 'fewer than 2 seeds: no variance measured',
        unmeasured: true,
      };
    const source = c ? `${c.seeds} seeds x ${c.items} items` : `${x.transfer.n} seeds (no per-item scores)`;
    return {
      dataset: x.dataset,
      trait: x.trait,
      source,
      ...(effect > r.threshold
        ? { fail: seedsForPower(v, effect, r.threshold, alpha, opts.power, opts.maxSeeds) }
        : {}),
      ...(r.threshold > 0 ? { pass: seedsForPower(v, 0, r.threshold, alpha, opts.power, opts.maxSeeds) } : {}),
    };
  });
  return { alpha, effect, threshold: r.threshold, power: opts.power, checks };
}

/** The `power` table: for each check, the seeds needed to FAIL at the effect and to PASS at zero transfer. */
export function formatPowerTable(r: CheckResult, opts: { effect?: number; power: number; maxSeeds: number }): string {
  const plans = powerPlans(r, opts);
  const lines = [
    `Seeds for ${Math.round(opts.power * 100)}% power at the run's per-check one-sided level ` +
      `alpha ${plans.alpha.toPrecision(2)}, threshold ${r.threshold} (the gate's own variance and degrees of freedom):`,
    '',
    `| dataset | trait | variance source | seeds to FAIL at transfer ${plans.effect} | seeds to PASS at transfer 0 |`,
    '|---|---|---|---|---|',
  ];
  const cell = (p: PowerPlan | undefined, none: string) =>
    !p
      ? none
      : p.seeds !== undefined
        ? `${p.seeds} (power ${p.power.toFixed(3)})`
        : `more than ${opts.maxSeeds}${p.itemsNeeded ? `; needs >= ${p.itemsNeeded} evaluation items` : ''} ` +
          `(power ${p.power.toFixed(3)} at ${opts.maxSeeds})`;
  for (const x of plans.checks) {
    if (x.unmeasured) {
      lines.push(`| ${x.dataset} | ${x.trait} | ${x.source} | - | - |`);
      continue;
    }
    lines.push(
      `| ${x.dataset} | ${x.trait} | ${x.source} | ${cell(x.fail, '- (effect not above the threshold)')} | ` +
        `${cell(x.pass, '-')} |`,
    );
  }
  lines.push(
    '',
    "The variance is the run's (seeds, and items when the evaluator gave per-item scores); " +
      'the effect itself grows with',
    'the number of trait-carrying records trained on, so plan on data like the data you will check.',
    'A verdict needs at least 3 seeds.',
  );
  return lines.join('\n');
}
