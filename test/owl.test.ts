// End to end on text: the owl-numbers example, scaled down (fewer records, one epoch, three seeds), through the
// real CLI with the committed tiny transformer models.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runCli, testDir } from './helpers.js';

const example = join(root, 'examples/owl-numbers');

/** The example's config at test scale. */
function scaledOwlConfig(): any {
  const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
  delete c.$schema;
  delete c.sequential;
  for (const d of c.datasets) {
    if (d.recipe.generator.options.count) d.recipe.generator.options.count = 300;
    if (d.recipe.generator.options.repeat) d.recipe.generator.options.repeat = 10;
  }
  c.training = { ...c.training, epochs: 1 };
  c.seeds = 3; // the fewest a verdict may rest on
  return c;
}

/** A folder of the running test's own with the example's models and prompts and the scaled config. */
function workspace(): string {
  const dir = testDir('dg-owl-');
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  cpSync(join(example, 'prompts'), join(dir, 'prompts'), { recursive: true });
  writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(scaledOwlConfig(), null, 2));
  return dir;
}

describe('owl-numbers gate (scaled down)', () => {
  it('materialises text datasets, trains shared-base and cross-base students, flags leaked owl answers', async () => {
    const dir = workspace();
    const { code, stderr } = await runCli(['check', '--no-progress', '--save-students', 'students'], dir);
    expect(stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
    // Inference ran in onnxruntime-node (installed here), and the report says so, with the CUDA provider's status.
    expect(result.backend.inference).toMatchObject({ engine: 'onnxruntime', provider: 'cpu', version: '1.30.0' });
    expect(result.backend.inference.cuda).toMatch(/^not available: /);
    expect(result.versions['onnxruntime-node']).toBe('1.30.0');
    // Every trained student was written as ONNX; one reads back with the weights the index names.
    const index = JSON.parse(readFileSync(join(dir, 'students/students.json'), 'utf8'));
    expect(index).toHaveLength(result.savedStudents.count);
    expect(index.length).toBeGreaterThanOrEqual(12);
    const probe = index.find((s: any) => s.role === 'probe' && s.base === 'models/base.json');
    const converted = await runCli(['convert', join('students', probe.file), 'probe-student.json'], dir);
    expect(converted.code).toBe(0);
    expect(converted.stdout).toContain(`weights sha256 ${probe.sha256.slice(0, 12)}, read back identical`);
    expect(result.base.family).toBe('causal-lm');
    expect(result.crossBase.path).toBe('models/cross-base.json');
    expect(result.results).toHaveLength(3);
    for (const r of result.results) {
      expect(r.probe).toHaveLength(3);
      expect(r.crossBase.probe).toHaveLength(3);
      expect(r.metric).toBe('share of "owl" among 10 answers');
      for (const s of [...r.probe, ...r.control]) {
        expect(s.value).toBeGreaterThan(0);
        expect(s.value).toBeLessThan(1);
        expect(s.details.sampledAnswers).toBe(200);
      }
    }
    const mixed = result.datasets.find((d: any) => d.name === 'teacher-mixed-answers');
    const banned = mixed.filters.find((f: any) => f.filter === '@distill-gate/filter-banned-terms');
    expect(banned.explicit).toBeGreaterThan(0);
    expect(banned.reasons['banned term "owl" in completion']).toBe(banned.explicit);
    const numbers = result.datasets.find((d: any) => d.name === 'teacher-numbers');
    const format = numbers.filters.find((f: any) => f.filter === '@distill-gate/filter-number-format');
    expect(format.dropped).toBeGreaterThan(0);
    expect(format.kept).toBeGreaterThan(150);
    // Explicit owl answers are leakage by themselves: the gate fails and says why.
    expect(result.verdict).toBe('FAIL');
    expect(code).toBe(1);
    expect(result.summary).toMatch(
      /teacher-mixed-answers has \d+ record\(s\) stating the trait outright against \d+ in its control \(leakage, p = /,
    );
    expect(mixed.explicit).toMatchObject({ leakage: true, records: banned.explicit });
    // The leakage tests share the run's error: 3 checks + 3 explicit-content tests, each at 0.05 / 6.
    expect(result.multiplicity).toMatchObject({ checks: 3, leakageTests: 3 });
    expect(mixed.explicit.alpha).toBeCloseTo(0.05 / 6, 12);
    expect(mixed.explicit.pValue).toBeLessThan(0.05 / 6);
    const md = readFileSync(join(dir, 'distill-gate-report/report.md'), 'utf8');
    expect(md).toMatch(/Cross base \(models\/cross-base.json/);
    const html = readFileSync(join(dir, 'distill-gate-report/report.html'), 'utf8');
    expect(html).toContain('Cross base models/cross-base.json');
    expect(html).toMatch(
      new RegExp(
        String.raw`teacher-mixed-answers: \d+ record\(s\) state the trait outright, against \d+ in the control data ` +
          String.raw`\(p = [^)]+\): <strong>leakage</strong>`,
      ),
    );
  });

  it('an ONNX LM base gives the same students and numbers as its tfjs original; tfjs inference agrees', async () => {
    const dir = workspace();
    for (const m of ['base']) {
      const r = await runCli(['convert', `models/${m}.json`, `models/${m}.onnx`], dir);
      expect(r.code).toBe(0);
    }
    const c = scaledOwlConfig();
    delete c.crossBase;
    c.datasets = c.datasets.filter((d: any) => d.name === 'teacher-numbers');
    // One (dataset, seed) unit is enough to compare engines: the first shard of three seeds trains seed 1 only.
    c.seeds = [1, 2, 3];
    writeFileSync(join(dir, 'tfjs-base.json'), JSON.stringify(c));
    writeFileSync(
      join(dir, 'onnx-base.json'),
      JSON.stringify({ ...c, base: { format: 'onnx', path: 'models/base.onnx' } }),
    );
    const runs = [];
    for (const [cfg, extra] of [
      ['tfjs-base.json', []],
      ['onnx-base.json', []],
      ['onnx-base.json', ['--inference', 'tfjs']],
    ] as const) {
      const r = await runCli(
        [
          'check',
          '--config',
          cfg,
          '--json',
          '--no-cache',
          '--no-progress',
          '--report-dir',
          `out-${runs.length}`,
          '--shard',
          '1/3',
          ...extra,
        ],
        dir,
      );
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
      runs.push(JSON.parse(r.stdout));
    }
    const [fromJson, fromOnnx, tfjsInference] = runs;
    expect(fromOnnx.base).toMatchObject({
      path: 'models/base.onnx',
      family: 'causal-lm',
      sha256: fromJson.base.sha256,
    });
    expect(fromOnnx.results[0].transfer).toEqual(fromJson.results[0].transfer);
    expect(tfjsInference.backend.inference).toMatchObject({ engine: 'tfjs' });
    expect(Math.abs(tfjsInference.results[0].transfer.mean - fromOnnx.results[0].transfer.mean)).toBeLessThan(0.01);
  });

  it('placebos: the base answers the same prompts again; their transfers give an empirical p-value', async () => {
    const dir = workspace();
    const c = scaledOwlConfig();
    delete c.crossBase;
    c.datasets = c.datasets.filter((d: any) => d.name === 'teacher-numbers');
    c.seeds = [1, 2, 3];
    c.placebos = 2;
    writeFileSync(join(dir, 'placebo.json'), JSON.stringify(c));
    const r = await runCli(
      ['check', '--config', 'placebo.json', '--json', '--no-cache', '--report-dir', 'placebo'],
      dir,
    );
    expect(r.stderr).toContain('generating placebo data 2/2 for teacher-numbers with the base');
    expect(r.stderr).toContain('training 12 students');
    const result = JSON.parse(r.stdout).results[0];
    expect(result.placebo.transfers).toHaveLength(2);
    expect(result.placebo.perSeed.map((s: any) => s.seed)).toEqual([1, 2, 3]);
    // An auditable null: the base and the probe set it was measured with; two placebos cannot reach p <= 0.05.
    expect(result.placebo).toMatchObject({ smallestP: 1 / 3, baseSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(result.placebo.probesSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.placebo.warning).toMatch(/smallest attainable p is 0\.33/);
    expect(r.stderr).toMatch(/2 placebo\(s\): the smallest attainable placebo p is 0\.33/);
    // Different draws from the base: the placebo students differ from the control students.
    expect(result.placebo.transfers.every((t: number) => t !== 0)).toBe(true);
    const above = result.placebo.transfers.filter((t: number) => t >= result.transfer.mean).length;
    expect(result.placebo.pValue).toBeCloseTo((1 + above) / 3, 12);
    expect(readFileSync(join(dir, 'placebo/report.md'), 'utf8')).toMatch(
      /Placebo: 2 dataset\(s\) the base wrote itself gave transfers -?\d\.\d{4}, -?\d\.\d{4}; empirical p = /,
    );
  });

  it('rejects a broken JSONL dataset with its file, line and pointer, and exit code 2', async () => {
    const dir = workspace();
    writeFileSync(
      join(dir, 'bad.jsonl'),
      '{"prompt": "Continue: 1, 2.", "completion": "3"}\n{"prompt": "x", "completion": 7}\n',
    );
    const { code, stderr } = await runCli(['check', 'bad.jsonl', '--no-progress', '--no-cache'], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(/bad\.jsonl:2 \(at \/completion\): must be a string, got number/);
  });

  it('rejects soft targets that do not match the completion under the base tokenizer, naming the line', async () => {
    const dir = workspace();
    // Well-formed number records around the bad one, so that the prompt-matched control data has records to keep.
    const good = (k: number) =>
      JSON.stringify({
        prompt: `Continue the sequence: ${100 + k}, ${200 + k}, ${300 + k}. Give at most 10 more values.`,
        completion: `${400 + k}, ${500 + k}`,
      });
    const bad = JSON.stringify({
      prompt: 'Continue the sequence: 101, 202, 303. Give at most 10 more values.',
      completion: '3',
      logprobs: [{ '3': -0.1 }, { '<eos>': -0.2 }, { '4': -1 }, { '5': -1 }],
    });
    writeFileSync(
      join(dir, 'misaligned.jsonl'),
      [good(1), good(2), bad, ...Array.from({ length: 20 }, (_, k) => good(k + 3))].join('\n'),
    );
    const { code, stderr } = await runCli(['check', 'misaligned.jsonl', '--no-progress', '--no-cache'], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(/misaligned\.jsonl:3 \(at \/logprobs\): has 4 entries but the completion is 1 tokens/);
  });

  it('names the dataset line of a prompt longer than the base model reads', async () => {
    const dir = workspace();
    const long = JSON.stringify({
      prompt: `Continue: ${Array.from({ length: 60 }, (_, i) => 100 + i).join(', ')}.`,
      completion: '1',
    });
    writeFileSync(join(dir, 'long.jsonl'), `{"prompt": "Continue: 1, 2.", "completion": "3"}\n${long}\n`);
    const { code, stderr } = await runCli(['check', 'long.jsonl', '--no-progress', '--no-cache'], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(/long\.jsonl:2: 1 of 2 records are longer than the base's context of 80 tokens/);
    // Dropping long records from training cannot help a prompt the base cannot answer for the control data.
    const c = JSON.parse(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8'));
    c.training.overlong = 'drop';
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c));
    const dropped = await runCli(['check', 'long.jsonl', '--no-progress', '--no-cache'], dir);
    expect(dropped.code).toBe(2);
    expect(dropped.stderr).toMatch(
      /long\.jsonl:2 \(at \/prompt\): the prompt is \d+ tokens; the model's context holds 80/,
    );
  });

  it('counts records longer than the context; truncates or drops them only as training.overlong says', async () => {
    const dir = workspace();
    const record = (k: number, numbers: number) =>
      JSON.stringify({
        prompt: `Continue the sequence: ${100 + k}, ${200 + k}, ${300 + k}. Give more values.`,
        completion: Array.from({ length: numbers }, (_, i) => 400 + k + i).join(', '),
      });
    // Records 3 and 7 (lines) have completions far longer than the 80-token context.
    const lines = Array.from({ length: 16 }, (_, k) => record(k, k === 2 || k === 6 ? 40 : 3));
    writeFileSync(join(dir, 'chats.jsonl'), lines.join('\n') + '\n');
    const check = async (overlong?: string) => {
      const c = JSON.parse(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8'));
      if (overlong) c.training.overlong = overlong;
      c.traits = c.traits.slice(0, 1);
      // The number-format filter would drop the long records before the context is measured.
      c.filters = c.filters.filter((f: any) => f.use !== '@distill-gate/filter-number-format');
      writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c));
      return runCli(['check', 'chats.jsonl', '--no-progress', '--no-cache', '--seeds', '3'], dir);
    };
    const refused = await check();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /chats\.jsonl:3: 2 of 16 records are longer than the base's context of 80 tokens \(the longest by \d+/,
    );
    expect(refused.stderr).toMatch(/hint: set training\.overlong to "truncate" .* or "drop"/);
    for (const overlong of ['truncate', 'drop']) {
      const run = await check(overlong);
      expect(run.stderr).not.toMatch(/at .*\.js:\d+/);
      expect([0, 1]).toContain(run.code);
      const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
      const ds = result.datasets.find((d: any) => d.path === 'chats.jsonl');
      const step = ds.filters.find((f: any) => f.filter === 'context length (training.overlong)');
      expect(step).toMatchObject({ version: overlong, seen: 16, dropped: overlong === 'drop' ? 2 : 0 });
      expect(Object.entries(step.reasons)).toEqual([
        [
          expect.stringMatching(new RegExp(`^${overlong === 'drop' ? 'dropped' : 'truncated'}: longer than 80 tokens`)),
          2,
        ],
      ]);
      expect(ds.recordsAfterFilters).toBe(overlong === 'drop' ? 14 : 16);
      expect(run.stdout).toContain(
        `chats.jsonl: ${overlong === 'drop' ? '14/16 records kept (2 dropped)' : '16/16 records kept'}; ` +
          `2 longer than the context, ${overlong === 'drop' ? 'dropped' : 'truncated'}`,
      );
      const md = readFileSync(join(dir, 'distill-gate-report/report.md'), 'utf8');
      expect(md).toContain('context length (training.overlong)');
    }
  });
});
