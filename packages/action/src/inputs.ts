import * as core from '@actions/core';
import {
  actionInputs,
  settingFromInput,
  type ActionSettingKey,
  type OnnxRuntimeInput,
  type RunSettingValues,
} from '@distill-gate/core';
import type { CheckCommandOptions } from 'distill-gate';

/** The Action's inputs, parsed. */
export interface ActionInputs {
  /** What `check` gets: the inputs of the CLI's settings (paths resolved against the workspace). */
  options: CheckCommandOptions & { reportDir: string };
  /** The "datasets" globs; empty: the datasets the config names. */
  patterns: string[];
  changedOnly: boolean;
  onnxruntime: OnnxRuntimeInput;
  /** The "merge" globs: when there are any, the Action merges partial results instead of checking. */
  merge: string[];
}

/**
 * Reads every input the settings table declares (core's actionInputs) from the INPUT_* variables, as action.yml
 * declares them, with their defaults. Throws a DistillGateError that names the input when one is invalid.
 */
export function readInputs(cwd: string): ActionInputs {
  const values: Partial<Record<ActionSettingKey, unknown>> = {};
  for (const [name, input] of Object.entries(actionInputs())) {
    const text = input.multiline ? core.getMultilineInput(name) : core.getInput(name);
    values[input.key] = settingFromInput(name, text, cwd);
  }
  const {
    datasets = [],
    changedOnly = true,
    onnxruntime = 'install',
    merge = [],
    config = 'distill-gate.config.json',
    reportDir = 'distill-gate-report',
    ...options
  } = values as Partial<Pick<RunSettingValues, ActionSettingKey>>;
  return {
    options: { ...options, config, reportDir, json: false },
    patterns: datasets,
    changedOnly,
    onnxruntime,
    merge,
  };
}
