import { relative } from 'node:path';
import type { Logger, TrainingCore, TrainingProgress } from '../contracts.js';
import type { ResolvedConfig } from '../config/load.js';
import { DistillGateError } from '../errors.js';
import type { BuiltinPlugins } from '../plugins/loader.js';
import { PluginDriver } from '../plugins/driver.js';
import type { ControlData } from './data.js';

export type CheckPhase = 'load' | 'data' | 'control' | 'train' | 'evaluate' | 'verdict';

export interface CheckProgress {
  phase: CheckPhase;
  message: string;
  training?: TrainingProgress;
}

/** Shard i of n (1-based): this job checks the (dataset, seed) units whose index is i-1 modulo n. */
export interface ShardSpec {
  index: number;
  count: number;
}

export interface CheckOptions {
  config: ResolvedConfig;
  training: TrainingCore;
  tool: { name: string; version: string };
  log?: Logger;
  onProgress?: (p: CheckProgress) => void;
  /** Plugins shipped with the caller (CLI, Action), found by package name without node_modules. */
  builtinPlugins?: BuiltinPlugins;
  shard?: ShardSpec;
  /** Verdict cache folder; undefined turns the cache off. */
  cacheDir?: string;
  /** Write every student trained by this run to this folder as ONNX, with a students.json index. */
  saveStudentsDir?: string;
  /**
   * How the family-wise error rate is shared out (set by the sequential runner): the number of checks in the whole
   * run (default: this config's datasets x evaluations) and the number of planned looks (default 1).
   */
  errorBudget?: { checks?: number; looks?: number; leakage?: number };
  /** Control data generated earlier in this run, by its key (the sequential runner's looks share it). */
  controls?: Map<string, ControlData>;
}

/** What every stage of a check shares: the run's settings, the training core, the plugin driver and its reporting. */
export interface CheckContext {
  config: ResolvedConfig;
  training: TrainingCore;
  driver: PluginDriver;
  log: Logger;
  progress: (p: CheckProgress) => void;
  /** A path as the user wrote it: relative to the config's folder. */
  rel: (path: string) => string;
}

const quietLog: Logger = { info: () => {}, warn: () => {} };

export function checkContext(opts: CheckOptions): CheckContext {
  const { config } = opts;
  const log = opts.log ?? quietLog;
  return {
    config,
    training: opts.training,
    driver: new PluginDriver(config, log, opts.builtinPlugins),
    log,
    progress: opts.onProgress ?? (() => {}),
    rel: (p) => relative(config.dir, p) || p,
  };
}

/** Parses "i/n" (1 <= i <= n). */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count)
    throw new DistillGateError(`--shard must be i/n with 1 <= i <= n, got "${text}"`);
  return { index, count };
}
