import { describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { EXTERNAL_ALIGNMENT, externalFloatInitializer, TensorArena } from './external.js';

const { onnx } = onnxProto;

describe('in-memory external data', () => {
  it('lays tensors out at aligned offsets, in buffers of at most the chunk size (a larger tensor alone)', () => {
    const arena = TensorArena.allocate([8, 4, 6000, 20000, 40], { chunkBytes: 16384 });
    expect(arena.files.map((f) => [f.path, f.data.length])).toEqual([
      ['weights-0.bin', 2 * EXTERNAL_ALIGNMENT + 6000],
      ['weights-1.bin', 20000],
      ['weights-2.bin', 40],
    ]);
    const views = [0, 1, 2, 3, 4].map((i) => arena.float32(i));
    expect(views.map((v) => v.length)).toEqual([2, 1, 1500, 5000, 10]);
    expect(views.map((v) => arena.locate(v))).toEqual([
      { path: 'weights-0.bin', offset: 0, length: 8 },
      { path: 'weights-0.bin', offset: 4096, length: 4 },
      { path: 'weights-0.bin', offset: 8192, length: 6000 },
      { path: 'weights-1.bin', offset: 0, length: 20000 },
      { path: 'weights-2.bin', offset: 0, length: 40 },
    ]);
    expect(arena.locate(new Float32Array(2))).toBeUndefined();
  });

  it('writes an EXTERNAL initializer with location, offset and length', () => {
    const t = externalFloatInitializer('w', [2, 3], { path: 'weights-0.bin', offset: 4096, length: 24 });
    const decoded = onnx.TensorProto.decode(onnx.TensorProto.encode(t).finish());
    expect(decoded.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
    expect(decoded.rawData.length).toBe(0);
    expect(decoded.externalData.map((e) => [e.key, e.value])).toEqual([
      ['location', 'weights-0.bin'],
      ['offset', '4096'],
      ['length', '24'],
    ]);
  });
});
