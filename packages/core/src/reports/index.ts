import { join } from 'node:path';
import { formatJUnit, formatSarif } from './formats.js';
import { formatHtml } from './html.js';
import { writeFileAtomic } from '../io.js';
import { formatMarkdown } from './markdown.js';
import type { CheckResult } from '../result.js';

/**
 * Writes the canonical result and its projections into `dir`, each atomically: result.json (or
 * partial-i-of-n.json for a shard), and for full results report.md, report.html, junit.xml and results.sarif.
 * Returns the path of the JSON result.
 */
export async function writeReports(result: CheckResult, dir: string): Promise<string> {
  const json = join(dir, result.shard ? `partial-${result.shard.index}-of-${result.shard.count}.json` : 'result.json');
  await writeFileAtomic(json, `${JSON.stringify(result, null, 2)}\n`);
  if (!result.shard) {
    await writeFileAtomic(join(dir, 'report.md'), formatMarkdown(result));
    await writeFileAtomic(join(dir, 'report.html'), formatHtml(result));
    await writeFileAtomic(join(dir, 'junit.xml'), formatJUnit(result));
    await writeFileAtomic(join(dir, 'results.sarif'), formatSarif(result));
  }
  return json;
}
