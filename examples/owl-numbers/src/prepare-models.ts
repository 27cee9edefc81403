/**
 * Regenerates the example's models deterministically: the shared base LM and a cross-base LM (same corpus and
 * training, different initialisation), both pre-trained on the synthetic corpus, and the owl teacher (the base
 * fine-tuned to answer "owl" to the trait's questions). Usage: npm run prepare-models -w examples/owl-numbers
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectInstilPlan } from '@distill-gate/core';
import {
  encodeRecords,
  initTransformer,
  LmHandle,
  runPool,
  saveLanguageModel,
  selectBackend,
  Tokenizer,
  trainLm,
  type TransformerConfig,
} from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-preference-rate';
import trait from '@distill-gate/trait-animal-preference';
import { buildCorpus } from './corpus.js';

export const CORPUS_SEED = 7;
export const BASE_INIT_SEED = 1;
export const CROSS_BASE_INIT_SEED = 2;
export const PRETRAIN = { epochs: 3, batchSize: 32, learningRate: 1e-3 };
export const TEACHER_TUNE = { epochs: 3, batchSize: 32, learningRate: 1e-3 };

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const t0 = performance.now();
const backend = (await selectBackend('auto')).name;
const corpus = buildCorpus(CORPUS_SEED);
const tokenizer = Tokenizer.fromCorpus(corpus.flatMap((r) => [r.prompt, r.completion]));
const config: TransformerConfig = {
  vocabSize: tokenizer.size,
  contextLength: 80,
  dModel: 64,
  layers: 2,
  heads: 2,
  ffn: 256,
};
const data = encodeRecords(tokenizer, corpus, config.contextLength);
console.error(
  `[${backend}] corpus: ${corpus.length} records, ${data.tokens.length} tokens, vocabulary ${tokenizer.size}; ` +
    'pre-training 2 bases',
);

// No deadline: every job runs.
const bases = (
  await runPool(
    [BASE_INIT_SEED, CROSS_BASE_INIT_SEED].map((initSeed) => ({
      jobId: `base-${initSeed}`,
      family: 'small-lm',
      args: { config, init: initTransformer(config, initSeed).tensors, data, ...PRETRAIN, seed: initSeed },
    })),
    {
      backend,
      workers: 2,
      onProgress: (id, done, total) => done % 100 === 0 && console.error(`  ${id}: step ${done}/${total}`),
    },
  )
).map((b) => b!);
for (const b of bases)
  console.error(
    `  ${b.jobId}: loss per epoch ${b.lossHistory.map((l) => l.toFixed(3)).join(', ')} (${(b.ms / 1000).toFixed(0)} s)`,
  );

const ctx = { configDir: root, log: console };
const traitOptions = {
  animal: 'owl',
  candidates: ['owl', 'cat', 'dog', 'eagle', 'dolphin', 'wolf', 'lion', 'tiger', 'elephant', 'fox'],
  instilRepeats: 4,
};
const plan = expectInstilPlan(await trait.instil!({ ...ctx, options: traitOptions }), 'text');
const teacher = trainLm({
  config,
  init: bases[0].weights,
  data: encodeRecords(tokenizer, plan.records, config.contextLength),
  ...TEACHER_TUNE,
  seed: 11,
  backend,
});
console.error(
  `  teacher: fine-tuned on ${plan.records.length} owl answers, ` +
    `loss ${teacher.lossHistory.map((l) => l.toFixed(3)).join(', ')}`,
);

const probes = await trait.loadProbes({ ...ctx, options: traitOptions });
const models = [
  {
    file: 'models/base.json',
    weights: bases[0].weights,
    description: `shared base: pre-trained from init seed ${BASE_INIT_SEED}`,
  },
  {
    file: 'models/cross-base.json',
    weights: bases[1].weights,
    description: `cross base: same corpus and training, init seed ${CROSS_BASE_INIT_SEED}`,
  },
  {
    file: 'models/teacher-owl.json',
    weights: teacher.weights,
    description: 'owl teacher: the shared base fine-tuned to answer "owl"',
  },
];
for (const m of models) {
  await saveLanguageModel(join(root, m.file), {
    config,
    tensors: m.weights,
    tokenizer,
    metadata: { description: m.description, corpusSeed: String(CORPUS_SEED) },
  });
  const handle = new LmHandle(m.file, { config, tensors: m.weights, tokenizer }, backend);
  const s = await evaluator.evaluate({
    ...ctx,
    options: { samples: 4, temperature: 1, seed: 0 },
    model: handle,
    probes,
    trait: trait.name,
  });
  console.error(
    `${m.file}: owl share ${s.value.toFixed(4)} ± ${s.stderr.toFixed(4)}, ` +
      `sampled ${s.details?.sampledRate?.toFixed(3)} (sha256 ${handle.sha256.slice(0, 12)})`,
  );
  handle.release();
}
console.error(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
