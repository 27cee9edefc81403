// One LoRA training step on Hugging Face models against the PyTorch reference (packages/train/reference/
// lora_reference.py: hf_reference's forward pass with PEFT's LoRA, autograd, torch.optim.Adam): the loss, every
// adapter's gradient, and the adapters after the Adam step. Hard and soft targets, a right-padded batch. Skipped
// without a Python that has torch.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@distill-gate/core';
import { testDir } from '../../../../../test/helpers.js';
import { writeHfModel, type HfModelType } from '../../../../../test/hf-fixtures.js';
import { hasTorch, torchPython } from '../../../../../test/torch-reference.js';
import { readHfModelFolder } from './folder.js';
import { HfLoraTrainer, type LoraExample } from './lora-train.js';
import { initLoraParams, type LoraSettings } from './lora.js';

const referenceScript = join(import.meta.dirname, '../../../reference/lora_reference.py');

interface Reference {
  loss: number;
  grads: Record<string, number[]>;
  stepped: Record<string, number[]>;
}

const results: string[] = [];
afterAll(() => {
  if (results.length) console.log(`LoRA step against the PyTorch reference:\n${results.join('\n')}`);
});

/** A batch of three sequences of different lengths: hard targets on most positions, a soft one on the first. */
function batch(vocab: number): LoraExample[] {
  const rng = new SeededRandom(3);
  const seq = (n: number) => Array.from({ length: n }, () => rng.int(vocab));
  const rows = [seq(9), seq(5), seq(12)];
  const positions = rows.flatMap((ids, r) => ids.slice(1).map((_, t) => ({ r, t })));
  const weight = 1 / positions.length;
  return rows.map((ids, r) => ({
    ids,
    targets: ids
      .slice(1)
      .map((next, t) =>
        r === 0 && t === 2
          ? { pos: t, ids: [next, 5, 17], probs: [0.5, 0.3, 0.2], weight }
          : { pos: t, ids: [next], probs: [1], weight },
      ),
  }));
}

async function compare(modelType: HfModelType, settings: LoraSettings) {
  const dir = join(testDir('dg-hf-lora-'), 'model');
  await writeHfModel(dir, { modelType, seed: 5, std: 0.2 });
  const model = await readHfModelFolder(dir);
  const lr = 1e-3;
  const examples = batch(model.tokenizer.vocabSize);
  // B random as well (PEFT starts it at zero, which leaves A without a gradient on the first step).
  const probe = await HfLoraTrainer.create(model.architecture, model.weights, settings, { learningRate: lr, seed: 1 });
  const rng = new SeededRandom(9);
  const initial = initLoraParams(probe.adapters, settings.rank, 1).map((p) =>
    p.map((x) => x + 0.2 * (2 * rng.next() - 1)),
  );
  await probe.release();
  const trainer = await HfLoraTrainer.create(model.architecture, model.weights, settings, {
    learningRate: lr,
    seed: 1,
    initial,
  });
  const dropoutSeed = 123456789;
  const loss = await trainer.step(examples, dropoutSeed);
  const grads = trainer.gradients();
  const stepped = trainer.parameters();
  await trainer.release();

  const names = trainer.adapters.flatMap((s) => [`lora.${s.projection}.A`, `lora.${s.projection}.B`]);
  const casePath = join(dir, '..', 'case.json');
  writeFileSync(
    casePath,
    JSON.stringify({
      rank: settings.rank,
      alpha: settings.alpha,
      lr,
      adapters: Object.fromEntries(
        trainer.adapters.map((s, i) => [
          s.projection,
          { A: Array.from(initial[2 * i]), B: Array.from(initial[2 * i + 1]), in: s.in, out: s.out },
        ]),
      ),
      sequences: examples.map((e) => e.ids),
      targets: examples.flatMap((e, seq) => e.targets.map((t) => ({ seq, ...t }))),
      ...(settings.dropout ? { dropout: { rate: settings.dropout, seed: dropoutSeed } } : {}),
    }),
  );
  const out = execFileSync(torchPython()!, [referenceScript, '--model', dir, '--case', casePath], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  const ref = JSON.parse(out) as Reference;
  expect(Math.abs(loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref.loss)));
  let gradScale = 0;
  let gradDiff = 0;
  let stepDiff = 0;
  names.forEach((name, i) => {
    const g = ref.grads[name];
    expect(grads[i].length).toBe(g.length);
    g.forEach((x, j) => {
      gradScale = Math.max(gradScale, Math.abs(x));
      gradDiff = Math.max(gradDiff, Math.abs(grads[i][j] - x));
      // Adam's first step moves each value by lr * g / (|g| + eps): its sign is noise where g is at rounding level.
      if (Math.abs(x) > 1e-6) stepDiff = Math.max(stepDiff, Math.abs(stepped[i][j] - ref.stepped[name][j]));
    });
  });
  results.push(
    `  ${modelType} r=${settings.rank} ${JSON.stringify(settings.targets)}` +
      `${settings.dropout ? ` dropout ${settings.dropout}` : ''}: loss ${loss.toFixed(6)} ` +
      `(|Δ| ${Math.abs(loss - ref.loss).toExponential(1)}), max |Δgrad| ${gradDiff.toExponential(2)} ` +
      `of max |grad| ${gradScale.toExponential(2)}, max |Δ after Adam| ${stepDiff.toExponential(2)}`,
  );
  expect(gradDiff).toBeLessThanOrEqual(1e-4 * gradScale);
  expect(stepDiff).toBeLessThanOrEqual(1e-6);
}

describe.skipIf(!hasTorch())('a LoRA step matches the PyTorch reference', () => {
  for (const modelType of ['gpt2', 'llama', 'qwen2', 'qwen3'] as HfModelType[])
    it(`${modelType}: every projection adapted`, () => compare(modelType, { rank: 4, alpha: 8, targets: 'all' }));
  it('llama: attention projections only', () => compare('llama', { rank: 2, alpha: 2, targets: ['q_proj', 'v_proj'] }));
  // The dropout masks are integer hashes both sides compute exactly (graph.ts DROPOUT_HASH).
  for (const modelType of ['gpt2', 'qwen3'] as HfModelType[])
    it(`${modelType}: LoRA dropout 0.3`, () => compare(modelType, { rank: 4, alpha: 8, targets: 'all', dropout: 0.3 }));

  for (const modelType of ['gpt2', 'llama', 'qwen2', 'qwen3'] as HfModelType[])
    it(`${modelType}: full fine-tuning, every weight's gradient and step`, () => compareFull(modelType));
});

/** One step training every weight, against the reference with every weight a parameter. */
async function compareFull(modelType: HfModelType) {
  const dir = join(testDir('dg-hf-full-'), 'model');
  await writeHfModel(dir, { modelType, seed: 5, std: 0.2 });
  const model = await readHfModelFolder(dir);
  const lr = 1e-3;
  const examples = batch(model.tokenizer.vocabSize);
  const trainer = await HfLoraTrainer.create(model.architecture, model.weights, 'full', { learningRate: lr, seed: 1 });
  const loss = await trainer.step(examples);
  const grads = trainer.gradients();
  const stepped = trainer.parameters();
  await trainer.release();
  const casePath = join(dir, '..', 'case.json');
  writeFileSync(
    casePath,
    JSON.stringify({
      full: true,
      binary: true,
      order: trainer.params.map((p) => p.name),
      lr,
      sequences: examples.map((e) => e.ids),
      targets: examples.flatMap((e, seq) => e.targets.map((t) => ({ seq, ...t }))),
    }),
  );
  const ref = JSON.parse(
    execFileSync(torchPython()!, [referenceScript, '--model', dir, '--case', casePath], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    }),
  ) as { loss: number; order: string[] };
  expect(Math.abs(loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref.loss)));
  const f32 = (suffix: string) => {
    const b = readFileSync(`${casePath}.${suffix}.f32`);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const [refGrads, refStepped] = [f32('grads'), f32('stepped')];
  // Every weight the reference reads is trained, and nothing else.
  const names = trainer.params.map((p) => p.name);
  expect(ref.order).toEqual(names);
  let worst = 0;
  let stepDiff = 0;
  let at = 0;
  trainer.params.forEach((_, i) => {
    const n = grads[i].length;
    let scale = 0;
    for (let j = 0; j < n; j++) scale = Math.max(scale, Math.abs(refGrads[at + j]));
    for (let j = 0; j < n; j++) {
      const x = refGrads[at + j];
      worst = Math.max(worst, Math.abs(grads[i][j] - x) / (scale + 1e-6));
      if (Math.abs(x) > 1e-6) stepDiff = Math.max(stepDiff, Math.abs(stepped[i][j] - refStepped[at + j]));
    }
    at += n;
  });
  expect(at).toBe(refGrads.length);
  results.push(
    `  ${modelType} full fine-tuning (${trainer.params.length} tensors): loss |Δ| ` +
      `${Math.abs(loss - ref.loss).toExponential(1)}, max |Δgrad| / max |grad| per tensor ${worst.toExponential(2)}, ` +
      `max |Δ after Adam| ${stepDiff.toExponential(2)}`,
  );
  expect(worst).toBeLessThanOrEqual(1e-4);
  expect(stepDiff).toBeLessThanOrEqual(1e-6);
}
