// Writes the config JSON Schema (source: src/config/schema.ts, compiled to dist/) to schema/config.schema.json.
import { writeFileSync } from 'node:fs';
import { configSchema } from '../dist/config/schema.js';

writeFileSync(new URL('../schema/config.schema.json', import.meta.url), `${JSON.stringify(configSchema, null, 2)}\n`);
