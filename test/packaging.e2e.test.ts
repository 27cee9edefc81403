// What users install: the published packages' metadata and files, the example workflows, and the Action's release
// layout (docs/releasing.md).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { root, testDir } from './helpers.js';

const npm = (args: string[], cwd = root) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('published packages', () => {
  it('carry the metadata of scripts/package-meta.mjs: license, repository, engines, files, README, LICENSE', () => {
    execFileSync(process.execPath, [join(root, 'scripts/package-meta.mjs'), '--check'], { cwd: root, stdio: 'pipe' });
    const workspaces = JSON.parse(npm(['query', '.workspace'])) as {
      name: string;
      private?: boolean;
      location: string;
    }[];
    const published = workspaces.filter((w) => !w.private).map((w) => w.name);
    expect(published).toContain('distill-gate');
    expect(published).toContain('@distill-gate/core');
    expect(published).toContain('@distill-gate/train');
    for (const w of workspaces.filter((x) => x.private)) expect(w.name).not.toBe('distill-gate');
  });

  it('ship the compiled code, declarations, schemas and bin, and no sources, maps, tests or build info', () => {
    for (const loc of ['packages/core', 'packages/cli', 'plugins/trait-hidden-class-knowledge']) {
      const [pack] = JSON.parse(npm(['pack', '--dry-run', '--json', `./${loc}`])) as { files: { path: string }[] }[];
      const files = pack.files.map((f) => f.path);
      expect(files, loc).toContain('package.json');
      expect(files, loc).toContain('README.md');
      expect(files, loc).toContain('LICENSE');
      expect(files.some((f) => f.startsWith('dist/') && f.endsWith('.d.ts'))).toBe(true);
      expect(
        files.filter((f) => /\.map$|\.tsbuildinfo$|\.test\.|^src\//.test(f)),
        loc,
      ).toEqual([]);
    }
    const [cli] = JSON.parse(npm(['pack', '--dry-run', '--json', './packages/cli'])) as { files: { path: string }[] }[];
    expect(cli.files.map((f) => f.path)).toContain('bin/distill-gate.js');
  });

  it('bundle onnxruntime-node in @distill-gate/train without its download-at-install script', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages/train/package.json'), 'utf8'));
    expect(pkg.bundleDependencies).toEqual(['onnxruntime-node']);
    const ort = JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8'));
    // The bundled version is the installed one, and what it needs at run time is a dependency of ours.
    expect(pkg.dependencies['onnxruntime-node']).toBe(ort.version);
    for (const dep of Object.keys(ort.dependencies)) expect(pkg.dependencies[dep], dep).toBeDefined();
    // Staging (what `npm pack` runs) into a copy of the package folder inside the repository (so onnxruntime-node
    // resolves as it does for the real one): nothing on `npm install`; with --force, the same files, hard-linked,
    // and no postinstall.
    const copy = mkdtempSync(join(root, 'test', '.tmp-stage-'));
    onTestFinished(() => rmSync(copy, { recursive: true, force: true }));
    cpSync(join(root, 'packages/train/package.json'), join(copy, 'package.json'));
    cpSync(join(root, 'packages/train/scripts'), join(copy, 'scripts'), { recursive: true });
    const stage = (...args: string[]) =>
      execFileSync(process.execPath, [join(copy, 'scripts/bundle-onnxruntime.mjs'), ...args], {
        cwd: copy,
        env: { ...process.env, npm_command: 'install' },
        stdio: 'pipe',
      });
    stage();
    expect(existsSync(join(copy, 'node_modules'))).toBe(false);
    stage('--force');
    const staged = join(copy, 'node_modules/onnxruntime-node');
    const stagedPkg = JSON.parse(readFileSync(join(staged, 'package.json'), 'utf8'));
    expect(stagedPkg.version).toBe(ort.version);
    expect(stagedPkg.scripts.postinstall).toBeUndefined();
    expect({ ...stagedPkg.scripts, postinstall: ort.scripts.postinstall }).toEqual(ort.scripts);
    const lib = `bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`;
    // What `npm pack` of the real package puts in the tarball: the bundled copy, binaries included.
    // (Packing stages the copy in packages/train/node_modules; the test removes it again unless it was there.)
    const stagedHere = join(root, 'packages/train/node_modules/onnxruntime-node');
    if (!existsSync(stagedHere)) onTestFinished(() => rmSync(stagedHere, { recursive: true, force: true }));
    const [train] = JSON.parse(npm(['pack', '--dry-run', '--json', './packages/train'])) as {
      files: { path: string }[];
      bundled: string[];
    }[];
    expect(train.bundled).toEqual(['onnxruntime-node']);
    const trainFiles = train.files.map((f) => f.path);
    expect(trainFiles).toContain(`node_modules/onnxruntime-node/${lib}`);
    expect(trainFiles).toContain('node_modules/onnxruntime-node/package.json');
    // Our own files: no maps or sources (onnxruntime-node's are as its authors publish them).
    expect(trainFiles.filter((f) => !f.startsWith('node_modules/') && /\.map$|^src\//.test(f))).toEqual([]);
    expect(statSync(join(staged, lib)).ino).toBe(statSync(join(root, 'node_modules/onnxruntime-node', lib)).ino);
    expect(existsSync(join(staged, `bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so`))).toBe(false);
  });
});

/** The current major versions of the actions the example workflows call (all run on node24). */
const CURRENT = {
  'actions/checkout': 'v6',
  'actions/setup-node': 'v7',
  'actions/cache': 'v6',
  'actions/upload-artifact': 'v7',
  'actions/download-artifact': 'v8',
};

describe('example workflows and the Action', () => {
  it('declare node24, use current majors of every action, and trigger on every dataset extension', () => {
    expect(readFileSync(join(root, 'action.yml'), 'utf8')).toMatch(/^runs:\n {2}using: node24\n/m);
    const dir = join(root, 'examples/workflows');
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const m of text.matchAll(/uses: (actions\/[\w-]+)@(v\d+)/g))
        expect(`${m[1]}@${m[2]}`, f).toBe(`${m[1]}@${CURRENT[m[1] as keyof typeof CURRENT]}`);
      expect(text, f).toMatch(/paths: \[[^\]]*'\*\*\/\*\.safetensors'[^\]]*'\*\*\/\*\.jsonl'/);
      expect(text, f).toContain('uses: distill-gate/distill-gate@v1');
      expect(text, f).not.toMatch(/node-version: 20\b/);
    }
  });

  it('release-action tags a commit holding only what the Action runs, and moves the major tag', () => {
    const clone = join(testDir('dg-release-'), 'repo');
    // A machine without a git identity of its own: the release's commits and tags name this one.
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'release test',
      GIT_AUTHOR_EMAIL: 'release@test.invalid',
      GIT_COMMITTER_NAME: 'release test',
      GIT_COMMITTER_EMAIL: 'release@test.invalid',
    };
    execFileSync('git', ['clone', '-q', root, clone], { env });
    // The script as it is in this checkout, committed in the clone (the release refuses a dirty tree).
    cpSync(join(root, 'scripts/release-action.mjs'), join(clone, 'scripts/release-action.mjs'));
    execFileSync('git', ['commit', '-q', '--allow-empty', '-am', 'release script under test'], { cwd: clone, env });
    // A file that is not committed never reaches the release.
    writeFileSync(join(clone, 'packages/action/bundle/stray.js'), '');
    const run = (v: string) =>
      execFileSync(process.execPath, ['scripts/release-action.mjs', v, '--no-build'], {
        cwd: clone,
        encoding: 'utf8',
        env,
      });
    expect(run('1.0.0')).toMatch(/tagged v1\.0\.0 and v1 -> [0-9a-f]{12}/);
    const git = (...a: string[]) => execFileSync('git', a, { cwd: clone, encoding: 'utf8', env }).trim();
    const files = git('ls-tree', '-r', '--name-only', 'v1').split('\n');
    expect(files).toContain('action.yml');
    expect(files).toContain('packages/action/bundle/index.js');
    expect(files).toContain('packages/action/bundle/student-worker.js');
    expect(files.filter((f) => !/^(action\.yml|LICENSE|README\.md|packages\/action\/bundle\/)/.test(f))).toEqual([]);
    expect(files).not.toContain('packages/action/bundle/stray.js');
    // A second release of the major: v1 moves forward, its parent is the previous release.
    run('1.0.1');
    expect(git('rev-parse', 'v1^{commit}')).toBe(git('rev-parse', 'v1.0.1^{commit}'));
    expect(git('rev-parse', 'v1^{commit}^')).toBe(git('rev-parse', 'v1.0.0^{commit}'));
    expect(() => run('1.0.1')).toThrow(/exists already/);
  });
});
