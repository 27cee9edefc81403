import type { LanguageModelHandle, SampledCompletion, SampleOptions } from '@distill-gate/core';
import { DistillGateError, SeededRandom } from '@distill-gate/core';
import { RecordEncodingError } from '../records.js';
import { round4, sampleToken, topTokens } from '../sampling.js';
import type { OrtProvider } from '../../onnx/runtime.js';
import type { HfModelFolder } from './folder.js';
import { HfSession } from './session.js';

/** The message of every operation Hugging Face models do not support yet. */
export function notYetSupported(what: string, dir?: string): DistillGateError {
  return new DistillGateError(`${what} is not yet supported for Hugging Face models`, dir ? { file: dir } : {});
}

/**
 * A Hugging Face causal LM as the core sees it: exact log-probabilities in onnxruntime-node (the session starts on
 * first use), and seeded sampling with a KV cache. Training is not implemented yet and says so.
 */
export class HfHandle implements LanguageModelHandle {
  readonly family = 'causal-lm';
  readonly sha256: string;
  readonly tokenizerSha256: string;
  readonly contextLength: number;
  private session: Promise<HfSession> | undefined;

  constructor(
    readonly id: string,
    readonly model: HfModelFolder,
    private readonly provider: OrtProvider = 'cpu',
  ) {
    this.sha256 = model.sha256;
    this.tokenizerSha256 = model.tokenizer.sha256;
    this.contextLength = model.architecture.maxPositions;
  }

  private live(): Promise<HfSession> {
    this.session ??= HfSession.create(this.model.architecture, this.model.weights, { provider: this.provider });
    return this.session;
  }

  /** logprobs[r][t] = log p(ids[r][t] | ids[r][<t]), null at t = 0. */
  async logprobs(ids: number[][]): Promise<(number | null)[][]> {
    return (await this.live()).logprobs(ids);
  }

  /**
   * log P(completion, end | prompt): the prompt encoded with the tokenizer's own special tokens (e.g. a leading
   * BOS), the completion encoded on its own, then the end-of-sequence token. (Chat records are scored on the
   * rendered chat template by the caller: this is the plain-text form.)
   */
  async sequenceLogProbs(pairs: { prompt: string; completion: string }[]): Promise<Float64Array> {
    const tok = this.model.tokenizer;
    const eos = tok.eos;
    if (!eos)
      throw new DistillGateError('the model has no end-of-sequence token (eos_token), so P(end) is undefined', {
        file: this.model.dir,
      });
    const seqs = pairs.map(({ prompt, completion }) => {
      const p = tok.encode(prompt, { addSpecialTokens: true }).ids;
      const c = tok.encode(completion).ids;
      if (!p.length)
        throw new DistillGateError('an empty prompt with no BOS token gives the first token no context', {
          file: this.model.dir,
        });
      return { ids: [...p, ...c, eos.id], from: p.length };
    });
    const lps = await this.logprobs(seqs.map((s) => s.ids));
    return Float64Array.from(seqs, (s, i) => lps[i].slice(s.from).reduce<number>((sum, x) => sum + x!, 0));
  }

  /**
   * The token ids of a generation prompt: rendered with the chat template as one user turn with the assistant's turn
   * opened (`add_generation_prompt`), or, for a model without a template, the text with the tokenizer's special
   * tokens (e.g. a leading BOS).
   */
  promptIds(prompt: string, index = 0): number[] {
    const tok = this.model.tokenizer;
    const ids = tok.chatTemplate
      ? tok.encode(tok.renderChat([{ role: 'user', content: prompt }], { addGenerationPrompt: true })).ids
      : tok.encode(prompt, { addSpecialTokens: true }).ids;
    if (!ids.length)
      throw new RecordEncodingError(index, 'prompt', 'the prompt is empty and the model has no BOS token');
    if (ids.length >= this.contextLength)
      throw new RecordEncodingError(
        index,
        'prompt',
        `the prompt is ${ids.length} tokens; the model's context holds ${this.contextLength}, ` +
          'leaving no room to answer',
      );
    return ids;
  }

  /**
   * Samples one completion per prompt (temperature, nucleus top-p) with a KV cache, until a stop token (eos, or the
   * end of the assistant's turn), `maxTokens` or the end of the context. Each prompt draws from its own seeded
   * stream, so a completion does not depend on the other prompts. With `topLogprobs`, every written token carries
   * the model's top-k log-probabilities (keyed by token as tokenizer.json spells it) and its own.
   */
  async generate(prompts: string[], opts: SampleOptions): Promise<SampledCompletion[]> {
    const tok = this.model.tokenizer;
    const ids = prompts.map((p, i) => this.promptIds(p, i));
    const root = new SeededRandom(opts.seed);
    const rngs = prompts.map((_, i) => root.fork(`prompt-${i}`));
    const k = opts.topLogprobs ?? 0;
    const logprobs: Record<string, number>[][] = prompts.map(() => []);
    const token = (id: number) => tok.idToToken(id) ?? `<${id}>`;
    const generated = await (
      await this.live()
    ).generate(ids, {
      maxTokens: opts.maxTokens,
      stopIds: tok.stopIds,
      choose: (i, row) => {
        const id = sampleToken(row, opts.temperature, opts.topP, rngs[i]);
        if (k) {
          const top = topTokens(row, k);
          logprobs[i].push({
            ...Object.fromEntries(top.map((t) => [token(t), round4(row[t])])),
            [token(id)]: round4(row[id]),
          });
        }
        return id;
      },
    });
    return generated.map((g, i) => {
      const written = g.finished ? g.ids.slice(0, -1) : g.ids;
      return {
        completion: tok.decode(written),
        finished: g.finished,
        ...(k ? { logprobs: logprobs[i].slice(0, written.length), tokens: written.map(token) } : {}),
      };
    });
  }

  release(): void {
    const s = this.session;
    this.session = undefined;
    void s?.then((x) => x.release()).catch(() => undefined);
  }
}
