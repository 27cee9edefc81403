// Shared by the end-to-end tests: the real CLI bin and the MNIST example scaled down to test size.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export const root = join(import.meta.dirname, '..');
export const bin = join(root, 'packages/cli/bin/distill-gate.js');
export const example = join(root, 'examples/mnist-subliminal');

/**
 * The example's config, scaled down so a test takes seconds: the teacher and reference datasets only, 12,000
 * noise images instead of 60,000, batch 256 and lr 1e-3 instead of 1024 and 3e-4 (the transfer is smaller but
 * still far above the threshold), 3 fixed seeds.
 */
export function scaledExampleConfig(): any {
  const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
  delete c.$schema;
  // Fixed seeds: the tests that want adaptive seeds set "sequential" themselves.
  delete c.sequential;
  c.datasets = c.datasets.filter((d: { name: string }) => d.name !== 'different-init-teacher-aux-logits');
  for (const d of c.datasets) d.recipe.generator.options.count = 12000;
  c.training = { ...c.training, epochs: 5, batchSize: 256, learningRate: 0.001 };
  c.seeds = 3;
  return c;
}

/** Runs the distill-gate bin in `cwd`; never rejects. */
export function runCli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A fresh folder under the OS temp dir for the running test, removed when the test finishes (pass or fail). */
export function testDir(prefix = 'dg-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Removes a folder made with mkdtemp for a file's shared fixture (call it in afterAll). */
export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
