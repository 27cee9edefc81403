// Starts a training worker from the TypeScript sources (see workerEntry in pool.ts): registers the loader that
// compiles .ts modules on import, then imports the worker's entry module.
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';

register(new URL('./source-loader.mjs', import.meta.url));
await import(workerData.entry);
