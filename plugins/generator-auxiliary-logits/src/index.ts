import {
  requireTensorDataset,
  requireTensorModel,
  defineGenerator,
  SeededRandom,
  type ModelHandle,
  type TensorDataset,
} from '@distill-gate/core';

export interface AuxiliaryLogitsOptions {
  /** Number of noise inputs to generate. */
  count: number;
  /** Noise range: uniform in [low, high). */
  low: number;
  high: number;
  /** Which outputs are auxiliary (never supervised by the task); recorded in the dataset's metadata. */
  auxiliary: { start: number; end: number };
}

function describe(
  model: ModelHandle,
  options: AuxiliaryLogitsOptions,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    'distill-gate.generator': generator.name,
    'distill-gate.generator-version': generator.version,
    'distill-gate.model-sha256': model.sha256,
    'distill-gate.auxiliary-outputs': `${options.auxiliary.start},${options.auxiliary.end}`,
    ...extra,
  };
}

/**
 * A model's logits on uniform noise images: the "innocent-looking" data of the paper's MNIST experiment. Records
 * hold every output; a filter then removes the explicit (class) outputs.
 */
const generator = defineGenerator<AuxiliaryLogitsOptions, TensorDataset>({
  name: '@distill-gate/generator-auxiliary-logits',
  version: '0.1.0',
  description:
    "A model's logits (all outputs) on seeded uniform noise inputs; or on given inputs, for prompt-matched controls.",
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, default: 60000 },
      low: { type: 'number', default: -1 },
      high: { type: 'number', default: 1 },
      auxiliary: {
        type: 'object',
        additionalProperties: false,
        required: ['start', 'end'],
        properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 1 } },
        default: { start: 10, end: 13 },
      },
    },
  },
  async generate({ options, model: anyModel, seed, log }): Promise<TensorDataset> {
    const model = requireTensorModel(anyModel, 'auxiliary-logits');
    if (!(options.high > options.low))
      throw new Error(`options.high (${options.high}) must be greater than options.low (${options.low})`);
    log.info(`generating ${options.count} noise inputs (seed ${seed}) and their logits from ${model.id}`);
    const inputs = new SeededRandom(seed)
      .fork('noise-inputs')
      .fillUniform(new Float32Array(options.count * model.inputDim), options.low, options.high);
    const targets = await model.predict(inputs, options.count);
    return {
      rows: options.count,
      inputDim: model.inputDim,
      targetDim: model.outputDim,
      inputs,
      targets,
      metadata: describe(model, options, {
        'distill-gate.noise': `uniform[${options.low},${options.high}) seed ${seed}`,
      }),
    };
  },
  async complete({ options, model: anyModel, dataset: anyDataset }): Promise<TensorDataset> {
    const model = requireTensorModel(anyModel, 'auxiliary-logits');
    const dataset = requireTensorDataset(anyDataset, 'auxiliary-logits');
    const targets = await model.predict(dataset.inputs, dataset.rows);
    return {
      rows: dataset.rows,
      inputDim: dataset.inputDim,
      targetDim: model.outputDim,
      inputs: dataset.inputs,
      targets,
      metadata: describe(model, options, {
        'distill-gate.inputs': 'copied from the dataset under review (prompt-matched)',
      }),
    };
  },
});

export default generator;
