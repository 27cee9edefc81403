import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { declaredInputs, expectedInputs, renderInputs, withInputs, yamlScalar } from './action-yml.js';

const actionYml = readFileSync(new URL('../../../action.yml', import.meta.url), 'utf8');

describe('action.yml', () => {
  // Rewrite it with `npm run build -w @distill-gate/action`.
  it("declares the settings table's inputs: names, descriptions, defaults, required", () => {
    expect(declaredInputs(actionYml)).toEqual(expectedInputs());
  });

  it('is exactly what scripts/write-action-yml.mjs writes', () => {
    expect(withInputs(actionYml)).toBe(actionYml);
  });

  it('keeps the rest of the file when it rewrites the inputs', () => {
    const stale = actionYml.replace(/^ {2}shard:\n(?: {4}.*\n)*/m, '').replace('outputs:', 'outputs:\n  # kept');
    const fresh = withInputs(stale);
    expect(declaredInputs(fresh)).toEqual(expectedInputs());
    expect(fresh).toContain('outputs:\n  # kept');
    expect(fresh.split('inputs:')[0]).toBe(actionYml.split('inputs:')[0]);
  });
});

describe('the inputs renderer', () => {
  it('quotes what YAML would read as something else', () => {
    expect(yamlScalar('')).toBe("''");
    expect(yamlScalar('true')).toBe("'true'");
    expect(yamlScalar('5')).toBe("'5'");
    expect(yamlScalar("it's: odd")).toBe("'it''s: odd'");
    expect(yamlScalar('- dash')).toBe("'- dash'");
    expect(yamlScalar('install')).toBe('install');
    expect(yamlScalar("the config's threshold")).toBe("the config's threshold");
  });

  it('reads back what it writes', () => {
    const inputs = {
      a: { key: 'config' as const, description: "x: y, it's", default: 'false', required: true, multiline: false },
      b: { key: 'seeds' as const, description: '#not a comment', default: '', required: false, multiline: false },
    };
    expect(declaredInputs(renderInputs(inputs))).toEqual({
      a: { description: "x: y, it's", default: 'false', required: true },
      b: { description: '#not a comment', default: '', required: false },
    });
  });
});
