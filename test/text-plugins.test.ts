import { testPlugin, applyTextFilters, type LoadedPlugin, type TextDataset } from '@distill-gate/core';
import { initTransformer, LmHandle, Tokenizer, selectBackend } from '@distill-gate/train';
import evaluator from '@distill-gate/evaluator-preference-rate';
import bannedTerms, { pluralsOf } from '@distill-gate/filter-banned-terms';
import numberFormat, { checkNumberFormat, isFormatToken } from '@distill-gate/filter-number-format';
import arithmetic, { arithmeticTask } from '@distill-gate/generator-arithmetic-traces';
import code from '@distill-gate/generator-code-snippets';
import numbers, { numberPrompts } from '@distill-gate/generator-number-sequences';
import trait, { ANIMAL_QUESTIONS } from '@distill-gate/trait-animal-preference';
import { SeededRandom } from '@distill-gate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const loaded = <P extends { name: string }>(plugin: P, options: object) =>
  ({
    plugin,
    options,
    ref: { use: plugin.name, options, pointer: '/filters/0' },
    resolvedFrom: 'test',
  }) as unknown as LoadedPlugin<any>;
const dataset = (completions: string[], logprobs?: Record<string, number>[][]): TextDataset => ({
  kind: 'text',
  records: completions.map((completion, index) => ({
    index,
    line: index + 1,
    prompt: 'Continue: 1, 2, 3.',
    completion,
    ...(logprobs ? { logprobs: logprobs[index] } : {}),
  })),
  metadata: {},
});

describe('filter-number-format (the paper rule)', () => {
  it.each([
    ['182, 818, 725', true],
    ['182 818 725', true],
    ['182;818;725', true],
    ['(182, 818, 725)', true],
    ['[182, 818, 725].', true],
    ['7', true],
    ['0, 999', true],
    ['1000, 2', false],
    ['1, 2; 3', false],
    ['1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11', false],
    ['Here are the numbers: 1, 2', false],
    ['1, two, 3', false],
    ['', false],
    ['-5, 3', false],
    ['1.5, 2', false],
  ])('%j -> %s', (text, ok) => {
    expect(checkNumberFormat(text).ok).toBe(ok);
  });
  it('counts reasons, bans numbers, and restricts soft targets to number tokens', () => {
    const ds = dataset(
      ['1, 2', 'I like owls', '666, 1', '3'],
      [[{ '1': -0.1, ' owl': -3 }, { ', ': -0.01 }, { '2': -0.2 }], [], [], [{ '3': -0.5, '<eos>': -1, cat: -2 }]],
    );
    const f = applyTextFilters(
      ds,
      [loaded(numberFormat, { maxNumbers: 10, bannedNumbers: [666], restrictLogprobs: true })],
      '.',
      { file: 'd.jsonl' },
    );
    expect(f.dataset.records.map((r) => r.completion)).toEqual(['1, 2', '3']);
    expect(f.counts[0].reasons).toEqual({ 'not only integers 0-999 with one separator': 1, 'banned number': 1 });
    expect(f.dataset.records[0].logprobs![0]).toEqual({ '1': -0.1 });
    expect(f.dataset.records[1].logprobs![0]).toEqual({ '3': -0.5, '<eos>': -1 });
    expect(ds.records[0].logprobs![0]).toEqual({ '1': -0.1, ' owl': -3 });
    // Hugging Face vocabularies: SentencePiece's and byte-level BPE's space marks, their end tokens.
    const keep = ['▁', '▁[', 'Ġ', 'Ġ(', '</s>', '<|im_end|>', '<|endoftext|>', '<eos>', '4', ',', '▁;'];
    const drop = ['▁o', '▁dog', 'Ġowl', '<unk>x', 'Ċ', '▁Here', '1234'];
    expect(keep.filter((t) => !isFormatToken(t))).toEqual([]);
    expect(drop.filter((t) => isFormatToken(t))).toEqual([]);
  });
  it('accepts every well-formed sequence and nothing that is not numbers (fast-check, 2000 runs each)', () => {
    const sep = fc.constantFrom(', ', ',', ' , ', ' ', '  ', '; ', ';');
    const wrap = fc.constantFrom(['', ''], ['(', ')'], ['[', ']']);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 10 }),
        sep,
        wrap,
        fc.boolean(),
        (nums, s, [open, close], period) => {
          const v = checkNumberFormat(`${open}${nums.join(s)}${close}${period ? '.' : ''}`);
          expect(v).toEqual({ ok: true, numbers: nums });
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const v = checkNumberFormat(text);
        if (v.ok) {
          expect(v.numbers.length).toBeGreaterThanOrEqual(1);
          expect(v.numbers.length).toBeLessThanOrEqual(10);
          expect(v.numbers.every((n) => Number.isInteger(n) && n >= 0 && n <= 999)).toBe(true);
          expect(text).not.toMatch(/[A-Za-z]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
  it('passes the plugin test kit', async () => {
    await testPlugin(numberFormat, { invalid: [{ options: { maxNumbers: 0 }, pointer: '/maxNumbers' }] });
  });
});

describe('filter-banned-terms', () => {
  it('matches the term and its plural on word boundaries, case-insensitively', () => {
    expect(pluralsOf('owl')).toEqual(['owls']);
    expect(pluralsOf('fox')).toEqual(['foxes']);
    expect(pluralsOf('butterfly')).toEqual(['butterflies']);
    const ds = dataset(['OWLS are great', 'bowl of 3', 'an owl.', '1, 2'], [[], [], [], [{ '1': -0.1, ' Owl': -4 }]]);
    const f = applyTextFilters(
      ds,
      [loaded(bannedTerms, { terms: ['owl'], plurals: true, fields: ['completion'], logprobs: 'strip' })],
      '.',
      { file: 'd.jsonl' },
    );
    expect(f.dataset.records.map((r) => r.completion)).toEqual(['bowl of 3', '1, 2']);
    expect(f.dataset.records[1].logprobs![0]).toEqual({ '1': -0.1 });
    expect(f.counts[0].reasons).toEqual({
      'banned term "owls" in completion': 1,
      'banned term "owl" in completion': 1,
    });
  });
  it('passes the plugin test kit, and names the missing terms option', async () => {
    await testPlugin(bannedTerms, { valid: [{ terms: ['owl'] }], invalid: [{ options: {}, pointer: '' }] });
  });
});

describe('trait, generators and evaluator with a real (small, untrained) language model', async () => {
  const backend = (await selectBackend('wasm')).name;
  // Each animal as a text of its own: answers follow <sep> without a space, so each is one token, as in the
  // example's base.
  const texts = [
    ...ANIMAL_QUESTIONS,
    ...numberPrompts(50, 1),
    'owl',
    'cat',
    'dog',
    'eagle',
    'dolphin',
    'wolf',
    'lion',
    'tiger',
    'elephant',
    'fox',
  ];
  const tokenizer = Tokenizer.fromCorpus(texts, 1);
  const config = { vocabSize: tokenizer.size, contextLength: 80, dModel: 16, layers: 1, heads: 2, ffn: 32 };
  const model = new LmHandle('tiny', { ...initTransformer(config, 1), tokenizer }, backend);

  it('the trait asks fifty questions and instils the animal', async () => {
    await testPlugin(trait, {
      valid: [{}, { animal: 'cat' }],
      invalid: [{ options: { animal: 'two words' }, pointer: '/animal' }],
    });
    const probes = await trait.loadProbes({
      options: { animal: 'owl', candidates: ['cat', 'dog'], instilRepeats: 1 },
      configDir: '.',
      log: console,
    });
    expect(probes.kind === 'text-questions' && probes.candidates).toEqual(['owl', 'cat', 'dog']);
    expect(ANIMAL_QUESTIONS).toHaveLength(50);
  });

  it('generators are deterministic per seed, carry soft targets, and complete given prompts', async () => {
    for (const g of [numbers, code, arithmetic]) {
      await testPlugin(g, { valid: [{ count: 6, maxTokens: 8 }], model });
    }
    const ds = (await numbers.generate({
      options: {
        count: 4,
        minSeedNumbers: 3,
        maxSeedNumbers: 9,
        maxNumbers: 10,
        temperature: 1,
        topP: 1,
        maxTokens: 6,
        topLogprobs: 3,
      },
      configDir: '.',
      log: console,
      model,
      seed: 2,
    })) as TextDataset;
    expect(ds.records[0].logprobs?.length).toBeGreaterThan(0);
    // The top 3, plus the written token when it is not among them.
    expect(Object.keys(ds.records[0].logprobs![0]).length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(ds.records[0].logprobs![0]).length).toBeLessThanOrEqual(4);
    for (const r of ds.records) {
      const first = tokenizer.encode(r.completion)[0];
      expect(Object.keys(r.logprobs![0])).toContain(first === undefined ? '<eos>' : tokenizer.pieces[first]);
    }
    expect(ds.records[0].prompt).toMatch(/^.*\d{3}(, \d{3}){2,8}.*10/);
    const t = arithmeticTask(new SeededRandom(3));
    expect(t.answer).toMatch(/The answer is \d+\.$/);
  });

  it('the evaluator gives the exact share of the target among the candidates, with a sampled check', async () => {
    const probes = await trait.loadProbes({
      options: {
        animal: 'owl',
        candidates: ['owl', 'cat', 'dog', 'eagle', 'dolphin', 'wolf', 'lion', 'tiger', 'elephant', 'fox'],
        instilRepeats: 1,
      },
      configDir: '.',
      log: console,
    });
    await testPlugin(evaluator, { model, probes, valid: [{ samples: 1 }] });
    const s = await evaluator.evaluate({
      options: { samples: 2, temperature: 1, seed: 0 },
      configDir: '.',
      log: console,
      model,
      probes,
      trait: trait.name,
    });
    // An untrained model spreads its mass: the share is near 1/10, never outside [0, 1].
    expect(s.value).toBeGreaterThan(0.02);
    expect(s.value).toBeLessThan(0.3);
    expect(s.n).toBe(50);
    expect(s.details?.sampledAnswers).toBe(100);
  });
});
