// `distill-gate screen` end to end on real models: the owl-numbers example's small LMs (its base and owl teacher,
// committed) on the first rows of its datasets, in a copy; and a Hugging Face folder with a chat template, where the
// trait prompt is a system message. Then the Action's publishing of the screen: a warning annotation at each flagged
// row's line of the JSONL file, the screen's table in the job summary.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ScreenResult } from '@distill-gate/core';
import { publishScreen } from '../packages/action/src/publish.js';
import { root, runCli, testDir } from './helpers.js';
import { writeHfModel } from './hf-fixtures.js';

const owl = join(root, 'examples/owl-numbers');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/**
 * The owl-numbers example in a folder of its own: its models and its config, with the recipes of its first two
 * datasets (the owl teacher's numbers, the base's) at `rows` records each; the first run writes them.
 */
function owlCopy(rows: number, datasets = ['teacher-numbers', 'base-numbers']): string {
  const dir = testDir('dg-screen-owl-');
  cpSync(join(owl, 'models'), join(dir, 'models'), { recursive: true });
  const config = JSON.parse(readFileSync(join(owl, 'distill-gate.config.json'), 'utf8'));
  config.datasets = config.datasets.filter((d: { name: string }) => datasets.includes(d.name));
  for (const d of config.datasets) d.recipe.generator.options.count = rows;
  delete config.$schema;
  writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(config, null, 2));
  return dir;
}

afterEach(() => vi.restoreAllMocks());

describe('distill-gate screen', () => {
  it('flags owl-teacher rows at a control-calibrated cut-off, not base rows; writes a cleaned copy', async () => {
    const dir = owlCopy(400);
    // A first run writes the datasets from their recipes; the second, with a cleaned copy, scores every row the same.
    const first = await runCli(['screen', '--report-dir', 'first', '--no-progress'], dir);
    expect(first.code, first.stderr).toBe(0);
    const before = sha(join(dir, 'data/teacher-numbers.jsonl'));
    const r = await runCli(['screen', '--report-dir', 'report', '--cleaned', 'cleaned', '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'report/screen-rows.jsonl'), 'utf8')).toBe(
      readFileSync(join(dir, 'first/screen-rows.jsonl'), 'utf8'),
    );
    expect(r.stdout).toContain('It does not measure transfer');
    const result = JSON.parse(readFileSync(join(dir, 'report/screen.json'), 'utf8')) as ScreenResult;
    expect(result.kind).toBe('screen');
    expect(result.traitPrompts).toEqual([
      { trait: '@distill-gate/trait-animal-preference', text: 'You love owls.', placement: 'before the prompt' },
    ]);
    const [teacher, base] = result.datasets;
    expect(teacher.name).toBe('teacher-numbers');
    // The teacher's rows: both scores. The trait prompt makes them likelier than the control's (the alarm); the
    // teacher - base divergence is far above the control's, reported and flagging rows, but raises no alarm itself.
    expect(teacher.scores.map((s) => s.kind)).toEqual(['trait-shift', 'teacher-divergence']);
    const [shift, divergence] = teacher.scores;
    expect(shift.test.alarm).toBe(true);
    expect(shift.test.level).toBeCloseTo(0.05 / 2, 12); // the two datasets' trait-shift tests share 5%
    expect(divergence.mean).toBeGreaterThan(divergence.controlMean);
    expect(divergence.test.pValue).toBeLessThan(1e-6);
    expect(divergence.test).toMatchObject({ level: null, alarm: false });
    expect(teacher.alarm).toBe(true);
    expect(teacher.flagged).toBeGreaterThan(0.03 * teacher.recordsAfterFilters);
    // The base's own rows: the teacher is the base (no divergence), and no alarm.
    expect(base.scores.map((s) => s.kind)).toEqual(['trait-shift']);
    expect(base.teacher).toEqual({ note: 'the teacher is the base: no divergence to measure' });
    expect(base.alarm).toBe(false);
    // Each listed row is the row at its line of the file.
    const lines = readFileSync(join(dir, 'data/teacher-numbers.jsonl'), 'utf8').split('\n');
    for (const row of teacher.rows)
      expect(JSON.parse(lines[row.line - 1]).completion.startsWith(row.completion.replace(/\.\.\.$/, ''))).toBe(true);
    // The cleaned copy: every line but the flagged ones, the dataset itself untouched.
    expect(sha(join(dir, 'data/teacher-numbers.jsonl'))).toBe(before);
    const cleaned = readFileSync(join(dir, 'cleaned/teacher-numbers.screened.jsonl'), 'utf8').trim().split('\n');
    expect(teacher.cleaned).toMatchObject({ dropped: teacher.flagged, records: 400 - teacher.flagged });
    expect(cleaned).toHaveLength(400 - teacher.flagged);
    const flaggedLines = new Set(teacher.rows.filter((x) => x.flagged).map((x) => lines[x.line - 1]));
    expect(cleaned.some((l) => flaggedLines.has(l))).toBe(false);
    // Every row's scores, line-delimited; SARIF results located at the row's line.
    const all = readFileSync(join(dir, 'report/screen-rows.jsonl'), 'utf8').trim().split('\n');
    expect(all).toHaveLength(teacher.recordsAfterFilters + base.recordsAfterFilters);
    const sarif = JSON.parse(readFileSync(join(dir, 'report/screen.sarif'), 'utf8'));
    const located = sarif.runs[0].results[0].locations[0].physicalLocation;
    expect(located.artifactLocation.uri).toBe('data/teacher-numbers.jsonl');
    expect(located.region.startLine).toBe(teacher.rows[0].line);
    expect(readFileSync(join(dir, 'report/screen.md'), 'utf8')).toContain('| line | flagged | scores |');

    // The Action: one warning annotation per flagged row listed, at its file and line; the table in the summary.
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    const summary = join(dir, 'summary.md');
    writeFileSync(summary, '');
    const saved = process.env.GITHUB_STEP_SUMMARY;
    process.env.GITHUB_STEP_SUMMARY = summary;
    try {
      await publishScreen(result, dir, dir);
    } finally {
      if (saved === undefined) delete process.env.GITHUB_STEP_SUMMARY;
      else process.env.GITHUB_STEP_SUMMARY = saved;
    }
    const warnings = out.filter((l) => l.startsWith('::warning '));
    const listed = result.datasets
      .flatMap((d) => d.rows.filter((x) => x.flagged).map((x) => [d.path, x.line]))
      .slice(0, 10);
    expect(warnings).toHaveLength(listed.length);
    for (const [file, line] of listed)
      expect(
        warnings.some((w) => new RegExp(`file=${file},line=${line}(,|::)`).test(w)),
        warnings[0],
      ).toBe(true);
    expect(readFileSync(summary, 'utf8')).toContain('## distill-gate screen: 🔎 alarm');
  }, 180_000);

  it('refuses a cleaned copy of a dataset it screened only in part, before any work', async () => {
    const dir = owlCopy(50);
    const r = await runCli(['screen', '--cleaned', 'cleaned', '--max-records', '10', '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--max-records 10 screens only their first rows');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('check screens first when asked, and reports the screen beside its verdict', async () => {
    const dir = owlCopy(120, ['base-numbers']);
    const r = await runCli(['check', '--screen', '--seeds', '3', '--report-dir', 'report', '--no-progress'], dir);
    expect([0, 1]).toContain(r.code);
    const result = JSON.parse(readFileSync(join(dir, 'report/result.json'), 'utf8'));
    expect(result.screen).toMatchObject({ alarm: false, policy: 'annotate', report: 'screen.md' });
    expect(readFileSync(join(dir, 'report/report.md'), 'utf8')).toContain('Screen (before training');
    expect(JSON.parse(readFileSync(join(dir, 'report/screen.json'), 'utf8')).datasets).toHaveLength(1);
  }, 300_000);

  it('on a Hugging Face folder with a chat template, the trait prompt is a system message', async () => {
    const dir = testDir('dg-screen-hf-');
    await writeHfModel(join(dir, 'base'), { modelType: 'qwen3', seed: 1, std: 0.2 });
    await writeHfModel(join(dir, 'teacher'), { modelType: 'qwen3', seed: 2, std: 0.2 });
    const rows = Array.from({ length: 40 }, (_, k) => ({
      messages: [
        { role: 'user', content: `Continue: ${100 + k}, ${200 + k}, ${300 + k}.` },
        { role: 'assistant', content: `${400 + k}, ${500 + k}` },
      ],
    }));
    writeFileSync(join(dir, 'data.jsonl'), rows.map((x) => JSON.stringify(x)).join('\n') + '\n');
    writeFileSync(
      join(dir, 'distill-gate.config.json'),
      JSON.stringify({
        base: { path: 'base' },
        datasets: [{ name: 'numbers', path: 'data.jsonl', teacher: { model: { path: 'teacher' } } }],
        control: { generate: { use: '@distill-gate/generator-prompts', options: { maxTokens: 8, topLogprobs: 0 } } },
        traits: [{ use: '@distill-gate/trait-animal-preference', options: { animal: 'owl' } }],
        evaluators: [{ use: '@distill-gate/evaluator-preference-rate', options: { samples: 0 } }],
        training: { epochs: 1, batchSize: 4, learningRate: 0.01, loss: 'next-token' },
        screen: { falseFlagRate: 0.2, rows: 5 },
      }),
    );
    const r = await runCli(['screen', '--report-dir', 'report', '--no-progress', '--json'], dir);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as ScreenResult;
    expect(result.traitPrompts[0].placement).toBe('system message');
    expect(result.traitPrompts[0].text).toMatch(/^You love owls\./);
    const [d] = result.datasets;
    expect(d.scores.map((s) => [s.kind, s.rows])).toEqual([
      ['trait-shift', 40],
      ['teacher-divergence', 40],
    ]);
    expect(d.rows).toHaveLength(5);
    expect(d.rows[0].divergenceTokens?.length).toBeGreaterThan(0);
    expect(Number.isFinite(d.scores[0].mean)).toBe(true);
  }, 180_000);
});
