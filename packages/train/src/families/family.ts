/**
 * The contract of a model family. Everything that differs between families (how a file is recognised and read, how
 * a model is written, hashed, run and trained) lives behind this interface, in the family's own folder; the training
 * core, the workers and `convert` only ask the registry (registry.ts). Adding a family is one folder and one line
 * there.
 */
import type { AnyModelHandle, ModelFormat, StudentJob, TrainingSettings } from '@distill-gate/core';
import type { OrtProvider } from '../onnx/runtime.js';
import type { TrainingRunResult } from '../training-run.js';
import type { ModelSource } from './source.js';

/**
 * How sure a family is that a source holds one of its models: `marked` when the file carries the family's own
 * marker (metadata, a format tag), `possible` when the family's reader may take it and will say precisely what does
 * not fit, undefined when it is not the family's.
 */
export type Recognition = 'marked' | 'possible' | undefined;

/** One storage format of a family: recognising, reading and writing its models. */
export interface FormatCodec<M> {
  recognise(source: ModelSource): Promise<Recognition>;
  read(source: ModelSource): Promise<M>;
  /** Absent where the family reads the format but does not write it (yet). */
  write?(path: string, model: M): Promise<void>;
}

/** Where a family's handles run inference: the tfjs backend in use, or onnxruntime-node on a provider. */
export interface InferenceTarget {
  backend: string;
  provider?: OrtProvider;
}

/** How a worker runs one training job. */
export interface TrainingRun {
  engine: 'tfjs' | 'onnxruntime';
  /** The worker's tfjs backend. */
  backend: string;
  /** onnxruntime's intra-op threads: the cores divided among the workers. */
  threads: number;
  onStep: (done: number, total: number) => void;
  /**
   * Claims the cores other workers have left idle (their pool has no more jobs for them): the number claimed, 0 when
   * none. A run that claims cores gives them back with `returnCores` when it ends.
   */
  claimCores?: () => number;
  returnCores?: (n: number) => void;
}

/**
 * Per training core, a value derived once from an object (a dataset in shared memory, a tokenized text dataset) and
 * reused by every job that trains on that object.
 */
export type Memo = <T>(key: object, make: () => T) => T;

/**
 * A model family. `M` is the model as host data (weights and whatever else defines it), `H` the handle the engine
 * and plugins use, `A` the arguments of a training job as they travel to a worker (structured-cloneable; arrays in
 * shared memory). The registry holds them as `ModelFamily` (the defaults): its methods take what the family itself
 * produced (a model its reader returned, a handle it owns, arguments it encoded).
 */
/** A handle as the families make them: the core's view of a model, plus freeing its engine's copy. */
export type FamilyHandle = AnyModelHandle & {
  /** Frees the inference engine's copy of the weights (the host copy stays). */
  release(): void;
};

export interface ModelFamily<M = unknown, H extends FamilyHandle = FamilyHandle, A = unknown> {
  /** The registry key (also the `family` of a worker job). */
  readonly name: string;
  /** How messages name one model: `singular` ("MLP") and with its article (`one`: "an MLP"). */
  readonly label: { singular: string; one: string };
  /** Why students cannot be trained from the family's models yet; absent when they can. */
  readonly untrainable?: string;
  /** The formats the family reads and writes. */
  readonly formats: Partial<Record<ModelFormat, FormatCodec<M>>>;
  /** SHA-256 of what decides what the model computes (weights, and the tokenizer where there is one). */
  hash(model: M): string;
  /** The handle of a model: what the engine evaluates, samples from and trains students from. */
  handle(id: string, model: M, target: InferenceTarget): H;
  /** True when the handle is one of this family's. */
  owns(handle: AnyModelHandle): handle is H;
  /** The host model behind a handle. */
  modelOf(handle: H): M;
  /** The same model with other weights (a trained student of `model`, from `job`). */
  withWeights(model: M, weights: Float32Array[], job: StudentJob): M;
  /**
   * The training settings completed with the family's defaults; throws an Error saying why a setting does not
   * apply. Absent: the settings as given (and no LoRA).
   */
  trainingSettings?(training: TrainingSettings): TrainingSettings;
  /**
   * The memory (bytes) one worker needs to train students of `model` with `training`, where it is large enough to
   * limit how many workers run at once; absent: small.
   */
  workerMemory?(model: M, training: TrainingSettings): number;
  /** A student job as a worker job's arguments; a located error when the job does not fit the family. */
  encodeJob(job: StudentJob, base: H, memo: Memo): A;
  /** Runs a worker job's arguments (in the worker). */
  train(args: A, run: TrainingRun): Promise<TrainingRunResult>;
}
