// Bundles the Action into one ESM file (plus the training worker and tfjs's wasm binaries) so that action.yml runs
// from a checkout of this repository without `npm install`. Usage: node scripts/bundle.mjs [outdir] (default: bundle/).
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const out = resolve(process.argv[2] ?? join(here, 'bundle'));
const require = createRequire(import.meta.url);
const trainDist = dirname(require.resolve('@distill-gate/train'));
const wasmDist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// CommonJS dependencies (tfjs) expect require/__dirname; tfjs-backend-wasm finds its .wasm files via __dirname.
const banner = [
  "import { createRequire as __dgCreateRequire } from 'node:module';",
  "import { fileURLToPath as __dgFileURLToPath } from 'node:url';",
  "import { dirname as __dgDirname } from 'node:path';",
  'const require = __dgCreateRequire(import.meta.url);',
  'const __filename = __dgFileURLToPath(import.meta.url);',
  'const __dirname = __dgDirname(__filename);',
].join('\n');
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  banner: { js: banner },
  // Optional native packages are loaded at run time only when the user installed them. (ONNX models are still
  // read and written without onnxruntime-node: onnx-proto is bundled; only running a model in ORT needs it.)
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node'],
  logLevel: 'warning',
  logOverride: { 'unsupported-dynamic-import': 'silent', 'empty-import-meta': 'silent' },
};
// The CLI's V8 settings for training (distill-gate's src/v8-flags.ts, which decides them for the Node it runs on),
// set in the Action's first lines as its bin sets them before any module loads: a module of their own, imported
// first. Not in the worker, whose process has them already.
await build({
  ...common,
  entryPoints: { 'v8-flags': join(dirname(require.resolve('distill-gate')), 'v8-flags.js') },
  outdir: out,
});
const v8Banner = "import { setTrainingV8Flags as __dgSetV8Flags } from './v8-flags.js';\n__dgSetV8Flags();";
await build({
  ...common,
  banner: { js: `${banner}\n${v8Banner}` },
  entryPoints: { index: join(here, 'dist/entry.js') },
  outdir: out,
});
const worker = join(trainDist, 'workers/student-worker.js');
await build({ ...common, entryPoints: { 'student-worker': worker }, outdir: out });
// Node never runs the threaded build (tfjs disables wasm threads there), so only these two are needed.
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'])
  copyFileSync(join(wasmDist, f), join(out, f));
writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
console.log(`bundled the Action into ${out}`);
