import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '@distill-gate/core';
import { DistillGateError } from '@distill-gate/core';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = 'auto' | BackendName;

/** Priority order for `auto`: the first that initialises wins (native, then wasm, then pure JS). */
export const BACKEND_PRIORITY: BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface SelectedBackend extends Omit<BackendInfo, 'workers'> {
  name: BackendName;
  /** The package that provided it (e.g. @tensorflow/tfjs-node-gpu). */
  provider: string;
  providerVersion: string;
}

// Variable names keep the bundlers and TypeScript from resolving these optional packages statically.
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
const require = createRequire(import.meta.url);

async function tryNative(): Promise<{ provider: string; version: string } | string> {
  const reasons: string[] = [];
  for (const name of NATIVE_PACKAGES) {
    try {
      require.resolve(name);
    } catch {
      reasons.push(`${name} not installed`);
      continue;
    }
    try {
      const mod = (await import(name)) as { version?: { 'tfjs-node'?: string } };
      if (tf.findBackend('tensorflow')) return { provider: name, version: mod.version?.['tfjs-node'] ?? 'unknown' };
      reasons.push(`${name} loaded but registered no "tensorflow" backend (a second copy of @tensorflow/tfjs?)`);
    } catch (e) {
      reasons.push(`${name} is installed but failed to load: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return reasons.join('; ');
}

async function activate(
  name: BackendName,
): Promise<{ ok: true; provider: string; version: string; simd?: boolean } | { ok: false; reason: string }> {
  if (name === 'tensorflow') {
    const native = await tryNative();
    if (typeof native === 'string') return { ok: false, reason: native };
    if (!(await tf.setBackend('tensorflow'))) return { ok: false, reason: 'the native backend failed to initialise' };
    return { ok: true, provider: native.provider, version: native.version };
  }
  if (name === 'wasm') {
    try {
      const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { version_wasm: string };
      if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'the wasm backend failed to initialise' };
      await tf.ready();
      const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
      return { ok: true, provider: '@tensorflow/tfjs-backend-wasm', version: wasm.version_wasm, simd };
    } catch (e) {
      return { ok: false, reason: `wasm: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: 'the cpu backend failed to initialise' };
  return { ok: true, provider: '@tensorflow/tfjs-backend-cpu', version: tf.version_core };
}

/**
 * Selects and initialises the tfjs backend in this thread. `auto` tries tensorflow (native, when
 * @tensorflow/tfjs-node(-gpu) can be imported), then wasm, then cpu; a named backend must work or it is an error.
 */
export async function selectBackend(request: BackendRequest = 'auto'): Promise<SelectedBackend> {
  // Production mode: skips tfjs's debug-only checks and its console advert for tfjs-node (we report the backend).
  tf.enableProdMode();
  if (request !== 'auto') {
    const r = await activate(request);
    if (!r.ok) {
      throw new DistillGateError(
        `backend "${request}" is not available: ${r.reason}`,
        {},
        request === 'tensorflow'
          ? 'npm install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu for CUDA), or use --backend wasm'
          : undefined,
      );
    }
    return { name: request, reason: 'requested', provider: r.provider, providerVersion: r.version, simd: r.simd };
  }
  const skipped: string[] = [];
  for (const name of BACKEND_PRIORITY) {
    const r = await activate(name);
    if (r.ok) {
      const reason = skipped.length
        ? `auto: first that initialised (skipped ${skipped.join('; ')})`
        : 'auto: first that initialised';
      return { name, reason, provider: r.provider, providerVersion: r.version, simd: r.simd };
    }
    skipped.push(r.reason);
  }
  throw new DistillGateError(`no tfjs backend could be initialised: ${skipped.join('; ')}`);
}
