import { describe, expect, it } from 'vitest';
import { defineFilter, defineTrait } from '../contracts.js';
import { linearModel, testPlugin } from './testkit.js';

const clip = defineFilter<{ maxAbs: number }>({
  name: 'clip',
  version: '1.0.0',
  description: 'drops records with large targets',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { maxAbs: { type: 'number', exclusiveMinimum: 0, default: 2 } },
  },
  test: (r, { options }) =>
    r.target.every((v) => Math.abs(v) <= options.maxAbs) ? { keep: true } : { keep: false, reason: 'too large' },
});

describe('testPlugin', () => {
  it('passes a well-formed plugin and checks valid and invalid options', async () => {
    await testPlugin(clip, {
      valid: [{}, { maxAbs: 5 }],
      invalid: [
        { options: { maxAbs: 0 }, pointer: '/maxAbs' },
        { options: { maxabs: 1 }, pointer: '/maxabs' },
      ],
    });
  });
  it('reports every problem of a broken plugin at once', async () => {
    const broken = defineTrait({
      name: 'broken',
      version: 'one',
      description: '',
      probeKind: 'labelled-inputs',
      optionsSchema: { type: 'object' },
      loadProbes: async () => ({
        kind: 'labelled-inputs',
        description: '',
        rows: 2,
        inputDim: 3,
        inputs: new Float32Array(5),
        labels: Int32Array.of(0, 12),
        outputs: { start: 0, end: 10 },
      }),
    });
    const e = (await testPlugin(broken).catch((x: unknown) => x)) as Error;
    expect(e.message).toContain('"description" must be a non-empty string');
    const ok = { ...broken, description: 'x', version: '1.0.0' };
    const e2 = (await testPlugin(ok).catch((x: unknown) => x)) as Error;
    expect(e2.message).toContain('probes: 5 inputs for 2 rows of 3');
    expect(e2.message).toContain('a label lies outside the 10 outputs');
    expect(e2.message).toContain('probes: description is empty');
  });
  it('flags an invalid-options case the schema accepts', async () => {
    const e = (await testPlugin(clip, { invalid: [{ options: { maxAbs: 3 }, pointer: '/maxAbs' }] }).catch(
      (x: unknown) => x,
    )) as Error;
    expect(e.message).toContain('invalid[0] was accepted');
  });
  it('gives a deterministic linear model', async () => {
    const a = await linearModel(4, 3, 7).predict(Float32Array.of(1, 0, 0, 0), 1);
    const b = await linearModel(4, 3, 7).predict(Float32Array.of(1, 0, 0, 0), 1);
    expect([...a]).toEqual([...b]);
  });
});
