import * as core from '@actions/core';
import { glob } from 'tinyglobby';
import { DistillGateError, loadConfig } from '@distill-gate/core';
import { changedFilesOfPullRequest, checkPluginPaths } from './changed-files.js';
import type { ActionInputs } from './inputs.js';

/** What `check` gets: dataset files (from the "datasets" globs), or the config's datasets kept by onlyDatasets. */
export interface DatasetSelection {
  datasets: string[];
  onlyDatasets?: string[];
}

/**
 * The datasets this run checks: the files the "datasets" globs match (else the config's datasets), on a pull
 * request only those it changed (changed-only). Refuses plugin code the pull request brings (checkPluginPaths).
 * Returns undefined when the pull request changed no dataset: there is nothing to check.
 */
export async function selectDatasets(
  inputs: Pick<ActionInputs, 'patterns' | 'changedOnly'> & { options: { config: string } },
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<DatasetSelection | undefined> {
  const { patterns, changedOnly } = inputs;
  const configPath = inputs.options.config;
  let datasets: string[] = [];
  if (patterns.length) {
    datasets = (await glob(patterns, { cwd, absolute: true, onlyFiles: true })).sort();
    if (!datasets.length) throw new DistillGateError(`no file matches the "datasets" input (${patterns.join(', ')})`);
  }
  // Read (and validated) first: a missing or broken config is a located error, before anything else reads it.
  const config = await loadConfig(configPath, {}, cwd);
  const changed = changedFilesOfPullRequest(env, cwd);
  checkPluginPaths(configPath, changed);
  if (!changedOnly) return { datasets };
  if (!changed.files) {
    core.info(`checking every dataset: ${changed.reason}`);
    return { datasets };
  }
  const set = new Set(changed.files);
  let onlyDatasets: string[] | undefined;
  if (datasets.length) datasets = datasets.filter((d) => set.has(d));
  else onlyDatasets = config.datasets.map((d) => d.path).filter((p) => set.has(p));
  const n = datasets.length || onlyDatasets?.length || 0;
  core.info(`pull request: ${changed.files.length} file(s) ${changed.reason}; ${n} dataset(s) to check`);
  return n ? { datasets, onlyDatasets } : undefined;
}
