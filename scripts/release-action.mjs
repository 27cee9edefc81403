#!/usr/bin/env node
// Prepares a GitHub Action release: a commit that holds only what the Action runs (action.yml, the bundle, LICENSE,
// README.md), tagged vX.Y.Z, with the major tag vX moved onto it, so workflows write
// `uses: distill-gate/distill-gate@v1` (docs/releasing.md). Nothing is pushed: the script prints the push commands.
//
//   node scripts/release-action.mjs 1.2.0            build the bundle, check it is committed, tag v1.2.0 and v1
//   node scripts/release-action.mjs 1.2.0 --no-build  tag what is committed (the bundle test keeps it fresh)
//
// The release commit's parent is the previous release of the same major (if any), so a major tag only moves forward
// and `git log v1` lists the releases. The source commit is named in the message.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const version = args.find((a) => !a.startsWith('--'));
const fail = (m) => {
  console.error(`release-action: ${m}`);
  process.exit(2);
};
if (!version || !/^\d+\.\d+\.\d+$/.test(version)) fail('usage: node scripts/release-action.mjs X.Y.Z [--no-build]');
const major = `v${version.split('.')[0]}`;
const tag = `v${version}`;
const git = (gitArgs, env = {}, input = undefined) =>
  execFileSync('git', gitArgs, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, input }).trim();

if (git(['status', '--porcelain', '--untracked-files=no']) !== '') fail('commit or stash your changes first');
if (!args.includes('--no-build')) {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (git(['status', '--porcelain', '--untracked-files=no']) !== '')
    fail('the build changed committed files (the bundle or action.yml): commit them, then release');
}
// The remote's tags first: the new release's parent is the major tag as published, not a stale local copy.
if (git(['remote']).split('\n').includes('origin')) {
  try {
    git(['fetch', '--quiet', '--tags', '--force', 'origin']);
  } catch {
    fail('cannot read the tags of origin (git fetch --tags origin); a release must build on the published major tag');
  }
}
if (git(['tag', '--list', tag]) !== '') fail(`tag ${tag} exists already`);

// What the Action needs at run time, and nothing else.
const FILES = ['action.yml', 'LICENSE', 'README.md', 'packages/action/bundle'];
for (const f of FILES) if (git(['ls-tree', 'HEAD', '--', f]) === '') fail(`${f} is not committed`);
const index = join(mkdtempSync(join(tmpdir(), 'dg-release-')), 'index');
try {
  const env = { GIT_INDEX_FILE: index };
  // The files as committed in HEAD (never the working tree: untracked or ignored files stay out).
  const entries = git(['ls-tree', '-r', 'HEAD', '--', ...FILES]);
  git(['read-tree', '--empty'], env);
  git(['update-index', '--index-info'], env, `${entries}\n`);
  const tree = git(['write-tree'], env);
  const source = git(['rev-parse', 'HEAD']);
  const parent = git(['tag', '--list', major]) !== '' ? ['-p', git(['rev-parse', `${major}^{commit}`])] : [];
  const commit = git(
    ['commit-tree', tree, ...parent, '-m', `distill-gate Action ${tag}\n\nBuilt from ${source}: ${FILES.join(', ')}.`],
    {},
  );
  git(['tag', '-a', tag, commit, '-m', `distill-gate Action ${tag} (from ${source})`]);
  git(['tag', '-f', '-a', major, commit, '-m', `distill-gate Action ${major}: latest ${tag}`]);
  const files = git(['ls-tree', '-r', '--name-only', commit]).split('\n');
  console.log(
    `tagged ${tag} and ${major} -> ${commit.slice(0, 12)} (${files.length} files, from ${source.slice(0, 12)})`,
  );
  console.log(`publish: git push origin ${tag} && git push --force origin ${major}`);
} finally {
  rmSync(dirname(index), { recursive: true, force: true });
}
