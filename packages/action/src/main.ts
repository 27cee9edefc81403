import { relative, resolve } from 'node:path';
import * as core from '@actions/core';
import { glob } from 'tinyglobby';
import { check, readResultFile, VERSION } from '@distill-gate/cli';
import {
  datasetPathFromCwd,
  DistillGateError,
  formatMarkdown,
  isDistillGateError,
  loadConfig,
  mergeResults,
  parseSeeds,
  parseShard,
  writeReports,
  type CheckResult,
} from '@distill-gate/core';
import { changedFilesOfPullRequest, checkPluginPaths } from './changed-files.js';
import { provideOnnxRuntime } from './onnxruntime.js';

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
const INFERENCE = ['auto', 'tfjs', 'onnxruntime'] as const;
const POLICIES = ['fail', 'pass', 'warn'] as const;

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T | undefined {
  if (!value) return undefined;
  if (!allowed.includes(value as T))
    throw new DistillGateError(`input "${name}" must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

function numberInput(name: string): number | undefined {
  const v = core.getInput(name);
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new DistillGateError(`input "${name}" must be a number, got "${v}"`);
  return n;
}

/** Writes the outputs, the job summary and the annotations for a finished check. */
async function publish(result: CheckResult, reportPath: string, cwd: string): Promise<void> {
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

async function finish(result: CheckResult, reportPath: string, cwd: string): Promise<number> {
  await publish(result, reportPath, cwd);
  core.info(`${result.verdict}: ${result.summary}`);
  if (result.exitCode !== 0) core.setFailed(`distill-gate ${result.verdict}: ${result.summary}.`);
  else if (result.verdict === 'INCONCLUSIVE')
    core.warning(`distill-gate is INCONCLUSIVE (policy ${result.inconclusivePolicy}): ${result.summary}.`);
  return result.exitCode;
}

/** The matrix's last job: combine the shards' partial results into one verdict and report. */
async function mergeMode(patterns: string[], reportDir: string, cwd: string): Promise<number> {
  const files = (await glob(patterns, { cwd, absolute: true, onlyFiles: true })).sort();
  if (!files.length) {
    // Shard jobs write no partial result when the pull request changed no dataset: nothing was checked.
    core.notice(`no partial result matches ${patterns.join(', ')}: the shard jobs found no changed dataset to check`);
    core.setOutput('verdict', 'PASS');
    if (process.env.GITHUB_STEP_SUMMARY)
      await core.summary
        .addRaw(
          '## distill-gate: ✅ PASS\n\nNo shard produced a partial result: no dataset named by the config changed; nothing to check.\n',
        )
        .write();
    return 0;
  }
  core.info(`merging ${files.length} partial result(s)`);
  const partials = await Promise.all(files.map((f) => readResultFile(f)));
  const result = mergeResults(partials);
  const reportPath = await writeReports(result, reportDir);
  return finish(result, reportPath, cwd);
}

/** The Action: reads INPUT_* variables, checks the (changed) datasets, reports on the run. Returns the exit code. */
export async function run(
  env: NodeJS.ProcessEnv = process.env,
  cwd = env.GITHUB_WORKSPACE || process.cwd(),
): Promise<number> {
  try {
    const configPath = resolve(cwd, core.getInput('config') || 'distill-gate.config.json');
    const patterns = core.getMultilineInput('datasets');
    const changedOnly = (core.getInput('changed-only') || 'true') !== 'false';
    const shardText = core.getInput('shard');
    const seedsText = core.getInput('seeds');
    const options = {
      config: configPath,
      seeds: seedsText ? parseSeeds(seedsText) : undefined,
      threshold: numberInput('threshold'),
      backend: oneOf('backend', core.getInput('backend'), BACKENDS),
      inference: oneOf('inference', core.getInput('inference'), INFERENCE),
      trainer: oneOf('trainer', core.getInput('trainer'), INFERENCE),
      inconclusive: oneOf('inconclusive', core.getInput('inconclusive'), POLICIES),
      reportDir: resolve(cwd, core.getInput('report-dir') || 'distill-gate-report'),
      cache: core.getInput('no-cache') === 'true' ? (false as const) : undefined,
      cacheDir: core.getInput('cache-dir') ? resolve(cwd, core.getInput('cache-dir')) : undefined,
      shard: shardText ? parseShard(shardText) : undefined,
      maxMinutes: numberInput('max-minutes'),
      maxRecords: numberInput('max-records'),
      badRecords: oneOf('bad-records', core.getInput('bad-records'), ['fail', 'skip'] as const),
      json: false,
    };
    const onnxruntimeInput =
      oneOf('onnxruntime', core.getInput('onnxruntime'), ['install', 'skip'] as const) ?? 'install';
    const mergePatterns = core.getMultilineInput('merge');
    if (mergePatterns.length) return await mergeMode(mergePatterns, options.reportDir, cwd);
    core.info(`distill-gate ${VERSION}: config ${relative(cwd, configPath) || configPath}`);

    let datasets: string[] = [];
    if (patterns.length) {
      datasets = (await glob(patterns, { cwd, absolute: true, onlyFiles: true })).sort();
      if (!datasets.length) throw new DistillGateError(`no file matches the "datasets" input (${patterns.join(', ')})`);
    }
    let onlyDatasets: string[] | undefined;
    const changed = changedFilesOfPullRequest(env, cwd);
    checkPluginPaths(configPath, changed);
    if (changedOnly) {
      if (changed.files) {
        const set = new Set(changed.files);
        if (datasets.length) datasets = datasets.filter((d) => set.has(d));
        else {
          const config = await loadConfig(configPath, {}, cwd);
          onlyDatasets = config.datasets.map((d) => d.path).filter((p) => set.has(p));
        }
        const n = datasets.length || onlyDatasets?.length || 0;
        core.info(`pull request: ${changed.files.length} file(s) ${changed.reason}; ${n} dataset(s) to check`);
        if (!n) {
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
      } else {
        core.info(`checking every dataset: ${changed.reason}`);
      }
    }
    const ort = await provideOnnxRuntime(onnxruntimeInput, env);
    if (ort.dir || ort.message.includes('skipped')) core.info(ort.message);
    else core.warning(ort.message);
    const { result, reportPath } = await check(datasets, { ...options, onlyDatasets }, { stderr: process.stderr });
    return await finish(result, reportPath, cwd);
  } catch (e) {
    if (isDistillGateError(e)) {
      core.setFailed(`distill-gate: ${(e as DistillGateError).format()}`);
      return 2;
    }
    core.setFailed(`distill-gate internal error: ${(e as Error)?.message ?? String(e)}`);
    return 3;
  }
}
