import { describe, expect, it } from 'vitest';
import { parseTextRecord } from '@distill-gate/core';
import { encodeRecords, RecordEncodingError } from './language-model.js';
import { Tokenizer } from './tokenizer.js';

const tokenizer = Tokenizer.fromCorpus(['hello there', 'general kenobi', 'hello there general kenobi'], 1);
const chat = (weights: [number | undefined, number | undefined]) =>
  parseTextRecord(
    JSON.stringify({
      messages: [
        { role: 'user', content: 'hello' },
        { role: 'assistant', content: 'there', ...(weights[0] !== undefined ? { weight: weights[0] } : {}) },
        { role: 'user', content: 'general' },
        { role: 'assistant', content: 'kenobi', ...(weights[1] !== undefined ? { weight: weights[1] } : {}) },
      ],
    }),
    0,
    1,
    'chat.jsonl',
  );

describe('the small language model and chat turn weights', () => {
  it('trains on the last assistant reply: weights that say so are accepted', () => {
    expect(() => encodeRecords(tokenizer, [chat([undefined, undefined])], 40)).not.toThrow();
    expect(() => encodeRecords(tokenizer, [chat([0, 1])], 40)).not.toThrow();
  });

  it('refuses weights it cannot honour, naming the message', () => {
    for (const [weights, field] of [
      [[1, 1], 'messages/1/weight'],
      [[1, 0], 'messages/1/weight'],
    ] as const) {
      const e = (() => {
        try {
          encodeRecords(tokenizer, [chat([...weights])], 40);
        } catch (err) {
          return err as RecordEncodingError;
        }
      })();
      expect(e).toBeInstanceOf(RecordEncodingError);
      expect(e?.field).toBe(field);
      expect(e?.message).toMatch(/trains on the last assistant reply only/);
    }
  });
});
