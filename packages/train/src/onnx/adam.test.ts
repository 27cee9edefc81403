import { SeededRandom } from '@distill-gate/core';
import { describe, expect, it } from 'vitest';
import { AdamState, adamReference } from './adam.js';

describe('the WebAssembly Adam kernel', () => {
  const sizes = [1, 7, 256, 3 * 13 + 2, 1000];
  const rng = new SeededRandom(3);
  const initial = sizes.map((n) => rng.fillNormal(new Float32Array(n), 1));

  it('takes the steps of the plain loop bit for bit, odd lengths and padding included', () => {
    const lr = 3e-4;
    const state = new AdamState(initial, lr);
    const ref = initial.map((x) => ({ p: x.slice(), m: new Float32Array(x.length), v: new Float32Array(x.length) }));
    for (let t = 1; t <= 40; t++) {
      state.grads.forEach((g, i) => {
        rng.fillNormal(g, t % 7 === 0 ? 1e-6 : 10);
        if (t === 5) g.fill(0);
        adamReference(ref[i].p, ref[i].m, ref[i].v, g, t, lr);
      });
      state.update();
    }
    state.values.forEach((p, i) => {
      expect(Buffer.from(p.buffer, p.byteOffset, p.byteLength)).toEqual(Buffer.from(ref[i].p.buffer));
      expect(Array.from(state.m[i])).toEqual(Array.from(ref[i].m));
      expect(Array.from(state.v[i])).toEqual(Array.from(ref[i].v));
    });
    // The parameters did move.
    expect(state.values[4]).not.toEqual(initial[4]);
  });

  it('starts over on reset: the first step again', () => {
    const state = new AdamState(initial, 1e-2);
    const g = initial.map((x) => rng.fillNormal(new Float32Array(x.length), 1));
    const once = () => {
      state.grads.forEach((a, i) => a.set(g[i]));
      state.update();
      return state.values.map((a) => a.slice());
    };
    const first = once();
    once();
    state.reset(initial);
    expect(once()).toEqual(first);
    expect(state.values[0]).not.toEqual(initial[0]);
  });
});
