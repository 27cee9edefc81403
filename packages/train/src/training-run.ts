/** What every training run takes besides the model and the data: Adam on seeded minibatches. */
export interface TrainingRunArgs {
  /** The initial parameters, in the model's storage order. */
  init: Float32Array[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the minibatch order. */
  seed: number;
  /** The tfjs backend in use (selects the wasm-specific ops). */
  backend: string;
  /** Called after every step with (completed, total). */
  onStep?: (completed: number, total: number) => void;
}

/** The result of a training run: final weights and the loss curve. */
export interface TrainingRunResult {
  weights: Float32Array[];
  /** Mean loss per epoch. */
  lossHistory: number[];
  steps: number;
  ms: number;
}

export function stepsPerEpoch(rows: number, batchSize: number): number {
  return Math.ceil(rows / batchSize);
}
