// How many training workers run at once when a family says what one needs (a large Hugging Face base is held by every
// worker): as many as asked when they fit, fewer when they do not, a located error when not even one does.
import { describe, expect, it } from 'vitest';
import type { StudentJob } from '@distill-gate/core';
import { DistillGateError } from '@distill-gate/core';
import type { FamilyHandle, ModelFamily } from './families/family.js';
import { availableMemory } from './memory.js';
import { workersThatFit } from './training-core.js';

function planned(need: number | undefined): [{ family: ModelFamily; handle: FamilyHandle }[], StudentJob[]] {
  const family = { modelOf: () => ({}), ...(need === undefined ? {} : { workerMemory: () => need }) };
  const job = { id: 'probe:1', init: { id: 'models/base' }, training: {} } as unknown as StudentJob;
  return [[{ family: family as unknown as ModelFamily, handle: {} as FamilyHandle }], [job]];
}

describe('training workers within the free memory', () => {
  const free = availableMemory() - process.memoryUsage().rss;
  it('runs as many as asked when the family names no need, or they fit', () => {
    expect(workersThatFit(3, ...planned(undefined))).toBe(3);
    expect(workersThatFit(2, ...planned(1024))).toBe(2);
  });
  it('runs fewer when only some fit, and refuses when none does', () => {
    expect(workersThatFit(4, ...planned(Math.floor(free / 1.5)))).toBe(1);
    let e: unknown;
    try {
      workersThatFit(2, ...planned(free * 2));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(DistillGateError);
    expect((e as DistillGateError).message).toMatch(/takes about [\d.]+ GB in its worker, and [\d.]+ GB of memory/);
    expect((e as DistillGateError).location.file).toBe('models/base');
  });
});
