/**
 * OpenAI-style chat records: system, developer, user, assistant and tool messages; content as a string or as text
 * parts; assistant `tool_calls`; a per-turn `weight` (0 or 1) on assistant messages, as in OpenAI's fine-tuning
 * format. Every problem is a located error (the JSON pointer of the field); nothing is dropped silently.
 */
import type { ChatMessage, ChatToolCall } from '../contracts.js';

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** Thrown with the JSON pointer of the offending field, relative to the record. */
export type FailAt = (pointer: string, message: string) => never;

/** Validates and normalises a record's `messages`; the last message must be the assistant's reply. */
export function parseChatMessages(value: unknown, fail: FailAt): ChatMessage[] {
  if (!Array.isArray(value) || value.length < 2)
    fail('/messages', 'must be an array of at least two {role, content} messages');
  const messages = (value as unknown[]).map((m, i) => parseMessage(m, `/messages/${i}`, fail));
  const last = messages.length - 1;
  if (messages[last].role !== 'assistant')
    fail(`/messages/${last}/role`, "the last message must be the assistant's reply (the completion)");
  if (!messages.some((m) => m.role === 'assistant' && m.weight !== 0))
    fail('/messages', 'every assistant message has weight 0: nothing to train on');
  return messages;
}

function parseMessage(value: unknown, at: string, fail: FailAt): ChatMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(at, 'must be an object {role, content}');
  const m = value as Record<string, unknown>;
  const role = m.role as ChatMessage['role'];
  if (!ROLES.includes(role))
    fail(`${at}/role`, `must be one of ${ROLES.map((r) => `"${r}"`).join(', ')}, got ${JSON.stringify(m.role)}`);
  const message: ChatMessage = { role, content: '' };
  if (m.tool_calls !== undefined) {
    if (role !== 'assistant') fail(`${at}/tool_calls`, 'only an assistant message makes tool calls');
    message.tool_calls = parseToolCalls(m.tool_calls, `${at}/tool_calls`, fail);
  }
  const contentOptional = message.tool_calls !== undefined && (m.content === null || m.content === undefined);
  if (!contentOptional) message.content = parseContent(m.content, `${at}/content`, fail);
  for (const key of ['tool_call_id', 'name'] as const) {
    if (m[key] === undefined) continue;
    if (typeof m[key] !== 'string') fail(`${at}/${key}`, `must be a string, got ${typeof m[key]}`);
    message[key] = m[key];
  }
  if (m.weight !== undefined) {
    if (role !== 'assistant') fail(`${at}/weight`, 'only assistant messages carry a weight (0 or 1)');
    if (m.weight !== 0 && m.weight !== 1) fail(`${at}/weight`, `must be 0 or 1, got ${JSON.stringify(m.weight)}`);
    message.weight = m.weight;
  }
  return message;
}

/** A string, or an array of `{type: "text", text}` parts (joined); other part types are refused by name. */
function parseContent(value: unknown, at: string, fail: FailAt): string {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return fail(at, `must be a string or an array of text parts, got ${describe(value)}`);
  return value
    .map((part, k) => {
      const p = part as Record<string, unknown>;
      if (typeof part !== 'object' || part === null) fail(`${at}/${k}`, 'must be an object {type: "text", text}');
      if (p.type !== 'text')
        fail(`${at}/${k}/type`, `only text content parts are supported, got ${JSON.stringify(p.type)}`);
      if (typeof p.text !== 'string') fail(`${at}/${k}/text`, `must be a string, got ${describe(p.text)}`);
      return p.text as string;
    })
    .join('');
}

function parseToolCalls(value: unknown, at: string, fail: FailAt): ChatToolCall[] {
  if (!Array.isArray(value) || !value.length) fail(at, 'must be a non-empty array of tool calls');
  return (value as unknown[]).map((call, k) => {
    const c = call as Record<string, unknown>;
    const f = c?.function as Record<string, unknown> | undefined;
    if (typeof call !== 'object' || call === null) fail(`${at}/${k}`, 'must be an object {type, function}');
    if (c.type !== undefined && c.type !== 'function')
      fail(`${at}/${k}/type`, `only "function" tool calls are supported, got ${JSON.stringify(c.type)}`);
    if (typeof f !== 'object' || f === null) fail(`${at}/${k}/function`, 'must be an object {name, arguments}');
    if (typeof f!.name !== 'string' || !f!.name) fail(`${at}/${k}/function/name`, 'must be a non-empty string');
    const args = f!.arguments ?? {};
    if (typeof args !== 'string' && (typeof args !== 'object' || Array.isArray(args)))
      fail(`${at}/${k}/function/arguments`, 'must be a JSON string or an object');
    if (c.id !== undefined && typeof c.id !== 'string') fail(`${at}/${k}/id`, 'must be a string');
    return {
      ...(c.id !== undefined ? { id: c.id as string } : {}),
      type: 'function' as const,
      function: { name: f!.name as string, arguments: args as ChatToolCall['function']['arguments'] },
    };
  });
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
