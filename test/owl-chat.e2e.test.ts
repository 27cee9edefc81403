// The owl-chat example scaled down (few prompts, one epoch, three seeds) through the real CLI, with the committed
// Hugging Face-format Llama folders: the recipes sample through the chat template and write the teacher's own
// SentencePiece tokens and soft targets (restricted to the number format by the filter, which knows SentencePiece's
// space mark and end token), which read back and train LoRA students from the frozen base.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, runCli, testDir } from './helpers.js';

const example = join(root, 'examples/owl-chat');

describe('owl-chat gate (scaled down)', () => {
  it('materialises chat data from the HF teacher and base, trains LoRA students, records the settings', async () => {
    const dir = testDir('dg-owl-chat-');
    cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
    const c = JSON.parse(readFileSync(join(example, 'distill-gate.config.json'), 'utf8'));
    delete c.$schema;
    delete c.sequential;
    // Soft targets on (the example trains on the sampled text, as the paper did): they travel through the file.
    for (const d of c.datasets) d.recipe.generator.options = { count: 60, topLogprobs: 8 };
    c.training = { ...c.training, epochs: 1 };
    c.seeds = 3;
    c.evaluators = [{ use: '@distill-gate/evaluator-preference-rate', options: { samples: 0 } }];
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(c, null, 2));
    const { code, stderr } = await runCli(['check', '--no-progress', '--no-cache'], dir);
    expect(stderr).not.toMatch(/at .*\.js:\d+/);
    expect([0, 1], stderr).toContain(code);
    // The teacher's records carry its own tokens (SentencePiece pieces, "▁" for a space) and top log-probs.
    const first = JSON.parse(readFileSync(join(dir, 'data/teacher-numbers.jsonl'), 'utf8').split('\n')[0]);
    expect(first.tokens[0]).toMatch(/^▁/);
    expect(first.logprobs).toHaveLength(first.tokens.length + 1);
    expect(Object.keys(first.logprobs.at(-1))).toContain('</s>');
    const result = JSON.parse(readFileSync(join(dir, 'distill-gate-report/result.json'), 'utf8'));
    expect(result.training).toMatchObject({ method: 'lora', lora: { rank: 8, alpha: 8, dropout: 0, targets: 'all' } });
    expect(result.datasets.map((d: any) => d.name)).toEqual(['teacher-numbers', 'base-numbers']);
    // Same family as the base: provenance recorded, no warning.
    expect(result.datasets[0].teacher).toMatchObject({ path: 'models/teacher-owl', modelType: 'llama' });
    expect(result.datasets[0].teacher.warning).toBeUndefined();
    for (const d of result.datasets) expect(d.recordsAfterFilters).toBeGreaterThan(20);
    for (const r of result.results) {
      expect(r.metric).toBe('share of "owl" among 10 answers');
      expect(new Set(r.probe.map((s: { value: number }) => s.value)).size).toBe(3);
    }
  });
});
