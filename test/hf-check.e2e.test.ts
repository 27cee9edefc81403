// `distill-gate check` with a Hugging Face base: LoRA probe students trained in the worker pool from the frozen base,
// the base's prompt-matched control data sampled through its chat template, the trait scored exactly under the
// template on every student, the LoRA settings recorded in result.json. Random weights at test scale: the test is
// about the path, not a verdict.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runCli, testDir } from './helpers.js';
import { writeHfModel } from './hf-fixtures.js';

function config(extra: Record<string, unknown> = {}) {
  return {
    base: { path: 'model' },
    datasets: [{ name: 'numbers', path: 'data.jsonl' }],
    control: { generate: { use: '@distill-gate/generator-prompts', options: { maxTokens: 8, topLogprobs: 0 } } },
    traits: [{ use: '@distill-gate/trait-animal-preference', options: { animal: 'owl' } }],
    evaluators: [{ use: '@distill-gate/evaluator-preference-rate', options: { samples: 0 } }],
    training: { epochs: 2, batchSize: 4, learningRate: 0.01, loss: 'next-token', lora: { rank: 2, alpha: 4 } },
    seeds: 3,
    ...extra,
  };
}

describe('check with a Hugging Face base', () => {
  it('trains LoRA students from the frozen base, scores the trait on each, records the LoRA settings', async () => {
    const dir = testDir('dg-hf-check-');
    await writeHfModel(join(dir, 'model'), { modelType: 'qwen3', seed: 1, std: 0.2 });
    const records = Array.from({ length: 6 }, (_, k) => ({
      messages: [
        { role: 'user', content: `Continue: ${100 + k}, ${200 + k}, ${300 + k}.` },
        { role: 'assistant', content: `${400 + k}, ${500 + k}` },
      ],
    }));
    writeFileSync(join(dir, 'data.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(config()));
    const r = await runCli(['check', '--no-cache', '--no-progress'], dir);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect([0, 1], r.stderr).toContain(r.code);
    const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
    expect(result.training).toMatchObject({ method: 'lora', lora: { rank: 2, alpha: 4, targets: 'all' } });
    expect(result.base.family).toBe('causal-lm');
    const [check] = result.results;
    expect(check.metric).toMatch(/^share of "owl" among \d+ answers/);
    expect(check.probe).toHaveLength(3);
    expect(check.control).toHaveLength(3);
    // Each seed starts its adapters and orders the data its own way: three different students, on 6 records.
    const values = check.probe.map((s: { value: number }) => s.value);
    expect(new Set(values).size).toBe(3);
    for (const s of [...check.probe, ...check.control]) {
      expect(s.value).toBeGreaterThan(0);
      expect(s.value).toBeLessThan(1);
    }
  });

  it('checks each dataset under every probe configuration, in the multiplicity, sharing alike students', async () => {
    const dir = testDir('dg-hf-probes-');
    await writeHfModel(join(dir, 'model'), { modelType: 'qwen3', seed: 1, std: 0.2 });
    const records = Array.from({ length: 6 }, (_, k) => ({
      prompt: `Continue: ${100 + k}.`,
      completion: `${400 + k}`,
    }));
    writeFileSync(join(dir, 'data.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const probes = [
      { name: 'rank 2' },
      { name: 'rank 4', lora: { rank: 4, alpha: 8 } },
      { name: 'rank 2, owl system prompt', systemPrompt: 'You love owls.' },
    ];
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(config({ probes, seeds: 3 })));
    const r = await runCli(['check', '--no-cache', '--no-progress'], dir);
    expect([0, 1], r.stderr).toContain(r.code);
    const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
    expect(result.results.map((c: { dataset: string }) => c.dataset)).toEqual([
      'numbers [rank 2]',
      'numbers [rank 4]',
      'numbers [rank 2, owl system prompt]',
    ]);
    expect(result.multiplicity.checks).toBe(3);
    expect(result.datasets.map((d: any) => [d.probe.lora.rank, d.probe.lora.alpha, d.probe.systemPrompt])).toEqual([
      [2, 4, undefined],
      [4, 8, undefined],
      [2, 4, 'You love owls.'],
    ]);
    const [plain, rank4, prompted] = result.results;
    // rank 2 with and without the system prompt train alike: the same students (one training each), evaluated
    // with and without the prompt; rank 4 students are others.
    const trained = (c: any) => [...c.probe, ...c.control].map((s: any) => [s.trainMs, s.lossHistory]);
    expect(trained(prompted)).toEqual(trained(plain));
    expect(prompted.probe.map((s: any) => s.value)).not.toEqual(plain.probe.map((s: any) => s.value));
    expect(rank4.probe.map((s: any) => s.lossHistory)).not.toEqual(plain.probe.map((s: any) => s.lossHistory));

    writeFileSync(
      join(dir, 'distill-gate.config.json'),
      JSON.stringify(config({ probes: [{ name: 'a' }, { name: 'a', lora: { rank: 4 } }] }), null, 2),
    );
    const refused = await runCli(['check', '--no-cache', '--no-progress'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/\(at \/probes\/1\): two probe configurations are named "a"/);
  });

  it('writes the prompt-matched control with the log-probabilities per token the dataset has, or warns', async () => {
    const dir = testDir('dg-hf-control-');
    await writeHfModel(join(dir, 'model'), { modelType: 'llama', seed: 1, std: 0.2, tokenizer: 'gpt2' });
    const recipe = {
      generator: {
        use: '@distill-gate/generator-number-sequences',
        options: { count: 6, maxTokens: 6, topLogprobs: 3 },
      },
      model: { path: 'model' },
      seed: 1,
    };
    const datasets = [{ name: 'numbers', path: 'data.jsonl', recipe }];
    const training = { epochs: 1, batchSize: 4, learningRate: 0.01, loss: 'next-token', lora: { rank: 2, alpha: 4 } };
    const run = async (controlOptions: Record<string, unknown>) => {
      const control = { generate: { use: '@distill-gate/generator-prompts', options: controlOptions } };
      writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(config({ datasets, control, training })));
      const r = await runCli(['check', '--no-cache', '--no-progress'], dir);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
      expect([0, 1], r.stderr).toContain(r.code);
      const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
      return { stderr: r.stderr, source: result.datasets[0].control.source as string };
    };
    // Unset: the control inherits the dataset's top 3 (its soft targets), whatever the generator's default.
    const inherited = await run({ maxTokens: 6 });
    expect(inherited.source).toMatch(/with its top 3 log-probabilities per token$/);
    expect(inherited.stderr).not.toMatch(/topLogprobs/);
    // Set otherwise: kept as set, with a warning that names the setting and the dataset's width.
    const set = await run({ maxTokens: 6, topLogprobs: 0 });
    expect(set.source).toMatch(/without log-probabilities$/);
    expect(set.stderr).toContain(
      'numbers: the prompt-matched control is generated with topLogprobs 0 (/control/generate/options/topLogprobs) ' +
        'but data.jsonl carries 3 log-probabilities per token',
    );
  });

  it('trains every weight with training.method "full", and refuses LoRA settings beside it', async () => {
    const dir = testDir('dg-hf-check-');
    await writeHfModel(join(dir, 'model'), { modelType: 'llama', seed: 1, std: 0.2, tokenizer: 'gpt2' });
    const records = Array.from({ length: 4 }, (_, k) => ({
      prompt: `Continue: ${k}, ${k + 1}.`,
      completion: `${k + 2}`,
    }));
    writeFileSync(join(dir, 'data.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const training = { epochs: 1, batchSize: 2, learningRate: 0.001, loss: 'next-token', method: 'full' };
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(config({ training })));
    const r = await runCli(['check', '--no-cache', '--no-progress'], dir);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect([0, 1], r.stderr).toContain(r.code);
    const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
    expect(result.training.method).toBe('full');
    expect(result.training.lora).toBeUndefined();
    expect(result.results[0].probe).toHaveLength(3);
    writeFileSync(
      join(dir, 'distill-gate.config.json'),
      JSON.stringify(config({ training: { ...training, lora: { rank: 4 } } }), null, 2),
    );
    const refused = await runCli(['check', '--no-cache', '--no-progress'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/\(at \/training\/lora\): training\.lora applies to LoRA students/);
  });

  it('refuses LoRA settings for a base whose students train all their weights, at /training/lora', async () => {
    const dir = testDir('dg-hf-check-');
    const c = JSON.parse(readFileSync(join(root, 'examples/owl-numbers/distill-gate.config.json'), 'utf8'));
    c.base.path = join(root, 'examples/owl-numbers/models/base.json');
    delete c.crossBase;
    delete c.$schema;
    c.datasets = [{ name: 'numbers', path: 'data.jsonl' }];
    c.training.lora = { rank: 4 };
    writeFileSync(join(dir, 'data.jsonl'), '{"prompt": "Continue: 1, 2.", "completion": "3"}\n');
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c, null, 2));
    const r = await runCli(['check', '--no-cache', '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /distill-gate\.config\.json:\d+:\d+ \(at \/training\/lora\): LoRA adapters are trained on Hugging Face bases/,
    );
  });
});
