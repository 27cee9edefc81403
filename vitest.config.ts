import { defineConfig } from 'vitest/config';

// One config for the whole workspace, in two projects:
//
// - unit: no model training and no end-to-end CLI runs. Fast (about a minute on 2 cores for the whole project),
//   with short timeouts so a test that starts training by mistake fails instead of stalling. `npm run test:unit`.
// - e2e: everything that trains students or runs the CLI, the Action bundle or a browser end to end, with long
//   timeouts. `npm run test:e2e`.
//
// A test file is e2e when its name ends in .e2e.test.ts, or when it is listed below (files that predate the
// convention). Every other test file is unit. `npm test` builds and runs both projects, unit first.
// Packages run their own tests with `vitest run --root ../.. <their folder>` (both projects, filtered by folder).

const testFiles = [
  'packages/*/src/**/*.test.ts',
  'plugins/*/src/**/*.test.ts',
  'examples/*/src/**/*.test.ts',
  'test/**/*.test.ts',
];

// Test files that predate the .e2e.test.ts convention and are e2e.
const e2eListed = [
  // The real CLI bin, the bundled Action and the HTML report in chromium, on the examples' models.
  'test/action.test.ts',
  'test/cli.test.ts',
  'test/init-plugins.test.ts',
  'test/owl.test.ts',
  'test/reports.test.ts',
  // Files of @distill-gate/train that train students (MLP and transformer trainers, on tfjs and onnxruntime, and in
  // the worker pool). Renaming them to *.e2e.test.ts (after splitting off their non-training tests) makes this list
  // unnecessary.
  'packages/train/src/families/mlp/model.test.ts',
  'packages/train/src/families/mlp/onnx-train.test.ts',
  'packages/train/src/families/small-lm/onnx-train.test.ts',
  'packages/train/src/families/small-lm/onnx.test.ts',
  'packages/train/src/families/small-lm/transformer.test.ts',
  'packages/train/src/workers/pool.test.ts',
];
const e2eFiles = [...testFiles.map((glob) => glob.replace(/\.test\.ts$/, '.e2e.test.ts')), ...e2eListed];
const ignored = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: testFiles,
          exclude: [...ignored, ...e2eFiles],
          testTimeout: 20_000,
          hookTimeout: 20_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: e2eFiles,
          exclude: ignored,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
