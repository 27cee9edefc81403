import { createHash } from 'node:crypto';
import type {
  LanguageModelHandle,
  SampledCompletion,
  SampleOptions,
  TextDataset,
  TextRecord,
  TokenScores,
  TrainingLengths,
} from '@distill-gate/core';
import { DistillGateError } from '@distill-gate/core';
import type { OrtProvider } from '../../onnx/runtime.js';
import { hashLanguageModel, type LanguageModelFile } from './io.js';
import { encodeLocated } from '../records.js';
import { encodeRecords, LanguageModel, recordLengths, type TextPair } from './language-model.js';
import { OnnxLmEngine, transformerToOnnx } from './onnx.js';
import type { LmTrainingData } from './trainer.js';

/** A causal language model held as host weights with its tokenizer; inference runs on the main thread. */
export class LmHandle implements LanguageModelHandle {
  readonly family = 'causal-lm';
  readonly modelType = 'distill-gate-lm';
  readonly sha256: string;
  readonly tokenizerSha256: string;
  readonly contextLength: number;
  private live: LanguageModel | undefined;

  /** With `provider`, inference runs in onnxruntime-node on that execution provider; else on the tfjs backend. */
  constructor(
    readonly id: string,
    readonly file: Omit<LanguageModelFile, 'metadata'>,
    private readonly backend: string,
    private readonly provider?: OrtProvider,
  ) {
    this.sha256 = hashLanguageModel(file);
    this.tokenizerSha256 = createHash('sha256').update(JSON.stringify(file.tokenizer.pieces)).digest('hex');
    this.contextLength = file.config.contextLength;
  }

  get lm(): LanguageModel {
    const provider = this.provider;
    this.live ??= new LanguageModel(
      this.file,
      this.file.tokenizer,
      provider ? (p) => OnnxLmEngine.create(p, { provider }) : this.backend,
    );
    return this.live;
  }

  async sequenceLogProbs(pairs: TextPair[], opts: { systemPrompt?: string } = {}): Promise<Float64Array> {
    this.refuseSystemPrompt(opts.systemPrompt);
    return this.lm.sequenceLogProbs(pairs);
  }

  async tokenLogProbs(pairs: TextPair[], opts: { systemPrompt?: string } = {}): Promise<(TokenScores | null)[]> {
    this.refuseSystemPrompt(opts.systemPrompt);
    return this.lm.tokenLogProbs(pairs);
  }

  async generate(prompts: string[], opts: SampleOptions): Promise<SampledCompletion[]> {
    this.refuseSystemPrompt(opts.systemPrompt);
    return this.lm.generate(prompts, opts);
  }

  /** The project's small LM reads a prompt and a completion, with no roles: a system prompt is refused. */
  private refuseSystemPrompt(systemPrompt: string | undefined): void {
    if (systemPrompt !== undefined)
      throw new DistillGateError(
        "a system prompt needs a model with a chat template; distill-gate's small language model has none " +
          '(use a Hugging Face model, or a teacher fine-tuned to the trait)',
        { file: this.id },
      );
  }

  /** Each record's length as training reads it (<bos> prompt <sep> completion), against the context. */
  trainingLengths(records: TextRecord[]): TrainingLengths {
    return { lengths: recordLengths(this.file.tokenizer, records), limit: this.contextLength };
  }

  toOnnx(): Uint8Array {
    return transformerToOnnx(this.file);
  }

  release(): void {
    this.live?.release();
    this.live = undefined;
  }
}

/**
 * Tokenizes a text dataset for training (with `truncate`, records longer than the context lose the end of their
 * completion), turning a record that does not fit into a located error.
 */
export function encodeTextDataset(
  handle: LmHandle,
  data: TextDataset,
  opts: { truncate?: boolean } = {},
): LmTrainingData {
  return encodeLocated(data, () => encodeRecords(handle.file.tokenizer, data.records, handle.contextLength, opts));
}
