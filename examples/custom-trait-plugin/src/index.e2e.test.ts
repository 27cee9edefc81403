// A small real check through the CLI, with a config outside the core's source that names the custom trait by
// package name, and the trait's effect: students distilled on the teacher's auxiliary logits prefer the digit more
// than the controls do (the README's full-size run: 0.106 against 0.003).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const here = join(import.meta.dirname, '..');
const bin = join(here, '../../packages/cli/bin/distill-gate.js');
let dir: string | undefined;

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('distill-gate-trait-digit-preference in a check', () => {
  it('runs from a config that names it by package name, and the probe students prefer the digit more', async () => {
    dir = mkdtempSync(join(tmpdir(), 'dg-custom-'));
    const c = JSON.parse(readFileSync(join(here, 'distill-gate.config.json'), 'utf8'));
    delete c.$schema;
    c.base.path = join(here, c.base.path);
    c.datasets[0].path = join(dir, 'teacher.safetensors');
    c.datasets[0].recipe.model.path = join(here, c.datasets[0].recipe.model.path);
    // A third of the example's records at a higher learning rate: about 10 s on 2 cores, and enough training for
    // the preference to move (with 4,000 records and 3 epochs it did not: 0.004 against 0.003).
    c.datasets[0].recipe.generator.options.count = 20000;
    c.training = { ...c.training, epochs: 5, batchSize: 256, learningRate: 0.001 };
    c.seeds = 3;
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c));
    const cwd = dir;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [bin, 'check', '--json', '--no-progress', '--no-cache'], { cwd }, (_err, o, e) =>
        resolve({ stdout: o, stderr: e }),
      ),
    );
    expect(stdout, stderr).not.toBe('');
    const r = JSON.parse(stdout);
    expect(r.results.map((x: { trait: string }) => x.trait)).toEqual([
      'distill-gate-trait-digit-preference',
      '@distill-gate/trait-hidden-class-knowledge',
    ]);
    expect(r.plugins.find((p: { name: string }) => p.name === 'distill-gate-trait-digit-preference')).toMatchObject({
      kind: 'trait',
      version: '0.1.0',
      options: { digit: 1, splitSeed: 0, testSize: 2000 },
    });
    const pref = r.results[0];
    expect(pref.metric).toBe('accuracy');
    expect(pref.probe.map((s: { seed: number }) => s.seed)).toEqual([1, 2, 3]);
    // The untrained base almost never answers "1", and neither do the controls (trained on the base's own logits).
    // The probe students answer it several times as often, at every seed. Measured: probes 0.035 and 0.029,
    // controls 0.006 and 0.006 (transfer 0.026). The bounds leave room for another training engine's rounding.
    const mean = (xs: { value: number }[]) => xs.reduce((s, x) => s + x.value, 0) / xs.length;
    const [probe, control] = [mean(pref.probe), mean(pref.control)];
    expect(control).toBeLessThan(0.02);
    expect(probe - control).toBeGreaterThan(0.015);
    expect(probe).toBeGreaterThan(3 * control);
    pref.probe.forEach((p: { value: number }, i: number) => expect(p.value).toBeGreaterThan(pref.control[i].value));
    expect(pref.transfer.mean).toBeCloseTo(probe - control, 12);
    // The teacher's class knowledge itself comes through too.
    expect(r.results[1].transfer.mean).toBeGreaterThan(0.1);
  });
});
