import { join } from 'node:path';
import { formatJUnit, formatSarif } from './formats.js';
import { formatHtml } from './html.js';
import { writeFileAtomic } from '../io.js';
import { formatMarkdown } from './markdown.js';
import type { CheckResult } from '../result.js';

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
  const json = join(dir, result.shard ? `partial-${result.shard.index}-of-${result.shard.count}.json` : 'result.json');
  await writeFileAtomic(json, `${JSON.stringify(result, null, 2)}\n`);
  if (!result.shard) for (const r of reportFormats) await writeFileAtomic(join(dir, r.file), r.format(result));
  return json;
}
