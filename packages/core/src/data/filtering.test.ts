import { describe, expect, it } from 'vitest';
import type { FilterPlugin, TensorDataset } from '../contracts.js';
import { defineFilter } from '../contracts.js';
import { applyFilters } from './filtering.js';
import type { LoadedPlugin } from '../plugins/loader.js';

const dataset: TensorDataset = {
  rows: 4,
  inputDim: 2,
  targetDim: 3,
  inputs: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]),
  targets: Float32Array.from([1, 2, 3, NaN, 5, 6, 7, 8, 9, 10, 11, 12]),
  metadata: {},
};

const loaded = (plugin: FilterPlugin<any>): LoadedPlugin<FilterPlugin<any>> => ({
  plugin,
  options: {},
  ref: { use: plugin.name, options: {}, pointer: '/filters/0' },
  resolvedFrom: '',
});
const finite = defineFilter({
  name: 'finite',
  version: '1',
  description: '',
  optionsSchema: {},
  test: (r) => (r.target.every(Number.isFinite) ? { keep: true } : { keep: false, reason: 'non-finite' }),
});
const lastTwo = defineFilter({
  name: 'last-two',
  version: '1',
  description: '',
  optionsSchema: {},
  test: (r) => ({ keep: true, target: r.target.slice(1) }),
});

describe('applyFilters', () => {
  it('counts kept and dropped records with reasons, and projects targets', () => {
    const before = Float32Array.from(dataset.targets);
    const f = applyFilters(dataset, [loaded(finite), loaded(lastTwo)], '.', {});
    expect(f.dataset.rows).toBe(3);
    expect(f.dataset.targetDim).toBe(2);
    expect([...f.dataset.targets]).toEqual([2, 3, 8, 9, 11, 12]);
    expect([...f.dataset.inputs]).toEqual([0, 1, 4, 5, 6, 7]);
    expect(f.counts[0]).toMatchObject({ seen: 4, kept: 3, dropped: 1, reasons: { 'non-finite': 1 } });
    expect(f.counts[1]).toMatchObject({ seen: 3, kept: 3, dropped: 0 });
    // the user's data is never modified
    expect(Buffer.from(dataset.targets.buffer).equals(Buffer.from(before.buffer))).toBe(true);
  });
  it('keeps the inputs without a copy when every record is kept (and still copies the projected targets)', () => {
    const f = applyFilters(dataset, [loaded(lastTwo)], '.', {});
    expect(f.dataset.rows).toBe(4);
    expect(f.dataset.inputs.buffer).toBe(dataset.inputs.buffer);
    expect([...f.dataset.targets.slice(0, 4)]).toEqual([2, 3, 5, 6]);
    expect(f.dataset.targets.buffer).not.toBe(dataset.targets.buffer);
  });
  it('names the filter and record when a filter throws', () => {
    const boom = defineFilter({
      name: 'boom',
      version: '1',
      description: '',
      optionsSchema: {},
      test: (r) => {
        if (r.index === 2) throw new Error('bad');
        return { keep: true };
      },
    });
    expect(() => applyFilters(dataset, [loaded(boom)], '.', { file: 'd.safetensors' })).toThrowError(
      /filter threw: bad/,
    );
    try {
      applyFilters(dataset, [loaded(boom)], '.', { file: 'd.safetensors' });
    } catch (e) {
      expect((e as { location: object }).location).toMatchObject({ file: 'd.safetensors', record: 2, plugin: 'boom' });
    }
  });
});
