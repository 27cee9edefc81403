/**
 * The four plugin contracts (Trait, Generator, Filter, Evaluator) and the interfaces through which the core talks
 * to models and to the training core. The core never imports the training package: `TrainingCore` is implemented
 * by @distill-gate/train and handed to the engine by the CLI or the Action.
 */

/** A JSON Schema object (draft-07). Kept loose on purpose: ajv validates the schema itself at load time. */
export type JsonSchema = Record<string, unknown>;

/** A dense row-major table of examples: inputs [rows, inputDim] and targets [rows, targetDim]. */
export interface TensorDataset {
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
  readonly inputDim: number;
  readonly outputDim: number;
  /** SHA-256 of the weights, so results can name exactly which model was used. */
  readonly sha256: string;
  /** Logits for `rows` inputs laid out row-major; returns rows * outputDim values. */
  predict(inputs: Float32Array, rows: number): Promise<Float32Array>;
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

export type ProbeSet = LabelledProbeSet;
export type ProbeKind = ProbeSet['kind'];

/** How to instil the trait into a teacher: supervised data and the loss over the given outputs. */
export interface InstilPlan {
  rows: number;
  inputDim: number;
  inputs: Float32Array;
  labels: Int32Array;
  loss: 'cross-entropy';
  outputs: OutputRange;
}

export interface TraitPlugin<O = unknown> extends PluginBase<O> {
  kind: 'trait';
  probeKind: ProbeKind;
  /** The probes the evaluators score students on. */
  loadProbes(ctx: PluginContext<O>): Promise<ProbeSet>;
  /** Optional: data that instils the trait into a teacher (positive controls, examples, calibration). */
  instil?(ctx: PluginContext<O>): Promise<InstilPlan>;
}

// ------------------------------------------------------------------------------------------------------ Generator

export interface GenerateContext<O> extends PluginContext<O> {
  model: ModelHandle;
  seed: number;
}

export interface CompleteContext<O> extends PluginContext<O> {
  model: ModelHandle;
  /** Inputs to complete (prompt-matched control data): the model labels exactly these inputs. */
  dataset: TensorDataset;
}

export interface GeneratorPlugin<O = unknown> extends PluginBase<O> {
  kind: 'generator';
  /** Produces a fresh dataset from a model. */
  generate(ctx: GenerateContext<O>): Promise<TensorDataset>;
  /** Labels the inputs of an existing dataset with the model (what a prompt-matched control needs). */
  complete(ctx: CompleteContext<O>): Promise<TensorDataset>;
}

// --------------------------------------------------------------------------------------------------------- Filter

export type FilterDecision =
  | { keep: true; /** A replacement target (e.g. with explicit outputs removed); same length for every record. */ target?: Float32Array }
  | { keep: false; reason: string };

export interface FilterContext<O> extends PluginContext<O> {
  /** Metadata of the dataset being filtered. */
  metadata: Record<string, string>;
}

export interface FilterPlugin<O = unknown> extends PluginBase<O> {
  kind: 'filter';
  /** A streaming keep/drop decision for one record, with a reason when dropped. */
  test(record: TensorRecord, ctx: FilterContext<O>): FilterDecision;
}

// ------------------------------------------------------------------------------------------------------ Evaluator

/** A score with its uncertainty from the evaluator's finite probe set. */
export interface ScoreEstimate {
  value: number;
  /** Standard error of `value` from the finite probe/sample set. */
  stderr: number;
  n: number;
  metric: string;
}

export interface EvaluateContext<O> extends PluginContext<O> {
  model: ModelHandle;
  probes: ProbeSet;
  trait: string;
}

export interface EvaluatorPlugin<O = unknown> extends PluginBase<O> {
  kind: 'evaluator';
  /** Probe kinds this evaluator can score. */
  accepts: ProbeKind[];
  evaluate(ctx: EvaluateContext<O>): Promise<ScoreEstimate>;
}

export type AnyPlugin = TraitPlugin<any> | GeneratorPlugin<any> | FilterPlugin<any> | EvaluatorPlugin<any>;
export type PluginKind = AnyPlugin['kind'];

type Definition<P> = Omit<P, 'kind' | '__options'>;

export function defineTrait<O>(definition: Definition<TraitPlugin<O>>): TraitPlugin<O> {
  return { kind: 'trait', ...definition };
}
export function defineGenerator<O>(definition: Definition<GeneratorPlugin<O>>): GeneratorPlugin<O> {
  return { kind: 'generator', ...definition };
}
export function defineFilter<O>(definition: Definition<FilterPlugin<O>>): FilterPlugin<O> {
  return { kind: 'filter', ...definition };
}
export function defineEvaluator<O>(definition: Definition<EvaluatorPlugin<O>>): EvaluatorPlugin<O> {
  return { kind: 'evaluator', ...definition };
}

// ---------------------------------------------------------------------------------------------- Training core

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** softmax-kl: match the teacher's distribution over `outputs`; mse: regress the raw values. */
  loss: 'softmax-kl' | 'mse';
  /** The student outputs trained against the dataset's targets. */
  outputs: OutputRange;
}

export interface StudentJob {
  id: string;
  role: 'probe' | 'control';
  seed: number;
  init: ModelHandle;
  data: TensorDataset;
  training: TrainingSettings;
}

export interface TrainedStudent {
  jobId: string;
  model: ModelHandle;
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
}

export interface TrainingCore {
  readonly backend: BackendInfo;
  /** Versions of the numerical packages in use (tfjs, backends). */
  readonly versions: Record<string, string>;
  loadModel(path: string): Promise<ModelHandle>;
  readTensorDataset(path: string): Promise<TensorDataset>;
  writeTensorDataset(path: string, dataset: TensorDataset): Promise<void>;
  trainStudents(jobs: StudentJob[], onProgress?: (p: TrainingProgress) => void): Promise<TrainedStudent[]>;
  dispose(): Promise<void>;
}
