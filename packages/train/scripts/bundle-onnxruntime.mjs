#!/usr/bin/env node
// Stages onnxruntime-node inside this package (node_modules/onnxruntime-node) for `npm pack` / `npm publish`, where
// package.json's bundleDependencies ships it inside the tarball.
//
// Why: onnxruntime-node's postinstall script downloads CUDA provider libraries on linux/x64 and FAILS the whole
// `npm install` when that download cannot be made (offline machines, firewalled CI, hosts that cannot reach the
// feed), unless the user sets an environment variable. The CPU library, which is all distill-gate needs by default,
// is already inside the onnxruntime-node package. So the bundled copy is the published onnxruntime-node, file for
// file, with one change: the "postinstall" entry is removed from its package.json. CUDA stays an explicit opt-in:
// `npx distill-gate setup-cuda` runs the same onnxruntime-node install script, on purpose, with
// --onnxruntime-node-install=cuda12.
//
// Files are hard-linked (no copy of the ~290 MB of native libraries); CUDA provider libraries that a developer may
// have downloaded into their own copy are left out, so the tarball holds only what the npm package holds.
//
// Runs from the "prepare" script, which npm runs both on `npm install` / `npm ci` in the monorepo (where it removes a
// copy an earlier pack left) and on `npm pack` / `npm publish` (where it stages). Run it by hand with --force.
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  copyFileSync,
  writeFileSync,
  lstatSync,
} from 'node:fs';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const command = process.env.npm_command ?? '';

const target = join(here, 'node_modules', 'onnxruntime-node');
if (!process.argv.includes('--force') && !['pack', 'publish'].includes(command)) {
  // npm install / npm ci in the monorepo: drop a copy an earlier `npm pack` left, so that this package resolves the
  // installed onnxruntime-node again (with the CUDA libraries a developer may have downloaded into it).
  rmSync(target, { recursive: true, force: true });
  process.exit(0);
}
// Resolve from the monorepo root's copy (the installed one), never from a previous staging.
rmSync(target, { recursive: true, force: true });
const source = dirname(createRequire(join(here, 'package.json')).resolve('onnxruntime-node/package.json'));
const pkg = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
const wanted = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies['onnxruntime-node'];
if (pkg.version !== wanted) {
  console.error(`bundle-onnxruntime: installed onnxruntime-node is ${pkg.version}, package.json pins ${wanted}`);
  process.exit(1);
}
// Libraries the postinstall would have downloaded (CUDA/TensorRT providers): never shipped.
const downloaded = new Set([
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_tensorrt.so',
]);

let files = 0;
function stage(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    if (entry === 'node_modules' || downloaded.has(entry)) continue;
    const a = join(from, entry);
    const b = join(to, entry);
    const st = lstatSync(a);
    if (st.isDirectory()) stage(a, b);
    else if (st.isFile()) {
      if (relative(source, a) === 'package.json') continue;
      try {
        linkSync(a, b);
      } catch {
        copyFileSync(a, b); // another file system: copy instead
      }
      files++;
    }
  }
}
stage(source, target);
delete pkg.scripts.postinstall;
pkg.distillGate = {
  note:
    'Bundled by @distill-gate/train with its postinstall removed (no download at install time). ' +
    'The CPU provider is included; for CUDA run `npx distill-gate setup-cuda`.',
};
writeFileSync(join(target, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
console.error(
  `bundle-onnxruntime: staged onnxruntime-node ${pkg.version} (${files + 1} files) without its postinstall`,
);
