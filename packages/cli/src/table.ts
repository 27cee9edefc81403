import {
  CONTEXT_STEP,
  describeErrorControl,
  describeInference,
  describeTraining,
  intervalPercent,
  type CheckResult,
} from '@distill-gate/core';

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

function meanSd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return fmt(m);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${fmt(m)} ± ${fmt(sd)}`;
}

/** A plain-text table of the result, one row per dataset x trait, and the verdict line. */
export function formatResultTable(r: CheckResult, color = false): string {
  const paint = (v: string) => {
    if (!color) return v;
    const code = v === 'FAIL' ? 31 : v === 'PASS' ? 32 : 33;
    return `\x1b[${code}m${v}\x1b[0m`;
  };
  const header = [
    'dataset',
    'trait',
    'probe (mean ± sd)',
    'control',
    `transfer [${intervalPercent(r)}% bounds]`,
    'threshold',
    'verdict',
  ];
  const rows = r.results.map((x) => [
    x.dataset,
    x.trait.replace(/^@distill-gate\/trait-/, ''),
    meanSd(x.probe.map((s) => s.value)),
    meanSd(x.control.map((s) => s.value)),
    `${fmt(x.transfer.mean)} [${fmt(x.transfer.interval[0])}, ${fmt(x.transfer.interval[1])}]`,
    String(x.threshold),
    x.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? paint(c) : c.padEnd(widths[i]))).join('  ');
  const out = [
    // eslint-disable-next-line no-control-regex -- strips ANSI colour escapes, which start with ESC (\x1b)
    line(header).replace(/\x1b\[\d+m|\x1b\[0m/g, ''),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ];
  const filters = r.datasets.map((d) => {
    const dropped = d.records - d.recordsAfterFilters;
    // Records longer than the base's context (training.overlong truncate or drop).
    const context = d.filters.find((f) => f.filter === CONTEXT_STEP);
    const long = context ? Object.values(context.reasons).reduce((n, k) => n + k, 0) : 0;
    return (
      `  ${d.name}: ${d.recordsAfterFilters}/${d.records} records kept${dropped ? ` (${dropped} dropped)` : ''}` +
      (long ? `; ${long} longer than the context, ${context!.version === 'drop' ? 'dropped' : 'truncated'}` : '') +
      (d.materialised ? ', materialised from its recipe' : '') +
      (d.limitedTo
        ? `; CHECKED ON ${d.limitedTo.toLocaleString('en-US')}` +
          `${d.totalRecords ? ` OF ${d.totalRecords.toLocaleString('en-US')}` : ''} RECORDS (--max-records)`
        : '') +
      (d.sample
        ? `; students trained on a sample of ${d.sample.records.toLocaleString('en-US')} of them (--sample-records)`
        : '')
    );
  });
  const errors = (r.errors ?? []).map((e) => `  ${e.plugin}${e.dataset ? ` on ${e.dataset}` : ''}: ${e.message}`);
  const warnings = r.datasets.flatMap((d) => (d.teacher?.warning ? [`  ${d.name}: ${d.teacher.warning}`] : []));
  return [
    ...out,
    ...(errors.length ? ['', 'errors (these results are missing; the others stand):', ...errors] : []),
    '',
    'filters:',
    ...filters,
    ...(warnings.length ? ['', 'warnings:', ...warnings] : []),
    '',
    `backend ${r.backend.name} (${r.backend.reason}), ${r.backend.workers} worker(s); ` +
      `${describeTraining(r.backend)}; ${describeInference(r.backend)}; seeds ${r.seeds.join(',')}; ` +
      `${Math.round(r.timings.totalMs / 1000)}s` +
      (r.cache ? `; verdict cache ${r.cache.hits} hit(s), ${r.cache.misses} miss(es)` : '') +
      (r.shard ? `; shard ${r.shard.index}/${r.shard.count} (partial: combine with distill-gate merge)` : '') +
      (r.mergedFrom ? `; merged from ${r.mergedFrom} shards` : ''),
    describeErrorControl(r),
    `${paint(r.verdict)}: ${r.summary}`,
  ].join('\n');
}
