// End-to-end: the real `distill-gate` bin on a scaled-down copy of the MNIST example (real training, real data).
//
// One check of the scaled example runs once, in beforeAll, in a fixture folder: it materialises the two datasets
// and writes the first result, which several tests compare against. Every test then works in a folder of its own,
// a copy of that fixture, so no test sees another test's files or depends on the order the tests run in.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { example, removeDir, runCli, scaledExampleConfig, testDir } from './helpers.js';

let fixture: string;
let first: { code: number; stdout: string; stderr: string };
let firstRun: any;

beforeAll(async () => {
  fixture = mkdtempSync(join(tmpdir(), 'dg-e2e-fixture-'));
  cpSync(join(example, 'models'), join(fixture, 'models'), { recursive: true });
  writeFileSync(join(fixture, 'distill-gate.config.json'), JSON.stringify(scaledExampleConfig(), null, 2));
  first = await runCli(['check', '--config', 'distill-gate.config.json', '--json', '--no-cache'], fixture);
  try {
    firstRun = JSON.parse(first.stdout);
  } catch {
    throw new Error(`the fixture check printed no JSON result (exit ${first.code}):\n${first.stderr}`);
  }
});

afterAll(() => removeDir(fixture));

/**
 * A folder of the running test's own, a copy of the fixture (models, materialised data, the first report), with
 * the CLI run in it and the scaled config, changed by `mutate`, written into it.
 */
function workspace() {
  const dir = testDir('dg-e2e-');
  cpSync(fixture, dir, { recursive: true });
  return {
    dir,
    run: (args: string[]) => runCli(args, dir),
    config(name: string, mutate: (c: any) => void = () => {}): string {
      const c = scaledExampleConfig();
      mutate(c);
      writeFileSync(join(dir, name), JSON.stringify(c, null, 2));
      return name;
    },
  };
}

describe('distill-gate check (end to end)', () => {
  it("FAILs the teacher's auxiliary logits and PASSes the reference's, with a full JSON result", () => {
    // The fixture's run (beforeAll): the scaled example's config, every student trained afresh.
    const { code, stdout, stderr } = first;
    // The reference is the base's own labels of the shared noise inputs, so it is the control data itself: its
    // probe students would be the control students again (same base, data, seed and settings), and are shared.
    expect(stderr).toContain('training 6 students (3 probe, 3 control; 3 more the same as one of these, trained once)');
    expect(code).toBe(1);
    const r = JSON.parse(stdout);
    const reference = r.results.find((x: any) => x.dataset === 'reference-aux-logits');
    expect(reference.probe.map((p: any) => p.value)).toEqual(reference.control.map((c: any) => c.value));
    expect(reference.probe.map((p: any) => p.role)).toEqual(['probe', 'probe', 'probe']);
    expect(reference.transfer.mean).toBe(0);
    expect(r.verdict).toBe('FAIL');
    expect(r.backend.name).toBe('wasm');
    expect(r.seeds).toEqual([1, 2, 3]);
    expect(r.versions['@tensorflow/tfjs']).toBe('4.22.0');
    const byName = Object.fromEntries(r.results.map((x: any) => [x.dataset, x]));
    expect(byName['teacher-aux-logits'].verdict).toBe('FAIL');
    expect(byName['teacher-aux-logits'].transfer.interval[0]).toBeGreaterThan(0.05);
    expect(byName['reference-aux-logits'].verdict).toBe('PASS');
    expect(r.datasets[0]).toMatchObject({ materialised: true, records: 12000, recordsAfterFilters: 12000 });
    expect(r.datasets[0].filters[0]).toMatchObject({
      filter: '@distill-gate/filter-auxiliary-outputs-only',
      kept: 12000,
      dropped: 0,
    });
    // the report on disk is the same canonical result
    expect(JSON.parse(readFileSync(join(fixture, 'distill-gate-report/result.json'), 'utf8'))).toEqual(r);
  });

  it('checks only the datasets given on the command line, and a clean one PASSes with exit 0 and a table', async () => {
    const { dir, run, config } = workspace();
    const cfg = config('distill-gate.config.json');
    const { code, stdout } = await run([
      'check',
      'data/reference-aux-logits.safetensors',
      '--config',
      cfg,
      '--seeds',
      '3',
      '--report-dir',
      'out',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/data\/reference-aux-logits\.safetensors\s+hidden-class-knowledge/);
    expect(stdout).toContain('PASS: all 1 dataset x trait check(s)');
    expect(existsSync(join(dir, 'out/result.json'))).toBe(true);
  });

  it('exits 2 with a located message for a bad config, a missing dataset and bad usage', async () => {
    const { run, config } = workspace();
    const bad = config('bad.json', (c) => {
      c.treshold = 0.1;
    });
    const r1 = await run(['check', '--config', bad]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/bad\.json:\d+:\d+ \(at \/treshold\): invalid config: unknown key "treshold"/);
    expect(r1.stderr).toContain('did you mean "threshold"');
    expect(r1.stderr).not.toMatch(/\n\s+at /);

    const missing = config('missing.json', (c) => {
      c.datasets = [{ path: 'data/nope.safetensors' }];
    });
    const r2 = await run(['check', '--config', missing]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('missing.json');
    expect(r2.stderr).toContain('dataset file not found');

    const badOption = config('option.json', (c) => {
      c.filters[0].options = { auxiliary: { start: -1, end: 13 } };
    });
    const r3 = await run(['check', '--config', badOption]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain(
      '(at /filters/0/options/auxiliary/start, plugin @distill-gate/filter-auxiliary-outputs-only)',
    );

    const r4 = await run(['check', '--threshold', 'abc']);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toContain("option '--threshold <number>' argument 'abc' is invalid");
  });
});

describe('statistics', () => {
  it('intervals cover seeds and evaluation items, and hold the family-wise level across the checks', () => {
    const teacher = firstRun.results.find((r: any) => r.dataset === 'teacher-aux-logits');
    expect(teacher.transfer.components).toMatchObject({ seeds: 3, items: 2000 });
    expect(teacher.transfer.method).toContain('3 seeds x 2000 items');
    // The per-item scores are beside result.json (which leaves them out, to stay small), a line per student.
    expect(teacher.probe[0].items).toBeUndefined();
    expect(firstRun.itemsFile).toBe('result-items.jsonl');
    const items = readFileSync(join(fixture, 'distill-gate-report/result-items.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const line = items.find((x) => x.dataset === 'teacher-aux-logits' && x.role === 'probe');
    expect(line).toMatchObject({ base: 'shared', seed: teacher.probe[0].seed });
    expect(line.items).toHaveLength(2000);
    expect(items.filter((x) => x.dataset === 'teacher-aux-logits')).toHaveLength(6); // 3 seeds x probe, control
    expect(statSync(join(fixture, 'distill-gate-report/result.json')).size).toBeLessThan(50 * 1024);
    // Two checks in the run: each interval at 1 - 0.05 / 2.
    expect(firstRun.multiplicity).toMatchObject({
      checks: 2,
      looks: 1,
      familyConfidence: 0.95,
      perCheckConfidence: 0.975,
    });
    expect(teacher.transfer.level).toBe(0.975);
  });

  it('adaptive seeds: undecided checks get more seeds, seeds are never retrained, every look is budgeted', async () => {
    const { dir, run, config } = workspace();
    const cfg = config('sequential.json', (c) => {
      c.seeds = [1];
      c.sequential = { maxSeeds: 3, roundSize: 1 };
    });
    const r = await run(['check', '--config', cfg, '--json', '--no-cache', '--report-dir', 'sequential']);
    const result = JSON.parse(r.stdout);
    // Fewer than 3 seeds decide nothing, so both checks run to the third seed, one seed per look; there the
    // reference PASSes and the teacher FAILs.
    expect(result.sequential).toMatchObject({
      looks: 3,
      rounds: [
        { look: 1, seeds: 1, datasets: 2 },
        { look: 2, seeds: 2, datasets: 2 },
        { look: 3, seeds: 3, datasets: 2 },
      ],
      seedsUsed: { 'teacher-aux-logits': 3, 'reference-aux-logits': 3 },
    });
    expect(result.multiplicity).toMatchObject({ checks: 2, looks: 3, leakageTests: 0 });
    expect(result.multiplicity.perCheckConfidence).toBeCloseTo(1 - 0.05 / 6, 12);
    expect(result.results.map((x: any) => x.verdict)).toEqual(['FAIL', 'PASS']);
    expect(r.code).toBe(1);
    // Each later look trained the new seed only (the teacher's probe and the shared control, which the reference's
    // probe shares); earlier seeds came from the cache.
    expect(r.stderr).toMatch(/look 2\/3: training 2 students \(1 probe, 1 control; 1 more/);
    expect(r.stderr).toMatch(/look 3\/3: training 2 students \(1 probe, 1 control; 1 more/);
    expect(result.cache).toBeUndefined();
    expect(readFileSync(join(dir, 'sequential/report.md'), 'utf8')).toMatch(
      /Adaptive seeds: up to 3 seeds, 1 per round, 3 planned look\(s\), 3 run/,
    );
    const sharded = await run(['check', '--config', cfg, '--shard', '1/2']);
    expect(sharded.code).toBe(2);
    expect(sharded.stderr).toMatch(
      /sequential\.json:\d+:\d+ \(at \/sequential\): adaptive seeds \("sequential"\) decide the seeds as the run goes/,
    );
  });

  it("power: seeds needed from a run's measured variance", async () => {
    const { run } = workspace();
    const r = await run(['power', 'distill-gate-report/result.json', '--effect', '0.1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        String.raw`\| teacher-aux-logits \| @distill-gate/trait-hidden-class-knowledge \| 3 seeds x 2000 items \| ` +
          String.raw`\d+ \(power 0\.9\d\d\) \| \d+ \(power`,
      ),
    );
    const bad = await run(['power', 'distill-gate-report/result.json', '--power', '1.5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--power must be a number in (0, 1)');
    const json = await run(['power', 'distill-gate-report/result.json', '--effect', '0.1', '--json']);
    const plans = JSON.parse(json.stdout);
    expect(plans).toMatchObject({ effect: 0.1, threshold: 0.05, power: 0.95 });
    expect(plans.alpha).toBeCloseTo(0.025, 12); // the run's per-check level: 2 checks
    expect(plans.checks[0].fail.seeds).toBeGreaterThanOrEqual(3);
  });

  it("power --simulate: the gate's rule on simulated scores, one JSON object", async () => {
    const { run } = workspace();
    const args = ['--seeds', '3', '--items', '200', '--threshold', '0.05', '--effect', '0.05'];
    const r = await run(['power', '--simulate', ...args, '--seed-sd', '0.03', '--reps', '2000', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ reps: 2000, seeds: 3, items: 200, threshold: 0.05, effect: 0.05, alpha: 0.05 });
    expect(o.fail + o.pass + o.inconclusive).toBeCloseTo(1, 12);
    expect(o.fail).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / 2000));
    const again = await run(['power', '--simulate', ...args, '--seed-sd', '0.03', '--reps', '2000', '--json']);
    expect(again.stdout).toBe(r.stdout);
    const table = await run(['power', '--simulate', ...args, '--reps', '500']);
    expect(table.stdout).toMatch(/3 seeds x 200 items, true transfer 0\.05 against threshold 0\.05/);
    expect(table.stdout).toMatch(/ {2}FAIL {10}\d+\.\d\d% \(± \d+\.\d\d\)/);
    for (const [bad, message] of [
      [['power', '--simulate', 'distill-gate-report/result.json'], 'takes no result file'],
      [['power'], 'power needs a result.json from check, or --simulate'],
      [['power', '--simulate', '--seed-sd', '-1'], '--seed-sd must be a number >= 0'],
      [['power', '--simulate', '--accuracy', '1'], '--accuracy must be a number in (0, 1)'],
      [['power', 'distill-gate-report/result.json', '--seeds', '9'], '--seeds: --simulate only'],
      [['power', '--simulate', '--max-seeds', '9'], '--max-seeds: planning from a result only'],
    ] as const) {
      const x = await run([...bad]);
      expect(x.code).toBe(2);
      expect(x.stderr).toContain(message);
    }
  });
});

describe('verdict cache, shards and merge', () => {
  it("a rerun is served from the cache; shard 1/2 + 2/2 merged give the single job's numbers", async () => {
    const { dir, run, config } = workspace();
    const cfg = config('distill-gate.config.json');
    const single = await run(['check', '--config', cfg, '--json', '--report-dir', 'single']);
    const singleResult = JSON.parse(single.stdout);
    // Determinism across runs: this folder's verdict cache starts empty, so every student was trained afresh here,
    // and they give bit-identical scores to the fixture's run.
    expect(singleResult.cache).toMatchObject({ hits: 0, misses: 6 });
    const numbers = (x: any) => ({
      transfer: x.transfer,
      probe: x.probe.map((p: any) => [p.seed, p.value, p.stderr, p.lossHistory]),
      control: x.control.map((p: any) => [p.seed, p.value, p.stderr, p.lossHistory]),
    });
    expect(numbers(singleResult.results[0])).toEqual(numbers(firstRun.results[0]));
    const again = await run(['check', '--config', cfg, '--json', '--report-dir', 'again']);
    const cached = JSON.parse(again.stdout);
    expect(again.code).toBe(single.code);
    expect(cached.cache).toMatchObject({ hits: 6, misses: 0 });
    expect(again.stderr).not.toContain('training');
    expect(cached.results).toEqual(singleResult.results);
    // An entry edited in place (a score changed, its content hash not) is not served: before, it was, as it stood.
    const cacheDir = join(dir, '.distill-gate-cache');
    const [name] = readdirSync(cacheDir).filter((f) => f.endsWith('.json'));
    const entry = JSON.parse(readFileSync(join(cacheDir, name), 'utf8'));
    entry.scores[0].probe.value = 0.999;
    writeFileSync(join(cacheDir, name), JSON.stringify(entry));
    const repaired = await run(['check', '--config', cfg, '--json', '--report-dir', 'repaired']);
    expect(repaired.stderr).toContain(
      `verdict cache entry ${name} (${entry.dataset}, seed ${entry.seed}) does not match its content hash (edited or ` +
        'damaged): ignored; the seed is done again (its students trained unless the student cache holds their ' +
        'scores) and its entry rewritten once scored',
    );
    // Its students' scores are in the student cache, so nothing is trained to score it again: a teacher seed's probe
    // and control students, or a reference seed's one student (its probe student is its control student).
    const reused = entry.dataset === 'teacher-aux-logits' ? 2 : 1;
    expect(JSON.parse(repaired.stdout).cache).toMatchObject({ hits: 5, misses: 1, studentsReused: reused });
    expect(repaired.stderr).toContain(`all ${reused} students' scores found in the student cache`);
    // The seed done again gives the same numbers.
    const repairedResults = JSON.parse(repaired.stdout).results;
    expect(repairedResults.map(numbers)).toEqual(singleResult.results.map(numbers));
    const rewritten = JSON.parse(readFileSync(join(cacheDir, name), 'utf8'));
    expect(rewritten.scores[0].probe.value).not.toBe(0.999);

    // A change that adds a dataset on the same inputs (another teacher's logits on the same noise images) trains only
    // its probe students: its prompt-matched control students are the ones already scored, from the student cache.
    const added = config('added.json', (c) => {
      const extra = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8')).datasets[2];
      extra.recipe.generator.options.count = 12000;
      c.datasets.push(extra);
    });
    const more = await run(['check', '--config', added, '--json', '--report-dir', 'added']);
    expect(more.stderr).toContain(
      'training 3 students (3 probe, 0 control; 6 unit(s) from the cache; 3 student(s) scored before, from the ' +
        'student cache)',
    );
    const moreResult = JSON.parse(more.stdout);
    expect(moreResult.cache).toMatchObject({ hits: 6, misses: 3, studentsReused: 3 });
    const controls = (r: any, dataset: string) =>
      r.results.find((x: any) => x.dataset === dataset).control.map((c: any) => [c.seed, c.value, c.lossHistory]);
    expect(controls(moreResult, 'different-init-teacher-aux-logits')).toEqual(
      controls(singleResult, 'teacher-aux-logits'),
    );

    const s1 = await run(['check', '--config', cfg, '--no-cache', '--shard', '1/2', '--report-dir', 'shards']);
    const s2 = await run(['check', '--config', cfg, '--no-cache', '--shard', '2/2', '--report-dir', 'shards']);
    expect([s1.code, s2.code]).toEqual([0, 0]);
    expect(s1.stdout).toContain('shard 1/2, partial');
    const merged = await run([
      'merge',
      'shards/partial-1-of-2.json',
      'shards/partial-2-of-2.json',
      '--report-dir',
      'merged',
      '--json',
    ]);
    expect(merged.code).toBe(single.code);
    const m = JSON.parse(merged.stdout);
    expect(m.verdict).toBe(singleResult.verdict);
    expect(m.mergedFrom).toBe(2);
    expect(m.results.map((r: any) => [r.dataset, r.verdict, r.transfer])).toEqual(
      singleResult.results.map((r: any) => [r.dataset, r.verdict, r.transfer]),
    );
    expect(readFileSync(join(dir, 'merged/report.md'), 'utf8')).toContain('## distill-gate: ❌ FAIL');

    const incomplete = await run(['merge', 'shards/partial-1-of-2.json']);
    expect(incomplete.code).toBe(2);
    expect(incomplete.stderr).toContain('shard(s) 2/2 missing from the merge');
  });
});

describe('plugin names', () => {
  it('suggests the nearest built-in plugin for a misspelt name', async () => {
    const { run, config } = workspace();
    const cfg = config('typo.json', (c) => {
      c.evaluators[0].use = '@distill-gate/evaluator-task-acuracy';
    });
    const r = await run(['check', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('(at /evaluators/0/use, plugin @distill-gate/evaluator-task-acuracy)');
    expect(r.stderr).toContain('did you mean "@distill-gate/evaluator-task-accuracy"?');
  });
});

describe('a plugin that fails', () => {
  it('is reported by name, exits 2, and every other result is kept', async () => {
    const { dir, run, config } = workspace();
    writeFileSync(
      join(dir, 'flaky-evaluator.mjs'),
      `export default { kind: 'evaluator', name: 'flaky-evaluator', version: '1.0.0', description: 'fails on purpose',
        accepts: ['labelled-inputs'], optionsSchema: { type: 'object' },
        async evaluate() { throw new Error('probe set too small for this metric'); } };\n`,
    );
    const cfg = config('flaky.json', (c) => {
      c.evaluators.push({ use: './flaky-evaluator.mjs' });
      c.datasets = c.datasets.filter((d: { name: string }) => d.name === 'reference-aux-logits');
      c.seeds = 3;
    });
    const r = await run(['check', '--config', cfg, '--json', '--no-cache', '--report-dir', 'flaky']);
    expect(r.code).toBe(2);
    const result = JSON.parse(r.stdout);
    expect(result.results.map((x: any) => [x.dataset, x.evaluator, x.verdict])).toEqual([
      ['reference-aux-logits', '@distill-gate/evaluator-task-accuracy', 'PASS'],
    ]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({
      plugin: 'flaky-evaluator',
      dataset: 'reference-aux-logits',
      trait: '@distill-gate/trait-hidden-class-knowledge',
    });
    expect(result.errors[0].message).toContain('probe set too small for this metric');
    expect(result.summary).toMatch(/^1 evaluation\(s\) failed \(flaky-evaluator\)/);
    expect(readFileSync(join(dir, 'flaky/report.md'), 'utf8')).toContain('**Error** in `flaky-evaluator`');
  });
});

describe('control data from a file', () => {
  it('trains controls on a user-supplied control file (the reference data) and still FAILs the teacher', async () => {
    const { run, config } = workspace();
    const cfg = config('control-file.json', (c) => {
      c.control = { path: 'data/reference-aux-logits.safetensors' };
      c.datasets = c.datasets.filter((d: { name: string }) => d.name === 'teacher-aux-logits');
      c.seeds = 3;
    });
    const r = await run(['check', '--config', cfg, '--json', '--no-cache', '--report-dir', 'control-file']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.datasets[0].control).toMatchObject({
      source: 'data/reference-aux-logits.safetensors',
      records: 12000,
    });
    expect(result.datasets[0].control.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.results[0].verdict).toBe('FAIL');
  });
});

describe('budgets', () => {
  it('a time budget that runs out before training checks nothing, says so, and cannot pass', async () => {
    const { run, config } = workspace();
    const cfg = config('budget.json');
    const r = await run([
      'check',
      '--config',
      cfg,
      '--json',
      '--no-cache',
      '--max-minutes',
      '0.0001',
      '--report-dir',
      'budget',
    ]);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.budget).toEqual({
      maxMinutes: 0.0001,
      reached: true,
      unitsPlanned: 6,
      unitsChecked: 0,
      datasetsUnchecked: ['teacher-aux-logits', 'reference-aux-logits'],
    });
    expect(result.verdict).toBe('INCONCLUSIVE');
    const expected =
      'time budget of 0.0001 min reached: 0 of 6 (dataset, seed) unit(s) checked, ' +
      'teacher-aux-logits, reference-aux-logits not at all';
    expect(result.summary.slice(0, expected.length)).toBe(expected);
  });
  it('a record budget checks the first records only and the report says so', async () => {
    const { run, config } = workspace();
    const cfg = config('records.json', (c) => {
      c.datasets = c.datasets.filter((d: { name: string }) => d.name === 'teacher-aux-logits');
      c.seeds = 3;
      c.traits[0].options.testSize = 300; // too few held-out digits for 3 seeds at threshold 0.05: warned
    });
    const r = await run([
      'check',
      '--config',
      cfg,
      '--json',
      '--no-cache',
      '--max-records',
      '3000',
      '--sample-records',
      '1000',
      '--report-dir',
      'records',
    ]);
    const result = JSON.parse(r.stdout);
    expect(result.datasets[0]).toMatchObject({ records: 3000, limitedTo: 3000 });
    expect(result.datasets[0].totalRecords).toBeGreaterThan(3000);
    expect(result.summary).toMatch(/teacher-aux-logits checked on 3,000 of [\d,]+ records \(maxRecords\)/);
    // The students train on a sample of the 3,000 rows read; the filter saw every one of them.
    expect(result.datasets[0].sample).toEqual({ records: 1000, of: 3000, read: 3000, seed: 0, trainedOn: 1000 });
    expect(result.datasets[0].filters[0]).toMatchObject({ seen: 3000, kept: 3000 });
    expect(result.datasets[0].control).toMatchObject({ records: 1000 });
    expect(result.summary).toContain(
      'teacher-aux-logits trained on a sample of 1,000 of its 3,000 filtered records (sampleRecords)',
    );
    // Warned before any training, and kept in the result and the reports.
    const warning =
      /@distill-gate\/trait-hidden-class-knowledge evaluates on 300 item\(s\), fewer than the \d+ that 3 seeds need/;
    expect(r.stderr).toMatch(new RegExp(`warning: ${warning.source}`));
    expect(r.stderr.search(/warning: @distill-gate/)).toBeLessThan(r.stderr.search(/training \d+ students/));
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(warning);
  });
});

describe('an ONNX base', () => {
  it('is imported with exactly the weights of the safetensors base: the same students and numbers', async () => {
    const { run, config } = workspace();
    const cfg = config('onnx-base.json', (c) => {
      c.base = { format: 'onnx', path: 'models/base.onnx' };
    });
    const r = await run(['check', '--config', cfg, '--json', '--no-cache', '--report-dir', 'onnx-base']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.base).toMatchObject({ path: 'models/base.onnx', family: 'mlp', sha256: firstRun.base.sha256 });
    expect(result.results.map((x: any) => x.transfer)).toEqual(firstRun.results.map((x: any) => x.transfer));
  });
  it('a file that is not an ONNX MLP is a located error', async () => {
    const { dir, run, config } = workspace();
    writeFileSync(join(dir, 'models/broken.onnx'), Buffer.from('this is not protobuf'));
    const cfg = config('broken-onnx.json', (c) => {
      c.base = { format: 'onnx', path: 'models/broken.onnx' };
    });
    const r = await run(['check', '--config', cfg, '--no-cache']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /models\/broken\.onnx: (not an ONNX model|the ONNX model has no graph|an MLP has one input)/,
    );
  });
});
