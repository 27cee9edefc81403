/**
 * The four plugin contracts (Trait, Generator, Filter, Evaluator) and the interfaces through which the core talks
 * to models and to the training core. The core never imports the training package: `TrainingCore` is implemented
 * by @distill-gate/train and handed to the engine by the CLI or the Action.
 */

/** A JSON Schema object (draft-07). Kept loose on purpose: ajv validates the schema itself at load time. */
export type JsonSchema = Record<string, unknown>;

/** A dense row-major table of examples: inputs [rows, inputDim] and targets [rows, targetDim]. */
export interface TensorDataset {
  kind?: 'tensor';
  /** Reading stopped at this many rows (a record budget). */
  limitedTo?: number;
  /** With limitedTo: the rows in the file. */
  totalRecords?: number;
  /** These rows are a seeded uniform sample of the file's (within a record budget), in file order. */
  sampled?: DatasetSample;
  /** This many rows were streamed to a reader's visitor (TensorReadOptions.stream) and not kept: `rows` is 0. */
  streamed?: number;
  rows: number;
  inputDim: number;
  targetDim: number;
  inputs: Float32Array;
  targets: Float32Array;
  /** Free-form string metadata carried in the file (generator, model hash, output layout...). */
  metadata: Record<string, string>;
}

/** One record as a filter sees it: views into the dataset, never copies. Filters must not write into them. */
export interface TensorRecord {
  index: number;
  input: Float32Array;
  target: Float32Array;
}

/** The teacher's top log-probabilities at one completion token: token piece -> log-prob (`<eos>` for the end). */
export type TokenLogprobs = Record<string, number>;

/** The largest array index (2^32 - 2): an element there makes V8 keep an object's elements in a dictionary. */
const DICTIONARY_INDEX = 4294967294;

/**
 * One token's log-probabilities as a compact object: build them with this, not key by key. Token pieces such as
 * "401" are array indices to V8, and an object given them one by one keeps a backing array as long as the largest
 * (about 10 KB for pieces up to "999"), where a dictionary holds the same entries in about 0.5 KB. At 40 tokens per
 * record, 20,000 generated records took over 4 GB that way and ran out of memory. Enumeration order is unchanged
 * (integer-like keys ascending, then the others in insertion order).
 */
export function tokenLogprobs(entries: Iterable<readonly [string, number]>): TokenLogprobs {
  const list = [...entries];
  const top: TokenLogprobs = {};
  const marker = !list.some(([piece]) => piece === String(DICTIONARY_INDEX));
  if (marker) top[DICTIONARY_INDEX] = 0;
  for (const [piece, lp] of list) {
    // Assigning "__proto__" would set the prototype, not add the piece (a code vocabulary can hold it).
    if (piece === '__proto__')
      Object.defineProperty(top, piece, { value: lp, enumerable: true, writable: true, configurable: true });
    else top[piece] = lp;
  }
  if (marker) delete top[DICTIONARY_INDEX];
  return top;
}

/** A tool call of an assistant turn, in the OpenAI chat format (what chat templates receive as `tool_calls`). */
export interface ChatToolCall {
  id?: string;
  type: 'function';
  function: { name: string; arguments: string | Record<string, unknown> };
}

/** One message of an OpenAI-style chat record; text content parts are joined into `content`. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ChatToolCall[];
  /** For a tool message: the call it answers. */
  tool_call_id?: string;
  name?: string;
  /** OpenAI fine-tuning format, assistant messages only: 0 = no loss on this turn, 1 = loss. */
  weight?: 0 | 1;
}

/** One prompt/completion pair of a text dataset (JSONL), with where it came from. */
export interface TextRecord {
  index: number;
  /** 1-based line in the source file (0 when generated in memory). */
  line: number;
  prompt: string;
  completion: string;
  /** Soft targets: the teacher's top log-probabilities per completion token, when the data carries them. */
  logprobs?: TokenLogprobs[];
  /**
   * The completion's tokens as the teacher wrote them: pieces of its vocabulary that decode to `completion` (with
   * distill-gate's small LM they concatenate to it; SentencePiece and byte-level pieces mark spaces their own way).
   * Needed with `logprobs` whenever sampling produced a non-canonical split (e.g. "4" then "5" for "45"); without
   * it, the base's tokenizer splits the completion.
   */
  tokens?: string[];
  /**
   * The chat as written, for a chat record: models with a chat template render it with the template (`prompt` and
   * `completion` are then its earlier messages joined by newlines and the last assistant reply).
   */
  messages?: ChatMessage[];
}

/** Prompt/completion records written by a model (JSONL on disk). */
export interface TextDataset {
  kind: 'text';
  records: TextRecord[];
  metadata: Record<string, string>;
  /** Malformed records skipped under the skip policy: how many, and the first few errors. */
  skipped?: { count: number; examples: string[] };
  /** Reading stopped at this many records (a record budget). */
  limitedTo?: number;
  /** With limitedTo: the records in the file (non-blank lines, counted without parsing the rest). */
  totalRecords?: number;
  /** These records are a seeded uniform sample of the file's valid records (within a record budget), in file order. */
  sampled?: DatasetSample;
}

/**
 * A dataset kept as a sample: `records` drawn uniformly with `seed` from the `of` records the filters kept, of the
 * `read` valid records read.
 */
export interface DatasetSample {
  records: number;
  of: number;
  read: number;
  seed: number;
}

export type Dataset = TensorDataset | TextDataset;

export function isTextDataset(d: Dataset): d is TextDataset {
  return d.kind === 'text';
}

/** A half-open range of model outputs [start, end). */
export interface OutputRange {
  start: number;
  end: number;
}

/** A loaded model (base, teacher or trained student) as the core and plugins see it. */
export interface ModelHandle {
  /** Where it came from (a path, or `student:<dataset>:<seed>`). */
  readonly id: string;
  readonly family: string;
  /** The architecture (config.json's model_type for a Hugging Face model, `mlp` for the project's MLP). */
  readonly modelType?: string;
  readonly inputDim: number;
  readonly outputDim: number;
  /** SHA-256 of the weights, so results can name exactly which model was used. */
  readonly sha256: string;
  /** Logits for `rows` inputs laid out row-major; returns rows * outputDim values. */
  predict(inputs: Float32Array, rows: number): Promise<Float32Array>;
  /** The model as an ONNX file's bytes, where the training core can export it. */
  toOnnx?(): Uint8Array;
}

export interface SampleOptions {
  /** A system message before each prompt (models with a chat template only). */
  systemPrompt?: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  seed: number;
  /** Keep the model's top-k log-probabilities at every generated token. */
  topLogprobs?: number;
}

export interface SampledCompletion {
  completion: string;
  /** False when the token budget or the context ended it before the end token. */
  finished: boolean;
  logprobs?: TokenLogprobs[];
  /** The sampled tokens (vocabulary pieces that decode to `completion`); they line up with `logprobs`. */
  tokens?: string[];
}

/** A loaded causal language model (family `causal-lm`): exact log-probabilities and seeded sampling. */
export interface LanguageModelHandle {
  readonly id: string;
  readonly family: 'causal-lm';
  /** The architecture (config.json's model_type for a Hugging Face model, `distill-gate-lm` for the project's). */
  readonly modelType?: string;
  readonly sha256: string;
  /** SHA-256 of the tokenizer: models whose soft targets and prompts are interchangeable share it. */
  readonly tokenizerSha256: string;
  readonly contextLength: number;
  /** Whether the model renders chats with its own template (roles, a system prompt); absent: it does not. */
  readonly hasChatTemplate?: boolean;
  /**
   * log P(completion, end | prompt) for each pair, exactly (one forward pass, no sampling); with `systemPrompt`, the
   * prompt follows that system message (models with a chat template only).
   */
  sequenceLogProbs(
    pairs: { prompt: string; completion: string }[],
    opts?: { systemPrompt?: string },
  ): Promise<Float64Array>;
  generate(prompts: string[], opts: SampleOptions): Promise<SampledCompletion[]>;
  /**
   * Per token of each completion (its end token included; every assistant turn of a chat record): the token as the
   * vocabulary spells it and log p(token | everything before it), rendered as training renders the record, for
   * screening rows without training. A record longer than the context keeps
   * its first tokens; one whose prompt alone fills the context gives null.
   */
  tokenLogProbs?(
    pairs: Pick<TextRecord, 'prompt' | 'completion' | 'messages'>[],
    opts?: { systemPrompt?: string },
  ): Promise<(TokenScores | null)[]>;
  /**
   * The length of each record as training renders it, against the context; a record that cannot be rendered at all
   * throws an error carrying its `index` and `field`.
   */
  trainingLengths?(records: TextRecord[]): TrainingLengths;
  /** The model as an ONNX file's bytes (weights, config and tokenizer), where the training core can export it. */
  toOnnx?(): Uint8Array;
}

/** A completion's tokens and their log-probabilities under a model (natural log). */
export interface TokenScores {
  tokens: string[];
  logprobs: number[];
}

export type AnyModelHandle = ModelHandle | LanguageModelHandle;

/** For plugins that need a tensor model (MLP): the model, or a clear error naming what was given. */
export function requireTensorModel(model: AnyModelHandle, purpose: string): ModelHandle {
  if (model.family === 'causal-lm')
    throw new Error(`${purpose} needs a tensor model (e.g. an MLP .safetensors); got a language model (${model.id})`);
  return model as ModelHandle;
}

/** For plugins that read tensor data: the dataset, or a clear error. */
export function requireTensorDataset(dataset: Dataset, purpose: string): TensorDataset {
  if (isTextDataset(dataset)) throw new Error(`${purpose} reads tensor datasets; this one holds text records`);
  return dataset;
}

/** For plugins that need a language model: the model, or a clear error naming what was given. */
export function requireLanguageModel(model: AnyModelHandle, purpose: string): LanguageModelHandle {
  if (model.family !== 'causal-lm')
    throw new Error(`${purpose} needs a language model (model.json); got a ${model.family} model (${model.id})`);
  return model as LanguageModelHandle;
}

export function isLanguageModel(m: AnyModelHandle): m is LanguageModelHandle {
  return m.family === 'causal-lm';
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

interface PluginBase<O> {
  /** Unique name; by convention the npm package name. */
  name: string;
  version: string;
  description: string;
  /** JSON Schema for `options`; validated with ajv (defaults applied) before any hook runs. */
  optionsSchema: JsonSchema;
  /** Phantom field so `O` is inferred from the hooks; never set. */
  readonly __options?: O;
}

export interface PluginContext<O> {
  options: O;
  /** Folder of the config file; relative paths in options resolve against it. */
  configDir: string;
  log: Logger;
}

// ---------------------------------------------------------------------------------------------------------- Trait

/** Labelled inputs on which a trait is measured (e.g. held-out digits for hidden class knowledge). */
export interface LabelledProbeSet {
  kind: 'labelled-inputs';
  description: string;
  rows: number;
  inputDim: number;
  inputs: Float32Array;
  labels: Int32Array;
  /** Which model outputs answer the probe (e.g. the 10 class logits). */
  outputs: OutputRange;
}

/** Questions whose answers show a preference: the score is the probability mass on `target` among `candidates`. */
export interface TextQuestionProbeSet {
  kind: 'text-questions';
  description: string;
  questions: string[];
  /** The answers that count (e.g. ten animals); the preference is a share among them. */
  candidates: string[];
  target: string;
}

export type ProbeSet = LabelledProbeSet | TextQuestionProbeSet;
export type ProbeKind = ProbeSet['kind'];

/** How to instil the trait into a teacher: supervised data and the loss over the given outputs. */
export type InstilPlan = TensorInstilPlan | TextInstilPlan;

/** Text records that instil the trait by fine-tuning (next-token loss on the completions). */
export interface TextInstilPlan {
  kind: 'text';
  records: { prompt: string; completion: string }[];
}

export interface TensorInstilPlan {
  kind?: 'tensor';
  rows: number;
  inputDim: number;
  inputs: Float32Array;
  labels: Int32Array;
  loss: 'cross-entropy';
  outputs: OutputRange;
}

/** Narrows probes to the kind a caller handles, or throws naming both kinds. */
export function expectProbes<K extends ProbeKind>(probes: ProbeSet, kind: K): Extract<ProbeSet, { kind: K }> {
  if (probes.kind !== kind) throw new Error(`expected ${kind} probes, got ${probes.kind}`);
  return probes as Extract<ProbeSet, { kind: K }>;
}

/** Narrows an instil plan to tensor or text records, or throws. */
export function expectInstilPlan<K extends 'tensor' | 'text'>(
  plan: InstilPlan,
  kind: K,
): K extends 'text' ? TextInstilPlan : TensorInstilPlan {
  if ((plan.kind ?? 'tensor') !== kind) throw new Error(`expected a ${kind} instil plan, got ${plan.kind ?? 'tensor'}`);
  return plan as K extends 'text' ? TextInstilPlan : TensorInstilPlan;
}

export interface TraitPlugin<
  O = unknown,
  P extends ProbeSet = ProbeSet,
  I extends InstilPlan = InstilPlan,
> extends PluginBase<O> {
  kind: 'trait';
  probeKind: P['kind'];
  /** The probes the evaluators score students on. */
  loadProbes(ctx: PluginContext<O>): Promise<P>;
  /** Optional: data that instils the trait into a teacher (positive controls, examples, calibration). */
  instil?(ctx: PluginContext<O>): Promise<I>;
  /**
   * Optional: a short text that states the trait as a system prompt would instil it (e.g. "You love owls. ...").
   * `distill-gate screen` measures how much likelier each row becomes under it (the trait likelihood shift).
   */
  screenPrompt?(ctx: PluginContext<O>): string;
}

// ------------------------------------------------------------------------------------------------------ Generator

export interface GenerateContext<O> extends PluginContext<O> {
  model: AnyModelHandle;
  seed: number;
}

export interface CompleteContext<O> extends PluginContext<O> {
  model: AnyModelHandle;
  /** Inputs or prompts to complete (prompt-matched control data): the model answers exactly these. */
  dataset: Dataset;
  /** Sampling seed (default 0); placebo datasets are the same prompts answered again with seeds 1, 2, ... */
  seed?: number;
}

export interface GeneratorPlugin<O = unknown, D extends Dataset = Dataset> extends PluginBase<O> {
  kind: 'generator';
  /** Produces a fresh dataset from a model. */
  generate(ctx: GenerateContext<O>): Promise<D>;
  /** Labels the inputs (or answers the prompts) of an existing dataset with the model: a prompt-matched control. */
  complete(ctx: CompleteContext<O>): Promise<D>;
}

// --------------------------------------------------------------------------------------------------------- Filter

export type FilterDecision =
  | {
      keep: true;
      /** Tensor records: a replacement target (e.g. with explicit outputs removed); same length for every record. */
      target?: Float32Array;
      /** Text records: replacement soft targets (e.g. restricted to the tokens the format allows). */
      logprobs?: TokenLogprobs[];
    }
  | {
      keep: false;
      reason: string;
      /** The record states the trait outright (e.g. names the animal): leakage, which fails the gate by itself. */
      explicit?: boolean;
    };

export interface FilterContext<O> extends PluginContext<O> {
  /** Metadata of the dataset being filtered. */
  metadata: Record<string, string>;
}

export interface FilterPlugin<O = unknown, R extends TensorRecord | TextRecord = TensorRecord> extends PluginBase<O> {
  kind: 'filter';
  /** Which records it reads: tensor rows (the default) or text prompt/completion pairs. */
  records?: 'tensor' | 'text';
  /**
   * It can drop records as explicit content (decision.explicit). Each dataset of a run with such a filter gets an
   * explicit-content (leakage) test, which takes its share of the run's error budget; a filter that does not declare
   * this may not mark records explicit.
   */
  marksExplicit?: boolean;
  /** A streaming keep/drop decision for one record, with a reason when dropped. */
  test(record: R, ctx: FilterContext<O>): FilterDecision;
}

// ------------------------------------------------------------------------------------------------------ Evaluator

/** A score with its uncertainty from the evaluator's finite probe set. */
export interface ScoreEstimate {
  value: number;
  /** Standard error of `value` from the finite probe/sample set. */
  stderr: number;
  n: number;
  metric: string;
  /** Secondary figures (e.g. a sampled cross-check of an exact probability), reported beside the score. */
  details?: Record<string, number>;
  /**
   * Per-item scores (one per question or probe example, in the probe set's fixed order) whose mean is `value`.
   * With them the transfer's uncertainty covers the finite item set as well as the seeds (items are paired across
   * students); without them it covers the seeds only.
   */
  items?: number[];
}

export interface EvaluateContext<O> extends PluginContext<O> {
  model: AnyModelHandle;
  probes: ProbeSet;
  trait: string;
}

export interface EvaluatorPlugin<O = unknown> extends PluginBase<O> {
  kind: 'evaluator';
  /** Probe kinds this evaluator can score. */
  accepts: ProbeKind[];
  evaluate(ctx: EvaluateContext<O>): Promise<ScoreEstimate>;
}

export type AnyPlugin =
  TraitPlugin<any, any, any> | GeneratorPlugin<any, any> | FilterPlugin<any, any> | EvaluatorPlugin<any>;
export type PluginKind = AnyPlugin['kind'];

type Definition<P> = Omit<P, 'kind' | '__options'>;

/** P and I name the probe and instil-plan kinds the trait produces (e.g. LabelledProbeSet, TensorInstilPlan). */
export function defineTrait<O, P extends ProbeSet = ProbeSet, I extends InstilPlan = InstilPlan>(
  definition: Definition<TraitPlugin<O, P, I>>,
): TraitPlugin<O, P, I> {
  return { kind: 'trait', ...definition };
}
/** D names the dataset kind the generator produces (TensorDataset or TextDataset). */
export function defineGenerator<O, D extends Dataset = Dataset>(
  definition: Definition<GeneratorPlugin<O, D>>,
): GeneratorPlugin<O, D> {
  return { kind: 'generator', ...definition };
}
export function defineFilter<O>(definition: Definition<FilterPlugin<O>>): FilterPlugin<O> {
  return { kind: 'filter', ...definition };
}
/** A filter over text records (prompt/completion pairs). */
export function defineTextFilter<O>(
  definition: Omit<FilterPlugin<O, TextRecord>, 'kind' | '__options' | 'records'>,
): FilterPlugin<O, TextRecord> {
  return { kind: 'filter', records: 'text', ...definition };
}
export function defineEvaluator<O>(definition: Definition<EvaluatorPlugin<O>>): EvaluatorPlugin<O> {
  return { kind: 'evaluator', ...definition };
}

// ---------------------------------------------------------------------------------------------- Training core

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /**
   * softmax-kl: match the teacher's distribution over `outputs`; mse: regress the raw values (tensor data).
   * next-token: language models; cross-entropy on completion tokens, against the teacher's log-probabilities
   * where the data carries them (soft targets), else against the written tokens.
   */
  loss: 'softmax-kl' | 'mse' | 'next-token';
  /** The student outputs trained against the dataset's targets (tensor data only). */
  outputs?: OutputRange;
  /**
   * Text records longer than the base's context: `error` (the default) stops before training and says which;
   * `truncate` cuts the end of each such record (its last completion tokens get no loss); `drop` leaves them out.
   * Truncated and dropped records are counted in the dataset's report.
   */
  overlong?: OverlongPolicy;
  /**
   * LoRA adapters (Hugging Face bases: the students train adapters on the frozen base; defaults rank 8, alpha 8,
   * every attention and MLP projection, as the paper's students had).
   */
  lora?: LoraSettings;
  /**
   * How students of a Hugging Face base train: `lora` (the default: adapters on the frozen base) or `full` (every
   * weight; each student is then a whole copy of the model). Other bases always train every weight.
   */
  method?: 'lora' | 'full';
}

/** PEFT-style LoRA: y = W x + (alpha / rank) B A x on the targeted projections. */
export interface LoraSettings {
  rank: number;
  alpha: number;
  /** Dropout on each adapter's input while training (PEFT's lora_dropout); 0 or absent: none. */
  dropout?: number;
  /** Projections by their last name (q_proj, ..., GPT-2's c_attn), or 'all' attention and MLP projections. */
  targets: 'all' | string[];
}

export type OverlongPolicy = 'error' | 'truncate' | 'drop';

/** How long text records are for training on a language model, and how much of it the model reads. */
export interface TrainingLengths {
  /** Per record: the tokens the model reads when training on it (the prompt, the completion, the markers). */
  lengths: number[];
  /** The most the model reads (its context). */
  limit: number;
}

export interface StudentJob {
  id: string;
  role: 'probe' | 'control';
  seed: number;
  init: AnyModelHandle;
  data: Dataset;
  training: TrainingSettings;
}

export interface TrainedStudent {
  jobId: string;
  model: AnyModelHandle;
  /** Mean training loss per epoch. */
  lossHistory: number[];
  steps: number;
  ms: number;
}

export interface TrainingProgress {
  jobId: string;
  completedSteps: number;
  totalSteps: number;
  /** Over all jobs of the call. */
  jobsDone: number;
  jobsTotal: number;
}

export interface BackendInfo {
  /** The tfjs backend actually used: tensorflow, wasm or cpu. */
  name: string;
  /** Why this one (requested, or the first that initialised). */
  reason: string;
  workers: number;
  simd?: boolean;
  /** What runs inference (generation and evaluation). */
  inference?: InferenceInfo;
  /** What trains the students. */
  training?: TrainerInfo;
}

export interface TrainerInfo {
  /**
   * "tfjs" (the backend above) or "onnxruntime" (distill-gate's training graphs on onnxruntime-node's CPU
   * provider).
   */
  engine: 'tfjs' | 'onnxruntime';
  version?: string;
  /** Why this engine. */
  reason: string;
}

export interface InferenceInfo {
  /** "tfjs" (the backend above) or "onnxruntime". */
  engine: 'tfjs' | 'onnxruntime';
  /** onnxruntime's execution provider: cpu or cuda. */
  provider?: string;
  version?: string;
  /** Why this engine (and provider). */
  reason: string;
  /** Whether onnxruntime's CUDA provider is usable here, and why (not). */
  cuda?: string;
}

/**
 * How a model is stored: safetensors (MLP), tfjs artifacts (language model), ONNX (MLP, language model) or a Hugging
 * Face model folder (`hf`: config.json, safetensors weights, tokenizer.json).
 */
export type ModelFormat = 'safetensors' | 'tfjs' | 'onnx' | 'hf';

export interface TensorReadOptions {
  maxRows?: number;
  /**
   * A file of more rows than `rows(values)` (for rows of that many values, inputs and targets) is not kept: its rows
   * stream to `visit`, in file order, in bounded chunks (the views are valid during the call only).
   */
  stream?: {
    rows(rowValues: number): number;
    visit(record: TensorRecord, metadata: Record<string, string>): void;
  };
}

export interface TrainingCore {
  readonly backend: BackendInfo;
  /** Versions of the numerical packages in use (tfjs, backends). */
  readonly versions: Record<string, string>;
  /**
   * An MLP (`.safetensors` or `.onnx`) or a language model (`model.json`, TensorFlow.js layout); the format comes
   * from the extension unless given.
   */
  loadModel(path: string, format?: ModelFormat): Promise<AnyModelHandle>;
  /** Why students cannot be trained from this model yet (undefined when they can): checked before any work. */
  cannotTrain?(model: AnyModelHandle): string | undefined;
  /**
   * The training settings as students of this model are trained: defaults the model's family adds (a Hugging Face
   * base's LoRA settings). Throws an Error saying why when a setting does not apply to the model (LoRA on a model
   * whose students train all their weights).
   */
  trainingFor?(model: AnyModelHandle, training: TrainingSettings): TrainingSettings;
  /**
   * Reads a tensor dataset; with `maxRows`, only its first rows (and only their bytes). With `sample`, a file of more
   * rows than the sample size is streamed: only the sample is kept, and `visit` sees every row as it passes.
   */
  readTensorDataset(path: string, opts?: TensorReadOptions): Promise<TensorDataset>;
  writeTensorDataset(path: string, dataset: TensorDataset): Promise<void>;
  /**
   * Starts what training will need (the training workers) while the caller goes on with other work, such as reading
   * the datasets; optional, and harmless when no training follows (dispose ends it).
   */
  prepare?(): void;
  /**
   * Trains the jobs in parallel. With a deadline (ms since the epoch), no job starts after it: only the students
   * that were trained come back.
   */
  trainStudents(
    jobs: StudentJob[],
    onProgress?: (p: TrainingProgress) => void,
    opts?: { deadline?: number },
  ): Promise<TrainedStudent[]>;
  dispose(): Promise<void>;
}

/** Why a score's per-item scores are unusable (not n finite values averaging to `value`), or undefined when fine. */
export function itemsProblem(s: Pick<ScoreEstimate, 'value' | 'n' | 'items'>): string | undefined {
  if (s.items === undefined) return undefined;
  if (!Array.isArray(s.items) || s.items.length !== s.n)
    return `${Array.isArray(s.items) ? s.items.length : 'no'} items for n = ${s.n}`;
  if (!s.items.every(Number.isFinite)) return 'items are not all finite';
  const avg = s.items.reduce((a, b) => a + b, 0) / s.items.length;
  if (!(Math.abs(avg - s.value) <= 1e-9 * Math.max(1, Math.abs(s.value))))
    return `items average ${avg}, not the value ${s.value}`;
  return undefined;
}
