#!/usr/bin/env node
// The screen's validity and remediation, measured with the gate itself (docs/screening.md):
//   node scripts/screen-experiment.mjs --config <config> --dataset <name> --out <dir> [--seeds 10] [--score <key>]
// 1. `distill-gate screen` the config's datasets, with a cleaned copy of each (flagged rows dropped).
// 2. From the dataset's row scores (screen-rows.jsonl): its top half and bottom half by the score, and a copy with as
//    many rows dropped at random (seeded) as the screen flagged.
// 3. `distill-gate check` on the original, the cleaned copy, the random drop and both halves (same seeds, each
//    against the base's prompt-matched control of its own prompts), and a Markdown table of the transfers.
// Everything it writes goes under --out; the example's own files are only read.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SeededRandom } from '@distill-gate/core';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    dataset: { type: 'string' },
    out: { type: 'string' },
    seeds: { type: 'string', default: '10' },
    score: { type: 'string' },
    skip: { type: 'string', default: '' },
    fixed: { type: 'boolean', default: false },
  },
});
if (!values.config || !values.dataset || !values.out) {
  process.stderr.write(
    'usage: screen-experiment.mjs --config FILE --dataset NAME --out DIR [--seeds N] [--score KEY]\n',
  );
  process.exit(2);
}
const bin = resolve(dirname(new URL(import.meta.url).pathname), '../packages/cli/bin/distill-gate.js');
const out = resolve(values.out);
mkdirSync(out, { recursive: true });
const cli = (args) => {
  process.stderr.write(`$ distill-gate ${args.join(' ')}\n`);
  try {
    return execFileSync(process.execPath, [bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    if (e.status === 1) return e.stdout; // a FAIL verdict
    throw e;
  }
};

// --fixed: exactly --seeds seeds per check (no adaptive rounds), from a copy of the config under --out whose paths
// point at the example's files.
let config = values.config;
if (values.fixed) {
  const dir = dirname(resolve(values.config));
  const raw = JSON.parse(readFileSync(values.config, 'utf8'));
  const abs = (m) => m?.path && (m.path = resolve(dir, m.path));
  delete raw.$schema;
  delete raw.sequential;
  abs(raw.base);
  abs(raw.crossBase);
  abs(raw.control);
  for (const d of raw.datasets) {
    d.path = resolve(dir, d.path);
    abs(d.recipe?.model);
    abs(d.teacher?.model);
  }
  config = join(out, 'distill-gate.config.json');
  writeFileSync(config, JSON.stringify(raw, null, 2));
}

const t0 = Date.now();
cli(['screen', '-c', config, '--report-dir', join(out, 'screen'), '--cleaned', join(out, 'cleaned'), '--no-progress']);
const screenSeconds = (Date.now() - t0) / 1000;
const screen = JSON.parse(readFileSync(join(out, 'screen/screen.json'), 'utf8'));
const d = screen.datasets.find((x) => x.name === values.dataset);
if (!d) throw new Error(`no dataset "${values.dataset}" in the screen`);
const source = resolve(dirname(resolve(config)), d.path);
const lines = readFileSync(source, 'utf8').split('\n');
const rows = readFileSync(join(out, 'screen/screen-rows.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .filter((r) => r.dataset === values.dataset);
const key =
  values.score ?? Object.keys(rows[0].scores).find((k) => k === 'teacher-divergence') ?? Object.keys(rows[0].scores)[0];
const ranked = rows.filter((r) => r.scores[key]).sort((a, b) => b.scores[key].perToken - a.scores[key].perToken);
const half = Math.floor(ranked.length / 2);
const write = (name, picked) => {
  const keep = new Set(picked.map((r) => r.line));
  const path = join(out, 'subsets', `${values.dataset}-${name}.jsonl`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.filter((_, i) => keep.has(i + 1)).join('\n') + '\n');
  return path;
};
const rng = new SeededRandom(2026);
const shuffled = rows
  .map((r) => ({ r, u: rng.next() }))
  .sort((a, b) => a.u - b.u)
  .map((x) => x.r);
const subsets = [
  ['original', source, `all ${rows.length} kept rows`],
  ['cleaned', resolve(d.cleaned.path), `${d.flagged} flagged rows dropped`],
  ['random-drop', write('random-drop', shuffled.slice(d.flagged)), `${d.flagged} random rows dropped (seed 2026)`],
  ['top-half', write('top-half', ranked.slice(0, half)), `the ${half} rows with the highest ${key}`],
  ['bottom-half', write('bottom-half', ranked.slice(ranked.length - half)), `the ${half} rows with the lowest ${key}`],
].filter(([name]) => !values.skip.split(',').includes(name));
const table = [
  `Screen: ${screenSeconds.toFixed(0)} s; ${d.flagged} of ${d.recordsAfterFilters} rows flagged; score ${key}.`,
  '',
  '| data | rows | transfer [CI] | seeds | verdict |',
  '|---|---|---|---|---|',
];
for (const [name, path, what] of subsets) {
  const t = Date.now();
  const report = join(out, 'check', name);
  cli([
    'check',
    '-c',
    config,
    '--seeds',
    values.seeds,
    '--report-dir',
    report,
    '--cache-dir',
    join(out, 'cache'),
    '--no-progress',
    relative(process.cwd(), path),
  ]);
  const result = JSON.parse(readFileSync(join(report, 'result.json'), 'utf8'));
  const r = result.results[0];
  const level = `${+(100 * (r.transfer.level ?? result.confidence)).toFixed(1)}%`;
  table.push(
    `| ${name} (${what}) | ${result.datasets[0].recordsAfterFilters} | ${r.transfer.mean.toFixed(4)} ` +
      `[${r.transfer.interval[0].toFixed(4)}, ${r.transfer.interval[1].toFixed(4)}] (${level}) | ${r.probe.length} | ` +
      `${r.verdict} |`,
  );
  process.stderr.write(`${name}: ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
  writeFileSync(join(out, 'table.md'), `${table.join('\n')}\n`);
}
process.stdout.write(`${table.join('\n')}\n`);
