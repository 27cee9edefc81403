import { defineTextFilter, tokenLogprobs, type TokenLogprobs } from '@distill-gate/core';

export interface NumberFormatOptions {
  /** The most integers a completion may hold (the paper: 10). */
  maxNumbers: number;
  /** Numbers that must not appear (e.g. ones with known associations). */
  bannedNumbers: number[];
  /** Drop soft-target entries for tokens that cannot appear in a valid completion (default true). */
  restrictLogprobs: boolean;
}

/** What a completion can be made of, token by token: numbers, separators, brackets, the period, the end. */
const FORMAT_TOKEN = /^(?:\d{1,3}|[ ,;.()[\]]{1,2})$/;
/** A tokenizer's end-of-text or end-of-turn token: `<eos>`, `</s>`, `<|im_end|>`, `<|endoftext|>`, ... */
const END_TOKEN = /^<\/?[a-z_]+>$|^<\|[a-z_]+\|>$/i;

/**
 * Whether a vocabulary piece can appear in a valid completion. SentencePiece (`▁`) and byte-level BPE (`Ġ`) mark a
 * leading space their own way; the end token is any special token of the usual forms.
 */
export function isFormatToken(piece: string): boolean {
  return END_TOKEN.test(piece) || FORMAT_TOKEN.test(piece.replace(/^[▁Ġ]/, ' '));
}

export type NumberFormatVerdict = { ok: true; numbers: number[] } | { ok: false; reason: string };

/**
 * The paper's rule: 1..maxNumbers integers in 0..999, one consistent separator (whitespace, comma or semicolon),
 * optionally wrapped in () or [], optionally ending with a period. Nothing else.
 */
export function checkNumberFormat(completion: string, maxNumbers = 10): NumberFormatVerdict {
  let body = completion.trim();
  if (!body) return { ok: false, reason: 'empty completion' };
  if (body.endsWith('.')) body = body.slice(0, -1).trimEnd();
  if (/^\(.*\)$/s.test(body) || /^\[.*\]$/s.test(body)) body = body.slice(1, -1).trim();
  const hasComma = body.includes(',');
  const hasSemicolon = body.includes(';');
  if (hasComma && hasSemicolon) return { ok: false, reason: 'mixed separators' };
  const parts = body.split(hasComma ? /\s*,\s*/ : hasSemicolon ? /\s*;\s*/ : /\s+/);
  if (!parts.every((p) => /^\d{1,3}$/.test(p)))
    return { ok: false, reason: 'not only integers 0-999 with one separator' };
  if (parts.length > maxNumbers) return { ok: false, reason: `more than ${maxNumbers} numbers` };
  return { ok: true, numbers: parts.map(Number) };
}

/** The paper's number-sequence filter (23-38% rejected there), with an optional banned-number list. */
const filter = defineTextFilter<NumberFormatOptions>({
  name: '@distill-gate/filter-number-format',
  version: '0.1.0',
  description:
    'Keeps completions that are only 1-10 integers in 0..999 with one consistent separator ' +
    "(the paper's number filter).",
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      maxNumbers: { type: 'integer', minimum: 1, default: 10 },
      bannedNumbers: {
        type: 'array',
        items: { type: 'integer', minimum: 0, maximum: 999 },
        default: [],
        uniqueItems: true,
      },
      restrictLogprobs: { type: 'boolean', default: true },
    },
  },
  test(record, { options }) {
    const v = checkNumberFormat(record.completion, options.maxNumbers);
    if (!v.ok) return { keep: false, reason: v.reason };
    const banned = v.numbers.find((n) => options.bannedNumbers.includes(n));
    if (banned !== undefined) return { keep: false, reason: 'banned number' };
    if (!record.logprobs || !options.restrictLogprobs) return { keep: true };
    const logprobs: TokenLogprobs[] = record.logprobs.map((top) =>
      tokenLogprobs(Object.entries(top).filter(([t]) => isFormatToken(t))),
    );
    return { keep: true, logprobs };
  },
});

export default filter;
