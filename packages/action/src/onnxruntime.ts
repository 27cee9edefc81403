/**
 * onnxruntime-node for the Action. Its native libraries (~290 MB unpacked, every platform) are too large for the
 * committed bundle, so the Action installs the tested version with npm into the runner's tool cache on first use
 * (CPU provider; install scripts off) and points distill-gate at it. Training and inference then run on
 * onnxruntime-node, several times faster than tfjs-wasm (docs/performance.md); where the install fails they run on
 * tfjs-wasm, and the run says why.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ONNXRUNTIME_NODE_VERSION } from '@distill-gate/train';
import type { OnnxRuntimeInput } from '@distill-gate/core';

/** The onnxruntime input (the settings table's onnxruntime row). */
export type { OnnxRuntimeInput };

const INSTALL_TIMEOUT_MS = 300_000;

/** Where the Action keeps onnxruntime-node: the runner's tool cache (cacheable with actions/cache), else a temp dir. */
export function onnxRuntimeDir(env: NodeJS.ProcessEnv): string {
  return join(env.RUNNER_TOOL_CACHE || tmpdir(), 'distill-gate', `onnxruntime-node-${ONNXRUNTIME_NODE_VERSION}`);
}

/**
 * Makes onnxruntime-node importable for this run (sets DISTILL_GATE_ONNXRUNTIME_DIR) unless the input says skip.
 * Returns a line for the log. Never throws: without onnxruntime-node the check runs on tfjs.
 */
export async function provideOnnxRuntime(
  mode: OnnxRuntimeInput,
  env: NodeJS.ProcessEnv,
): Promise<{ dir?: string; message: string }> {
  if (mode === 'skip')
    return { message: 'onnxruntime-node: skipped (input onnxruntime: skip); training and inference run on tfjs' };
  const dir = onnxRuntimeDir(env);
  const installed = () => existsSync(join(dir, 'node_modules', 'onnxruntime-node', 'package.json'));
  // distill-gate reads the variable from process.env (its training workers inherit it).
  const use = () => {
    env.DISTILL_GATE_ONNXRUNTIME_DIR = dir;
    process.env.DISTILL_GATE_ONNXRUNTIME_DIR = dir;
  };
  if (installed()) {
    use();
    return { dir, message: `onnxruntime-node ${ONNXRUNTIME_NODE_VERSION}: from ${dir}` };
  }
  const t0 = Date.now();
  try {
    await promisify(execFile)(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        `onnxruntime-node@${ONNXRUNTIME_NODE_VERSION}`,
      ],
      {
        env: { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
        maxBuffer: 16 << 20,
        // A runner without the registry must not stall the check: give up and run on tfjs.
        timeout: INSTALL_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      },
    );
    if (!installed()) throw new Error(`npm finished but ${join(dir, 'node_modules', 'onnxruntime-node')} is missing`);
  } catch (e) {
    const err = e as { stderr?: string; killed?: boolean; message: string };
    const reason = err.killed
      ? `npm did not finish in ${INSTALL_TIMEOUT_MS / 1000} s`
      : (err.stderr || err.message).trim().split('\n').slice(-3).join(' ');
    return {
      message:
        `onnxruntime-node ${ONNXRUNTIME_NODE_VERSION} could not be installed (${reason}); ` +
        'training and inference run on tfjs',
    };
  }
  use();
  return {
    dir,
    message:
      `onnxruntime-node ${ONNXRUNTIME_NODE_VERSION}: installed into ${dir} ` +
      `in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  };
}
