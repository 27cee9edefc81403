/**
 * Inference engines side by side on the owl example's models: tfjs (the training backend) against onnxruntime-node
 * (the model exported to ONNX and loaded back from the file). Same model, same questions, same prompts and seeds.
 * Measures the parity of log-probabilities, the time to evaluate the owl trait on one model, and the time to
 * generate N number completions with the number-sequences generator (its defaults: top-8 log-probabilities).
 * Usage: npm run bench:inference -w examples/owl-numbers [-- --completions 10000 --model models/teacher-owl.json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, type LanguageModelHandle, type TextDataset } from '@distill-gate/core';
import { createTrainingCore, loadLanguageModel, saveLanguageModelOnnx } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-preference-rate';
import generator from '@distill-gate/generator-number-sequences';
import trait from '@distill-gate/trait-animal-preference';

const { values } = parseArgs({
  options: {
    completions: { type: 'string', default: '10000' },
    model: { type: 'string', default: 'models/teacher-owl.json' },
    out: { type: 'string', default: 'results/inference-bench.json' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const count = Number(values.completions);
const ctx = { configDir: root, log: { info: () => undefined, warn: console.warn } };
const probes = await trait.loadProbes({
  ...ctx,
  options: {
    animal: 'owl',
    candidates: ['owl', 'cat', 'dog', 'eagle', 'dolphin', 'wolf', 'lion', 'tiger', 'elephant', 'fox'],
    instilRepeats: 4,
  },
});

// The ONNX copy of the model, written by the exporter and read back by the importer.
const tmp = mkdtempSync(join(tmpdir(), 'dg-bench-inference-'));
const onnxPath = join(tmp, 'model.onnx');
const file = await loadLanguageModel(join(root, values.model));
await saveLanguageModelOnnx(onnxPath, file);

const tfjsCore = await createTrainingCore({ inference: 'tfjs' });
const ortCore = await createTrainingCore({ inference: 'onnxruntime' });
const engines = [
  {
    name: `tfjs-${tfjsCore.backend.name}`,
    model: (await tfjsCore.loadModel(join(root, values.model))) as LanguageModelHandle,
    info: tfjsCore.backend.inference,
  },
  {
    name: `onnxruntime-node ${ortCore.backend.inference?.provider}`,
    model: (await ortCore.loadModel(onnxPath)) as LanguageModelHandle,
    info: ortCore.backend.inference,
  },
];
if (engines[0].model.sha256 !== engines[1].model.sha256) throw new Error('the ONNX round trip changed the weights');

const time = async <T>(f: () => Promise<T>) => {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: performance.now() - t0 };
};

// Parity: every question x candidate pair the evaluator scores.
const pairs =
  probes.kind === 'text-questions'
    ? probes.questions.flatMap((q) => probes.candidates.map((c) => ({ prompt: q, completion: c })))
    : [];
const lps = [];
for (const e of engines) lps.push(await e.model.sequenceLogProbs(pairs));
let maxDiff = 0;
for (let i = 0; i < pairs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(lps[0][i] - lps[1][i]));

const rows = [];
// The generator's defaults (as the config would fill them), with the gate's top-8 log-probabilities.
const schema = generator.optionsSchema as { properties: Record<string, { default?: unknown }> };
const genOptions = {
  ...Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, v.default])),
  count,
  topLogprobs: 8,
} as Parameters<typeof generator.generate>[0]['options'];
for (const e of engines) {
  // The first evaluation includes creating the session; the median of the next five is the steady cost.
  const evaluate = () =>
    time(() =>
      evaluator.evaluate({
        ...ctx,
        options: { samples: 4, temperature: 1, seed: 0 },
        model: e.model,
        probes,
        trait: trait.name,
      }),
    );
  const evaluation = await evaluate();
  const repeats = [];
  for (let k = 0; k < 5; k++) repeats.push((await evaluate()).ms);
  const again = { ms: repeats.sort((x, y) => x - y)[2] };
  const exact = await time(() => e.model.sequenceLogProbs(pairs));
  const gen = await time(
    async () => (await generator.generate({ ...ctx, options: genOptions, model: e.model, seed: 1 })) as TextDataset,
  );
  rows.push({
    engine: e.name,
    evaluateMs: evaluation.ms,
    evaluateAgainMs: again.ms,
    exactScoresMs: exact.ms,
    score: evaluation.value.value,
    generateMs: gen.ms,
    records: gen.value.records,
  });
  console.error(
    `${e.name}: owl trait evaluated in ${(evaluation.ms / 1000).toFixed(2)} s ` +
      `(then median ${(again.ms / 1000).toFixed(2)} s; ` +
      `${pairs.length} exact scores ${(exact.ms / 1000).toFixed(2)} s); ` +
      `${count} completions in ${(gen.ms / 1000).toFixed(1)} s`,
  );
}
const [a, b] = rows;
let same = 0;
for (let i = 0; i < a.records.length; i++) if (a.records[i].completion === b.records[i].completion) same++;
const result = {
  model: values.model,
  cores: cpus().length,
  inference: engines.map((e) => e.info),
  versions: { ...tfjsCore.versions, ...ortCore.versions },
  parity: { pairs: pairs.length, maxAbsDiffSequenceLogProb: maxDiff },
  evaluation: rows.map((r) => ({
    engine: r.engine,
    firstMs: Math.round(r.evaluateMs),
    medianMs: Math.round(r.evaluateAgainMs),
    exactScoresMs: Math.round(r.exactScoresMs),
    owlShare: r.score,
  })),
  generation: {
    completions: count,
    options: genOptions,
    ms: rows.map((r) => ({ engine: r.engine, ms: Math.round(r.generateMs) })),
    identicalCompletions: same,
  },
  speedup: { evaluation: a.evaluateAgainMs / b.evaluateAgainMs, generation: a.generateMs / b.generateMs },
};
await writeFileAtomic(resolve(root, values.out), `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `| engine | owl trait evaluation (first / median of 5 more) | ${pairs.length} exact scores | ${count} completions |`,
);
console.log('|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.engine} | ${(r.evaluateMs / 1000).toFixed(2)} s / ${(r.evaluateAgainMs / 1000).toFixed(2)} s | ` +
      `${(r.exactScoresMs / 1000).toFixed(2)} s | ${(r.generateMs / 1000).toFixed(1)} s |`,
  );
console.log(
  `parity: max |Δ log P(sequence)| over ${pairs.length} pairs = ${maxDiff.toExponential(2)}; ` +
    `owl share ${a.score.toFixed(5)} vs ${b.score.toFixed(5)}; ${same}/${count} completions identical`,
);
console.log(
  `speed-up (onnxruntime over tfjs): evaluation ${result.speedup.evaluation.toFixed(1)}x, ` +
    `generation ${result.speedup.generation.toFixed(1)}x`,
);
await tfjsCore.dispose();
await ortCore.dispose();
rmSync(tmp, { recursive: true, force: true });
