// Rewrites the `inputs:` section of the repository's action.yml from the settings table (core's actionInputs),
// keeping the rest of the file. Run by `npm run build -w @distill-gate/action` (after tsc -b); src/action-yml.test.ts
// fails when action.yml is stale. Usage: node scripts/write-action-yml.mjs [file] (default: ../../action.yml).
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withInputs } from '../dist/action-yml.js';

const file = resolve(process.argv[2] ?? fileURLToPath(new URL('../../../action.yml', import.meta.url)));
const text = readFileSync(file, 'utf8');
const next = withInputs(text);
if (next !== text) {
  writeFileSync(file, next);
  console.log(`${file}: inputs rewritten from the settings table`);
}
