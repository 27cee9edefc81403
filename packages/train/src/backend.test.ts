import { describe, expect, it } from 'vitest';
import { DistillGateError } from '@distill-gate/core';
import { selectBackend } from './backend.js';

let nativeInstalled = true;
try {
  await import('@tensorflow/tfjs-node' as string);
} catch {
  nativeInstalled = false;
}

describe('backend selection', () => {
  it.skipIf(nativeInstalled)('auto falls back past the missing native backend to wasm and says why', async () => {
    const b = await selectBackend('auto');
    expect(b.name).toBe('wasm');
    expect(b.reason).toContain('@tensorflow/tfjs-node not installed');
    expect(b.simd).toBe(true);
  });
  it.skipIf(nativeInstalled)('a requested backend that is missing is a clear error', async () => {
    const e = await selectBackend('tensorflow').catch((x) => x);
    expect(e).toBeInstanceOf(DistillGateError);
    expect(e.hint).toContain('npm install @tensorflow/tfjs-node');
  });
  it('honours an explicit request', async () => {
    expect((await selectBackend('cpu')).name).toBe('cpu');
    expect((await selectBackend('wasm')).name).toBe('wasm');
  });
});
