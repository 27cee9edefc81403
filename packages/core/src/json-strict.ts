import { DistillGateError } from './errors.js';

/**
 * What JSON.parse lets through silently and a gate must not: a key given twice in one object (the last one wins, so
 * `"threshold": 0.01, ..., "threshold": 1000` would quietly turn a FAIL into a PASS) and numbers that overflow to
 * Infinity (`1e999`). Both are found with the JSON pointer of the offending value.
 */

/** A JSON pointer to one key (RFC 6901 escapes: `~` as `~0`, `/` as `~1`). */
export function pointerTo(...keys: (string | number)[]): string {
  return keys.map((k) => `/${String(k).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * The JSON pointer of the first key that appears twice in one object of a JSON text, or undefined. The text must
 * already be valid JSON (parse it first).
 */
export function duplicateKeyPointer(text: string): string | undefined {
  type Frame = { keys?: Set<string>; index: number; expectKey: boolean; path: (string | number)[] };
  const stack: Frame[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return pointerTo(...top.path, key);
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const path = top ? [...top.path, top.keys ? lastKey : top.index] : [];
      stack.push({ keys: c === '{' ? new Set() : undefined, index: 0, expectKey: true, path });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',' && top) {
      if (top.keys) top.expectKey = true;
      else top.index++;
    }
  }
  return undefined;
}

/** The JSON pointer of the first number in a parsed value that is not finite (1e999 parses to Infinity). */
export function nonFinitePointer(value: unknown, path: (string | number)[] = []): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : pointerTo(...path);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = nonFinitePointer(value[i], [...path, i]);
      if (p !== undefined) return p;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = nonFinitePointer(v, [...path, k]);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

/**
 * Parses a JSON file that must hold one object (a model's metadata: config.json, tokenizer files, a sharded index,
 * a safetensors header, a model.json): a located error when it is not valid JSON, not an object, repeats a key in one
 * object or holds a number that overflows to Infinity. `what` names it in messages ("config.json", "the index").
 */
export function parseStrictJsonObject(source: string, file: string, what: string): Record<string, unknown> {
  // A leading byte-order mark is dropped, as for the config and the JSONL datasets.
  const text = source.replace(/^\uFEFF/, '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DistillGateError(`${what} is not valid JSON: ${(e as Error).message}`, { file });
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new DistillGateError(`${what} must be a JSON object`, { file });
  const dup = duplicateKeyPointer(text);
  if (dup !== undefined) {
    const parent = dup.slice(0, dup.lastIndexOf('/'));
    const key = dup
      .slice(dup.lastIndexOf('/') + 1)
      .replaceAll('~1', '/')
      .replaceAll('~0', '~');
    throw new DistillGateError(`${what} repeats the key "${key}"${parent ? ` in ${parent}` : ''}`, {
      file,
      pointer: dup,
    });
  }
  const inf = nonFinitePointer(json);
  if (inf !== undefined)
    throw new DistillGateError(`${what} holds a number out of range (it reads as Infinity)`, { file, pointer: inf });
  return json as Record<string, unknown>;
}
