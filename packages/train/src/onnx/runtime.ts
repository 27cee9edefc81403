/**
 * onnxruntime-node, loaded lazily (only when a model runs in it), and what it offers on this machine: the CPU
 * execution provider always, CUDA where its provider library, a driver and a session start all work.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DistillGateError } from '@distill-gate/core';
import onnxProto from 'onnx-proto';
import { floatInitializer, OPSET, valueInfo } from './proto.js';

const { onnx } = onnxProto;

type Ort = typeof import('onnxruntime-node');

/** The smallest graph a CUDA session is started on to see that the provider works: y = x * 1 + 0, [1, 1]. */
function cudaProbeGraph(): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'cuda-probe',
    node: [
      onnx.NodeProto.create({ opType: 'MatMul', input: ['x', 'w'], output: ['mm'], name: 'matmul' }),
      onnx.NodeProto.create({ opType: 'Add', input: ['mm', 'b'], output: ['y'], name: 'add' }),
    ],
    initializer: [floatInitializer('w', [1, 1], Float32Array.of(1)), floatInitializer('b', [1], Float32Array.of(0))],
    input: [valueInfo('x', ['rows', 1])],
    output: [valueInfo('y', ['rows', 1])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'distill-gate',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
let ortModule: Promise<Ort> | undefined;

/** The onnxruntime-node version distill-gate is built and tested against (what the GitHub Action installs). */
export const ONNXRUNTIME_NODE_VERSION = '1.30.0';

/**
 * Where onnxruntime-node is resolved from: the folder named by DISTILL_GATE_ONNXRUNTIME_DIR (one holding
 * node_modules/onnxruntime-node, such as the one the GitHub Action installs into the runner's tool cache), else
 * this package's own dependencies.
 */
function ortRequire(): NodeJS.Require {
  const dir = process.env.DISTILL_GATE_ONNXRUNTIME_DIR;
  return createRequire(dir ? join(resolve(dir), 'package.json') : import.meta.url);
}

/** The folder of the onnxruntime-node package distill-gate uses (its script/ installs the CUDA provider). */
export function onnxRuntimeDir(): string {
  return dirname(ortRequire().resolve('onnxruntime-node/package.json'));
}

/**
 * onnxruntime-node 1.30's Linux and macOS builds collect telemetry: creating a session writes a device id and an
 * SQLite database under ~/.cache/Microsoft/DeveloperTools and `mat-debug-<pid>.log` and `.ses` files into the system
 * temp folder, outside every folder the user named. ORT_DISABLE_TELEMETRY=1, set before onnxruntime initialises,
 * turns all of it off (the environment is process-wide, so worker threads inherit it). A user who sets the variable
 * themselves keeps their choice.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** onnxruntime-node, imported on first use; a clear error where it is not installed. */
export function loadOnnxRuntime(): Promise<Ort> {
  const from = process.env.DISTILL_GATE_ONNXRUNTIME_DIR;
  ortModule ??= (
    from ? Promise.resolve().then(() => ortRequire()('onnxruntime-node') as Ort) : import('onnxruntime-node')
  ).catch((e: Error) => {
    ortModule = undefined;
    throw new DistillGateError(
      `onnxruntime-node is not available (${e.message.split('\n')[0]})`,
      {},
      'reinstall distill-gate (npm install --save-dev distill-gate): @distill-gate/train bundles onnxruntime-node',
    );
  });
  return ortModule;
}

export type OrtProvider = 'cpu' | 'cuda';

/** What onnxruntime-node offers on this machine, and why the CUDA provider is or is not usable. */
export interface OrtAvailability {
  version: string;
  /** The provider distill-gate uses: cuda where it works, else cpu. */
  provider: OrtProvider;
  cuda: { available: boolean; reason: string };
}

let availability: Promise<OrtAvailability> | undefined;

/**
 * Detects the execution providers: CPU is always bundled; CUDA needs onnxruntime's CUDA provider library (not on
 * npm: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` downloads it), an NVIDIA driver, and a session that starts on it.
 */
export function detectOrtProviders(): Promise<OrtAvailability> {
  availability ??= (async () => {
    const ort = await loadOnnxRuntime();
    const version = ort.env.versions?.node ?? 'unknown';
    const cuda = await (async (): Promise<OrtAvailability['cuda']> => {
      const listed = ort.listSupportedBackends().find((b) => b.name === 'cuda');
      if (!listed)
        return {
          available: false,
          reason: `this onnxruntime-node build (${process.platform}-${process.arch}) has no CUDA provider`,
        };
      const binDir = join(
        dirname(ortRequire().resolve('onnxruntime-node')),
        '..',
        'bin',
        'napi-v6',
        process.platform,
        process.arch,
      );
      if (!existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'))) {
        return {
          available: false,
          reason:
            'the CUDA provider library is not installed (run `npx distill-gate setup-cuda` on a machine that can ' +
            'download it)',
        };
      }
      if (!existsSync('/proc/driver/nvidia/version'))
        return { available: false, reason: 'no NVIDIA driver on this machine (/proc/driver/nvidia/version is absent)' };
      try {
        const probe = await ort.InferenceSession.create(cudaProbeGraph(), { executionProviders: ['cuda'] });
        await probe.release();
        return { available: true, reason: 'the CUDA provider started a session' };
      } catch (e) {
        return {
          available: false,
          reason: `the CUDA provider failed to start: ${(e as Error).message.split('\n')[0]}`,
        };
      }
    })();
    return { version, provider: cuda.available ? 'cuda' : 'cpu', cuda };
  })();
  return availability;
}
