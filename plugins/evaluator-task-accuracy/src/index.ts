import { defineEvaluator, requireTensorModel } from '@distill-gate/core';

/**
 * Task accuracy: the share of probes whose highest logit (over the trait's outputs) is the right label. Exact
 * from one forward pass; its standard error is the binomial one, sqrt(p(1-p)/n).
 */
const evaluator = defineEvaluator<Record<string, never>>({
  name: '@distill-gate/evaluator-task-accuracy',
  version: '0.1.0',
  description: "Accuracy of the argmax over the trait's outputs on labelled probes, with its binomial standard error.",
  accepts: ['labelled-inputs'],
  optionsSchema: { type: 'object', additionalProperties: false, properties: {} },
  async evaluate({ model: anyModel, probes }) {
    const model = requireTensorModel(anyModel, 'task-accuracy');
    if (probes.kind !== 'labelled-inputs') throw new Error(`scores labelled-input probes, got ${probes.kind}`);
    const logits = await model.predict(probes.inputs, probes.rows);
    const { start, end } = probes.outputs;
    if (end > model.outputDim)
      throw new Error(`probes read outputs [${start}, ${end}) but the model has ${model.outputDim}`);
    let correct = 0;
    const items = new Array<number>(probes.rows);
    for (let r = 0; r < probes.rows; r++) {
      let best = start;
      for (let k = start + 1; k < end; k++)
        if (logits[r * model.outputDim + k] > logits[r * model.outputDim + best]) best = k;
      items[r] = best - start === probes.labels[r] ? 1 : 0;
      correct += items[r];
    }
    const p = correct / probes.rows;
    return { value: p, stderr: Math.sqrt((p * (1 - p)) / probes.rows), n: probes.rows, metric: 'accuracy', items };
  },
});

export default evaluator;
