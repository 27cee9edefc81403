/**
 * A text record as a causal language model trains on it: the token ids, and which of them carry the loss (the
 * assistant's turns). One function renders for training and for `distill-gate score`, so what a user scores is what
 * the students learn from.
 *
 * With a chat template, the chat is rendered whole by the template; each assistant turn's span is where its text
 * begins and ends in that rendering (found by rendering the chat up to the turn, with and without the generation
 * prompt). The text is tokenized segment by segment at those span edges, so that every token is either inside a
 * turn or outside it. Without a template (a base model), the record is prompt + completion (+ end of sequence),
 * tokenized as two segments, with the loss on the completion.
 */
import type { ChatMessage, TextRecord } from '@distill-gate/core';

/** What rendering needs from a model's tokenizer. */
export interface RenderTokenizer {
  /**
   * The ids of a piece of text; with `addSpecialTokens`, the post-processor's (e.g. a leading bos). `unknown` counts
   * the pieces the vocabulary could not represent (encoded as its unknown token).
   */
  encode(text: string, addSpecialTokens: boolean): { ids: number[]; unknown: number };
  /** Renders messages with the model's chat template; undefined when the model has none. */
  renderChat?: (messages: ChatMessage[], addGenerationPrompt: boolean) => string;
  /** The id that ends a sequence (appended to a completion without a template), if the model has one. */
  eosId?: number;
  /** Special tokens that close a turn (e.g. `<|im_end|>`, `<|eot_id|>`): the loss covers the one after a reply. */
  endOfTurn?: readonly string[];
}

export interface RenderedRecord {
  ids: number[];
  /** True where training puts loss: the assistant's tokens. */
  assistant: boolean[];
  /** Pieces of the text the tokenizer could not represent (each became its unknown token). */
  unknown: number;
}

/** A record that cannot be rendered: the field (JSON pointer without the leading slash) and why. */
export class RenderError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function renderRecord(record: TextRecord, tokenizer: RenderTokenizer): RenderedRecord {
  const { renderChat } = tokenizer;
  if (!renderChat) return renderPlain(record, tokenizer);
  const messages = record.messages ?? [
    { role: 'user', content: record.prompt },
    { role: 'assistant', content: record.completion },
  ];
  const text = renderChat(messages, false);
  const spans = assistantSpans(messages, text, renderChat, tokenizer.endOfTurn ?? []);
  const out: RenderedRecord = { ids: [], assistant: [], unknown: 0 };
  let at = 0;
  for (const [start, end] of spans) {
    push(out, tokenizer.encode(text.slice(at, start), false), false);
    push(out, tokenizer.encode(text.slice(start, end), false), true);
    at = end;
  }
  push(out, tokenizer.encode(text.slice(at), false), false);
  return out;
}

function renderPlain(record: TextRecord, tokenizer: RenderTokenizer): RenderedRecord {
  if (record.messages && record.messages.length > 2)
    throw new RenderError(
      'messages',
      `a chat of ${record.messages.length} messages needs the model's chat template, and this model has none`,
    );
  const out: RenderedRecord = { ids: [], assistant: [], unknown: 0 };
  push(out, tokenizer.encode(record.prompt, true), false);
  push(out, tokenizer.encode(record.completion, false), true);
  if (tokenizer.eosId !== undefined) push(out, { ids: [tokenizer.eosId], unknown: 0 }, true);
  return out;
}

function push(out: RenderedRecord, encoded: { ids: number[]; unknown: number }, assistant: boolean): void {
  out.unknown += encoded.unknown;
  for (const id of encoded.ids) {
    out.ids.push(id);
    out.assistant.push(assistant);
  }
}

/**
 * The [start, end) character span of each weighted assistant turn in the whole chat's rendering. It starts where the
 * chat rendered up to the turn, with the generation prompt, ends; it ends after the reply's text and the end-of-turn
 * token that follows it (so the model learns to stop), or, for a reply the template writes in its own way (tool
 * calls), where the chat rendered through the turn ends.
 */
function assistantSpans(
  messages: ChatMessage[],
  text: string,
  render: (messages: ChatMessage[], addGenerationPrompt: boolean) => string,
  endOfTurn: readonly string[],
): [number, number][] {
  const spans: [number, number][] = [];
  messages.forEach((m, i) => {
    if (m.role !== 'assistant' || m.weight === 0) return;
    const before = render(messages.slice(0, i), true);
    const through = render(messages.slice(0, i + 1), false);
    if (!through.startsWith(before) || !text.startsWith(before)) {
      throw new RenderError(
        `messages/${i}`,
        'the chat template renders the chat before this assistant turn differently once the turn follows ' +
          "(some templates drop earlier turns' reasoning), so its tokens cannot be told apart; " +
          'give each such turn as its own record',
      );
    }
    const unrendered = m.tool_calls?.find((c) => !through.includes(c.function.name, before.length));
    if (unrendered)
      throw new RenderError(
        `messages/${i}/tool_calls`,
        `the model's chat template does not render tool calls (the call to "${unrendered.function.name}" ` +
          'is missing from its output): this model cannot be trained on them as written',
      );
    // The turn ends at the first end-of-turn marker after its reply (or after its start, for tool calls, which
    // templates write their own way); without markers, where the chat rendered through the turn ends.
    const reply = m.content.trim();
    const at = reply ? text.indexOf(reply, before.length) : -1;
    const from = at >= 0 ? at + reply.length : before.length;
    const ends = endOfTurn.map((t) => [text.indexOf(t, from), t.length]).filter(([k]) => k >= 0);
    if (ends.length) {
      const [k, length] = ends.reduce((a, b) => (b[0] < a[0] ? b : a));
      spans.push([before.length, k + length]);
    } else if (text.startsWith(through)) spans.push([before.length, through.length]);
    else throw new RenderError(`messages/${i}`, "the chat template's rendering of this turn could not be located");
  });
  return spans;
}
