import {
  describeErrorControl,
  describeInference,
  describeMechanism,
  describeTraining,
  intervalPercent,
  type CheckResult,
  type TransferResult,
} from '../result.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
// Series colours are CSS variables (light and dark schemes); marks and legend keys use the same one.
const PROBE = 'var(--probe)';
const CONTROL = 'var(--control)';
const fill = (c: string) => `style="fill:${c}"`;
const stroke = (c: string) => `style="stroke:${c}"`;

/** An SVG that scales down to the page width and never beyond its drawn size. */
function svgOpen(w: number, h: number, label: string): string {
  return (
    `<svg class="plot" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" style="max-width:${w}px" ` +
    `role="img" aria-label="${esc(label)}">`
  );
}

/** Keeps the end of a long label (dataset names differ at the end more often than at the start). */
function shorten(s: string, max: number): string {
  return s.length <= max ? s : `…${s.slice(s.length - max + 1)}`;
}

function linear(d0: number, d1: number, r0: number, r1: number) {
  const span = d1 - d0 || 1;
  return (x: number) => r0 + ((x - d0) / span) * (r1 - r0);
}

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / n || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-12; v += nice) out.push(Math.round(v / nice) * nice);
  return out;
}

function axisX(x: (v: number) => number, lo: number, hi: number, y: number, label: string): string {
  return (
    `<line x1="${x(lo)}" x2="${x(hi)}" y1="${y}" y2="${y}" class="axis"/>` +
    ticks(lo, hi)
      .map(
        (t) =>
          `<line x1="${x(t)}" x2="${x(t)}" y1="${y}" y2="${y + 4}" class="axis"/>` +
          `<text x="${x(t)}" y="${y + 16}" class="tick" text-anchor="middle">${+t.toFixed(6)}</text>`,
      )
      .join('') +
    `<text x="${(x(lo) + x(hi)) / 2}" y="${y + 32}" class="label" text-anchor="middle">${esc(label)}</text>`
  );
}

function axisY(y: (v: number) => number, lo: number, hi: number, x: number, label: string): string {
  return (
    `<line x1="${x}" x2="${x}" y1="${y(lo)}" y2="${y(hi)}" class="axis"/>` +
    ticks(lo, hi, 4)
      .map(
        (t) =>
          `<line x1="${x - 4}" x2="${x}" y1="${y(t)}" y2="${y(t)}" class="axis"/>` +
          `<text x="${x - 6}" y="${y(t) + 4}" class="tick" text-anchor="end">${+t.toFixed(6)}</text>`,
      )
      .join('') +
    `<text transform="translate(${x - 46},${(y(lo) + y(hi)) / 2}) rotate(-90)" ` +
    `class="label" text-anchor="middle">${esc(label)}</text>`
  );
}

/**
 * Transfer and its interval per dataset x trait, against the threshold (a forest plot). Each row's name sits above
 * its interval, so the plot stays narrow enough to read on a phone.
 */
function forestPlot(r: CheckResult): string {
  const rows = r.results;
  const w = 600;
  const left = 16;
  const rowH = 46;
  const top = 26;
  const h = top + rows.length * rowH + 44;
  const values = rows
    .flatMap((x) => [x.transfer.interval[0], x.transfer.interval[1], x.transfer.mean])
    .filter(Number.isFinite);
  let lo = Math.min(0, r.threshold, ...values);
  let hi = Math.max(0, r.threshold, ...values);
  const pad = (hi - lo) * 0.08 || 0.05;
  lo -= pad;
  hi += pad;
  const x = linear(lo, hi, left, w - 16);
  const body = rows
    .map((row, i) => {
      const y = top + i * rowH + 30;
      const c = `var(--${row.verdict.toLowerCase()})`;
      const [a, b] = row.transfer.interval.map((v) => (Number.isFinite(v) ? v : v < 0 ? lo : hi));
      return (
        `<text x="${left}" y="${y - 12}" class="name">` +
        esc(shorten(`${row.dataset} · ${row.trait.replace(/^@[^/]+\/trait-/, '')} · ${row.verdict}`, 80)) +
        `<title>${esc(`${row.dataset} · ${row.trait}`)}</title></text>` +
        `<line x1="${x(a)}" x2="${x(b)}" y1="${y}" y2="${y}" ${stroke(c)} stroke-width="3"/>` +
        `<line x1="${x(a)}" x2="${x(a)}" y1="${y - 6}" y2="${y + 6}" ${stroke(c)} stroke-width="2"/>` +
        `<line x1="${x(b)}" x2="${x(b)}" y1="${y - 6}" y2="${y + 6}" ${stroke(c)} stroke-width="2"/>` +
        `<circle cx="${x(row.transfer.mean)}" cy="${y}" r="5" ${fill(c)}><title>` +
        esc(
          `${row.dataset}: transfer ${f3(row.transfer.mean)} ` +
            `[${f3(row.transfer.interval[0])}, ${f3(row.transfer.interval[1])}] ${row.verdict}`,
        ) +
        '</title></circle>'
      );
    })
    .join('');
  const yAxis = top + rows.length * rowH + 6;
  // The threshold's label sits on the side of its line that has room.
  const tx = x(r.threshold);
  const thresholdLabel =
    tx > w - 120
      ? `<text x="${tx - 4}" y="14" class="tick" text-anchor="end">threshold ${r.threshold}</text>`
      : `<text x="${tx + 4}" y="14" class="tick">threshold ${r.threshold}</text>`;
  return (
    svgOpen(w, h, `transfer with one-sided ${intervalPercent(r)}% bounds against the threshold`) +
    `<line x1="${x(0)}" x2="${x(0)}" y1="18" y2="${yAxis}" class="zero"/>` +
    `<line x1="${tx}" x2="${tx}" y1="18" y2="${yAxis}" class="threshold"/>` +
    thresholdLabel +
    body +
    axisX(x, lo, hi, yAxis, `transfer = score(probe) − score(control), one-sided ${intervalPercent(r)}% bounds`) +
    '</svg>'
  );
}

/** The legend's keys, coloured as the series they name. */
function legendKeys(mark: string): string {
  return (
    `<tspan class="legend-probe" ${fill(PROBE)}>${mark}</tspan> probe, ` +
    `<tspan class="legend-control" ${fill(CONTROL)}>${mark}</tspan> control`
  );
}

/** Probe and control scores per seed, paired by seed. */
function seedPlot(x: TransferResult): string {
  const w = 360;
  const h = 200;
  const vals = [...x.probe, ...x.control].flatMap((s) => [s.value - s.stderr, s.value + s.stderr]);
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  const pad = (hi - lo) * 0.1 || 0.01;
  lo -= pad;
  hi += pad;
  const n = x.probe.length;
  const px = linear(-0.5, n - 0.5, 70, w - 10);
  const py = linear(lo, hi, h - 40, 10);
  const marks = x.probe
    .map((p, i) => {
      const c = x.control[i];
      return (
        `<line x1="${px(i) - 6}" x2="${px(i) + 6}" y1="${py(c.value)}" y2="${py(p.value)}" class="pair"/>` +
        `<line x1="${px(i) - 6}" x2="${px(i) - 6}" ` +
        `y1="${py(c.value - c.stderr)}" y2="${py(c.value + c.stderr)}" ${stroke(CONTROL)}/>` +
        `<circle cx="${px(i) - 6}" cy="${py(c.value)}" r="4" class="series-control" ${fill(CONTROL)}>` +
        `<title>seed ${c.seed} control ${f3(c.value)} ± ${f3(c.stderr)}</title></circle>` +
        `<line x1="${px(i) + 6}" x2="${px(i) + 6}" ` +
        `y1="${py(p.value - p.stderr)}" y2="${py(p.value + p.stderr)}" ${stroke(PROBE)}/>` +
        `<circle cx="${px(i) + 6}" cy="${py(p.value)}" r="4" class="series-probe" ${fill(PROBE)}>` +
        `<title>seed ${p.seed} probe ${f3(p.value)} ± ${f3(p.stderr)}</title></circle>` +
        `<text x="${px(i)}" y="${h - 24}" class="tick" text-anchor="middle">${p.seed}</text>`
      );
    })
    .join('');
  return (
    svgOpen(w, h, 'scores per seed') +
    marks +
    axisY(py, lo, hi, 62, esc(x.metric || 'score')) +
    `<text x="${(70 + w) / 2}" y="${h - 6}" class="label" text-anchor="middle">seed (` +
    legendKeys('●') +
    '; bars ±1 s.e.)</text>' +
    '</svg>'
  );
}

/** Mean training loss per epoch of every probe (red) and control (grey) student. */
function lossPlot(x: TransferResult): string {
  const w = 360;
  const h = 200;
  const curves = [...x.probe.map((s) => ({ s, c: PROBE })), ...x.control.map((s) => ({ s, c: CONTROL }))].filter(
    (k) => k.s.lossHistory?.length,
  );
  if (!curves.length) return '<p class="muted">no training curves recorded</p>';
  const epochs = Math.max(...curves.map((k) => k.s.lossHistory.length));
  const all = curves.flatMap((k) => k.s.lossHistory);
  const lo = Math.min(0, ...all);
  const hi = Math.max(...all) * 1.05 || 1;
  const px = linear(1, Math.max(2, epochs), 70, w - 10);
  const py = linear(lo, hi, h - 40, 10);
  const lines = curves
    .map(
      (k) =>
        `<polyline fill="none" class="series-${k.c === PROBE ? 'probe' : 'control'}" ${stroke(k.c)} ` +
        'stroke-opacity="0.8" ' +
        `points="${k.s.lossHistory.map((v, e) => `${px(e + 1)},${py(v)}`).join(' ')}">` +
        `<title>${k.s.role} seed ${k.s.seed}</title></polyline>`,
    )
    .join('');
  return (
    svgOpen(w, h, 'training loss per epoch') +
    lines +
    axisY(py, lo, hi, 62, 'training loss') +
    axisX(px, 1, Math.max(2, epochs), h - 40, 'epoch') +
    `<text x="${w - 10}" y="14" class="label" text-anchor="end">${legendKeys('—')}</text>` +
    '</svg>'
  );
}

/** Kept and dropped records per dataset and per filter. */
function filterTable(r: CheckResult): string {
  const rows = r.datasets.flatMap((d) =>
    (d.filters.length
      ? d.filters
      : [{ filter: '(no filters)', version: '', seen: d.records, kept: d.records, dropped: 0, reasons: {} }]
    ).map((f) => {
      const pct = f.seen ? (f.kept / f.seen) * 100 : 0;
      const reasons = Object.entries(f.reasons)
        .map(([k, v]) => `${v} ${esc(k)}`)
        .join(', ');
      return (
        `<tr><td>${esc(d.name)}</td><td>${esc(f.filter)}</td><td class="num">${f.kept} / ${f.seen}</td>` +
        `<td><div class="bar"><div style="width:${pct.toFixed(1)}%"></div></div></td>` +
        `<td>${reasons || '—'}</td></tr>`
      );
    }),
  );
  const explicit = r.datasets
    .filter((d) => d.explicit)
    .map((d) => {
      const e = d.explicit!;
      return (
        `<li>${esc(d.name)}: ${e.records} record(s) state the trait outright, ` +
        `against ${e.controlRecords} in the control data (p = ${e.pValue.toPrecision(2)}): ` +
        `${e.leakage ? '<strong>leakage</strong>' : 'not above the control'}.</li>`
      );
    });
  const notes = r.datasets.flatMap((d) => [
    ...(d.skipped
      ? [`<li>${esc(d.name)}: ${d.skipped.count} malformed record(s) skipped, e.g. ${esc(d.skipped.examples[0])}</li>`]
      : []),
    ...(d.limitedTo
      ? [
          `<li>${esc(d.name)}: checked on its first ${d.limitedTo.toLocaleString('en-US')}` +
            `${d.totalRecords ? ` of ${d.totalRecords.toLocaleString('en-US')}` : ''} records only (maxRecords).</li>`,
        ]
      : []),
    ...(d.sample
      ? [
          `<li>${esc(d.name)}: students trained on a seeded uniform sample of ` +
            `${d.sample.records.toLocaleString('en-US')} of the ${d.sample.of.toLocaleString('en-US')} records ` +
            `the filters kept (sampleRecords, seed ${d.sample.seed})` +
            (d.sample.trainedOn !== d.sample.records
              ? `, ${d.sample.trainedOn.toLocaleString('en-US')} of them within the base's context.</li>`
              : '.</li>'),
        ]
      : []),
  ]);
  const list = [...explicit, ...notes];
  return (
    '<div class="wide"><table><thead><tr><th>dataset</th><th>filter</th><th>kept</th><th></th>' +
    '<th>drop reasons</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table></div>${list.length ? `<ul>${list.join('')}</ul>` : ''}`
  );
}

/** The same comparison on students from a different initialisation, which tells subliminal transfer from leakage. */
function crossBaseSection(r: CheckResult): string {
  const withCross = r.results.filter((x) => x.crossBase);
  if (!r.crossBase || !withCross.length) {
    return (
      '<p class="muted">None configured: every student here shares the base ' +
      `(${esc(r.base.path)}, sha256 ${r.base.sha256.slice(0, 12)}). ` +
      'A transfer that also appears on a different base points to explicit leakage ' +
      'rather than subliminal transfer.</p>'
    );
  }
  const rows = withCross
    .map((x) => {
      const c = x.crossBase!;
      const mechanism = describeMechanism(x.mechanism) ?? '—';
      return (
        `<tr><td>${esc(x.dataset)}</td><td>${esc(x.trait)}</td><td class="num">${f3(x.transfer.mean)}</td>` +
        `<td class="num">${f3(c.transfer.mean)} [${f3(c.transfer.interval[0])}, ${f3(c.transfer.interval[1])}]</td>` +
        `<td><span class="badge" style="background:var(--${c.verdict.toLowerCase()})">${c.verdict}</span></td>` +
        `<td>${mechanism}</td></tr>`
      );
    })
    .join('');
  return (
    `<p class="muted">Cross base ${esc(r.crossBase.path)} (sha256 ${r.crossBase.sha256.slice(0, 12)}): ` +
    'a different initialisation, trained the same way.</p>\n' +
    '<div class="wide"><table><thead><tr><th>dataset</th><th>trait</th>' +
    '<th>transfer, shared base</th><th>transfer, cross base</th><th>cross-base verdict</th><th>mechanism</th>' +
    `</tr></thead><tbody>${rows}</tbody></table></div>`
  );
}

/** One self-contained HTML file (inline CSS and SVG, no scripts or external resources) that explains the result. */
export function formatHtml(r: CheckResult): string {
  const pct = intervalPercent(r);
  const sections = r.results
    .map(
      (x) =>
        '\n<section class="result">\n' +
        `  <h3><span class="badge" style="background:var(--${x.verdict.toLowerCase()})">${x.verdict}</span> ` +
        `${esc(x.dataset)} · ${esc(x.trait)}</h3>\n` +
        `  <p>${esc(x.explanation)}. Evaluator ${esc(x.evaluator)} (${esc(x.metric)}); ${esc(x.transfer.method)}.` +
        (x.placebo
          ? ` Placebo: ${x.placebo.transfers.length} dataset(s) the base wrote itself gave transfers ` +
            `${x.placebo.transfers.map((t) => t.toFixed(4)).join(', ')}; empirical p = ${x.placebo.pValue.toFixed(3)}.`
          : '') +
        '</p>\n' +
        `  <div class="plots"><figure>${seedPlot(x)}<figcaption>Scores per seed</figcaption></figure>` +
        `<figure>${lossPlot(x)}<figcaption>Training curves</figcaption></figure></div>\n` +
        '</section>',
    )
    .join('');
  const rows = r.results
    .map(
      (x) =>
        `<tr><td>${esc(x.dataset)}</td><td>${esc(x.trait)}</td><td class="num">${f3(x.transfer.mean)}</td>` +
        `<td class="num">[${f3(x.transfer.interval[0])}, ${f3(x.transfer.interval[1])}]</td>` +
        `<td class="num">${x.threshold}</td><td class="num">${x.pValue.toExponential(2)}</td>` +
        `<td><span class="badge" style="background:var(--${x.verdict.toLowerCase()})">${x.verdict}</span></td></tr>`,
    )
    .join('');
  return (
    '<!doctype html>\n' +
    '<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>distill-gate: ${r.verdict}</title>\n` +
    '<meta name="color-scheme" content="light dark">\n' +
    '<style>\n' +
    ':root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#ffffff;--probe:#cf222e;--control:#57606a;' +
    '--pass:#1a7f37;--fail:#cf222e;--inconclusive:#9a6700;--bar:#ffebe9}\n' +
    '@media (prefers-color-scheme: dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--bg:#0d1117;' +
    '--probe:#ff7b72;--control:#9198a1;--pass:#238636;--fail:#da3633;--inconclusive:#9e6a03;--bar:#3d1d20}}\n' +
    'body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg);' +
    'margin:24px auto;max-width:900px;padding:0 16px}\n' +
    'svg.plot{display:block;width:100%;height:auto}.wide{overflow-x:auto}\n' +
    'h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid var(--line);padding-bottom:4px}' +
    'h3{font-size:15px}\n' +
    '.badge{color:#fff;border-radius:4px;padding:1px 7px;font-weight:600;font-size:12px}\n' +
    'table{border-collapse:collapse;width:100%}' +
    'td,th{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left}' +
    '.num{text-align:right;font-variant-numeric:tabular-nums}\n' +
    '.axis{stroke:var(--muted)}.tick{font-size:11px;fill:var(--muted)}.label{font-size:12px;fill:var(--fg)}' +
    '.name{font-size:13px;fill:var(--fg)}\n' +
    '.threshold{stroke:var(--fail);stroke-dasharray:5 4}.zero{stroke:var(--line)}.pair{stroke:var(--line)}\n' +
    '.plots{display:flex;gap:12px;flex-wrap:wrap}figure{margin:0;flex:1 1 300px;max-width:360px}' +
    'figcaption{font-size:12px;color:var(--muted);text-align:center}\n' +
    '.bar{background:var(--bar);width:160px;max-width:30vw;height:10px;border-radius:3px}' +
    '.bar div{background:var(--pass);height:10px;border-radius:3px}.muted{color:var(--muted)}\n' +
    '</style></head><body>\n' +
    `<h1>distill-gate: <span class="badge" style="background:var(--${r.verdict.toLowerCase()})" id="verdict">` +
    `${r.verdict}</span></h1>\n` +
    `<p>${esc(r.summary.charAt(0).toUpperCase() + r.summary.slice(1))}.</p>\n` +
    (r.warnings?.length
      ? `<ul>${r.warnings.map((w) => `<li><strong>Warning</strong> (design): ${esc(w)}</li>`).join('')}</ul>\n`
      : '') +
    '<h2>Transfer against the threshold</h2>\n' +
    `${forestPlot(r)}\n` +
    '<div class="wide"><table><thead><tr><th>dataset</th><th>trait</th><th>transfer</th>' +
    `<th>${pct}% bounds</th><th>threshold</th><th>p</th><th>verdict</th></tr></thead>` +
    `<tbody>${rows}</tbody></table></div>\n` +
    '<h2>Per dataset and trait</h2>\n' +
    `${sections}\n` +
    '<h2>Filters</h2>\n' +
    `${filterTable(r)}\n` +
    '<h2>Cross-base students</h2>\n' +
    `${crossBaseSection(r)}\n` +
    '<h2>Run</h2>\n' +
    `<p class="muted">${esc(r.tool.name)} ${esc(r.tool.version)} · backend ${esc(r.backend.name)} ` +
    `(${esc(r.backend.reason)}), ${r.backend.workers} worker(s) · ${esc(describeTraining(r.backend))} · ` +
    `${esc(describeInference(r.backend))} · seeds ${r.seeds.join(', ')} · ` +
    Object.entries(r.versions)
      .map(([k, v]) => `${esc(k)} ${esc(v)}`)
      .join(', ') +
    ` · started ${esc(r.startedAt)} · wall ${(r.timings.totalMs / 1000).toFixed(1)} s` +
    (r.cache ? ` · cache ${r.cache.hits} hit(s), ${r.cache.misses} miss(es)` : '') +
    (r.mergedFrom ? ` · merged from ${r.mergedFrom} shards` : '') +
    '</p>\n' +
    `<p class="muted">${esc(describeErrorControl(r))}</p>\n` +
    '</body></html>\n'
  );
}
