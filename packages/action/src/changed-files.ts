import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { DistillGateError, stripBom } from '@distill-gate/core';

/**
 * The files a pull request changes, from the event payload's base and head commits and `git diff` in the
 * checkout (actions/checkout needs `fetch-depth: 0`, or at least both commits). Returns absolute paths, or
 * undefined with the reason when it cannot tell (then every dataset is checked).
 */
export interface PullRequestChanges {
  files?: string[];
  reason: string;
  base?: string;
  /** The repository's top folder. */
  top?: string;
}

export function changedFilesOfPullRequest(env: NodeJS.ProcessEnv, cwd: string): PullRequestChanges {
  const event = env.GITHUB_EVENT_NAME ?? '';
  if (event !== 'pull_request' && event !== 'pull_request_target')
    return { reason: `event "${event || 'none'}" is not a pull request` };
  if (!env.GITHUB_EVENT_PATH) return { reason: 'GITHUB_EVENT_PATH is not set' };
  let base: string | undefined;
  let head: string | undefined;
  try {
    const payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
    base = payload?.pull_request?.base?.sha;
    head = payload?.pull_request?.head?.sha;
  } catch (e) {
    return { reason: `cannot read the event payload: ${(e as Error).message}` };
  }
  if (!base || !head) return { reason: 'the event payload has no pull_request.base.sha / head.sha' };
  try {
    const top = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd, encoding: 'utf8' }).trim();
    const out = execFileSync('git', ['diff', '--name-only', '--no-renames', `${base}...${head}`], {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return {
      files: out
        .split('\n')
        .filter(Boolean)
        .map((f) => resolve(top, f)),
      reason: `changed between ${base.slice(0, 7)} and ${head.slice(0, 7)}`,
      base,
      top,
    };
  } catch (e) {
    return {
      reason: `git diff failed (use actions/checkout with fetch-depth: 0): ${(e as Error).message.split('\n')[0]}`,
    };
  }
}

/** Every plugin `use` in a config that is a path (not a package name), with its JSON pointer. */
function pathPlugins(config: unknown): { use: string; pointer: string }[] {
  const found: { use: string; pointer: string }[] = [];
  const walk = (v: unknown, pointer: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${pointer}/${i}`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'use' && typeof x === 'string' && (x.startsWith('.') || isAbsolute(x)))
          found.push({ use: x, pointer: `${pointer}/use` });
        else walk(x, `${pointer}/${k}`);
      }
    }
  };
  walk(config, '');
  return found;
}

/**
 * Untrusted pull requests: plugin code may come from installed packages, or from paths that the config on the
 * base branch already names and that the pull request does not touch. Anything else is refused (the PR would
 * otherwise run code of its own choosing in the job).
 */
export function checkPluginPaths(configPath: string, changes: PullRequestChanges): void {
  if (!changes.files || !changes.base || !changes.top) return;
  // The config loader has accepted this text (a byte-order mark included, which it drops too).
  const current = JSON.parse(stripBom(readFileSync(configPath, 'utf8')));
  const paths = pathPlugins(current);
  if (!paths.length) return;
  const rel = relative(changes.top, configPath).split(sep).join('/');
  let baseUses = new Set<string>();
  try {
    baseUses = new Set(
      pathPlugins(
        JSON.parse(
          stripBom(
            execFileSync('git', ['show', `${changes.base}:${rel}`], {
              cwd: changes.top,
              encoding: 'utf8',
              stdio: ['ignore', 'pipe', 'ignore'],
            }),
          ),
        ),
      ).map((p) => p.use),
    );
  } catch {
    // the config does not exist (or does not parse) on the base branch: no path plugin is trusted
  }
  const changed = new Set(changes.files);
  for (const p of paths) {
    const file = resolve(dirname(configPath), p.use);
    const why = !baseUses.has(p.use)
      ? 'the config on the base branch does not name it'
      : changed.has(file)
        ? 'this pull request adds or changes that file'
        : undefined;
    if (why) {
      throw new DistillGateError(
        `refusing plugin path "${p.use}": ${why}; ` +
          'plugin code must come from installed packages or from files the base branch already has',
        { file: relative(process.cwd(), configPath) || configPath, pointer: p.pointer },
        'move the plugin into the base branch first (a separate, reviewed pull request), or publish it as a package',
      );
    }
  }
}
