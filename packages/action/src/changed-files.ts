import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The files a pull request changes, from the event payload's base and head commits and `git diff` in the
 * checkout (actions/checkout needs `fetch-depth: 0`, or at least both commits). Returns absolute paths, or
 * undefined with the reason when it cannot tell (then every dataset is checked).
 */
export function changedFilesOfPullRequest(env: NodeJS.ProcessEnv, cwd: string): { files?: string[]; reason: string } {
  const event = env.GITHUB_EVENT_NAME ?? '';
  if (event !== 'pull_request' && event !== 'pull_request_target') return { reason: `event "${event || 'none'}" is not a pull request` };
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
    const out = execFileSync('git', ['diff', '--name-only', '--no-renames', `${base}...${head}`], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
    return { files: out.split('\n').filter(Boolean).map((f) => resolve(top, f)), reason: `changed between ${base.slice(0, 7)} and ${head.slice(0, 7)}` };
  } catch (e) {
    return { reason: `git diff failed (use actions/checkout with fetch-depth: 0): ${(e as Error).message.split('\n')[0]}` };
  }
}
