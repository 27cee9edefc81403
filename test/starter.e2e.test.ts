// A new project, through the real bin: init's templates, train on the user's own labelled data, selftest, doctor,
// and the dataset formats a check refuses.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runCli, testDir } from './helpers.js';

/** Labelled data: 5 Gaussian clusters in 16 dimensions, 1,500 rows, as CSV with a "label" column. */
function clusters(rows = 1500, dims = 16, classes = 5): { header: string; lines: string[] } {
  let s = 7;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const gauss = () => Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: classes }, () => Array.from({ length: dims }, gauss));
  const lines = Array.from({ length: rows }, (_, n) => {
    const k = n % classes;
    return [...centres[k].map((c) => (c + 1.2 * gauss()).toFixed(4)), k].join(',');
  });
  return { header: [...Array.from({ length: dims }, (_, i) => `f${i}`), 'label'].join(','), lines };
}

/** The project's node_modules, linked in, as `npm install distill-gate` would give a user's project. */
function withPackages(dir: string): void {
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

describe('distill-gate init templates and train', () => {
  it("classifier: trains on a user's CSV, writes a config that checks, says what it wrote and what next", async () => {
    const dir = testDir('dg-starter-');
    withPackages(dir);
    const { header, lines } = clusters();
    writeFileSync(join(dir, 'labelled.csv'), `${header}\n${lines.join('\n')}\n`);
    const r = await runCli(['init', '--template', 'classifier', '--data', 'labelled.csv'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('300 held-out rows of labelled.csv (1,500 rows, 16 inputs, 5 classes)');
    expect(r.stderr).toContain('MLP 16-256-256-8 (5 class logits, 3 auxiliary)');
    expect(r.stderr).toMatch(/models\/teacher\.safetensors: class accuracy 0\.9\d+ on 300 held-out rows/);
    expect(r.stderr).toContain('wrote:\n  distill-gate.config.json\n  models/base.safetensors');
    expect(r.stderr).toContain('next:\n  npx distill-gate check --config distill-gate.config.json');
    const config = JSON.parse(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8'));
    expect(config.$schema).toMatch(/schema\/config\.schema\.json$/);
    expect(config.traits[0].options.data).toBe('labelled.csv');
    expect(config.training.outputs).toEqual({ start: 5, end: 8 });
    expect(config.datasets[0].recipe.generator.options.auxiliary).toEqual({ start: 5, end: 8 });
    // The starter runs: scaled down to 3 seeds and 12,000 noise images so the test takes seconds.
    config.datasets = config.datasets.slice(0, 2);
    for (const d of config.datasets) d.recipe.generator.options.count = 12000;
    Object.assign(config, { seeds: 3, sequential: { maxSeeds: 6, roundSize: 3 } });
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(config));
    const c = await runCli(['check', '--no-progress'], dir);
    // 300 held-out rows are fewer than 6 seeds need at threshold 0.05: said before training, and only that.
    expect(c.stderr).toMatch(/^warning: \S+ evaluates on 300 item\(s\), fewer than the \d+ that 6 seeds need[^\n]*\n$/);
    expect(c.stdout).toMatch(/teacher-aux-logits\s.*FAIL/);
    expect(c.stdout).toMatch(/reference-aux-logits\s.*PASS/);
    expect(c.code).toBe(1);
    // Again without --force: refused, nothing overwritten.
    const again = await runCli(['train', '--data', 'labelled.csv'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exist');
    // With --force the models are rebuilt and the datasets made from the old ones are removed (the next check
    // materialises them from the new models).
    const forced = await runCli(['train', '--data', 'labelled.csv', '--force', '--no-config'], dir);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain(
      'removed datasets made from the old models: data/teacher-aux-logits.safetensors, ' +
        'data/reference-aux-logits.safetensors',
    );
    expect(existsSync(join(dir, 'data/teacher-aux-logits.safetensors'))).toBe(false);
    const labelsAlone = await runCli(['train', 'x', '--labels', 'y.npy'], dir);
    expect(labelsAlone.code).toBe(2);
    expect(labelsAlone.stderr).toContain('pass --data too');
  });

  it('train: NPY inputs with a labels file, models only', async () => {
    const dir = testDir('dg-train-');
    const { lines } = clusters(600, 8, 3);
    const values = lines.map((l) => l.split(',').map(Number));
    const x = new Float32Array(values.flatMap((v) => v.slice(0, -1)));
    const y = new Int32Array(values.map((v) => v[v.length - 1]));
    const npy = (descr: string, shape: string, data: ArrayBufferView) => {
      let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
      h += ' '.repeat(64 - ((10 + h.length + 1) % 64)) + '\n';
      const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 255, h.length >> 8]);
      return Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer)]);
    };
    writeFileSync(join(dir, 'x.npy'), npy('<f4', '(600, 8)', x));
    writeFileSync(join(dir, 'y.npy'), npy('<i4', '(600,)', y));
    const r = await runCli(['train', 'out', '--data', 'x.npy', '--labels', 'y.npy', '--no-config'], dir);
    expect(r.stderr).toContain('120 held-out rows of ../x.npy (600 rows, 8 inputs, 3 classes)');
    expect(r.code).toBe(0);
    for (const m of ['base', 'teacher', 'teacher-different-init'])
      expect(existsSync(join(dir, 'out/models', `${m}.safetensors`))).toBe(true);
    expect(existsSync(join(dir, 'out/distill-gate.config.json'))).toBe(false);
  });

  it('chat-lm: a config for a Hugging Face folder and chat JSONL, pointing at what is still missing', async () => {
    const dir = testDir('dg-chat-');
    const r = await runCli(['init', 'proj', '--template', 'chat-lm'], dir);
    expect(r.code).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'proj/distill-gate.config.json'), 'utf8'));
    expect(config.base).toEqual({ path: 'models/base' });
    expect(config.datasets).toEqual([{ name: 'teacher', path: 'data/teacher.jsonl' }]);
    expect(r.stderr).toContain(
      'put your files here first (they do not exist yet): proj/models/base, proj/data/teacher.jsonl',
    );
    expect(r.stderr).toContain('npx distill-gate check --config proj/distill-gate.config.json');
    // The config is valid: doctor finds only the missing base model.
    const d = await runCli(['doctor', '--config', 'proj/distill-gate.config.json', '--json'], dir);
    const failing = JSON.parse(d.stdout).filter((l: { ok: unknown }) => l.ok === false);
    expect(failing.map((l: { what: string }) => l.what)).toEqual(['base model']);
    expect(d.code).toBe(2);
    // A FIFO where the base model should be is not a folder that is fine (doctor said "ok ... a folder").
    mkdirSync(join(dir, 'proj/models'), { recursive: true });
    execFileSync('mkfifo', [join(dir, 'proj/models/base')]);
    const fifo = await runCli(['doctor', '--config', 'proj/distill-gate.config.json', '--json'], dir);
    const base = JSON.parse(fifo.stdout).find((l: { what: string }) => l.what === 'base model');
    expect([base.ok, base.detail]).toEqual([
      false,
      'proj/models/base is a FIFO (named pipe), not a model file or folder',
    ]);
  });

  it('custom-trait: a plain-JavaScript trait plugin the config uses, which plugins describe reads', async () => {
    const dir = testDir('dg-custom-');
    withPackages(dir);
    const r = await runCli(['init', '--template', 'custom-trait'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('  traits/digit-preference.mjs\n');
    const config = JSON.parse(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8'));
    expect(config.traits[0]).toEqual({ use: './traits/digit-preference.mjs', options: { digit: 1 } });
    const d = await runCli(['plugins', 'describe', './traits/digit-preference.mjs'], dir);
    expect(d.stdout).toContain('digit-preference 0.1.0 (trait');
    const doc = await runCli(['doctor'], dir);
    expect(doc.stdout).toMatch(/ ok +trait plugin: \.\/traits\/digit-preference\.mjs 0\.1\.0/);
    expect(doc.stdout).toMatch(/ ok +base model: models\/base\.safetensors \(sha256 [0-9a-f]{16}\)/);
    expect(doc.stdout).toMatch(/ ok +report folder: distill-gate-report is writable/);
    expect(doc.code).toBe(0);
  });
});

describe('distill-gate selftest', () => {
  it('plants a trait in a teacher built on the fly: its data FAILs, clean controls PASS, no files left', async () => {
    const dir = testDir('dg-selftest-');
    const r = await runCli(['selftest'], dir);
    expect(r.stdout).toMatch(
      new RegExp(
        'selftest passed in \\d+ s: planted trait FAIL \\(expected FAIL\\), untrained base PASS \\(expected PASS\\), ' +
          'different-init teacher PASS \\(expected PASS\\)',
      ),
    );
    expect(r.code).toBe(0);
    const work = /working folder: (\S+)/.exec(r.stderr)![1];
    expect(existsSync(work)).toBe(false);
    // --keep never writes into a folder that holds something.
    writeFileSync(join(dir, 'distill-gate.config.json'), '{}');
    const kept = await runCli(['selftest', '--keep', '.'], dir);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toContain('give it an empty or new folder');
    expect(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8')).toBe('{}');
  });
});

describe('dataset formats', () => {
  it('refuses an NPY dataset before any training, naming the supported formats', async () => {
    const dir = testDir('dg-npy-');
    writeFileSync(join(dir, 'data.npy'), 'not read');
    const r = await runCli(
      ['check', '--config', join(root, 'examples/mnist-subliminal/distill-gate.config.json'), 'data.npy'],
      dir,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dataset format .npy is not supported: data.npy');
    expect(r.stderr).toContain('.jsonl (text or chat records, one JSON object per line) or .safetensors');
  });
});
