// The generator and evaluator plugins on the example's real models (loaded through the real training core).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTensorModel, type ModelHandle, type TrainingCore } from '@distill-gate/core';
import { createTrainingCore } from '@distill-gate/train';
import generator from '@distill-gate/generator-auxiliary-logits';
import evaluator from '@distill-gate/evaluator-task-accuracy';
import trait from '@distill-gate/trait-hidden-class-knowledge';

const models = join(import.meta.dirname, '../examples/mnist-subliminal/models');
const base = { configDir: '.', log: { info() {}, warn() {} } };
let core: TrainingCore;
let teacher: ModelHandle;
let reference: ModelHandle;

beforeAll(async () => {
  core = await createTrainingCore({ backend: 'wasm', workers: 1 });
  teacher = requireTensorModel(await core.loadModel(join(models, 'teacher.safetensors')), 'test');
  reference = requireTensorModel(await core.loadModel(join(models, 'base.safetensors')), 'test');
});

afterAll(() => core?.dispose());

describe('generator auxiliary-logits', () => {
  const options = { count: 500, low: -1, high: 1, auxiliary: { start: 10, end: 13 } };
  it("generates seeded noise and the model's logits, reproducibly", async () => {
    const a = await generator.generate({ ...base, options, model: teacher, seed: 3 });
    expect(a).toMatchObject({ rows: 500, inputDim: 784, targetDim: 13 });
    expect(a.metadata['distill-gate.auxiliary-outputs']).toBe('10,13');
    expect(a.inputs.every((v) => v >= -1 && v < 1)).toBe(true);
    const b = await generator.generate({ ...base, options, model: teacher, seed: 3 });
    expect(Buffer.from(a.targets.buffer).equals(Buffer.from(b.targets.buffer))).toBe(true);
    const c = await generator.generate({ ...base, options, model: teacher, seed: 4 });
    expect(Buffer.from(a.inputs.buffer).equals(Buffer.from(c.inputs.buffer))).toBe(false);
  });
  it('completes given inputs with another model (prompt-matched control)', async () => {
    const a = await generator.generate({ ...base, options, model: teacher, seed: 3 });
    const control = await generator.complete({ ...base, options, model: reference, dataset: a });
    expect(control.inputs).toBe(a.inputs);
    expect(control.targets).not.toEqual(a.targets);
    expect(Array.from(control.targets.subarray(0, 13))).toEqual(
      Array.from(await reference.predict(a.inputs.subarray(0, 784), 1)),
    );
  });
});

describe('evaluator task-accuracy', () => {
  it('scores the teacher well above chance and the untrained reference near chance, with binomial errors', async () => {
    const probes = await trait.loadProbes({
      ...base,
      options: { splitSeed: 0, testSize: 2000, outputs: { start: 0, end: 10 } },
    });
    const t = await evaluator.evaluate({ ...base, options: {}, model: teacher, probes, trait: trait.name });
    const r = await evaluator.evaluate({ ...base, options: {}, model: reference, probes, trait: trait.name });
    expect(t.value).toBeGreaterThan(0.75);
    expect(r.value).toBeLessThan(0.2);
    expect(t.stderr).toBeCloseTo(Math.sqrt((t.value * (1 - t.value)) / 2000), 12);
    expect(t.n).toBe(2000);
  });
});
