// A plugin that fails during evaluation ends the run in exit 2, whichever way the verdict was assembled: one job,
// adaptive-seed rounds, or shards merged afterwards (the last two lost the exit code before the one assembler).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { example, runCli, scaledExampleConfig, testDir } from './helpers.js';

/** One of the example's datasets, with the failing evaluator beside the real one, in a fresh folder. */
function setUp(dataset: string, edit: (c: any) => void = () => {}) {
  const dir = testDir('dg-plugin-failure-');
  writeFileSync(
    join(dir, 'flaky-evaluator.mjs'),
    `export default { kind: 'evaluator', name: 'flaky-evaluator', version: '1.0.0', description: 'fails on purpose',
      accepts: ['labelled-inputs'], optionsSchema: { type: 'object' },
      async evaluate() { throw new Error('probe set too small for this metric'); } };\n`,
  );
  // Scores that say nothing: a value drawn from the student's weights hash, so checks stay undecided across looks.
  writeFileSync(
    join(dir, 'coin-evaluator.mjs'),
    `export default { kind: 'evaluator', name: 'coin-evaluator', version: '1.0.0', description: 'undecided on purpose',
      accepts: ['labelled-inputs'], optionsSchema: { type: 'object' },
      async evaluate({ model }) { return { value: parseInt(model.sha256.slice(0, 8), 16) / 2 ** 32, stderr: 0.3,
        n: 1, metric: 'coin' }; } };\n`,
  );
  const c = scaledExampleConfig();
  c.base.path = join(example, c.base.path);
  c.datasets = c.datasets.filter((d: { name: string }) => d.name === dataset);
  for (const d of c.datasets) {
    d.path = join(dir, `${dataset}.safetensors`);
    d.recipe.model.path = join(example, d.recipe.model.path);
    d.recipe.generator.options.count = 2000; // what is checked here is the exit code, not the size of a transfer
  }
  c.training.epochs = 2;
  c.evaluators.push({ use: './flaky-evaluator.mjs' });
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
  return { dir, run: (args: string[]) => runCli(['check', '--config', 'config.json', '--no-cache', ...args], dir) };
}

describe('a plugin failure ends in exit 2', () => {
  it('through the adaptive-seed rounds, which the combined rounds kept', async () => {
    // The teacher's data, so that probe and control students differ and the coin leaves its check undecided.
    const { run } = setUp('teacher-aux-logits', (c) => {
      c.evaluators.push({ use: './coin-evaluator.mjs' });
      c.seeds = 3;
      c.sequential = { maxSeeds: 6, roundSize: 3 };
    });
    const r = await run(['--json']);
    expect(r.code, r.stderr).toBe(2);
    const result = JSON.parse(r.stdout);
    expect(result.sequential.rounds.length).toBeGreaterThan(1);
    expect(result.errors).toEqual([expect.objectContaining({ plugin: 'flaky-evaluator' })]);
    expect(result.summary).toMatch(/^1 evaluation\(s\) failed \(flaky-evaluator\)/);
  });

  it('through the merge of shards, where every shard exits 0', async () => {
    const { dir, run } = setUp('reference-aux-logits', (c) => {
      c.seeds = [1, 2, 3, 4];
    });
    for (const shard of ['1/2', '2/2']) {
      const r = await run(['--shard', shard, '--report-dir', 'shards']);
      expect(r.code, r.stderr).toBe(0);
    }
    const merged = await runCli(
      ['merge', 'shards/partial-1-of-2.json', 'shards/partial-2-of-2.json', '--json', '--report-dir', 'merged'],
      dir,
    );
    expect(merged.code, merged.stderr).toBe(2);
    const result = JSON.parse(merged.stdout);
    expect(result.errors).toHaveLength(2); // one per shard: each scored its own seeds
    expect(result.results.map((x: any) => [x.evaluator, x.verdict, x.probe.length])).toEqual([
      ['@distill-gate/evaluator-task-accuracy', 'PASS', 4],
    ]);
  });
});
