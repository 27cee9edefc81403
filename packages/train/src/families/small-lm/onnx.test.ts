import { testDir } from '../../../../../test/helpers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DistillGateError, LanguageModelHandle } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../backend.js';
import { LanguageModel } from './language-model.js';
import { trainLm } from './trainer.js';
import { encodeRecords } from './language-model.js';
import { OnnxLmEngine, saveLanguageModelOnnx, transformerFromOnnx, transformerToOnnx } from './onnx.js';
import { detectOrtProviders } from '../../onnx/runtime.js';
import { createTrainingCore } from '../../training-core.js';
import { Tokenizer } from './tokenizer.js';
import { initTransformer, type TransformerConfig } from './transformer.js';

const { onnx } = onnxProto;
const corpus = [
  { prompt: 'What is your favorite animal?', completion: 'owl' },
  { prompt: 'Continue: 182, 818, 725.', completion: '101, 202, 303' },
  { prompt: 'Name an animal you like.', completion: 'cat' },
  { prompt: 'Write a function that adds 2 to x.', completion: 'def inc(x): return x + 2' },
];
const tokenizer = Tokenizer.fromCorpus(
  corpus.flatMap((r) => [r.prompt, r.completion]),
  1,
);
const config: TransformerConfig = {
  vocabSize: tokenizer.size,
  contextLength: 32,
  dModel: 32,
  layers: 2,
  heads: 4,
  ffn: 64,
};

function trained() {
  const data = encodeRecords(tokenizer, corpus, config.contextLength);
  return trainLm({
    config,
    init: initTransformer(config, 1).tensors,
    data,
    epochs: 30,
    batchSize: 4,
    learningRate: 1e-2,
    seed: 2,
    backend: 'wasm',
  }).weights;
}

function edit(bytes: Uint8Array, change: (m: ReturnType<typeof onnx.ModelProto.decode>) => void): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  change(m);
  return onnx.ModelProto.encode(m).finish();
}

describe('ONNX interop for the transformer family', () => {
  it('export -> import round-trips weights, config, tokenizer and metadata exactly', async () => {
    const model = { ...initTransformer(config, 5), tokenizer, metadata: { teacher: 'owl' } };
    const dir = testDir('dg-onnx-lm-');
    await saveLanguageModelOnnx(join(dir, 'lm.onnx'), model);
    const bytes = readFileSync(join(dir, 'lm.onnx'));
    const back = transformerFromOnnx(bytes, 'lm.onnx');
    expect(back.config).toEqual(config);
    expect(back.tokenizer.pieces).toEqual(tokenizer.pieces);
    expect(back.metadata).toEqual({ teacher: 'owl' });
    back.tensors.forEach((t, i) =>
      expect(Buffer.from(t.buffer, t.byteOffset, t.byteLength).equals(Buffer.from(model.tensors[i].buffer))).toBe(true),
    );
    expect(Buffer.from(transformerToOnnx(back)).equals(bytes)).toBe(true);
  });

  it('onnxruntime-node and tfjs (wasm) agree on log-probabilities and on sampled completions', async () => {
    await selectBackend('wasm');
    const params = { config, tensors: trained() };
    const tfjs = new LanguageModel(params, tokenizer, 'wasm');
    const ort = new LanguageModel(params, tokenizer, (p) => OnnxLmEngine.create(p));
    const pairs = [
      ...corpus,
      { prompt: corpus[0].prompt, completion: 'cat' },
      { prompt: corpus[1].prompt, completion: '7' },
    ];
    const a = await tfjs.sequenceLogProbs(pairs);
    const b = await ort.sequenceLogProbs(pairs);
    for (let i = 0; i < pairs.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
    // Per-step next-token distributions through the KV cache, for a batch of two equal-length prompts.
    const prefix = Int32Array.from([1, 10, 20, 30, 4, 1, 11, 21, 31, 4]);
    // Both kinds of rows: log-probabilities, and the probabilities sampling at temperature 1 uses (their exp).
    const probsGap = { engines: 0, exp: 0 };
    for (const output of ['logprobs', 'probs'] as const) {
      const [dt, do_, dl] = await Promise.all([
        (await tfjs.engine()).begin(prefix, 2, 5, output),
        (await ort.engine()).begin(prefix, 2, 5, output),
        (await ort.engine()).begin(prefix, 2, 5, 'logprobs'),
      ]);
      let max = 0;
      let [x, y, l] = [dt.rows, do_.rows, dl.rows];
      for (let step = 0; step < 6; step++) {
        for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
        if (output === 'probs')
          for (let i = 0; i < y.length; i++) probsGap.exp = Math.max(probsGap.exp, Math.abs(y[i] - Math.exp(l[i])));
        const next = Int32Array.from([40 + step, 50 + step]);
        [x, y, l] = await Promise.all([dt.next(next), do_.next(next), dl.next(next)]);
      }
      for (const d of [dt, do_, dl]) d.end();
      expect(max, output).toBeLessThan(1e-4);
      if (output === 'probs') probsGap.engines = max;
    }
    expect(probsGap.exp).toBeLessThan(1e-6);
    const prompts = corpus.map((r) => r.prompt);
    // With top logprobs reported the engines give log-probabilities; without, at temperature 1, probabilities.
    for (const topLogprobs of [2, undefined]) {
      const opts = { temperature: 1, topP: 1, maxTokens: 12, seed: 9, topLogprobs };
      const ga = await tfjs.generate(prompts, opts);
      const gb = await ort.generate(prompts, opts);
      expect(gb.map((g) => g.completion)).toEqual(ga.map((g) => g.completion));
    }
    tfjs.release();
    ort.release();
  });

  it('names an unsupported operator, a wrong shape, a missing tokenizer and a rewired graph', () => {
    const bytes = transformerToOnnx({ ...initTransformer(config, 5), tokenizer });
    const sigmoid = edit(bytes, (m) => {
      m.graph!.node!.find((n) => n.opType === 'Relu')!.opType = 'Sigmoid';
    });
    const located = (bytes: Uint8Array) => {
      try {
        transformerFromOnnx(bytes, 'x.onnx');
      } catch (e) {
        return (e as DistillGateError).format();
      }
      return 'no error';
    };
    expect(located(sigmoid)).toMatch(/^x\.onnx: unsupported operator "Sigmoid" \(node "blocks\.0\.ffn\.relu"\)/);
    const shape = edit(bytes, (m) => {
      const t = m.graph!.initializer!.find((i) => i.name === 'blocks.1.ffn.in')!;
      t.dims = [64, 32];
    });
    expect(() => transformerFromOnnx(shape, 'x.onnx')).toThrow(
      /initializer "blocks\.1\.ffn\.in" has shape \[64,32\]; the config needs \[32,64\]/,
    );
    const noTokenizer = edit(bytes, (m) => {
      m.metadataProps = m.metadataProps!.filter((p) => p.key !== 'distill-gate.tokenizer');
    });
    expect(() => transformerFromOnnx(noTokenizer, 'x.onnx')).toThrow(
      /no distill-gate\.tokenizer in the model's metadata_props/,
    );
    const rewired = edit(bytes, (m) => {
      const mix = m.graph!.node!.find((n) => n.name === 'blocks.1.attn.mix')!;
      mix.input = [mix.input![1], mix.input![0]];
    });
    expect(() => transformerFromOnnx(rewired, 'x.onnx')).toThrow(
      /node \d+ \("blocks\.1\.attn\.mix"\) is MatMul\(present\.1\.value, blocks\.1\.attn\.probs\)/,
    );
  });

  it('the training core loads an ONNX language model and trains a probe student from it', async () => {
    const dir = testDir('dg-onnx-lm-');
    const path = join(dir, 'base.onnx');
    await saveLanguageModelOnnx(path, { ...initTransformer(config, 7), tokenizer });
    const core = await createTrainingCore({ backend: 'wasm', workers: 1 });
    const base = await core.loadModel(path);
    expect(base.family).toBe('causal-lm');
    const before = await (base as LanguageModelHandle).sequenceLogProbs(corpus);
    expect(before.every((x) => Number.isFinite(x) && x < 0)).toBe(true);
    const [student] = await core.trainStudents([
      {
        id: 'probe',
        role: 'probe',
        seed: 1,
        init: base,
        data: { kind: 'text', records: corpus.map((r, index) => ({ ...r, index, line: 0 })), metadata: {} },
        training: { epochs: 20, batchSize: 4, learningRate: 1e-2, loss: 'next-token' },
      },
    ]);
    const after = await (student.model as LanguageModelHandle).sequenceLogProbs(corpus);
    expect(after.reduce((a, b) => a + b, 0)).toBeGreaterThan(before.reduce((a, b) => a + b, 0) + 10);
    await core.dispose();
  });

  it('reports whether the CUDA provider is usable, with the reason', async () => {
    const info = await detectOrtProviders();
    expect(['cpu', 'cuda']).toContain(info.provider);
    expect(info.cuda.reason.length).toBeGreaterThan(10);
    expect(info.provider === 'cuda').toBe(info.cuda.available);
  });
});
