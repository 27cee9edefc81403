import { createHash } from 'node:crypto';
import type {
  LanguageModelHandle,
  LoraSettings,
  SampledCompletion,
  SampleOptions,
  TextRecord,
  TokenScores,
  TrainingLengths,
} from '@distill-gate/core';
import { DistillGateError, SeededRandom, tokenLogprobs } from '@distill-gate/core';
import { RecordEncodingError } from '../records.js';
import { round4, sampleFromProbs, sampleToken, topTokens } from '../sampling.js';
import type { OrtProvider } from '../../onnx/runtime.js';
import { RenderError, renderRecord, type RenderTokenizer } from '../../tokenizers/render.js';
import { HfSession, type Feeds } from './session.js';
import { hfTrainingLengths, type HfFamilyModel } from './students.js';

/** The message of every operation Hugging Face models do not support yet. */
export function notYetSupported(what: string, dir?: string): DistillGateError {
  return new DistillGateError(`${what} is not yet supported for Hugging Face models`, dir ? { file: dir } : {});
}

/**
 * A Hugging Face causal LM as the core sees it: exact log-probabilities in onnxruntime-node (the session starts on
 * first use), and seeded sampling with a KV cache. Students are trained by students.ts.
 */
export class HfHandle implements LanguageModelHandle {
  readonly family = 'causal-lm';
  readonly sha256: string;
  readonly tokenizerSha256: string;
  readonly contextLength: number;
  readonly hasChatTemplate: boolean;
  readonly modelType: string;
  private session: Promise<{ session: HfSession; feeds: Feeds }> | undefined;
  private renderTokenizer: RenderTokenizer | undefined;

  constructor(
    readonly id: string,
    readonly model: HfFamilyModel,
    private readonly provider: OrtProvider = 'cpu',
  ) {
    this.sha256 = model.adapters ? adaptersHash(model) : model.sha256;
    this.tokenizerSha256 = model.tokenizer.sha256;
    this.contextLength = model.architecture.maxPositions;
    this.hasChatTemplate = model.tokenizer.chatTemplate !== undefined;
    this.modelType = model.architecture.modelType;
  }

  /**
   * The session this handle runs on: the base's own, or for a student the session its base shares with every student
   * of the same LoRA configuration, fed this student's adapters.
   */
  private live(): Promise<{ session: HfSession; feeds: Feeds }> {
    const { adapters } = this.model;
    this.session ??= adapters
      ? sharedSession(this.model, adapters.settings, this.provider).then((session) => ({
          session,
          feeds: session.adapterFeeds(adapters.specs, adapters.settings.rank, adapters.params),
        }))
      : HfSession.create(this.model.architecture, this.model.weights, { provider: this.provider }).then((session) => ({
          session,
          feeds: {},
        }));
    return this.session;
  }

  /** logprobs[r][t] = log p(ids[r][t] | ids[r][<t]), null at t = 0 (and where `only[r][t]` is false). */
  async logprobs(ids: number[][], only?: boolean[][]): Promise<(number | null)[][]> {
    const { session, feeds } = await this.live();
    return session.logprobs(ids, feeds, only);
  }

  /**
   * log P(completion, end | prompt) for each pair, exactly: rendered as training renders a prompt/completion record
   * (the chat template with the prompt as the user's turn, the completion as the assistant's and its end-of-turn
   * token; without a template, the prompt with the tokenizer's special tokens, the completion and eos), summed over
   * the reply's tokens.
   */
  async sequenceLogProbs(
    pairs: { prompt: string; completion: string }[],
    opts: { systemPrompt?: string } = {},
  ): Promise<Float64Array> {
    const seqs = pairs.map((pair, i) => {
      const r = this.render(pair, i, opts.systemPrompt);
      if (!r.ids.length || r.assistant[0])
        throw new DistillGateError('an empty prompt with no BOS token gives the first token no context', {
          file: this.model.dir,
        });
      return r;
    });
    const lps = await this.logprobs(
      seqs.map((s) => s.ids),
      seqs.map((s) => s.assistant),
    );
    return Float64Array.from(seqs, (s, i) =>
      lps[i].reduce<number>((sum, x, t) => (s.assistant[t] ? sum + x! : sum), 0),
    );
  }

  /**
   * Per completion token (the end of the reply included): the token as tokenizer.json spells it and its
   * log-probability, rendered as sequenceLogProbs renders the pair. A record longer than the context keeps its first
   * tokens; one whose prompt alone fills the context gives null.
   */
  async tokenLogProbs(
    pairs: Pick<TextRecord, 'prompt' | 'completion' | 'messages'>[],
    opts: { systemPrompt?: string } = {},
  ): Promise<(TokenScores | null)[]> {
    const tok = this.model.tokenizer;
    const seqs = pairs.map((pair, i) => {
      const r = this.render(pair, i, opts.systemPrompt);
      const first = r.assistant.indexOf(true);
      if (first < 1 || first >= this.contextLength) return null;
      return { ids: r.ids.slice(0, this.contextLength), assistant: r.assistant.slice(0, this.contextLength) };
    });
    const live = seqs.flatMap((s) => (s ? [s] : []));
    const lps = live.length
      ? await this.logprobs(
          live.map((s) => s.ids),
          live.map((s) => s.assistant),
        )
      : [];
    let k = 0;
    return seqs.map((s) => {
      if (!s) return null;
      const lp = lps[k++];
      const tokens: string[] = [];
      const logprobs: number[] = [];
      s.ids.forEach((id, t) => {
        if (!s.assistant[t]) return;
        tokens.push(tok.idToToken(id) ?? `<${id}>`);
        logprobs.push(lp[t]!);
      });
      return { tokens, logprobs };
    });
  }

  /**
   * A record (a prompt/completion pair or a chat) rendered as training renders it, with `systemPrompt` as the first
   * system message (before the chat's own, if it has one); a record that cannot be rendered is a RecordEncodingError
   * at index `i`.
   */
  private render(
    { prompt, completion, messages: chat }: Pick<TextRecord, 'prompt' | 'completion' | 'messages'>,
    i: number,
    systemPrompt: string | undefined,
  ) {
    if (systemPrompt !== undefined) this.requireTemplate('a system prompt');
    const turns = chat ?? [
      { role: 'user' as const, content: prompt },
      { role: 'assistant' as const, content: completion },
    ];
    const messages =
      systemPrompt === undefined
        ? chat
        : turns[0]?.role === 'system'
          ? [{ ...turns[0], content: `${systemPrompt}\n\n${turns[0].content}` }, ...turns.slice(1)]
          : [{ role: 'system' as const, content: systemPrompt }, ...turns];
    try {
      return renderRecord(
        { index: i, line: 0, prompt, completion, ...(messages ? { messages } : {}) },
        (this.renderTokenizer ??= this.model.tokenizer.forRendering()),
      );
    } catch (e) {
      if (e instanceof RenderError) throw new RecordEncodingError(i, e.field, e.message);
      throw e;
    }
  }

  private requireTemplate(what: string): void {
    if (!this.model.tokenizer.chatTemplate)
      throw new DistillGateError(
        `${what} needs the model's chat template, and this model has none (no chat_template.jinja, no ` +
          '"chat_template" in tokenizer_config.json)',
        { file: this.model.dir },
      );
  }

  /** Each record's length as training renders it, against the context. */
  trainingLengths(records: TextRecord[]): TrainingLengths {
    return hfTrainingLengths(this.model, records);
  }

  /**
   * The token ids of a generation prompt: rendered with the chat template as one user turn with the assistant's turn
   * opened (`add_generation_prompt`), or, for a model without a template, the text with the tokenizer's special
   * tokens (e.g. a leading BOS).
   */
  promptIds(prompt: string, index = 0, systemPrompt?: string): number[] {
    const tok = this.model.tokenizer;
    if (systemPrompt !== undefined) this.requireTemplate('a system prompt');
    const messages = [
      ...(systemPrompt !== undefined ? [{ role: 'system' as const, content: systemPrompt }] : []),
      { role: 'user' as const, content: prompt },
    ];
    const ids = tok.chatTemplate
      ? tok.encode(tok.renderChat(messages, { addGenerationPrompt: true })).ids
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
    const ids = prompts.map((p, i) => this.promptIds(p, i, opts.systemPrompt));
    const root = new SeededRandom(opts.seed);
    const rngs = prompts.map((_, i) => root.fork(`prompt-${i}`));
    const k = opts.topLogprobs ?? 0;
    const logprobs: Record<string, number>[][] = prompts.map(() => []);
    const token = (id: number) => tok.idToToken(id) ?? `<${id}>`;
    const { session, feeds } = await this.live();
    const generated = await session.generate(
      ids,
      {
        maxTokens: opts.maxTokens,
        stopIds: tok.stopIds,
        // At temperature 1, without logprobs to report, the draw is from the graph's probabilities (no exponential
        // per token of a 50k-150k vocabulary on the host).
        probabilities: opts.temperature === 1 && !k,
        choose: (i, row) => {
          if (opts.temperature === 1 && !k) return sampleFromProbs(row, opts.topP, rngs[i]);
          const id = sampleToken(row, opts.temperature, opts.topP, rngs[i]);
          if (k) {
            const top = topTokens(row, k);
            logprobs[i].push(
              tokenLogprobs([
                ...top.map((t): [string, number] => [token(t), round4(row[t])]),
                [token(id), round4(row[id])],
              ]),
            );
          }
          return id;
        },
      },
      feeds,
    );
    return generated.map((g, i) => {
      const written = g.finished ? g.ids.slice(0, -1) : g.ids;
      return {
        completion: tok.decode(written),
        finished: g.finished,
        ...(k ? { logprobs: logprobs[i], tokens: written.map(token) } : {}),
      };
    });
  }

  release(): void {
    const s = this.session;
    this.session = undefined;
    if (!s) return;
    if (this.model.adapters) releaseShared(this.model, this.model.adapters.settings, this.provider);
    else void s.then((x) => x.session.release()).catch(() => undefined);
  }
}

/** The sessions students share: one per base, LoRA configuration and provider, released with its last student. */
const shared = new Map<string, { session: Promise<HfSession>; refs: number }>();

function sharedKey(model: HfFamilyModel, lora: LoraSettings, provider: OrtProvider): string {
  return `${model.sha256}:${provider}:${JSON.stringify(lora)}`;
}

function sharedSession(model: HfFamilyModel, lora: LoraSettings, provider: OrtProvider): Promise<HfSession> {
  const key = sharedKey(model, lora, provider);
  let entry = shared.get(key);
  if (!entry) {
    entry = { session: HfSession.create(model.architecture, model.weights, { provider, lora }), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  return entry.session;
}

function releaseShared(model: HfFamilyModel, lora: LoraSettings, provider: OrtProvider): void {
  const key = sharedKey(model, lora, provider);
  const entry = shared.get(key);
  if (!entry || --entry.refs > 0) return;
  shared.delete(key);
  void entry.session.then((x) => x.release()).catch(() => undefined);
}

/** A student's hash: its base's, its LoRA configuration and its adapters' values. */
function adaptersHash(model: HfFamilyModel): string {
  const h = createHash('sha256').update(model.sha256).update(JSON.stringify(model.adapters!.settings));
  for (const p of model.adapters!.params) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
}
