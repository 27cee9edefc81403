import { describe, expect, it } from 'vitest';
import { DistillGateError } from '../errors.js';
import { parseTextRecord } from './text-data.js';

const parse = (record: unknown) => parseTextRecord(JSON.stringify(record), 0, 7, 'chat.jsonl');

function failure(record: unknown): DistillGateError {
  try {
    parse(record);
  } catch (e) {
    if (e instanceof DistillGateError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('chat records', () => {
  it('keeps every role, joins text parts, and keeps tool calls and turn weights for the chat template', () => {
    const r = parse({
      messages: [
        { role: 'developer', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in ' },
            { type: 'text', text: 'Zürich? 天気' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } }],
          weight: 0,
        },
        { role: 'tool', tool_call_id: 'c1', content: '12 °C' },
        { role: 'assistant', content: 'It is 12 °C 🌤', weight: 1 },
      ],
    });
    expect(r.messages?.map((m) => [m.role, m.content, m.weight])).toEqual([
      ['developer', 'Be brief.', undefined],
      ['user', 'Weather in Zürich? 天気', undefined],
      ['assistant', '', 0],
      ['tool', '12 °C', undefined],
      ['assistant', 'It is 12 °C 🌤', 1],
    ]);
    expect(r.messages?.[2].tool_calls).toEqual([
      { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Zürich"}' } },
    ]);
    expect(r.messages?.[3].tool_call_id).toBe('c1');
    expect(r.prompt).toBe('Be brief.\nWeather in Zürich? 天気\n\n12 °C');
    expect(r.completion).toBe('It is 12 °C 🌤');
  });

  it('refuses what it cannot honour, at the field', () => {
    const user = { role: 'user', content: 'hi' };
    const cases: [unknown, string, RegExp][] = [
      [{ messages: [{ role: 'robot', content: 'x' }, user], weight: 1 }, '/weight', /record-level weight/],
      [{ messages: [{ role: 'robot', content: 'x' }, user] }, '/messages/0/role', /must be one of "system"/],
      [
        {
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: {} }] },
            { role: 'assistant', content: 'a' },
          ],
        },
        '/messages/0/content/0/type',
        /only text content parts/,
      ],
      [{ messages: [user, { role: 'assistant', content: 'a', weight: 0.5 }] }, '/messages/1/weight', /must be 0 or 1/],
      [
        {
          messages: [
            { ...user, weight: 1 },
            { role: 'assistant', content: 'a' },
          ],
        },
        '/messages/0/weight',
        /only assistant/,
      ],
      [{ messages: [user, { role: 'assistant', content: 'a', weight: 0 }] }, '/messages', /nothing to train on/],
      [
        { messages: [user, { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: {} }] }] },
        '/messages/1/tool_calls/0/function/name',
        /non-empty string/,
      ],
      [
        { messages: [user, { role: 'user', content: 'a', tool_calls: [] }] },
        '/messages/1/tool_calls',
        /only an assistant/,
      ],
      [{ messages: [user, { role: 'assistant', content: null }] }, '/messages/1/content', /got null/],
    ];
    for (const [record, pointer, message] of cases) {
      const e = failure(record);
      expect(e.location, JSON.stringify(record)).toMatchObject({ file: 'chat.jsonl', line: 7, pointer });
      expect(e.message).toMatch(message);
    }
  });
});
