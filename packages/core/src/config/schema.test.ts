import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from './schema.js';

describe('published config schema', () => {
  it('schema/config.schema.json is up to date (npm run build -w @distill-gate/core rewrites it)', () => {
    const published = JSON.parse(readFileSync(new URL('../../schema/config.schema.json', import.meta.url), 'utf8'));
    expect(published).toEqual(configSchema);
  });
});
