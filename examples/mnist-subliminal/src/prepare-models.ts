/**
 * Regenerates the example's committed models, deterministically (see writeMnistModels in distill-gate):
 * models/base.safetensors, models/teacher.safetensors, models/teacher-different-init.safetensors.
 * Usage: npm run prepare-models -w examples/mnist-subliminal [-- --backend wasm]
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeMnistModels } from 'distill-gate';
import { selectBackend, type BackendRequest } from '@distill-gate/train';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const arg = process.argv.indexOf('--backend');
const backend = await selectBackend((arg > 0 ? process.argv[arg + 1] : 'wasm') as BackendRequest);
await writeMnistModels(here, backend.name, { info: (m) => console.log(m), warn: (m) => console.warn(m) });
