/** The screen's reports: screen.json, screen.md (the Action's job summary), screen.sarif (line locations), HTML. */
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../io.js';
import { cell, code, text } from '../reports/markdown.js';
import type { ScreenDatasetReport, ScreenResult, ScreenRow } from './result.js';

const num = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const pct = (x: number) => `${(100 * x).toFixed(x < 0.001 && x > 0 ? 2 : 1)}%`;
const pv = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
const level = (r: ScreenResult) => `${+(100 * r.confidence).toFixed(1)}%`;

/** A row's scores as every output shows them: "trait shift 0.1234 (p 0.0009); teacher − base ...". */
export function formatRowScores(row: ScreenRow): string {
  return Object.entries(row.scores)
    .map(
      ([k, s]) =>
        `${k.startsWith('trait-shift') ? 'trait shift' : 'teacher − base'} ${num(s.perToken)} (p ${pv(s.pValue)})`,
    )
    .join('; ');
}

function datasetMarkdown(r: ScreenResult, d: ScreenDatasetReport): string[] {
  const lines = [
    `### ${text(d.name)} (${code(d.path)}): ${d.alarm ? '🔎 alarm' : 'no alarm'}`,
    '',
    `${d.recordsAfterFilters} of ${d.records} rows kept by the filters; control: ${d.control.recordsAfterFilters} ` +
      `rows (${text(d.control.source)}). Flagged: **${d.flagged}** rows (${pct(d.share)}, ${level(r)} CI ` +
      `[${pct(d.shareInterval[0])}, ${pct(d.shareInterval[1])}]); ` +
      `at most ${pct(r.falseFlagRate)} of clean rows would be.`,
    '',
    `| score (nats per token) | dataset mean [${level(r)} CI] | control mean | cut-off | flagged | ` +
      'dataset above control? (Mann-Whitney) |',
    '|---|---|---|---|---|---|',
    ...d.scores.map(
      (s) =>
        `| ${s.kind === 'trait-shift' ? `trait shift (${code(s.trait ?? '')})` : 'teacher − base'} | ` +
        `${num(s.mean)} [${num(s.interval[0])}, ${num(s.interval[1])}] | ${num(s.controlMean)} | ` +
        `${s.cutoff === null ? 'control too small: flags nothing' : num(s.cutoff)} | ` +
        `${s.flagged} (${pct(s.share)}) | ` +
        `p = ${pv(s.test.pValue)}${s.test.alarm ? ' **alarm**' : ''} ` +
        `(${s.test.level === null ? 'reported, no alarm' : `level ${pv(s.test.level)}`}) |`,
    ),
  ];
  if (d.teacher && 'note' in d.teacher) lines.push('', `Teacher: ${text(d.teacher.note)}.`);
  const tokens = d.rows.some((x) => x.divergenceTokens);
  if (d.rows.length) {
    lines.push(
      '',
      `| line | flagged | scores | ${tokens ? 'teacher-favoured tokens | ' : ''}completion |`,
      `|---|---|---|${d.rows.some((x) => x.divergenceTokens) ? '---|' : ''}---|`,
      ...d.rows.map(
        (x) =>
          `| ${x.line} | ${x.flagged ? 'yes' : 'no'} | ${cell(formatRowScores(x))} | ` +
          (d.rows.some((y) => y.divergenceTokens)
            ? `${cell((x.divergenceTokens ?? []).map((t) => `${code(t.token)} +${num(t.nats, 2)}`).join(' '))} | `
            : '') +
          `${cell(code(x.completion))} |`,
      ),
    );
  }
  if (d.distributions.length || d.filters.length) {
    lines.push('', '| statistic | dataset | control | p (two-sample test) |', '|---|---|---|---|');
    for (const f of d.filters)
      lines.push(
        `| dropped by ${code(f.filter)} | ${f.dropped} (${pct(f.rate)}) | ` +
          `${f.controlDropped} (${pct(f.controlRate)}) ` +
          `| ${pv(f.pValue)} |`,
      );
    for (const x of d.distributions)
      lines.push(`| ${text(x.statistic)} | ${num(x.dataset, 3)} | ${num(x.control, 3)} | ${pv(x.pValue)} |`);
  }
  if (d.cleaned)
    lines.push(
      '',
      `Cleaned copy: ${code(d.cleaned.path)} (${d.cleaned.records} rows; ${d.cleaned.dropped} flagged dropped).`,
    );
  return lines;
}

/** The screen as GitHub-flavoured Markdown. */
export function formatScreenMarkdown(r: ScreenResult): string {
  const lines = [
    `## distill-gate screen: ${r.alarm ? '🔎 alarm' : '✅ no alarm'}`,
    '',
    `${text(r.summary.charAt(0).toUpperCase() + r.summary.slice(1))}.`,
    '',
    `> ${text(r.note)}`,
    '',
    `Rows are flagged at a false-flag rate of ${pct(r.falseFlagRate)} on clean rows (cut-offs calibrated on each ` +
      `dataset's control rows); dataset alarms hold together at ${level(r)} (each test at ${pv(r.testLevel)}).`,
  ];
  for (const p of r.traitPrompts) lines.push('', `Trait prompt of ${code(p.trait)} (${p.placement}): ${text(p.text)}`);
  for (const d of r.datasets) lines.push('', ...datasetMarkdown(r, d));
  for (const s of r.skipped) lines.push('', `Not screened: ${text(s.name)}: ${text(s.reason)}.`);
  lines.push(
    '',
    'The teacher − base score ranks rows by how far the teacher departs from the base; any teacher that differs ' +
      'from the base writes rows it finds likelier, so that test raises no alarm. "Clean rows" are rows like the ' +
      "control's: the base's own answers to the same prompts.",
    '',
    `<sub>base ${code(r.base.path)} (${r.base.sha256.slice(0, 12)}); ${r.tool.name} ${r.tool.version}; ` +
      `${(r.timings.totalMs / 1000).toFixed(1)} s</sub>`,
    '',
  );
  return lines.join('\n');
}

/** SARIF 2.1.0: one result per flagged row listed, located at its line of the dataset file. */
export function formatScreenSarif(r: ScreenResult, configDir: string, cwd = process.cwd()): string {
  const sarif = {
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: `${r.tool.name} screen`,
            version: r.tool.version,
            rules: [
              {
                id: 'screen/flagged-row',
                name: 'FlaggedRow',
                shortDescription: {
                  text: 'The row scores above its control-calibrated cut-off: the trait or teacher makes it likelier.',
                },
                defaultConfiguration: { level: 'warning' },
              },
            ],
          },
        },
        invocations: [{ executionSuccessful: true, startTimeUtc: r.startedAt }],
        results: r.datasets.flatMap((d) =>
          d.rows
            .filter((x) => x.flagged)
            .map((x) => ({
              ruleId: 'screen/flagged-row',
              ruleIndex: 0,
              level: 'warning',
              message: { text: `${d.name} line ${x.line}: ${formatRowScores(x)}. ${r.note}` },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: posix(relative(cwd, resolve(configDir, d.path))) },
                    region: { startLine: x.line },
                  },
                },
              ],
              properties: { dataset: d.name, scores: x.scores },
            })),
        ),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

function posix(p: string): string {
  return p.split('\\').join('/');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained HTML page: per dataset, its scores against the control and its top rows. */
export function formatScreenHtml(r: ScreenResult): string {
  const table = (head: string[], rows: string[][]) =>
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>';
  const sections = r.datasets.map(
    (d) =>
      `<section><h2>${esc(d.name)} <small>${esc(d.path)}</small>: ${d.alarm ? 'alarm' : 'no alarm'}</h2>` +
      `<p>${d.flagged} of ${d.recordsAfterFilters} kept rows flagged (${pct(d.share)}, ${level(r)} CI ` +
      `${pct(d.shareInterval[0])}–${pct(d.shareInterval[1])}); control ${d.control.recordsAfterFilters} rows.</p>` +
      table(
        [
          'score (nats per token)',
          'dataset mean',
          `${level(r)} CI`,
          'control mean',
          'cut-off',
          'flagged',
          'p (Mann-Whitney)',
        ],
        d.scores.map((s) => [
          s.kind === 'trait-shift' ? `trait shift (${s.trait ?? ''})` : 'teacher − base',
          num(s.mean),
          `${num(s.interval[0])} – ${num(s.interval[1])}`,
          num(s.controlMean),
          s.cutoff === null ? '-' : num(s.cutoff),
          `${s.flagged} (${pct(s.share)})`,
          `${pv(s.test.pValue)}${s.test.alarm ? ' alarm' : ''}`,
        ]),
      ) +
      table(
        ['line', 'flagged', 'scores', 'completion'],
        d.rows.map((x) => [String(x.line), x.flagged ? 'yes' : 'no', formatRowScores(x), x.completion]),
      ) +
      '</section>',
  );
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>distill-gate screen: ${r.alarm ? 'alarm' : 'no alarm'}</title>` +
    '<style>:root{color-scheme:light dark}body{font:14px/1.5 system-ui,sans-serif;margin:1rem auto;max-width:72rem;' +
    'padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0 1rem;display:block;overflow-x:auto}' +
    'th,td{border:1px solid #8884;padding:.25rem .5rem;text-align:left;vertical-align:top}td{word-break:break-word}' +
    'small{font-weight:normal;opacity:.7}</style></head><body>' +
    `<h1>distill-gate screen: ${r.alarm ? 'alarm' : 'no alarm'}</h1><p>${esc(r.summary)}.</p>` +
    `<p><em>${esc(r.note)}</em></p>${sections.join('')}</body></html>\n`
  );
}

/** Writes screen.json, screen.md, screen.sarif and screen.html into `dir`; returns the JSON's path. */
export async function writeScreenReports(r: ScreenResult, dir: string, configDir: string): Promise<string> {
  const json = join(dir, 'screen.json');
  await writeFileAtomic(json, `${JSON.stringify(r)}\n`);
  await writeFileAtomic(join(dir, 'screen.md'), formatScreenMarkdown(r));
  await writeFileAtomic(join(dir, 'screen.sarif'), formatScreenSarif(r, configDir));
  await writeFileAtomic(join(dir, 'screen.html'), formatScreenHtml(r));
  return json;
}
