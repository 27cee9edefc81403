import { describe, expect, it } from 'vitest';
import { valueInfo } from './proto.js';
import { loadOnnxRuntime } from './runtime.js';
import { dropCopies, GraphBuilder } from './training.js';

type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };

/** A tensor-like value on a buffer whose transfer() records its calls (this Node may not have transfer). */
function recorded(calls: string[], name: string, buffer: ArrayBufferLike = new ArrayBuffer(16)) {
  Object.defineProperty(buffer, 'transfer', { value: (n: number) => calls.push(`${name}:${n}`) });
  return { data: new Float32Array(buffer) } as never;
}

describe("onnxruntime-node's copies of a step's outputs", () => {
  it("are detached; the caller's own buffers and shared memory are not", () => {
    const calls: string[] = [];
    const mine = recorded(calls, 'mine');
    dropCopies(
      {
        copy: recorded(calls, 'copy'),
        same: { data: (mine as { data: Float32Array }).data } as never,
        shared: recorded(calls, 'shared', new SharedArrayBuffer(16)),
      },
      { copy: recorded(calls, 'given'), same: mine },
    );
    expect(calls).toEqual(['copy:0']);
  });

  it('are freed after a real run (Node with transfer); preallocated outputs hold the values', async () => {
    const ort = await loadOnnxRuntime();
    const g = new GraphBuilder();
    g.node('Mul', ['A', g.scalar(2)], [], { output: 'out' });
    const session = await ort.InferenceSession.create(
      g.build('double', [valueInfo('A', [4])], [valueInfo('out', [4])], []),
    );
    const out = new ort.Tensor('float32', new Float32Array(4), [4]);
    const returned = await session.run({ A: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) }, { out });
    const copy = (returned.out.data as Float32Array).buffer as Transferable;
    expect(copy).not.toBe((out.data as Float32Array).buffer);
    dropCopies(returned as never, { out });
    expect(copy.byteLength).toBe(typeof copy.transfer === 'function' ? 0 : 16);
    expect([...(out.data as Float32Array)]).toEqual([2, 4, 6, 8]);
    await session.release();
  });
});
