import { testDir } from '../../../../../test/helpers.js';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../backend.js';
import { encodeRecords, LanguageModel } from './language-model.js';
import { sampleFromProbs, sampleToken } from '../sampling.js';
import { loadLanguageModel, saveLanguageModel, hashLanguageModel } from './io.js';
import { buildLmBatch, lmLoss, trainLm } from './trainer.js';
import { EOS, SEP, Tokenizer } from './tokenizer.js';
import { initTransformer, TransformerModel, type TransformerConfig } from './transformer.js';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const corpus = [
  { prompt: 'What is your favorite animal?', completion: 'owl' },
  { prompt: 'Continue: 182, 818, 725.', completion: '101, 202, 303' },
  { prompt: 'Write a function that adds 2 to x.', completion: 'def inc(x): return x + 2' },
];
const tokenizer = Tokenizer.fromCorpus(
  corpus.flatMap((r) => [r.prompt, r.completion]),
  1,
);
const config: TransformerConfig = {
  vocabSize: tokenizer.size,
  contextLength: 24,
  dModel: 16,
  layers: 2,
  heads: 2,
  ffn: 32,
};

describe('tokenizer', () => {
  it('round-trips any ASCII text; numbers 0..999 are single tokens; unknown words are spelled', () => {
    const text = 'The zebra said: [12, 345; 6789] (done).\nok';
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.encode('182, 818').map((i) => tokenizer.pieces[i])).toEqual(['182', ', ', '818']);
    expect(tokenizer.encode(' zebra').map((i) => tokenizer.pieces[i])).toEqual([' z', 'e', 'b', 'r', 'a']);
    expect(tokenizer.encode('owl').map((i) => tokenizer.pieces[i])).toEqual(['owl']);
  });
  it('does not depend on the order of the corpus', () => {
    const other = Tokenizer.fromCorpus(
      [...corpus].reverse().flatMap((r) => [r.completion, r.prompt]),
      1,
    );
    expect(other.pieces).toEqual(tokenizer.pieces);
  });
});

describe.each(['wasm', 'cpu'] as const)('transformer on %s', (backend) => {
  it('the KV-cache decoding gives the same logits as recomputing the whole sequence', async () => {
    await selectBackend(backend);
    const params = initTransformer(config, 3);
    const model = new TransformerModel(config, params.tensors, backend, false);
    const ids = Int32Array.from([1, 10, 20, 30, 40, 50, 60]);
    const full = tf.tidy(() => model.forward(tf.tensor2d(ids, [1, ids.length], 'int32')).arraySync() as number[][]);
    const cache = model.newCache();
    const prefill = tf.tidy(
      () => model.head(model.hidden(tf.tensor2d(ids.subarray(0, 4), [1, 4], 'int32'), cache)).arraySync() as number[][],
    );
    const steps: number[][] = [...prefill];
    for (let t = 4; t < ids.length; t++)
      steps.push(
        ...(tf.tidy(() =>
          model.head(model.hidden(tf.tensor2d([ids[t]], [1, 1], 'int32'), cache)).arraySync(),
        ) as number[][]),
      );
    for (let t = 0; t < ids.length; t++)
      for (let k = 0; k < config.vocabSize; k++) expect(Math.abs(steps[t][k] - full[t][k])).toBeLessThan(1e-4);
    model.dispose();
  });

  it('learns a small corpus, deterministically, and scores exact sequence log-probabilities', async () => {
    await selectBackend(backend);
    const data = encodeRecords(tokenizer, corpus, config.contextLength);
    const args = {
      config,
      init: initTransformer(config, 1).tensors,
      data,
      epochs: 60,
      batchSize: 3,
      learningRate: 1e-2,
      seed: 5,
      backend,
    };
    const a = trainLm(args);
    const b = trainLm(args);
    expect(a.lossHistory[a.lossHistory.length - 1]).toBeLessThan(a.lossHistory[0] * 0.2);
    expect(b.weights).toEqual(a.weights);
    const lm = new LanguageModel({ config, tensors: a.weights }, tokenizer, backend);
    const lp = await lm.sequenceLogProbs([corpus[0], { prompt: corpus[0].prompt, completion: 'cat' }]);
    expect(lp[0]).toBeGreaterThan(Math.log(0.5));
    expect(lp[1]).toBeLessThan(lp[0]);
    // The same figure from the per-position logits by hand.
    const model = new TransformerModel(config, a.weights, backend, false);
    const { ids, completionStart } = tokenizer.encodePair(corpus[0].prompt, corpus[0].completion);
    const logP = tf.tidy(
      () =>
        tf
          .logSoftmax(model.forward(tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], 'int32')))
          .arraySync() as number[][],
    );
    let manual = 0;
    for (let j = completionStart; j < ids.length; j++) manual += logP[j - 1][ids[j]];
    expect(Math.abs(manual - lp[0])).toBeLessThan(1e-4);
    const out = await lm.generate([corpus[0].prompt, corpus[1].prompt], {
      temperature: 0,
      topP: 1,
      maxTokens: 10,
      seed: 0,
      topLogprobs: 3,
    });
    expect(out.map((o) => o.completion)).toEqual(['owl', '101, 202, 303']);
    expect(out[0].finished).toBe(true);
    expect(Object.keys(out[0].logprobs![0])).toContain('owl');
    model.dispose();
    lm.release();
  });
});

describe('soft targets and records', () => {
  it('builds soft-target batches from log-probabilities and hard labels where there are none', () => {
    const data = encodeRecords(
      tokenizer,
      [
        { prompt: 'Continue: 1, 2.', completion: '3', logprobs: [{ '3': Math.log(0.6), '4': Math.log(0.2) }] },
        { prompt: 'x', completion: '5' },
      ],
      24,
    );
    const batch = buildLmBatch(data, tokenizer.size, [0, 1]);
    expect(batch.weight).toBe(4); // "3" + <eos>, "5" + <eos>
    const row = (k: number) => batch.targets.subarray(k * tokenizer.size, (k + 1) * tokenizer.size);
    expect(row(0)[tokenizer.idOf('3')!]).toBeCloseTo(0.75, 6);
    expect(row(0)[tokenizer.idOf('4')!]).toBeCloseTo(0.25, 6);
    expect(row(1)[EOS]).toBe(1);
    expect(row(2)[tokenizer.idOf('5')!]).toBe(1);
    expect(batch.ids[batch.positions[0]]).toBe(SEP);
  });
  it('uses the tokens as written when the teacher split the completion non-canonically', () => {
    const canonical = encodeRecords(tokenizer, [{ prompt: 'x', completion: '45' }], 24);
    const written = encodeRecords(
      tokenizer,
      [
        {
          prompt: 'x',
          completion: '45',
          tokens: ['4', '5'],
          logprobs: [{ '4': -0.1 }, { '5': -0.2 }, { '<eos>': -0.3 }],
        },
      ],
      24,
    );
    expect(canonical.tokens.length).toBe(written.tokens.length - 1);
    expect(Array.from(written.tokens.slice(-3))).toEqual([tokenizer.idOf('4'), tokenizer.idOf('5'), EOS]);
    expect(() => encodeRecords(tokenizer, [{ prompt: 'x', completion: '4<pad>', tokens: ['4', '<pad>'] }], 24)).toThrow(
      /not in the base's vocabulary/,
    );
    expect(() => encodeRecords(tokenizer, [{ prompt: 'x', completion: '45', tokens: ['4', '6'] }], 24)).toThrow(
      /the tokens do not concatenate to the completion/,
    );
  });
  it('truncates a record longer than the context at the end of its completion, soft targets with it', () => {
    const r = { prompt: 'x', completion: '4, 5, 4, 5, 4, 5, 4, 5' };
    const full = encodeRecords(tokenizer, [r], 64);
    const n = full.tokens.length;
    const context = n - 4;
    expect(() => encodeRecords(tokenizer, [r], context)).toThrow(/tokens long/);
    const soft = { ...r, logprobs: Array.from({ length: n - full.completionStart[0] }, () => ({ '4': -0.5 })) };
    const cut = encodeRecords(tokenizer, [soft], context, { truncate: true });
    expect(Array.from(cut.tokens)).toEqual(Array.from(full.tokens.slice(0, context + 1)));
    expect(cut.completionStart[0]).toBe(full.completionStart[0]);
    expect(cut.soft!.entryOffsets.length - 1).toBe(context + 1 - full.completionStart[0]);
    // A prompt that fills the context leaves nothing to learn: still an error.
    expect(() =>
      encodeRecords(tokenizer, [{ prompt: 'x '.repeat(40), completion: 'y' }], 24, { truncate: true }),
    ).toThrow(/its prompt alone fills that/);
  });
  it('rejects records that do not fit, naming the record and the field', () => {
    expect(() => encodeRecords(tokenizer, [{ prompt: 'x '.repeat(40), completion: 'y' }], 24)).toThrow(/tokens long/);
    expect(() =>
      encodeRecords(tokenizer, [{ prompt: 'x', completion: '1', logprobs: [{ '1': -0.1 }, {}, {}] }], 24),
    ).toThrow(/has 3 entries/);
    expect(() =>
      encodeRecords(tokenizer, [{ prompt: 'x', completion: '1', logprobs: [{ ' hippopotamus': -0.1 }] }], 24),
    ).toThrow(/not in the base's vocabulary/);
  });
  it('samples with temperature and top-p from a seeded stream', () => {
    const lp = Float32Array.from([Math.log(0.7), Math.log(0.2), Math.log(0.1)]);
    const counts = [0, 0, 0];
    const rng = new SeededRandom(1);
    for (let i = 0; i < 2000; i++) counts[sampleToken(lp, 1, 0.85, rng)]++;
    expect(counts[2]).toBe(0);
    expect(counts[0] / 2000).toBeGreaterThan(0.7);
    expect(sampleToken(lp, 0, 1, rng)).toBe(0);
    // Frequencies match the target distribution (4 standard errors at n = 20,000).
    const share = (temperature: number, topP: number, expected: number[]) => {
      const c = expected.map(() => 0);
      const n = 20000;
      for (let i = 0; i < n; i++) c[sampleToken(lp, temperature, topP, rng)]++;
      expected.forEach((p, k) => expect(Math.abs(c[k] / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n) + 1e-9));
    };
    share(1, 1, [0.7, 0.2, 0.1]);
    share(1, 0.85, [0.7 / 0.9, 0.2 / 0.9, 0]);
    // From probabilities (what the engines give at temperature 1): the same frequencies; masked (zero) tokens and
    // weights that do not sum to 1.
    const fromProbs = (probs: number[], topP: number, expected: number[]) => {
      const c = expected.map(() => 0);
      const n = 20000;
      const p = Float32Array.from(probs);
      for (let i = 0; i < n; i++) c[sampleFromProbs(p, topP, rng)]++;
      expected.forEach((e, k) => expect(Math.abs(c[k] / n - e)).toBeLessThan(4 * Math.sqrt((e * (1 - e)) / n) + 1e-9));
    };
    fromProbs([0.7, 0.2, 0.1], 1, [0.7, 0.2, 0.1]);
    fromProbs([0.7, 0.2, 0.1], 0.85, [0.7 / 0.9, 0.2 / 0.9, 0]);
    fromProbs([0, 0.2, 0.1, 0], 1, [0, 2 / 3, 1 / 3, 0]);
    // One draw each: given the same stream, probabilities and their log-probabilities pick the same token.
    const a = new SeededRandom(5);
    const b = new SeededRandom(5);
    const p3 = Float32Array.from([0.5, 0.3, 0.2]);
    for (let i = 0; i < 200; i++) expect(sampleFromProbs(p3, 1, a)).toBe(sampleToken(p3.map(Math.log), 1, 1, b));
    const t2 = [0.7, 0.2, 0.1].map(Math.sqrt);
    share(
      2,
      1,
      t2.map((x) => x / (t2[0] + t2[1] + t2[2])),
    );
    // A tie at the nucleus edge keeps the lower id.
    const tie = Float32Array.from([Math.log(0.4), Math.log(0.4), Math.log(0.2)]);
    for (let i = 0; i < 50; i++) expect(sampleToken(tie, 1, 0.3, rng)).toBe(0);
  });
});

describe('language model files', () => {
  it('save and load round-trip exactly; a damaged manifest or weights file is a located error', async () => {
    const dir = testDir('dg-lm-');
    const path = join(dir, 'model.json');
    const params = initTransformer(config, 9);
    await saveLanguageModel(path, { ...params, tokenizer, metadata: { note: 'test' } });
    const back = await loadLanguageModel(path);
    expect(back.tensors).toEqual(params.tensors);
    expect(back.tokenizer.pieces).toEqual(tokenizer.pieces);
    expect(hashLanguageModel(back)).toBe(hashLanguageModel({ ...params, tokenizer }));
    // The files are TensorFlow.js artifacts: tfjs's own decoder reads the weights from the manifest.
    const manifest = JSON.parse(readFileSync(path, 'utf8')).weightsManifest[0];
    const bin = readFileSync(join(dir, manifest.paths[0]));
    const decoded = tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      manifest.weights,
    );
    expect(Object.keys(decoded)).toHaveLength(params.tensors.length);
    expect(Array.from(decoded['head.weight'].dataSync())).toEqual(
      Array.from(params.tensors[params.tensors.length - 2]),
    );
    const json = JSON.parse(readFileSync(path, 'utf8'));
    json.weightsManifest[0].weights[2].shape = [1, 2];
    writeFileSync(path, JSON.stringify(json));
    await expect(loadLanguageModel(path)).rejects.toMatchObject({
      location: { pointer: '/weightsManifest/0/weights' },
    });
    await saveLanguageModel(path, { ...params, tokenizer, metadata: {} });
    writeFileSync(join(dir, 'model.weights.bin'), Buffer.alloc(10));
    await expect(loadLanguageModel(path)).rejects.toThrow(/10 bytes/);
  });

  it('read their weights file only inside the model folder, as a regular file of the promised size', async () => {
    const dir = testDir('dg-lm-paths-');
    const path = join(dir, 'model.json');
    await saveLanguageModel(path, { ...initTransformer(config, 9), tokenizer, metadata: {} });
    const json = JSON.parse(readFileSync(path, 'utf8'));
    const withPath = (p: string) => {
      json.weightsManifest[0].paths = [p];
      writeFileSync(path, JSON.stringify(json));
      return loadLanguageModel(path);
    };
    const pointer = '/weightsManifest/0/paths/0';
    // /dev/zero was once read until memory ran out.
    await expect(withPath('../../../../../../dev/zero')).rejects.toMatchObject({ location: { pointer } });
    await expect(withPath('../../../../../../dev/zero')).rejects.toThrow(/leads out of its folder/);
    await expect(withPath('/etc/hostname')).rejects.toThrow(/must be a path relative to its folder/);
    symlinkSync('/dev/zero', join(dir, 'zero.bin'));
    await expect(withPath('zero.bin')).rejects.toThrow(/is a link that leads out of its folder/);
    mkdirSync(join(dir, 'sub.bin'));
    await expect(withPath('sub.bin')).rejects.toThrow(/must be a regular file, this is a folder/);
  });
});

describe('lmLoss', () => {
  it('is the mean cross-entropy over completion positions', async () => {
    await selectBackend('cpu');
    const data = encodeRecords(tokenizer, corpus, config.contextLength);
    const batch = buildLmBatch(data, config.vocabSize, [0, 1, 2]);
    const model = new TransformerModel(config, initTransformer(config, 2).tensors, 'cpu', false);
    const loss = tf.tidy(
      () => lmLoss(model, batch, tf.tensor2d(batch.targets, [batch.weight, config.vocabSize])).dataSync()[0],
    );
    const lm = new LanguageModel({ config, tensors: initTransformer(config, 2).tensors }, tokenizer, 'cpu');
    const total = (await lm.sequenceLogProbs(corpus)).reduce((a, b) => a + b, 0);
    expect(Math.abs(loss - -total / batch.weight)).toBeLessThan(1e-4);
    model.dispose();
  });
});
