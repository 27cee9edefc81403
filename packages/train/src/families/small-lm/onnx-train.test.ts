import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@distill-gate/core';
import { selectBackend } from '../../backend.js';
import { encodeRecords } from './language-model.js';
import { trainLm } from './trainer.js';
import { trainLmOnnx } from './onnx-train.js';
import { createTrainingCore } from '../../training-core.js';
import { LmHandle } from './handle.js';
import { Tokenizer } from './tokenizer.js';
import { initTransformer, type TransformerConfig } from './transformer.js';

// Number-continuation records, prompts and completions of varied lengths (so batches are padded differently).
const rng = new SeededRandom(8);
const numbers = (k: number) => Array.from({ length: k }, () => 100 + Math.floor(rng.next() * 900)).join(', ');
const records = Array.from({ length: 48 }, () => ({
  prompt: `Continue: ${numbers(2 + Math.floor(rng.next() * 4))}.`,
  completion: numbers(1 + Math.floor(rng.next() * 4)),
}));
const tokenizer = Tokenizer.fromCorpus(
  records.flatMap((r) => [r.prompt, r.completion]),
  1,
);
const config: TransformerConfig = {
  vocabSize: tokenizer.size,
  contextLength: 40,
  dModel: 16,
  layers: 2,
  heads: 2,
  ffn: 32,
};
const data = encodeRecords(tokenizer, records, config.contextLength);

/** |a - b| over all tensors relative to how far training moved b from init (L2). */
function relativeGap(a: Float32Array[], b: Float32Array[], init: Float32Array[]): number {
  let diff = 0;
  let moved = 0;
  a.forEach((t, i) => t.forEach((x, j) => ((diff += (x - b[i][j]) ** 2), (moved += (b[i][j] - init[i][j]) ** 2))));
  return Math.sqrt(diff / moved);
}

describe('transformer training on onnxruntime-node', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('takes the same Adam steps as the tfjs trainer: hard labels and soft targets, padded batches', async () => {
    const init = initTransformer(config, 5).tensors;
    // Soft targets on half the records: the teacher's distribution over 3 tokens at every completion position.
    let slots = 0;
    const slotBegin = new Int32Array(data.records).fill(-1);
    for (let r = 0; r < data.records; r += 2) {
      slotBegin[r] = slots;
      slots += data.offsets[r + 1] - data.offsets[r] - data.completionStart[r];
    }
    const entryOffsets = Int32Array.from({ length: slots + 1 }, (_, t) => 3 * t);
    const entryTokens = Int32Array.from({ length: 3 * slots }, (_, e) => 5 + ((e * 7) % (config.vocabSize - 5)));
    const entryProbs = Float32Array.from({ length: 3 * slots }, (_, e) => [0.6, 0.3, 0.1][e % 3]);
    const soft = { ...data, soft: { slotBegin, entryOffsets, entryTokens, entryProbs } };
    for (const d of [data, soft]) {
      const common = { config, init, data: d, epochs: 3, batchSize: 8, learningRate: 3e-3, seed: 4 };
      const ref = trainLm({ ...common, backend: 'wasm' });
      const ort = await trainLmOnnx(common);
      expect(ort.steps).toBe(ref.steps);
      ort.lossHistory.forEach((l, e) =>
        expect(Math.abs(l - ref.lossHistory[e])).toBeLessThan(1e-4 * ref.lossHistory[e]),
      );
      expect(ort.lossHistory[2]).toBeLessThan(ort.lossHistory[0]);
      // Float rounding differs between the engines and Adam's normalised steps carry it on.
      expect(relativeGap(ort.weights, ref.weights, init)).toBeLessThan(0.02);
    }
  });

  it('repeats bit for bit, and is what the training core uses for language models when asked', async () => {
    const init = initTransformer(config, 6).tensors;
    const common = { config, init, data, epochs: 1, batchSize: 16, learningRate: 3e-3, seed: 1 };
    const [a, b] = [await trainLmOnnx(common), await trainLmOnnx(common)];
    expect(
      Buffer.concat(a.weights.map((w) => Buffer.from(w.buffer))).equals(
        Buffer.concat(b.weights.map((w) => Buffer.from(w.buffer))),
      ),
    ).toBe(true);
    const core = await createTrainingCore({ backend: 'wasm', trainer: 'onnxruntime', inference: 'tfjs', workers: 1 });
    expect(core.backend.training?.engine).toBe('onnxruntime');
    const base = new LmHandle('base', { config, tensors: init, tokenizer, metadata: {} } as never, 'wasm');
    const [student] = await core.trainStudents([
      {
        id: 's1',
        role: 'probe',
        seed: 1,
        init: base,
        data: { kind: 'text', records: records.map((r, index) => ({ ...r, index, line: 0 })), metadata: {} },
        training: { epochs: 1, batchSize: 16, learningRate: 3e-3, loss: 'next-token' },
      },
    ]);
    expect(relativeGap((student.model as LmHandle).file.tensors, a.weights, init)).toBe(0);
    await core.dispose();
  });
});
