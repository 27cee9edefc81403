import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { DistillGateError, type ErrorLocation } from './errors.js';
import type { JsonSchema } from './contracts.js';

/** One ajv instance for the whole process: defaults are applied, all errors collected, schemas kept for hints. */
const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

export function compileSchema(schema: JsonSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** A finding: the JSON pointer of the bad value and a human sentence. */
export interface SchemaIssue {
  pointer: string;
  message: string;
  hint?: string;
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Turns ajv errors into located, deduplicated issues; the most specific first. */
export function describeAjvErrors(errors: readonly ErrorObject[]): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  // oneOf/anyOf summaries only repeat what their branches said; keep them only when nothing else was said.
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  for (const e of specific.length ? specific : errors) {
    let pointer = e.instancePath;
    let message = e.message ?? 'is invalid';
    let hint: string | undefined;
    if (e.keyword === 'additionalProperty' || e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      pointer = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      message = `unknown key "${key}"`;
      const allowed = Object.keys(((e.parentSchema as JsonSchema | undefined)?.properties as object | undefined) ?? {});
      const guess = nearest(key, allowed);
      hint = guess ? `did you mean "${guess}"?` : allowed.length ? `allowed keys: ${allowed.join(', ')}` : undefined;
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
      const guess = typeof e.data === 'string' ? nearest(e.data, allowed.map(String)) : undefined;
      if (guess) hint = `did you mean "${guess}"?`;
    } else if (e.keyword === 'required') {
      message = `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
    } else if (e.keyword === 'type') {
      message = `${message} (got ${Array.isArray(e.data) ? 'array' : e.data === null ? 'null' : typeof e.data})`;
    }
    const key = `${pointer}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push({ pointer, message, hint });
  }
  return issues;
}

/** Builds one DistillGateError for a list of issues; the location is the first issue's. */
export function schemaError(
  what: string,
  issues: SchemaIssue[],
  locate: (pointer: string) => ErrorLocation,
): DistillGateError {
  const first = issues[0];
  const lines = issues.slice(0, 8).map((i) => {
    const loc = locate(i.pointer);
    const at = loc.line !== undefined ? `line ${loc.line}, ` : '';
    return `  - ${at}${i.pointer || '/'}: ${i.message}${i.hint ? ` (${i.hint})` : ''}`;
  });
  const more = issues.length > 8 ? `\n  ... and ${issues.length - 8} more` : '';
  return new DistillGateError(
    `${what}: ${first.message}${issues.length > 1 ? `\n${lines.join('\n')}${more}` : ''}`,
    locate(first.pointer),
    issues.length === 1 ? first.hint : undefined,
  );
}
