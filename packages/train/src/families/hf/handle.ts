import type { LanguageModelHandle, SampledCompletion } from '@distill-gate/core';
import { DistillGateError } from '@distill-gate/core';
import type { OrtProvider } from '../../onnx/runtime.js';
import type { HfModelFolder } from './folder.js';
import { HfSession } from './session.js';

/** The message of every operation Hugging Face models do not support yet. */
export function notYetSupported(what: string, dir?: string): DistillGateError {
  return new DistillGateError(`${what} is not yet supported for Hugging Face models`, dir ? { file: dir } : {});
}

/**
 * A Hugging Face causal LM as the core sees it: exact log-probabilities in onnxruntime-node (the session starts on
 * first use). Generation and training are not implemented yet and say so.
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

  async generate(): Promise<SampledCompletion[]> {
    throw notYetSupported('generating text', this.model.dir);
  }

  release(): void {
    const s = this.session;
    this.session = undefined;
    void s?.then((x) => x.release()).catch(() => undefined);
  }
}
