import { describe, expect, it } from 'vitest';
import { DistillGateError } from './errors.js';
import { duplicateKeyPointer, nonFinitePointer, parseStrictJsonObject, pointerTo } from './json-strict.js';

describe('strict JSON', () => {
  it('finds a key given twice in one object, with its JSON pointer through objects and arrays', () => {
    expect(duplicateKeyPointer('{"a":1,"b":{"c":[{"d":1},{"d":1,"d":2}]}}')).toBe('/b/c/1/d');
    expect(duplicateKeyPointer('{"a":"a","b":["a","a"],"c":{"a":1}}')).toBeUndefined();
    expect(duplicateKeyPointer('{"\\u0061":1,"a":2}')).toBe('/a');
    expect(duplicateKeyPointer('{"x/y":{"k":1,"k":2}}')).toBe('/x~1y/k');
    expect(duplicateKeyPointer('[{"s":"a,\\"b"},{"t":1,"t":1}]')).toBe('/1/t');
  });

  it('handles nesting as deep as JSON.parse takes it (it ran out of memory or overflowed the stack)', () => {
    const depth = 200_000;
    const deep = `${'['.repeat(depth)}{"a":1,"a":2}${']'.repeat(depth)}`;
    const pointer = duplicateKeyPointer(deep)!;
    expect(pointer.length).toBe(depth * 2 + 2);
    expect(pointer.endsWith('/0/0/a')).toBe(true);
    const inf = JSON.parse(`${'['.repeat(depth)}1e999${']'.repeat(depth)}`);
    expect(nonFinitePointer(inf)).toBe('/0'.repeat(depth));
  });

  it('finds numbers that parse to Infinity', () => {
    expect(nonFinitePointer(JSON.parse('{"threshold": 1e999}'))).toBe('/threshold');
    expect(nonFinitePointer(JSON.parse('{"a": [1, -1e400]}'))).toBe('/a/1');
    expect(nonFinitePointer(JSON.parse('{"a": [1, 2e300]}'))).toBeUndefined();
    expect(pointerTo('a~b', 3)).toBe('/a~0b/3');
  });

  it("reads a model's metadata file strictly: one object, no key twice, no number out of range", () => {
    const err = (text: string) => {
      try {
        parseStrictJsonObject(text, 'models/gpt2/config.json', 'config.json');
      } catch (e) {
        expect(e).toBeInstanceOf(DistillGateError);
        return [(e as DistillGateError).message, (e as DistillGateError).location];
      }
      throw new Error('expected an error');
    };
    expect(parseStrictJsonObject('{"n_layer": 2}', 'c.json', 'config.json')).toEqual({ n_layer: 2 });
    expect(parseStrictJsonObject('\uFEFF{"n_layer": 2}', 'c.json', 'config.json')).toEqual({ n_layer: 2 });
    // Before, JSON.parse kept the last n_layer silently and read 1e999 as Infinity.
    expect(err('{"n_layer": 2, "n_layer": 12}')).toEqual([
      'config.json repeats the key "n_layer"',
      { file: 'models/gpt2/config.json', pointer: '/n_layer' },
    ]);
    expect(err('{"rope_theta": 1e999}')).toEqual([
      'config.json holds a number out of range (it reads as Infinity)',
      { file: 'models/gpt2/config.json', pointer: '/rope_theta' },
    ]);
    expect(err('[1]')[0]).toBe('config.json must be a JSON object');
    expect(err('{"a":')[0]).toMatch(/^config\.json is not valid JSON: /);
  });
});
