import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  DistillGateError,
  isDistillGateError,
  loadConfig,
  parseSeeds,
  runCheck,
  writeFileAtomic,
  type CheckResult,
  type ConfigOverrides,
} from '@distill-gate/core';
import { createTrainingCore } from '@distill-gate/train';
import { createProgressReporter } from './progress.js';
import { formatResultTable } from './table.js';
import { VERSION } from './version.js';
import { builtinPlugins } from './builtins.js';


export interface CheckCommandOptions {
  config: string;
  seeds?: number[];
  threshold?: number;
  backend?: ConfigOverrides['backend'];
  reportDir?: string;
  inconclusive?: ConfigOverrides['inconclusive'];
  workers?: number;
  json?: boolean;
  progress?: boolean;
}

/** Runs `check` and returns the result (the CLI and the Action both call this). */
export async function check(datasets: string[], opts: CheckCommandOptions, io = { stderr: process.stderr }): Promise<{ result: CheckResult; reportPath: string }> {
  const config = await loadConfig(opts.config, {
    datasets,
    seeds: opts.seeds,
    threshold: opts.threshold,
    backend: opts.backend,
    reportDir: opts.reportDir,
    inconclusive: opts.inconclusive,
    workers: opts.workers,
  });
  const training = await createTrainingCore({ backend: config.backend, workers: config.workers });
  const progress = createProgressReporter(io.stderr, opts.progress !== false);
  try {
    const result = await runCheck({
      config,
      training,
      tool: { name: 'distill-gate', version: VERSION },
      builtinPlugins,
      onProgress: (p) => progress.update(p),
      log: { info: (m) => progress.update({ phase: 'data', message: m }), warn: (m) => io.stderr.write(`warning: ${m}\n`) },
    });
    const reportPath = join(config.reportDir, 'result.json');
    await writeFileAtomic(reportPath, `${JSON.stringify(result, null, 2)}\n`);
    return { result, reportPath };
  } finally {
    progress.done();
    await training.dispose();
  }
}

function intArg(name: string, min: number) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return Number(v);
  };
}

export function buildProgram(out: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = process): { program: Command; exitCode: () => number } {
  let code = 0;
  const program = new Command('distill-gate')
    .description('Stops synthetic datasets that transfer hidden traits (subliminal learning) from reaching model training.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.stdout.write(s), writeErr: (s) => out.stderr.write(s) });

  program
    .command('check')
    .description('train probe students on the datasets and control students on control data; fail when a trait transfers')
    .argument('[datasets...]', 'dataset files to check (default: the datasets the config names)')
    .option('-c, --config <path>', 'config file', 'distill-gate.config.json')
    .option('--seeds <n|list>', 'seed count (1..n) or comma-separated seeds', (v) => {
      try {
        return parseSeeds(v);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    })
    .option('--threshold <number>', 'largest acceptable transfer', (v) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
      return n;
    })
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']))
    .addOption(new Option('--inconclusive <policy>', 'exit code of an INCONCLUSIVE verdict').choices(['fail', 'pass', 'warn']))
    .option('--workers <n>', 'parallel training workers (default: cores)', intArg('--workers', 1))
    .option('--report-dir <dir>', 'where result.json is written (default: the config\'s reportDir)')
    .option('--json', 'print the JSON result on stdout instead of the table')
    .option('--no-progress', 'no progress output on stderr')
    .addHelpText('after', '\nExit codes: 0 PASS, 1 FAIL (transfer above threshold), 2 bad usage, config or input, 3 internal error.')
    .action(async (datasets: string[], opts: CheckCommandOptions) => {
      const { result, reportPath } = await check(datasets, opts);
      if (opts.json) out.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else out.stdout.write(`${formatResultTable(result, Boolean(out.stdout.isTTY))}\nreport: ${reportPath}\n`);
      if (result.verdict === 'INCONCLUSIVE' && result.inconclusivePolicy === 'warn') out.stderr.write('warning: the verdict is INCONCLUSIVE (policy: warn)\n');
      code = result.exitCode;
    });
  return { program, exitCode: () => code };
}

/** Entry point: parses argv, runs, returns the process exit code; never throws. */
export async function main(argv: string[], out: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = process): Promise<number> {
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
    if (process.env.DISTILL_GATE_DEBUG) out.stderr.write(`${(e as Error)?.stack}\n`);
    else out.stderr.write('(set DISTILL_GATE_DEBUG=1 to see the stack trace)\n');
    return 3;
  }
}
