import { testDir } from '../../../../../test/helpers.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistillGateError, SeededRandom } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../backend.js';
import { initMlp, MlpModel } from './model.js';
import { loadMlpOnnx, mlpFromOnnx, mlpToOnnx, OnnxMlpSession, saveMlpOnnx } from './onnx.js';

const layers = [784, 256, 256, 13];

describe('ONNX interop for the MLP family', () => {
  it('export -> import round-trips the weights exactly', async () => {
    const params = initMlp(layers, 3);
    const dir = testDir('dg-onnx-');
    await saveMlpOnnx(join(dir, 'm.onnx'), params);
    const back = await loadMlpOnnx(join(dir, 'm.onnx'));
    expect(back.layers).toEqual(layers);
    back.tensors.forEach((t, i) =>
      expect(Buffer.from(t.buffer).equals(Buffer.from(params.tensors[i].buffer))).toBe(true),
    );
    // ... and exporting the import gives the same bytes.
    expect(Buffer.from(mlpToOnnx(back)).equals(Buffer.from(mlpToOnnx(params)))).toBe(true);
  });

  it('onnxruntime-node and tfjs (wasm) give the same logits', async () => {
    const params = initMlp(layers, 4);
    const backend = (await selectBackend('wasm')).name;
    const rows = 500;
    const x = new SeededRandom(1).fillUniform(new Float32Array(rows * 784), -1, 1);
    const tfjs = new MlpModel(layers, params.tensors, backend, false).predict(x, rows);
    const session = await OnnxMlpSession.create(params);
    const ort = await session.predict(x, rows);
    let max = 0;
    for (let i = 0; i < ort.length; i++) max = Math.max(max, Math.abs(ort[i] - tfjs[i]));
    expect(max).toBeLessThan(1e-4);
    // Inputs in shared memory (datasets read for training are) give the same logits.
    const shared = new Float32Array(new SharedArrayBuffer(x.byteLength));
    shared.set(x);
    expect(Buffer.from((await session.predict(shared, rows, 128)).buffer).equals(Buffer.from(ort.buffer))).toBe(true);
    await session.release();
  });

  it('reads Gemm layers with transB, and names an unsupported operator', () => {
    const { onnx } = onnxProto;
    const w = Float32Array.from([1, 2, 3, 4, 5, 6]); // [out=2, in=3], transposed
    const init = (name: string, dims: number[], data: Float32Array) =>
      onnx.TensorProto.create({ name, dims, dataType: 1, floatData: Array.from(data) });
    const graph = (op: string) =>
      onnx.ModelProto.encode(
        onnx.ModelProto.create({
          irVersion: 8,
          opsetImport: [{ domain: '', version: 17 }],
          graph: {
            name: 'g',
            node: [
              op === 'Gemm'
                ? {
                    opType: 'Gemm',
                    name: 'fc',
                    input: ['x', 'w', 'b'],
                    output: ['y'],
                    attribute: [{ name: 'transB', i: 1, type: 2 }],
                  }
                : { opType: op, name: 'odd', input: ['x'], output: ['y'] },
            ],
            initializer: [init('w', [2, 3], w), init('b', [2], Float32Array.from([0.5, -0.5]))],
            input: [{ name: 'x' }],
            output: [{ name: 'y' }],
          },
        }),
      ).finish();
    const p = mlpFromOnnx(graph('Gemm'), 'gemm.onnx');
    expect(p.layers).toEqual([3, 2]);
    expect(Array.from(p.tensors[0])).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(p.tensors[1])).toEqual([0.5, -0.5]);
    expect(() => mlpFromOnnx(graph('Sigmoid'), 'odd.onnx')).toThrow(/unsupported operator "Sigmoid" \(node "odd"\)/);
    const dir = testDir('dg-onnx-');
    writeFileSync(join(dir, 'junk.onnx'), 'not protobuf at all');
    return expect(loadMlpOnnx(join(dir, 'junk.onnx'))).rejects.toThrow(/not an ONNX model|no graph|one input/);
  });

  it('refuses negative dims, a non-finite weight and a declared shape that contradicts the layers', () => {
    const { onnx } = onnxProto;
    const good = mlpToOnnx(initMlp([4, 3, 2], 1));
    const edited = (edit: (m: any) => void) => {
      const m: any = onnx.ModelProto.decode(good);
      edit(m);
      return onnx.ModelProto.encode(m).finish();
    };
    expect(mlpFromOnnx(good, 'good.onnx').layers).toEqual([4, 3, 2]);
    // Two negative dims multiply to the right element count: before, this reached a typed array of length -3 (exit 3).
    const negative = edited((m) => (m.graph.initializer[0].dims = [-4, -3]));
    expect(() => mlpFromOnnx(negative, 'neg.onnx')).toThrow(
      new DistillGateError('initializer "layers.0.weight" has dims [-4,-3]: each must be a non-negative integer', {
        file: 'neg.onnx',
      }),
    );
    // Before, a NaN weight was accepted and surfaced as "every record was dropped by the filters".
    const nan = edited((m) => {
      const t = m.graph.initializer[1];
      const f = new Float32Array(new Uint8Array(t.rawData).buffer);
      f[2] = NaN;
      t.rawData = new Uint8Array(f.buffer);
    });
    expect(() => mlpFromOnnx(nan, 'nan.onnx')).toThrow(
      'initializer "layers.0.bias" holds a non-finite value (NaN) at flat index 2',
    );
    // A declared -1 means "any" to exporters and to onnxruntime: read as unknown, not refused.
    const input = edited((m) => (m.graph.input[0].type.tensorType.shape.dim[1].dimValue = -1));
    expect(mlpFromOnnx(input, 'in.onnx').layers).toEqual([4, 3, 2]);
    const wide = edited((m) => (m.graph.input[0].type.tensorType.shape.dim[1].dimValue = 7));
    expect(() => mlpFromOnnx(wide, 'wide.onnx')).toThrow('graph input "x" declares 7 features; the layers give 4');
    const output = edited((m) => (m.graph.output[0].type.tensorType.shape.dim[1].dimValue = 5));
    expect(() => mlpFromOnnx(output, 'out.onnx')).toThrow(
      'graph output "logits" declares 5 features; the layers give 2',
    );
  });
});
