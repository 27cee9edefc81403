import { join } from 'node:path';
import { formatJUnit, formatSarif } from './formats.js';
import { formatHtml } from './html.js';
import { writeFileAtomic } from '../io.js';
import { formatMarkdown } from './markdown.js';
import type { CheckResult, StudentScore, TransferResult } from '../result.js';

/**
 * The report formats: each a projection of the canonical result, written beside result.json. A new format is a
 * module in this folder and one entry here.
 */
export const reportFormats: readonly { file: string; format: (result: CheckResult) => string }[] = [
  { file: 'report.md', format: formatMarkdown },
  { file: 'report.html', format: formatHtml },
  { file: 'junit.xml', format: formatJUnit },
  { file: 'results.sarif', format: formatSarif },
];

/**
 * Writes the canonical result and its projections into `dir`, each atomically: result.json (or
 * partial-i-of-n.json for a shard), and for full results report.md, report.html, junit.xml and results.sarif.
 * Returns the path of the JSON result.
 */
export async function writeReports(result: CheckResult, dir: string): Promise<string> {
  // A shard's partial result keeps its per-item scores: the merge pools them.
  if (result.shard) {
    const json = join(dir, `partial-${result.shard.index}-of-${result.shard.count}.json`);
    await writeFileAtomic(json, `${JSON.stringify(result, null, 2)}\n`);
    return json;
  }
  const items = itemLines(result);
  if (items.length) await writeFileAtomic(join(dir, ITEMS_FILE), `${items.join('\n')}\n`);
  const json = join(dir, 'result.json');
  await writeFileAtomic(json, `${JSON.stringify(resultSummary(result), null, 2)}\n`);
  for (const r of reportFormats) await writeFileAtomic(join(dir, r.file), r.format(result));
  return json;
}

/** Where a result's per-item scores go, beside result.json: one line per student and evaluation. */
export const ITEMS_FILE = 'result-items.jsonl';

const studentLists = (r: TransferResult) => [
  r.probe,
  r.control,
  ...(r.crossBase ? [r.crossBase.probe, r.crossBase.control] : []),
];

/**
 * The result as result.json and `--json` give it: everything but the students' per-item scores, which are most of
 * its size (they go to ITEMS_FILE, named by `itemsFile`).
 */
export function resultSummary(result: CheckResult): CheckResult {
  const hasItems = result.results.some((r) => studentLists(r).some((list) => list.some((s) => s.items)));
  if (!hasItems) return result;
  const strip = (list: StudentScore[]) => list.map(({ items: _items, ...s }) => s);
  return {
    ...result,
    itemsFile: ITEMS_FILE,
    results: result.results.map((r) => ({
      ...r,
      probe: strip(r.probe),
      control: strip(r.control),
      ...(r.crossBase
        ? { crossBase: { ...r.crossBase, probe: strip(r.crossBase.probe), control: strip(r.crossBase.control) } }
        : {}),
    })),
  };
}

/** The per-item scores, a JSON line per student and evaluation: dataset, trait, evaluator, base, role, seed, items. */
export function itemLines(result: CheckResult): string[] {
  return result.results.flatMap((r) =>
    studentLists(r).flatMap((list, k) =>
      list.flatMap((s) =>
        s.items
          ? [
              JSON.stringify({
                dataset: r.dataset,
                trait: r.trait,
                evaluator: r.evaluator,
                base: k < 2 ? 'shared' : 'cross',
                role: s.role,
                seed: s.seed,
                items: s.items,
              }),
            ]
          : [],
      ),
    ),
  );
}
