/**
 * Row scores without training: per record, the trait likelihood shift (log p(completion | trait prompt) - log
 * p(completion | no trait prompt), per token) on the base, and the teacher-minus-base log-probability per token.
 * Records go through the models a batch at a time; only a few numbers per row are kept.
 */
import type { LanguageModelHandle, TextRecord, TokenScores } from '../contracts.js';

/** How a trait prompt reaches a model: a system message (chat template), else text before the prompt. */
export interface TraitPrompt {
  trait: string;
  text: string;
}

/** What is kept of one row: each score's per-token mean and sum, and the top divergence tokens. */
export interface RowScores {
  index: number;
  line: number;
  /** Base tokens of the completion (after truncation to the context). */
  tokens: number;
  /** One entry per score (the trait prompts', then the teacher's); null where the row could not be scored. */
  perToken: (number | null)[];
  sum: (number | null)[];
  divergenceTokens?: { token: string; position: number; nats: number }[];
}

export interface ScoreModels {
  base: LanguageModelHandle;
  prompts: TraitPrompt[];
  teacher?: LanguageModelHandle;
}

/** Scores each batch of records and hands the rows on; `progress` gets the count done. */
export async function scoreRows(
  models: ScoreModels,
  records: readonly TextRecord[],
  onRows: (rows: RowScores[]) => void,
  progress: (done: number) => void,
  batch = 32,
): Promise<void> {
  const { base, prompts, teacher } = models;
  for (let from = 0; from < records.length; from += batch) {
    const chunk = records.slice(from, from + batch);
    // An error about one record of the batch carries its index in `records` (recordIndex), for a located message.
    const located = <T>(p: Promise<T>) =>
      p.catch((e: unknown) => {
        const i = (e as { index?: unknown })?.index;
        if (typeof i === 'number' && e && typeof e === 'object') Object.assign(e, { recordIndex: from + i });
        throw e;
      });
    const plain = await located(base.tokenLogProbs!(chunk));
    const shifted: (TokenScores | null)[][] = [];
    for (const p of prompts) {
      const { records: prompted, opts } = withTraitPrompt(base, chunk, p.text);
      shifted.push(await located(base.tokenLogProbs!(prompted, opts)));
    }
    const taught = teacher ? await located(teacher.tokenLogProbs!(chunk)) : undefined;
    onRows(
      chunk.map((r, k) => {
        const own = plain[k];
        const perToken: (number | null)[] = [];
        const sum: (number | null)[] = [];
        for (const s of shifted) {
          const d = difference(s[k], own);
          perToken.push(d?.mean ?? null);
          sum.push(d?.sum ?? null);
        }
        let divergenceTokens: RowScores['divergenceTokens'];
        if (taught) {
          const d = difference(taught[k], own);
          perToken.push(d?.mean ?? null);
          sum.push(d?.sum ?? null);
          divergenceTokens = d?.top;
        }
        return {
          index: r.index,
          line: r.line,
          tokens: own?.tokens.length ?? 0,
          perToken,
          sum,
          ...(divergenceTokens ? { divergenceTokens } : {}),
        };
      }),
    );
    progress(Math.min(records.length, from + batch));
  }
}

/** A model with a chat template reads the trait prompt as a system message; others read it before the prompt. */
function withTraitPrompt(
  model: LanguageModelHandle,
  records: TextRecord[],
  text: string,
): { records: TextRecord[]; opts: { systemPrompt?: string } } {
  if (model.hasChatTemplate) return { records, opts: { systemPrompt: text } };
  return {
    records: records.map((r) => ({ ...r, prompt: `${text}\n\n${r.prompt}`, messages: undefined }) as TextRecord),
    opts: {},
  };
}

/**
 * a - b per token over the tokens both score alike (same token at the same position; a truncated side scores fewer):
 * the mean, the sum, and the three tokens where a most exceeds b.
 */
function difference(
  a: TokenScores | null,
  b: TokenScores | null,
): { mean: number; sum: number; top: { token: string; position: number; nats: number }[] } | undefined {
  if (!a || !b) return undefined;
  const n = Math.min(a.tokens.length, b.tokens.length);
  let sum = 0;
  let count = 0;
  const diffs: { token: string; position: number; nats: number }[] = [];
  for (let t = 0; t < n; t++) {
    if (a.tokens[t] !== b.tokens[t]) continue;
    const d = a.logprobs[t] - b.logprobs[t];
    sum += d;
    count++;
    diffs.push({ token: a.tokens[t], position: t, nats: Math.round(d * 1e4) / 1e4 });
  }
  if (!count) return undefined;
  diffs.sort((x, y) => y.nats - x.nats);
  return { mean: sum / count, sum, top: diffs.slice(0, 3) };
}
