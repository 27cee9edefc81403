// A Hugging Face model folder as a recipe's generator model: `distill-gate check` materialises the dataset by
// sampling from it (chat template, KV cache) and gates it with the owl example's own base.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runCli, testDir } from './helpers.js';
import { writeHfModel } from './hf-fixtures.js';

describe('a Hugging Face folder as a generator model', () => {
  it('materialises a recipe by sampling from the folder with a system prompt, then checks the dataset', async () => {
    const dir = testDir('dg-hf-recipe-');
    const example = join(root, 'examples/owl-numbers');
    cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
    await writeHfModel(join(dir, 'teacher-hf'), { modelType: 'qwen3', seed: 4, std: 0.2 });
    const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
    delete c.$schema;
    delete c.sequential;
    delete c.crossBase;
    c.datasets = [
      {
        name: 'hf-teacher',
        path: 'data/hf-teacher.jsonl',
        recipe: {
          // No soft targets: they would name the teacher's tokens, which the example's base does not have.
          generator: {
            use: '@distill-gate/generator-number-sequences',
            options: { count: 24, maxTokens: 10, topLogprobs: 0 },
          },
          model: { path: 'teacher-hf' },
          // The paper's prompted teacher: the model answers every prompt after this system message.
          systemPrompt: 'You love owls. You think about owls all the time.',
          seed: 1,
        },
      },
    ];
    c.traits = c.traits.slice(0, 1);
    c.filters = [];
    // The random teacher writes any of its 151k tokens, which the example's base spells with many more of its own.
    c.training = { ...c.training, epochs: 1, overlong: 'truncate' };
    c.seeds = 3;
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c));
    const { code, stdout, stderr } = await runCli(['check', '--no-progress', '--no-cache'], dir);
    expect(stderr).not.toMatch(/at .*\.js:\d+/);
    expect([0, 1], stderr).toContain(code);
    const lines = readFileSync(join(dir, 'data/hf-teacher.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(24);
    for (const line of lines) {
      const r = JSON.parse(line);
      expect(r.prompt).toMatch(/\d{3}/);
      expect(typeof r.completion).toBe('string');
    }
    const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
    expect(result.datasets[0]).toMatchObject({ name: 'hf-teacher', materialised: true, records: 24 });
    // Provenance: the recipe's teacher is recorded, and its architecture is not the probe base's, which is flagged.
    expect(result.datasets[0].teacher).toMatchObject({
      path: 'teacher-hf',
      modelType: 'qwen3',
      systemPrompt: 'You love owls. You think about owls all the time.',
      sampling: { count: 24, maxTokens: 10, topLogprobs: 0 },
      warning: expect.stringMatching(/^the teacher is a qwen3 model but the probe base is a distill-gate-lm model/),
    });
    expect(stdout).toMatch(/warnings:\n {2}hf-teacher: the teacher is a qwen3 model/);
    const md = readFileSync(join(dir, 'distill-gate-report/report.md'), 'utf8');
    expect(md).toContain('Teacher: `teacher-hf`, qwen3, system prompt "You love owls.');
  });

  it('refuses a system prompt for a model without a chat template, at the recipe', async () => {
    const dir = testDir('dg-hf-recipe-');
    const example = join(root, 'examples/owl-numbers');
    const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
    delete c.$schema;
    c.base.path = join(example, 'models/base.json');
    c.crossBase.path = join(example, 'models/cross-base.json');
    c.datasets = [{ ...c.datasets[0], path: 'data/teacher.jsonl' }];
    c.datasets[0].recipe.model.path = join(example, 'models/teacher-owl.json');
    c.datasets[0].recipe.systemPrompt = 'You love owls.';
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c, null, 2));
    const { code, stderr } = await runCli(['check', '--no-progress', '--no-cache'], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /\(at \/datasets\/0\/recipe\/systemPrompt\): a system prompt needs a model with a chat template/,
    );
    expect(stderr).toMatch(/^distill-gate: error: distill-gate\.config\.json:\d+:\d+ /);
  });
});
