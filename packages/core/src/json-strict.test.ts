import { describe, expect, it } from 'vitest';
import { duplicateKeyPointer, nonFinitePointer, pointerTo } from './json-strict.js';

describe('strict JSON', () => {
  it('finds a key given twice in one object, with its JSON pointer through objects and arrays', () => {
    expect(duplicateKeyPointer('{"a":1,"b":{"c":[{"d":1},{"d":1,"d":2}]}}')).toBe('/b/c/1/d');
    expect(duplicateKeyPointer('{"a":"a","b":["a","a"],"c":{"a":1}}')).toBeUndefined();
    expect(duplicateKeyPointer('{"\\u0061":1,"a":2}')).toBe('/a');
    expect(duplicateKeyPointer('{"x/y":{"k":1,"k":2}}')).toBe('/x~1y/k');
    expect(duplicateKeyPointer('[{"s":"a,\\"b"},{"t":1,"t":1}]')).toBe('/1/t');
  });

  it('finds numbers that parse to Infinity', () => {
    expect(nonFinitePointer(JSON.parse('{"threshold": 1e999}'))).toBe('/threshold');
    expect(nonFinitePointer(JSON.parse('{"a": [1, -1e400]}'))).toBe('/a/1');
    expect(nonFinitePointer(JSON.parse('{"a": [1, 2e300]}'))).toBeUndefined();
    expect(pointerTo('a~b', 3)).toBe('/a~0b/3');
  });
});
