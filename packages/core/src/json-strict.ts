import { DistillGateError } from './errors.js';

/**
 * What JSON.parse lets through silently and a gate must not: a key given twice in one object (the last one wins, so
 * `"threshold": 0.01, ..., "threshold": 1000` would quietly turn a FAIL into a PASS) and numbers that overflow to
 * Infinity (`1e999`). Both are found with the JSON pointer of the offending value.
 */

/** A JSON pointer to one key (RFC 6901 escapes: `~` as `~0`, `/` as `~1`). */
export function pointerTo(...keys: (string | number)[]): string {
  return pointerFrom(keys);
}

/** pointerTo for a list of any length (a spread of hundreds of thousands of keys would overflow the call). */
function pointerFrom(keys: readonly (string | number)[]): string {
  return keys.map((k) => `/${String(k).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * The JSON pointer of the first key that appears twice in one object of a JSON text, or undefined. The text must
 * already be valid JSON (parse it first).
 */
export function duplicateKeyPointer(text: string): string | undefined {
  // Each open object or array links to its parent; the path is built only when a duplicate is found, so memory
  // follows the nesting depth, not its square (JSON.parse accepts nesting hundreds of thousands deep).
  type Frame = { keys?: Set<string>; index: number; expectKey: boolean; parent?: Frame; at?: string | number };
  const pathOf = (frame: Frame | undefined, key: string) => {
    const keys: (string | number)[] = [key];
    for (let f = frame; f?.parent; f = f.parent) keys.push(f.at!);
    return pointerFrom(keys.reverse());
  };
  let top: Frame | undefined;
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return pathOf(top, key);
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const at = top ? (top.keys ? lastKey : top.index) : undefined;
      top = { keys: c === '{' ? new Set() : undefined, index: 0, expectKey: true, parent: top, at };
    } else if (c === '}' || c === ']') {
      top = top?.parent;
    } else if (c === ',' && top) {
      if (top.keys) top.expectKey = true;
      else top.index++;
    }
  }
  return undefined;
}

/**
 * The JSON pointer of the first number in a parsed value that is not finite (1e999 parses to Infinity). Walks with
 * its own stack, so a deeply nested value cannot overflow the call stack.
 */
export function nonFinitePointer(value: unknown, path: (string | number)[] = []): string | undefined {
  type Item = { v: unknown; parent?: Item; at?: string | number };
  const pathOf = (item: Item) => {
    const keys: (string | number)[] = [];
    for (let x: Item | undefined = item; x?.parent; x = x.parent) keys.push(x.at!);
    return pointerFrom([...path, ...keys.reverse()]);
  };
  const stack: Item[] = [{ v: value }];
  while (stack.length) {
    const item = stack.pop()!;
    const v = item.v;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return pathOf(item);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], parent: item, at: i });
    } else if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ v: entries[i][1], parent: item, at: entries[i][0] });
    }
  }
  return undefined;
}

/**
 * A text without its leading byte-order mark (some Windows editors write one). The one rule for every JSON file
 * distill-gate reads: the config, model metadata, and JSONL datasets (whose UTF-8 decoder drops it the same way).
 */
export function stripBom(text: string): string {
  return text.replace(/^\uFEFF/, '');
}

/** The largest JSON metadata file read whole (a model's weights live in files of their own): 256 MiB. */
export const MAX_JSON_BYTES = 256 * 2 ** 20;

/**
 * Parses a JSON file that must hold one object (a model's metadata: config.json, tokenizer files, a sharded index,
 * a safetensors header, a model.json): a located error when it is not valid JSON, not an object, repeats a key in one
 * object or holds a number that overflows to Infinity. `what` names it in messages ("config.json", "the index").
 */
export function parseStrictJsonObject(source: string, file: string, what: string): Record<string, unknown> {
  const text = stripBom(source);
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
