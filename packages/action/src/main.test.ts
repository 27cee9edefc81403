// The Action's steps that train nothing, as the runner drives them, with nothing replaced: readInputs from the
// INPUT_* variables the runner sets (every input action.yml declares, at its default unless the workflow gives it),
// selectDatasets on a real git repository with a pull_request event payload, and the publishing of a finished
// check (GITHUB_OUTPUT, the step summary, annotations as workflow commands on stdout). run() only where it stops
// before the check (merge mode without partial results, a bad input). The check itself, run() end to end on the
// bundle with real students, is test/action.test.ts (e2e).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  formatMarkdown,
  isDistillGateError,
  type CheckResult,
  type DistillGateError,
  type TransferResult,
} from '@distill-gate/core';
import { declaredInputs } from './action-yml.js';
import { selectDatasets } from './datasets.js';
import { readInputs } from './inputs.js';
import { run } from './main.js';
import { finish, passNothingChanged, passWithoutPartials, publish } from './publish.js';
import { transfer, TRAIT } from '../../../test/result-fixtures.js';

const actionYml = new URL('../../../action.yml', import.meta.url);

let dirs: string[] = [];
/** A fresh folder for this test, removed after it (real path: git prints real paths). */
function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  dirs.push(dir);
  return dir;
}

// @actions/core keeps the step-summary file of its first write for the rest of the process (a step is one process
// on the runner): one file for this test file, emptied before each test.
let summaryDir: string;
const summaryFile = () => join(summaryDir, 'step-summary.md');
beforeAll(() => {
  summaryDir = realpathSync(mkdtempSync(join(tmpdir(), 'dg-step-summary-')));
});
afterAll(() => rmSync(summaryDir, { recursive: true, force: true }));

let savedEnv: NodeJS.ProcessEnv;
let stdout: string[];
/** This test's runner files: GITHUB_OUTPUT in its own folder; the step summary (emptied). */
let runnerDir: string;
beforeEach(() => {
  savedEnv = { ...process.env };
  for (const k of Object.keys(process.env))
    if (k.startsWith('INPUT_') || k.startsWith('GITHUB_')) delete process.env[k];
  runnerDir = tempDir('dg-runner-');
  writeFileSync(join(runnerDir, 'output'), '');
  writeFileSync(summaryFile(), '');
  process.env.GITHUB_OUTPUT = join(runnerDir, 'output');
  process.env.GITHUB_STEP_SUMMARY = summaryFile();
  stdout = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    stdout.push(String(s));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  process.exitCode = undefined; // core.setFailed sets it
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** The INPUT_* variables as the runner sets them: every input of action.yml, its default unless given here. */
function setInputs(given: Record<string, string> = {}): void {
  const declared = declaredInputs(readFileSync(actionYml, 'utf8'));
  for (const name of Object.keys(given)) if (!(name in declared)) throw new Error(`action.yml has no input ${name}`);
  for (const [name, input] of Object.entries(declared))
    process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = given[name] ?? input.default;
}

/** What the step wrote to GITHUB_OUTPUT (name<<delimiter blocks). */
function outputs(): Record<string, string> {
  const found: Record<string, string> = {};
  const text = readFileSync(join(runnerDir, 'output'), 'utf8');
  for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) found[m[1]] = m[3];
  return found;
}

const log = () => stdout.join('');
const summary = () => readFileSync(summaryFile(), 'utf8');

/** The DistillGateError that f throws (or the promise rejects with). */
async function distillGateError(f: () => unknown): Promise<DistillGateError> {
  try {
    await f();
  } catch (e) {
    if (isDistillGateError(e)) return e;
    throw e;
  }
  throw new Error('nothing thrown');
}

describe('readInputs', () => {
  it('gives the defaults action.yml declares, and the same without any INPUT_* variable', () => {
    const ws = tempDir('dg-ws-');
    const defaults = {
      options: {
        config: join(ws, 'distill-gate.config.json'),
        reportDir: join(ws, 'distill-gate-report'),
        cache: true,
        screen: false,
        json: false,
      },
      patterns: [],
      changedOnly: true,
      onnxruntime: 'install',
      merge: [],
    };
    setInputs();
    expect(process.env['INPUT_CHANGED-ONLY']).toBe('true');
    expect(readInputs(ws)).toEqual(defaults);
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) delete process.env[k];
    expect(readInputs(ws)).toEqual(defaults);
  });

  it('parses what the workflow gives, paths against the workspace', () => {
    const ws = tempDir('dg-ws-');
    setInputs({
      config: 'ci/distill-gate.config.json',
      datasets: 'data/*.jsonl\n\n  other/*.jsonl  \n',
      'changed-only': 'false',
      seeds: '1,4',
      threshold: '0.1',
      backend: 'wasm',
      trainer: 'tfjs',
      inference: 'onnxruntime',
      onnxruntime: 'skip',
      inconclusive: 'warn',
      'bad-records': 'skip',
      'max-minutes': '2.5',
      'max-records': '100',
      'report-dir': 'out',
      shard: '2/3',
      'cache-dir': '/var/cache/dg',
      'no-cache': 'true',
      screen: 'true',
      merge: 'partials/*.json',
    });
    const inputs = readInputs(ws);
    expect(inputs.patterns).toEqual(['data/*.jsonl', 'other/*.jsonl']);
    expect(inputs.changedOnly).toBe(false);
    expect(inputs.onnxruntime).toBe('skip');
    expect(inputs.merge).toEqual(['partials/*.json']);
    expect(inputs.options).toEqual({
      config: join(ws, 'ci/distill-gate.config.json'),
      seeds: [1, 4],
      threshold: 0.1,
      backend: 'wasm',
      trainer: 'tfjs',
      inference: 'onnxruntime',
      inconclusive: 'warn',
      badRecords: 'skip',
      maxMinutes: 2.5,
      maxRecords: 100,
      reportDir: join(ws, 'out'),
      shard: { index: 2, count: 3 },
      cacheDir: '/var/cache/dg',
      cache: false,
      screen: true,
      json: false,
    });
  });

  it('changes a boolean only with the literal other than its default', () => {
    const ws = tempDir('dg-ws-');
    setInputs({ 'changed-only': 'no', 'no-cache': 'yes' });
    expect(readInputs(ws)).toMatchObject({ changedOnly: true, options: { cache: true } });
    setInputs({ 'changed-only': 'false', 'no-cache': 'true' });
    expect(readInputs(ws)).toMatchObject({ changedOnly: false, options: { cache: false } });
  });

  it('rejects a bad value with a DistillGateError naming the input', async () => {
    const ws = tempDir('dg-ws-');
    const cases: [string, string, string][] = [
      ['backend', 'gpu', 'input "backend" must be one of auto, tensorflow, wasm, cpu, got "gpu"'],
      ['trainer', 'gpu', 'input "trainer" must be one of auto, tfjs, onnxruntime, got "gpu"'],
      ['inference', 'cuda', 'input "inference" must be one of auto, tfjs, onnxruntime, got "cuda"'],
      ['onnxruntime', 'maybe', 'input "onnxruntime" must be one of install, skip, got "maybe"'],
      ['inconclusive', 'ignore', 'input "inconclusive" must be one of fail, pass, warn, got "ignore"'],
      ['bad-records', 'drop', 'input "bad-records" must be one of fail, skip, got "drop"'],
      ['threshold', 'abc', 'input "threshold" must be a number, got "abc"'],
      ['seeds', '1,1', '--seeds has duplicates: "1,1"'],
      ['seeds', '0', '--seeds count must be between 1 and 1000, got 0'],
      ['shard', '3/2', '--shard must be i/n with 1 <= i <= n, got "3/2"'],
      // As the CLI's --max-records and --max-minutes: the same parser, the same values refused.
      ['max-records', 'many', 'input "max-records" must be an integer >= 1, got "many"'],
      ['max-records', '1.5', 'input "max-records" must be an integer >= 1, got "1.5"'],
      ['max-records', '-1', 'input "max-records" must be an integer >= 1, got "-1"'],
      ['max-records', '0', 'input "max-records" must be an integer >= 1, got "0"'],
      ['max-minutes', '-1', 'input "max-minutes" must be a number of minutes > 0, got "-1"'],
      ['max-minutes', '0', 'input "max-minutes" must be a number of minutes > 0, got "0"'],
      ['max-minutes', 'soon', 'input "max-minutes" must be a number of minutes > 0, got "soon"'],
    ];
    for (const [input, value, message] of cases) {
      setInputs({ [input]: value });
      const e = await distillGateError(() => readInputs(ws));
      expect(e.format(), `${input}: ${value}`).toBe(message);
    }
  });
});

/** The config on the base branch: two datasets, plugins from packages only. */
const config = {
  base: { path: 'models/base.safetensors' },
  datasets: [
    { name: 'a', path: 'data/a.jsonl' },
    { name: 'b', path: 'data/b.jsonl' },
  ],
  control: { generate: { use: 'gen' } },
  traits: [{ use: 'trait' }],
  evaluators: [{ use: 'eval' }],
  training: { outputs: { start: 10, end: 13 } },
};

interface PullRequest {
  ws: string;
  base: string;
  head: string;
  /** The environment of a pull_request run: GITHUB_EVENT_NAME, GITHUB_EVENT_PATH (the payload), GITHUB_WORKSPACE. */
  env: NodeJS.ProcessEnv;
  configPath: string;
}

/**
 * A checkout of a pull request, in a fresh repository: main's first commit has the config and both datasets (and
 * whatever base() adds); the pull request branch makes change() on it; then main moves on (b changes there), so the
 * payload's base sha is main's tip, as GitHub gives it, and only a three-dot diff finds what the PR changed.
 */
function pullRequest(change: (ws: string) => void, base: (ws: string) => void = () => {}): PullRequest {
  const ws = tempDir('dg-ws-');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ws, encoding: 'utf8' }).trim();
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'distill-gate.config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(ws, 'data/a.jsonl'), '{"prompt":"1","completion":"2"}\n');
  writeFileSync(join(ws, 'data/b.jsonl'), '{"prompt":"3","completion":"4"}\n');
  base(ws);
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'ci@example.invalid');
  git('config', 'user.name', 'ci');
  git('add', '-A');
  git('commit', '-qm', 'base');
  git('checkout', '-qb', 'pr');
  change(ws);
  git('add', '-A');
  git('commit', '-qm', 'pull request');
  const head = git('rev-parse', 'HEAD');
  git('checkout', '-q', 'main');
  writeFileSync(join(ws, 'data/b.jsonl'), '{"prompt":"5","completion":"6"}\n');
  git('commit', '-qam', 'main moves on');
  const baseSha = git('rev-parse', 'HEAD');
  git('checkout', '-q', head);
  const event = join(runnerDir, 'event.json');
  writeFileSync(
    event,
    JSON.stringify({
      action: 'synchronize',
      number: 7,
      pull_request: { number: 7, base: { ref: 'main', sha: baseSha }, head: { ref: 'pr', sha: head } },
    }),
  );
  const env = { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_WORKSPACE: ws };
  return { ws, base: baseSha, head, env, configPath: join(ws, 'distill-gate.config.json') };
}

const changeA = (ws: string) => writeFileSync(join(ws, 'data/a.jsonl'), '{"prompt":"1","completion":"owl"}\n');
const addNotes = (ws: string) => writeFileSync(join(ws, 'NOTES.md'), 'notes\n');

describe('selectDatasets', () => {
  const select = (pr: Pick<PullRequest, 'configPath' | 'ws'>, env: NodeJS.ProcessEnv, patterns: string[] = []) =>
    selectDatasets({ patterns, changedOnly: true, options: { config: pr.configPath } }, env, pr.ws);

  it("keeps the config's datasets that the pull request changed, not those main changed since", async () => {
    const pr = pullRequest(changeA);
    expect(await select(pr, pr.env)).toEqual({ datasets: [], onlyDatasets: [join(pr.ws, 'data/a.jsonl')] });
    expect(log()).toContain(
      `pull request: 1 file(s) changed between ${pr.base.slice(0, 7)} and ${pr.head.slice(0, 7)}; ` +
        '1 dataset(s) to check',
    );
  });

  it('finds nothing to check when the pull request changed no dataset', async () => {
    const pr = pullRequest(addNotes);
    expect(await select(pr, pr.env)).toBeUndefined();
    expect(log()).toContain('pull request: 1 file(s) changed between');
    expect(log()).toContain('0 dataset(s) to check');
  });

  it('filters the files of the "datasets" globs the same way, config or not', async () => {
    const pr = pullRequest((ws) => {
      changeA(ws);
      writeFileSync(join(ws, 'data/c.jsonl'), '{}\n');
    });
    expect(await select(pr, pr.env, ['data/*.jsonl'])).toEqual({
      datasets: [join(pr.ws, 'data/a.jsonl'), join(pr.ws, 'data/c.jsonl')],
      onlyDatasets: undefined,
    });
    // Without globs, only what the config names: c is not a dataset of the config.
    expect(await select(pr, pr.env)).toEqual({ datasets: [], onlyDatasets: [join(pr.ws, 'data/a.jsonl')] });
  });

  it('checks every dataset with changed-only false', async () => {
    const pr = pullRequest(addNotes);
    const all = (patterns: string[]) =>
      selectDatasets({ patterns, changedOnly: false, options: { config: pr.configPath } }, pr.env, pr.ws);
    expect(await all([])).toEqual({ datasets: [] });
    expect(await all(['data/*.jsonl'])).toEqual({
      datasets: [join(pr.ws, 'data/a.jsonl'), join(pr.ws, 'data/b.jsonl')],
    });
  });

  it('checks every dataset, saying why, when it cannot tell what a pull request changed', async () => {
    const pr = pullRequest(addNotes);
    const every = { datasets: [join(pr.ws, 'data/a.jsonl'), join(pr.ws, 'data/b.jsonl')] };
    expect(await select(pr, { GITHUB_EVENT_NAME: 'push' }, ['data/*.jsonl'])).toEqual(every);
    expect(log()).toContain('checking every dataset: event "push" is not a pull request');
    const noShas = join(runnerDir, 'no-shas.json');
    writeFileSync(noShas, JSON.stringify({ number: 7, pull_request: { number: 7 } }));
    expect(await select(pr, { ...pr.env, GITHUB_EVENT_PATH: noShas }, ['data/*.jsonl'])).toEqual(every);
    expect(log()).toContain('checking every dataset: the event payload has no pull_request.base.sha / head.sha');
    // A shallow checkout (actions/checkout's default depth 1) lacks the base commit.
    const shallow = join(runnerDir, 'shallow.json');
    const unknown = { sha: 'f'.repeat(40) };
    writeFileSync(shallow, JSON.stringify({ pull_request: { base: unknown, head: { sha: pr.head } } }));
    expect(await select(pr, { ...pr.env, GITHUB_EVENT_PATH: shallow }, ['data/*.jsonl'])).toEqual(every);
    expect(log()).toContain('checking every dataset: git diff failed (use actions/checkout with fetch-depth: 0)');
  });

  it('refuses "datasets" globs that match no file', async () => {
    const pr = pullRequest(changeA);
    const e = await distillGateError(() => select(pr, pr.env, ['none/*.jsonl', 'data/*.csv']));
    expect(e.message).toBe('no file matches the "datasets" input (none/*.jsonl, data/*.csv)');
  });

  it('a missing or broken config on a pull request is a located config error, not an internal one', async () => {
    const pr = pullRequest(changeA);
    const missing = await distillGateError(() =>
      select({ ...pr, configPath: join(pr.ws, 'nope.json') }, pr.env, ['data/*.jsonl']),
    );
    expect(missing.message).toBe('config file not found');
    writeFileSync(pr.configPath, '{ "base": ');
    const broken = await distillGateError(() => select(pr, pr.env));
    expect(broken.location.file).toBe(relative(pr.ws, pr.configPath));
  });

  it('refuses plugin code that the pull request brings, with or without changed-only', async () => {
    const ownPlugin = (ws: string) => {
      writeFileSync(join(ws, 'own.mjs'), 'export default {};\n');
      writeFileSync(
        join(ws, 'distill-gate.config.json'),
        JSON.stringify({ ...config, filters: [{ use: './own.mjs' }] }, null, 2),
      );
    };
    const pr = pullRequest(ownPlugin);
    for (const changedOnly of [true, false]) {
      const e = await distillGateError(() =>
        selectDatasets({ patterns: [], changedOnly, options: { config: pr.configPath } }, pr.env, pr.ws),
      );
      expect(e.message).toBe(
        'refusing plugin path "./own.mjs": the config on the base branch does not name it; ' +
          'plugin code must come from installed packages or from files the base branch already has',
      );
      expect(e.location.pointer).toBe('/filters/0/use');
      expect(e.hint).toContain('move the plugin into the base branch first');
    }
    // The base branch names the plugin, and the pull request changes its code.
    const changed = pullRequest(
      (ws) => writeFileSync(join(ws, 'own.mjs'), 'export default { changed: 1 };\n'),
      ownPlugin,
    );
    const e = await distillGateError(() => select(changed, changed.env));
    expect(e.message).toContain('refusing plugin path "./own.mjs": this pull request adds or changes that file');
    // The base branch names the plugin and the pull request leaves it alone: allowed.
    const trusted = pullRequest(changeA, ownPlugin);
    expect(await select(trusted, trusted.env)).toEqual({
      datasets: [],
      onlyDatasets: [join(trusted.ws, 'data/a.jsonl')],
    });
    // The same with the config saved with a byte-order mark, which the loader accepts (here it was a SyntaxError).
    const withBom = (ws: string) => {
      ownPlugin(ws);
      const file = join(ws, 'distill-gate.config.json');
      writeFileSync(file, `\uFEFF${readFileSync(file, 'utf8')}`);
    };
    const bom = pullRequest(changeA, withBom);
    expect(await select(bom, bom.env)).toEqual({ datasets: [], onlyDatasets: [join(bom.ws, 'data/a.jsonl')] });
  });
});

/** A finished check of three datasets (config in project/): FAIL, PASS and INCONCLUSIVE, as check returns it. */
function checkResult(results = ['FAIL', 'PASS', 'INCONCLUSIVE'] as TransferResult['verdict'][]): CheckResult {
  const made = {
    FAIL: transfer('teacher', 'FAIL', [0.31, 0.33, 0.32], [0.08, 0.09, 0.085], [0.201, 0.259]),
    PASS: transfer('reference', 'PASS', [0.08, 0.09, 0.085], [0.08, 0.09, 0.086], [-0.004, 0.004]),
    INCONCLUSIVE: transfer('mixed', 'INCONCLUSIVE', [0.12, 0.15, 0.11], [0.08, 0.09, 0.085], [-0.02, 0.11]),
  };
  const dataset = (name: string, path: string) => ({
    name,
    path,
    sha256: 'ab'.repeat(32),
    materialised: false,
    records: 1000,
    recordsAfterFilters: 1000,
    filters: [],
    control: {
      source: 'generated by @distill-gate/generator-auxiliary-logits',
      records: 1000,
      recordsAfterFilters: 1000,
      filters: [],
      sha256: 'cd'.repeat(32),
    },
  });
  const verdict = results.includes('FAIL') ? 'FAIL' : results.includes('INCONCLUSIVE') ? 'INCONCLUSIVE' : 'PASS';
  return {
    schemaVersion: 1,
    tool: { name: 'distill-gate', version: '0.1.0' },
    verdict,
    exitCode: verdict === 'PASS' ? 0 : 1,
    summary:
      verdict === 'FAIL'
        ? '1 of 3 dataset x trait check(s) transfer above the threshold 0.05'
        : `no dataset x trait check transfers above the threshold 0.05`,
    startedAt: '2026-01-02T03:04:05.678Z',
    config: { path: 'project/distill-gate.config.json', sha256: 'ef'.repeat(32) },
    base: { path: 'models/base.safetensors', sha256: '01'.repeat(32), family: 'mlp' },
    backend: {
      name: 'wasm',
      reason: 'auto',
      workers: 2,
      training: { engine: 'onnxruntime', version: '1.30.0', reason: 'auto: onnxruntime-node is installed' },
    },
    seeds: [1, 2, 3],
    threshold: 0.05,
    confidence: 0.95,
    inconclusivePolicy: 'fail',
    training: { epochs: 5 },
    versions: { '@tensorflow/tfjs': '4.22.0' },
    plugins: [],
    datasets: [
      dataset('teacher', 'data/teacher.jsonl'),
      dataset('reference', 'data/reference.jsonl'),
      dataset('mixed', 'data/mixed.jsonl'),
    ],
    results: results.map((v) => made[v]),
    timings: { totalMs: 42_000 },
  };
}

describe('publish', () => {
  it('writes the outputs of the worst check, the report as the step summary, an annotation per non-PASS', async () => {
    const ws = tempDir('dg-ws-');
    const result = checkResult();
    await publish(result, join(ws, 'distill-gate-report/result.json'), ws);
    const worst = result.results[0];
    expect(outputs()).toEqual({
      verdict: 'FAIL',
      'max-transfer': String(worst.transfer.mean),
      'max-transfer-low': '0.201',
      'max-transfer-high': '0.259',
      'report-path': 'distill-gate-report/result.json',
    });
    expect(summary()).toBe(formatMarkdown(result));
    expect(summary()).toContain('## distill-gate: ❌ FAIL');
    // Each annotation points at the dataset file, relative to the workspace (the config is in project/).
    expect(stdout).toEqual([
      `::error title=distill-gate%3A FAIL (${TRAIT}),file=project/data/teacher.jsonl::` +
        'teacher: transfer 0.235 lies above the threshold 0.05.\n',
      `::warning title=distill-gate%3A INCONCLUSIVE (${TRAIT}),file=project/data/mixed.jsonl::` +
        'mixed: transfer 0.042 is near the threshold 0.05.\n',
    ]);
  });

  it('without results: empty transfer outputs, no annotation; no summary without GITHUB_STEP_SUMMARY', async () => {
    const ws = tempDir('dg-ws-');
    delete process.env.GITHUB_STEP_SUMMARY;
    await publish({ ...checkResult([]), summary: 'nothing checked' }, join(ws, 'out/result.json'), ws);
    expect(outputs()).toEqual({
      verdict: 'PASS',
      'max-transfer': '',
      'max-transfer-low': '',
      'max-transfer-high': '',
      'report-path': 'out/result.json',
    });
    expect(summary()).toBe('');
    expect(stdout).toEqual([]);
  });

  it('finish: fails the step unless the check passed, and returns its exit code', async () => {
    const ws = tempDir('dg-ws-');
    const failed = checkResult();
    expect(await finish(failed, join(ws, 'distill-gate-report/result.json'), ws)).toBe(1);
    expect(log()).toContain(`FAIL: ${failed.summary}\n`);
    expect(log()).toContain(`::error::distill-gate FAIL: ${failed.summary}.\n`);
    expect(process.exitCode).toBe(1);
    process.exitCode = undefined;
    stdout.length = 0;
    const warned = { ...checkResult(['PASS', 'INCONCLUSIVE']), exitCode: 0, inconclusivePolicy: 'warn' };
    expect(await finish(warned, join(ws, 'distill-gate-report/result.json'), ws)).toBe(0);
    expect(log()).toContain(`::warning::distill-gate is INCONCLUSIVE (policy warn): ${warned.summary}.\n`);
    expect(log()).not.toContain('::error::');
    expect(process.exitCode).toBeUndefined();
    stdout.length = 0;
    expect(await finish(checkResult(['PASS']), join(ws, 'distill-gate-report/result.json'), ws)).toBe(0);
    expect(log()).not.toMatch(/::(error|warning)::/);
  });

  it('passes a pull request that changed no dataset: PASS, no transfer, a summary that says so', async () => {
    expect(await passNothingChanged(process.env)).toBe(0);
    expect(outputs()).toEqual({ verdict: 'PASS', 'max-transfer': '' });
    expect(summary()).toBe(
      '## distill-gate: ✅ PASS\n\nNo dataset named by the config changed in this pull request; nothing to check.\n',
    );
    expect(log()).toBe('no dataset changed in this pull request: nothing to check\n');
  });

  it('passes a merge without partial results: the shard jobs found nothing to check', async () => {
    expect(await passWithoutPartials(['partials/*.json', 'more/*.json'])).toBe(0);
    expect(outputs()).toEqual({ verdict: 'PASS' });
    expect(summary()).toContain('No shard produced a partial result');
    expect(log()).toBe(
      '::notice::no partial result matches partials/*.json, more/*.json: ' +
        'the shard jobs found no changed dataset to check\n',
    );
  });
});

describe('run, where it stops before the check', () => {
  it('merge mode without partial results passes', async () => {
    const pr = pullRequest(addNotes);
    setInputs({ merge: 'partials/*.json' });
    expect(await run(pr.env, pr.ws)).toBe(0);
    expect(outputs()).toEqual({ verdict: 'PASS' });
    expect(log()).toContain('::notice::no partial result matches partials/*.json');
  });

  it('reports a bad input as one failed-step message with exit code 2', async () => {
    // A pull request that changes no dataset, onnxruntime skipped: were the input taken, run() would stop there.
    const pr = pullRequest(addNotes);
    setInputs({ 'max-records': '1.5', onnxruntime: 'skip' });
    expect(await run(pr.env, pr.ws)).toBe(2);
    expect(log()).toBe('::error::distill-gate: input "max-records" must be an integer >= 1, got "1.5"\n');
    expect(outputs()).toEqual({});
  });
});
