import { dirname, relative, resolve } from 'node:path';
import * as core from '@actions/core';
import { glob } from 'tinyglobby';
import { check, readResultFile, VERSION } from 'distill-gate';
import { isDistillGateError, mergeResults, writeReports, type DistillGateError } from '@distill-gate/core';
import { selectDatasets } from './datasets.js';
import { readInputs } from './inputs.js';
import { provideOnnxRuntime } from './onnxruntime.js';
import { finish, passNothingChanged, passWithoutPartials } from './publish.js';

/** The matrix's last job: combine the shards' partial results into one verdict and report. */
async function mergeMode(patterns: string[], reportDir: string, cwd: string): Promise<number> {
  const files = (await glob(patterns, { cwd, absolute: true, onlyFiles: true })).sort();
  if (!files.length) return passWithoutPartials(patterns);
  core.info(`merging ${files.length} partial result(s)`);
  const partials = await Promise.all(files.map((f) => readResultFile(f)));
  const result = mergeResults(partials);
  const reportPath = await writeReports(result, reportDir);
  return finish(result, reportPath, cwd);
}

/** Fails the step with the error; returns the exit code (2 for a usage, config or input error, else 3). */
function failed(e: unknown): number {
  if (isDistillGateError(e)) {
    core.setFailed(`distill-gate: ${(e as DistillGateError).format()}`);
    return 2;
  }
  core.setFailed(`distill-gate internal error: ${(e as Error)?.message ?? String(e)}`);
  return 3;
}

/** The Action: reads INPUT_* variables, checks the (changed) datasets, reports on the run. Returns the exit code. */
export async function run(
  env: NodeJS.ProcessEnv = process.env,
  cwd = env.GITHUB_WORKSPACE || process.cwd(),
): Promise<number> {
  try {
    const inputs = readInputs(cwd);
    if (inputs.merge.length) return await mergeMode(inputs.merge, inputs.options.reportDir, cwd);
    const configPath = inputs.options.config;
    core.info(`distill-gate ${VERSION}: config ${relative(cwd, configPath) || configPath}`);
    const selection = await selectDatasets(inputs, env, cwd);
    if (!selection) return await passNothingChanged(env);
    const ort = await provideOnnxRuntime(inputs.onnxruntime, env);
    if (ort.dir || ort.message.includes('skipped')) core.info(ort.message);
    else core.warning(ort.message);
    const { result, reportPath, screen } = await check(
      selection.datasets,
      { ...inputs.options, onlyDatasets: selection.onlyDatasets },
      { stderr: process.stderr },
    );
    return await finish(
      result,
      reportPath,
      cwd,
      screen ? { result: screen, configDir: dirname(resolve(cwd, configPath)) } : undefined,
    );
  } catch (e) {
    return failed(e);
  }
}
