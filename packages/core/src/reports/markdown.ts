import {
  describeErrorControl,
  describeInference,
  describeMechanism,
  describeTraining,
  intervalPercent,
  type CheckResult,
} from '../result.js';

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** Inline code that shows `s` as written, whatever backticks it holds (a fence longer than its longest run). */
export function code(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** Plain text with no raw HTML in it (names and messages come from configs, files and plugins). */
export const text = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A table cell: a pipe would end the cell (also inside code) and a line break the row. */
export const cell = (s: string) =>
  s
    .replace(/\|/g, '\\|')
    // Any line break ends a table row (a bare CR and the Unicode separators too); other control characters go.
    .replace(/\r\n?|\n|\u2028|\u2029/g, ' ')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');

const icon = { PASS: '✅', FAIL: '❌', INCONCLUSIVE: '⚠️' } as const;

function meanSd(xs: number[]): string {
  if (!xs.length) return '-';
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return fmt(m);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${fmt(m)} ± ${fmt(sd)}`;
}

/** The result as GitHub-flavoured markdown: the Action's job summary, and the markdown report. */
export function formatMarkdown(r: CheckResult): string {
  const pct = intervalPercent(r);
  const lines = [
    `## distill-gate: ${icon[r.verdict]} ${r.verdict}`,
    '',
    text(r.summary.charAt(0).toUpperCase() + r.summary.slice(1)) + '.',
    '',
    '| dataset | trait | probe (mean ± sd) | control (mean ± sd) | ' +
      `transfer [${pct}% bounds] | threshold | verdict | backend | seeds | student training |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.results.map((x) => resultRow(r, x)),
  ];
  const crossRows = r.results.flatMap((x) => (x.crossBase ? [crossBaseRow(x, x.crossBase)] : []));
  if (crossRows.length) {
    lines.push(
      '',
      `Cross base (${text(r.crossBase?.path ?? '')}, a different initialisation trained the same way):`,
      '',
      '| dataset | trait | transfer, shared base | transfer, cross base [CI] | cross-base verdict | mechanism |',
      '|---|---|---|---|---|---|',
      ...crossRows,
    );
  }
  if (r.screen)
    lines.push(
      '',
      `Screen (before training; ranks rows, does not measure transfer): ${
        r.screen.alarm ? `**alarm** (${r.screen.policy === 'fail' ? 'fails the gate' : 'annotated only'})` : 'no alarm'
      }; ` +
        r.screen.datasets
          .map((d) => `${text(d.name)} ${d.flagged} of ${d.rows} rows flagged${d.alarm ? ' (alarm)' : ''}`)
          .join(', ') +
        `. Rows and scores: ${code(r.screen.report)}.`,
    );
  for (const w of r.warnings ?? []) lines.push('', `> **Warning** (design): ${text(w)}`);
  for (const e of r.errors ?? [])
    lines.push(
      '',
      `> **Error** in ${code(e.plugin)}${e.dataset ? ` on ${code(e.dataset)}` : ''}: ${cell(text(e.message))}`,
    );
  lines.push('', '<details><summary>Details</summary>', '');
  lines.push(...r.results.map(resultDetail), '', ...r.datasets.map(datasetDetail));
  lines.push('', runDetail(r), '', '</details>', '');
  return lines.join('\n');
}

type Result = CheckResult['results'][number];

function resultRow(r: CheckResult, x: Result): string {
  const trainS = (x.probe.reduce((s, p) => s + p.trainMs, 0) + x.control.reduce((s, p) => s + p.trainMs, 0)) / 1000;
  return (
    `| ${cell(code(x.dataset))} | ${cell(text(x.trait))} | ` +
    `${meanSd(x.probe.map((p) => p.value))} | ${meanSd(x.control.map((p) => p.value))} | ` +
    `**${fmt(x.transfer.mean)}** [${fmt(x.transfer.interval[0])}, ${fmt(x.transfer.interval[1])}] | ` +
    `${x.threshold} | ${icon[x.verdict]} ${x.verdict} | ` +
    `${r.backend.training?.engine === 'onnxruntime' ? 'onnxruntime' : r.backend.name} | ` +
    `${x.probe.map((p) => p.seed).join(',')} | ${trainS.toFixed(0)} s (summed over students) |`
  );
}

function crossBaseRow(x: Result, c: NonNullable<Result['crossBase']>): string {
  const mechanism = describeMechanism(x.mechanism) ?? '-';
  return (
    `| ${cell(code(x.dataset))} | ${cell(text(x.trait))} | ${fmt(x.transfer.mean)} | ` +
    `${fmt(c.transfer.mean)} [${fmt(c.transfer.interval[0])}, ${fmt(c.transfer.interval[1])}] | ` +
    `${c.verdict} | ${mechanism} |`
  );
}

function resultDetail(x: Result): string {
  const p = x.placebo;
  const placebo = p
    ? ` Placebo: ${p.transfers.length} dataset(s) the base wrote itself gave transfers ` +
      `${p.transfers.map((t) => fmt(t, 4)).join(', ')}; empirical p = ${fmt(p.pValue, 3)}` +
      `${p.warning ? ` (${text(p.warning)})` : ''}.`
    : '';
  return (
    `- ${code(x.dataset)} / ${text(x.trait)} (${text(x.metric)}): ${text(x.explanation)}. ` +
    `Bounds: ${x.transfer.method}.${placebo}`
  );
}

function datasetDetail(d: CheckResult['datasets'][number]): string {
  const reasons = (f: (typeof d.filters)[number]) =>
    Object.entries(f.reasons)
      .map(([k, v]) => `${v} ${text(k)}`)
      .join(', ');
  const dropped = d.filters
    .map((f) => `${text(f.filter)}: kept ${f.kept}/${f.seen}${f.dropped ? ` (${reasons(f)})` : ''}`)
    .join('; ');
  const e = d.explicit;
  const explicit = e
    ? ` Explicit trait content: ${e.records} record(s) vs ${e.controlRecords} in the control ` +
      `(p = ${e.pValue.toPrecision(2)})${e.leakage ? ': **leakage**' : ', not above the control'}.`
    : '';
  const limits =
    (d.limitedTo
      ? ` Checked on its first ${d.limitedTo.toLocaleString('en-US')}` +
        `${d.totalRecords ? ` of ${d.totalRecords.toLocaleString('en-US')}` : ''} records only (maxRecords).`
      : '') +
    (d.sample
      ? ` Students trained on a seeded uniform sample of ${d.sample.records.toLocaleString('en-US')} of the ` +
        `${d.sample.of.toLocaleString('en-US')} records the filters kept (sampleRecords, seed ${d.sample.seed})` +
        (d.sample.trainedOn !== d.sample.records
          ? `, ${d.sample.trainedOn.toLocaleString('en-US')} of them within the base's context.`
          : '.')
      : '') +
    (d.skipped ? ` ${d.skipped.count} malformed record(s) skipped, e.g. ${text(d.skipped.examples[0])}.` : '');
  const t = d.teacher;
  const teacher = t
    ? ` Teacher: ${[
        t.path ? code(t.path) : undefined,
        t.modelType ? text(t.modelType) : undefined,
        t.sha256 ? `sha256 ${t.sha256.slice(0, 12)}` : undefined,
        t.systemPrompt ? `system prompt "${text(t.systemPrompt)}"` : undefined,
      ]
        .filter(Boolean)
        .join(', ')}.${t.warning ? ` **Warning:** ${text(t.warning)}.` : ''}`
    : '';
  return (
    `- ${code(d.name)} (sha256 ${d.sha256.slice(0, 12)}): ${d.records} records, ` +
    `${d.recordsAfterFilters} after filters${dropped ? ` — ${dropped}` : ''}. ` +
    `Control: ${text(d.control.source)}.${explicit}${limits}${teacher}`
  );
}

function runDetail(r: CheckResult): string {
  return (
    `Backend ${r.backend.name} (${r.backend.reason}), ${r.backend.workers} worker(s); ` +
    `${describeTraining(r.backend)}; ${describeInference(r.backend)}; seeds ${r.seeds.join(',')}; ` +
    `base ${r.base.path} (sha256 ${r.base.sha256.slice(0, 12)}); ` +
    `${r.tool.name} ${r.tool.version}; ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.` +
    (r.cache ? ` Verdict cache: ${r.cache.hits} hit(s), ${r.cache.misses} miss(es).` : '') +
    (r.mergedFrom ? ` Merged from ${r.mergedFrom} shard(s).` : '') +
    ` ${describeErrorControl(r)}` +
    ` Wall time ${(r.timings.totalMs / 1000).toFixed(0)} s.`
  );
}
