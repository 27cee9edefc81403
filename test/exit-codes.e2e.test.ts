// The exit-code contract of docs/exit-codes.md, one test per code, through the real bin: 0 PASS, 1 FAIL, 2 usage,
// config, input or plugin error, 3 internal error. Each error case also checks that no stack trace is printed.
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, example, runCli, scaledExampleConfig, testDir } from './helpers.js';

function project(): string {
  const dir = testDir('dg-exit-');
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(scaledExampleConfig(), null, 2));
  return dir;
}

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);

describe('exit codes', () => {
  it("1: a dataset's transfer is above the threshold (FAIL); 0: every check is below it (PASS)", async () => {
    const dir = project();
    const both = await runCli(['check', '--no-progress'], dir);
    expect(both.stdout).toMatch(/^FAIL/m);
    expect(both.code).toBe(1);
    // The reference dataset alone: its units come from the verdict cache the first run filled, so nothing trains.
    const config = scaledExampleConfig();
    config.datasets = config.datasets.filter((d: { name: string }) => d.name === 'reference-aux-logits');
    writeFileSync(join(dir, 'reference.json'), JSON.stringify(config, null, 2));
    const pass = await runCli(['check', '--config', 'reference.json', '--no-progress'], dir);
    expect(pass.stdout).toMatch(/^PASS/m);
    expect(pass.code).toBe(0);
    // --help and --version are not errors.
    expect((await runCli(['--version'], dir)).code).toBe(0);
    expect((await runCli(['check', '--help'], dir)).code).toBe(0);
  });

  it('2: a usage error, a config error, an input error, a plugin that cannot be loaded', async () => {
    const dir = project();
    writeFileSync(join(dir, 'bad.jsonl'), '{"prompt": "a", "completion": "b"}\n{"prompt": \n');
    writeFileSync(
      join(dir, 'missing-plugin.json'),
      JSON.stringify({ ...scaledExampleConfig(), evaluators: [{ use: 'distill-gate-evaluator-not-installed' }] }),
    );
    writeFileSync(
      join(dir, 'screen-fail.json'),
      JSON.stringify({ ...scaledExampleConfig(), screen: { enabled: true, alarm: 'fail' } }),
    );
    const cases: [string[], RegExp][] = [
      // A shard exits 0 whatever its data says; an alarm that could make it exit 1 is refused up front.
      [['check', '--config', 'screen-fail.json', '--shard', '1/2'], /a screening alarm cannot fail a sharded check/],
      [['check', '--seeds', 'many'], /--seeds/],
      [['no-such-command'], /unknown command/],
      [['check', '--config', 'absent.json'], /absent\.json/],
      [['check', 'bad.jsonl', '--no-progress'], /bad\.jsonl:2/],
      [['check', '--config', 'missing-plugin.json', '--no-progress'], /distill-gate-evaluator-not-installed/],
      [
        ['power', '--simulate', '--seeds', '3', '--items', '500', '--threshold', '0.05', '--accuracy', '1.5'],
        /accuracy/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, dir);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(message);
      noStack(r.stderr);
    }
  });

  it('3: an internal error, e.g. standard output that cannot be written (before: a stack trace, exit 1)', () => {
    const dir = project();
    const full = openSync('/dev/full', 'w');
    try {
      for (const args of [
        ['--version'],
        ['power', '--simulate', '--seeds', '3', '--items', '500', '--threshold', '0.05', '--effect', '0', '--json'],
      ]) {
        const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, stdio: ['ignore', full, 'pipe'] });
        expect([args[0], r.status]).toEqual([args[0], 3]);
        const stderr = r.stderr.toString();
        expect(stderr).toBe('distill-gate: internal error: cannot write standard output (ENOSPC)\n');
      }
    } finally {
      closeSync(full);
    }
  });
});
