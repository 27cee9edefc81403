import { createReadStream } from 'node:fs';
import type { ChatMessage, TextDataset, TextRecord, TokenLogprobs } from '../contracts.js';
import { parseChatMessages } from './chat.js';
import { DistillGateError } from '../errors.js';
import { duplicateKeyPointer, nonFinitePointer } from '../json-strict.js';
import { writeFileAtomic } from '../io.js';

export interface ReadTextOptions {
  /** Reject a line longer than this many bytes (default 16 MiB), instead of buffering it whole. */
  maxLineBytes?: number;
  /** fail (default): the first bad record stops the read with its location. skip: count it, keep going. */
  badRecords?: 'fail' | 'skip';
  /** Stop after this many records. */
  maxRecords?: number;
  /** Shown in errors instead of the path (e.g. relative to the config). */
  displayPath?: string;
}

const DEFAULT_MAX_LINE = 16 * 1024 * 1024;

/** One line of a file: its bytes, or `tooLong` when it exceeded the limit (its bytes were never buffered). */
type FileLine = { line: number; start: number; bytes: Buffer; tooLong?: false } | { line: number; tooLong: true };

/**
 * The lines of a file, streamed, as byte buffers with their 1-based number and starting byte offset. A line longer
 * than `maxLine` bytes is yielded once as `tooLong` as soon as it is seen, and the rest of it is skipped unread into
 * memory, so memory stays bounded whatever the file holds.
 */
async function* fileLines(path: string, maxLine: number): AsyncGenerator<FileLine> {
  const stream = createReadStream(path);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let discarding = false;
  let line = 1;
  let start = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      while (from <= chunk.length) {
        const nl = chunk.indexOf(0x0a, from);
        const end = nl < 0 ? chunk.length : nl;
        if (!discarding && pendingBytes + (end - from) > maxLine) {
          yield { line, tooLong: true };
          start += pendingBytes; // the line's bytes so far, dropped unread from now on
          [discarding, pending, pendingBytes] = [true, [], 0];
        }
        if (!discarding && end > from) {
          pending.push(chunk.subarray(from, end));
          pendingBytes += end - from;
        }
        if (nl < 0) {
          start += discarding ? end - from : 0;
          break;
        }
        if (!discarding) yield { line, start, bytes: pending.length === 1 ? pending[0] : Buffer.concat(pending) };
        start += discarding ? nl - from + 1 : pendingBytes + 1;
        [discarding, pending, pendingBytes] = [false, [], 0];
        line++;
        from = nl + 1;
      }
    }
    if (pendingBytes && !discarding) yield { line, start, bytes: Buffer.concat(pending) };
  } finally {
    stream.destroy();
  }
}

/** True for a line of only whitespace. */
function blank(bytes: Buffer | undefined): boolean {
  if (!bytes) return true;
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) return false;
  return true;
}

/**
 * Reads a JSONL text dataset, streaming: one record per non-blank line, either `{"prompt", "completion"}` or chat
 * `{"messages": [{"role", "content"}, ...]}` ending with the assistant's reply. An optional `logprobs` array holds
 * the teacher's top log-probabilities per completion token (soft targets). Every problem is reported with the file,
 * the line and the JSON pointer of the field; nothing is skipped silently.
 */
export async function readTextDataset(path: string, opts: ReadTextOptions = {}): Promise<TextDataset> {
  const records: TextRecord[] = [];
  const { count: _count, ...rest } = await streamTextDataset(path, opts, (r) => records.push(r));
  return { ...rest, records };
}

/** What a streamed read of a text dataset found, less its records. */
export type StreamedText = Omit<TextDataset, 'records'> & { count: number };

/**
 * Reads a JSONL text dataset as readTextDataset does, handing each valid record to `onRecord` as it is parsed
 * instead of keeping it: memory stays bounded whatever the file's size.
 */
export async function streamTextDataset(
  path: string,
  opts: ReadTextOptions,
  onRecord: (record: TextRecord) => void,
): Promise<StreamedText> {
  const file = opts.displayPath ?? path;
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const limit = opts.maxRecords ?? Infinity;
  let count = 0;
  const skipped = { count: 0, examples: [] as string[] };
  const bad = (e: DistillGateError) => {
    if (opts.badRecords !== 'skip') throw e;
    skipped.count++;
    if (skipped.examples.length < 5) skipped.examples.push(e.format());
  };
  // Past a record budget the rest of the file is only counted (not parsed), so the result can say what was left out.
  let rest = 0;
  for await (const l of fileLines(path, maxLine)) {
    if (count >= limit) {
      if (l.tooLong || !blank(l.bytes)) rest++;
      continue;
    }
    const { line } = l;
    if (l.tooLong) {
      bad(
        new DistillGateError(
          `line is longer than ${maxLine} bytes`,
          { file, line },
          'one JSON record per line; is this file JSONL?',
        ),
      );
      continue;
    }
    let text: string;
    try {
      text = decoder.decode(l.bytes);
    } catch {
      bad(new DistillGateError(`invalid UTF-8 (line starts at byte ${l.start})`, { file, line }));
      continue;
    }
    if (text.trim() === '') continue;
    let record: TextRecord;
    try {
      record = parseTextRecord(text, count, line, file);
    } catch (e) {
      if (!(e instanceof DistillGateError)) throw e;
      bad(e);
      continue;
    }
    count++;
    onRecord(record);
  }
  if (!count) {
    throw new DistillGateError(
      skipped.count
        ? `no valid records (${skipped.count} malformed record(s) skipped; first: ${skipped.examples[0]})`
        : 'the dataset has no records (empty file)',
      { file },
    );
  }
  return {
    kind: 'text',
    count,
    metadata: { 'distill-gate.source': file },
    ...(skipped.count ? { skipped } : {}),
    ...(count >= limit ? { limitedTo: limit, totalRecords: count + skipped.count + rest } : {}),
  };
}

/** One JSONL line -> a record; errors carry the line and the JSON pointer. */
export function parseTextRecord(text: string, index: number, line: number, file: string): TextRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DistillGateError(`not valid JSON: ${(e as Error).message}`, { file, line });
  }
  const fail = (pointer: string, message: string): never => {
    throw new DistillGateError(message, { file, line, pointer });
  };
  const dup = duplicateKeyPointer(text);
  if (dup !== undefined) fail(dup, 'this key appears twice in one object (JSON would keep the last silently)');
  const inf = nonFinitePointer(value);
  if (inf !== undefined) fail(inf, 'number is out of range (it reads as Infinity)');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('', 'a record must be a JSON object');
  const o = value as Record<string, unknown>;
  let prompt: string;
  let completion: string;
  let messages: ChatMessage[] | undefined;
  if ('weight' in o)
    fail('/weight', 'a record-level weight is not supported: give assistant messages a weight of 0 or 1 instead');
  if ('messages' in o) {
    messages = parseChatMessages(o.messages, fail);
    prompt = messages
      .slice(0, -1)
      .map((m) => m.content)
      .join('\n');
    completion = messages[messages.length - 1].content;
  } else {
    if (typeof o.prompt !== 'string')
      fail(
        '/prompt',
        o.prompt === undefined
          ? 'missing: a record needs "prompt" and "completion" (or "messages")'
          : `must be a string, got ${typeof o.prompt}`,
      );
    if (typeof o.completion !== 'string')
      fail(
        '/completion',
        o.completion === undefined
          ? 'missing: a record needs "prompt" and "completion"'
          : `must be a string, got ${typeof o.completion}`,
      );
    prompt = o.prompt as string;
    completion = o.completion as string;
  }
  const record: TextRecord = { index, line, prompt, completion, ...(messages ? { messages } : {}) };
  if (o.logprobs !== undefined) {
    if (!Array.isArray(o.logprobs))
      fail('/logprobs', 'must be an array with one {token: logprob} object per completion token');
    (o.logprobs as unknown[]).forEach((entry, k) => {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
        fail(`/logprobs/${k}`, 'must be an object {token: logprob}');
      for (const [token, lp] of Object.entries(entry as object)) {
        if (typeof lp !== 'number' || !Number.isFinite(lp) || lp > 0)
          fail(
            `/logprobs/${k}/${escapePointer(token)}`,
            `must be a finite log-probability <= 0, got ${JSON.stringify(lp)}`,
          );
      }
    });
    record.logprobs = o.logprobs as TokenLogprobs[];
  }
  if (o.tokens !== undefined) {
    // Whether they spell the completion depends on the tokenizer (SentencePiece and byte-level pieces mark spaces):
    // the model family checks that when it encodes the record.
    if (!Array.isArray(o.tokens) || !o.tokens.every((t) => typeof t === 'string'))
      fail('/tokens', "must be an array of strings (the completion's tokens)");
    record.tokens = o.tokens as string[];
  }
  return record;
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Writes a text dataset as JSONL (prompt, completion, tokens and logprobs when present), atomically. */
export async function writeTextDataset(path: string, ds: TextDataset): Promise<void> {
  const lines = ds.records.map((r) =>
    JSON.stringify({
      prompt: r.prompt,
      completion: r.completion,
      ...(r.tokens ? { tokens: r.tokens } : {}),
      ...(r.logprobs ? { logprobs: r.logprobs } : {}),
    }),
  );
  await writeFileAtomic(path, `${lines.join('\n')}\n`);
}

/** True for the text dataset file extensions. */
export function isTextDatasetPath(path: string): boolean {
  return /\.jsonl$/i.test(path);
}
