import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SeededRandom, type StudentJob } from '@distill-gate/core';
import { selectBackend } from '../backend.js';
import { initMlp } from '../families/mlp/model.js';
import { MlpHandle } from '../families/mlp/handle.js';
import { createTrainingCore } from '../training-core.js';
import { familyNamed } from '../families/registry.js';
import { startWorker, WorkerPool, workerEntry } from './pool.js';
import type { FromWorker, WorkerJob } from './protocol.js';
import { trainMlp } from '../families/mlp/trainer.js';

/** A small MLP task: 64 rows of 8 inputs, 2 soft targets on outputs 2-4 of an [8, 8, 4] MLP, 2 steps an epoch. */
const small = { layers: [8, 8, 4] };
function smallTask(seed: number) {
  const rng = new SeededRandom(seed);
  const data = {
    rows: 64,
    inputDim: 8,
    targetDim: 2,
    inputs: rng.fillUniform(new Float32Array(64 * 8), -1, 1),
    targets: rng.fillNormal(new Float32Array(64 * 2), 1),
    metadata: {},
  };
  const training = {
    epochs: 1,
    batchSize: 32,
    learningRate: 0.01,
    loss: 'softmax-kl' as const,
    outputs: { start: 2, end: 4 },
  };
  return { data, training };
}

describe('parallel probe students (worker_threads)', () => {
  it('give the same weights as training in this thread, in job order', async () => {
    const core = await createTrainingCore({ backend: 'wasm', trainer: 'tfjs', workers: 2 });
    expect(core.backend).toMatchObject({ name: 'wasm', workers: 2 });
    const layers = [16, 24, 6];
    const base = new MlpHandle('base', initMlp(layers, 0), 'wasm');
    const rows = 512;
    const rng = new SeededRandom(1);
    const data = {
      rows,
      inputDim: 16,
      targetDim: 3,
      inputs: rng.fillUniform(new Float32Array(rows * 16), -1, 1),
      targets: rng.fillNormal(new Float32Array(rows * 3), 1),
      metadata: {},
    };
    const training = {
      epochs: 2,
      batchSize: 64,
      learningRate: 0.003,
      loss: 'softmax-kl' as const,
      outputs: { start: 3, end: 6 },
    };
    const jobs: StudentJob[] = [1, 2, 3].map((seed) => ({
      id: `probe:x:${seed}`,
      role: 'probe',
      seed,
      init: base,
      data,
      training,
    }));
    const progress: number[] = [];
    const trained = await core.trainStudents(jobs, (p) => progress.push(p.completedSteps));
    expect(trained.map((t) => t.jobId)).toEqual(jobs.map((j) => j.id));
    expect(progress.at(-1)).toBe(3 * 2 * 8);
    await selectBackend('wasm');
    const local = trainMlp({ layers, init: base.params.tensors, data, ...training, seed: 2, backend: 'wasm' });
    const remote = (trained[1].model as MlpHandle).params.tensors;
    local.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(remote[i].buffer))).toBe(true));
    expect(trained[0].model.sha256).not.toBe(trained[1].model.sha256);
    await core.dispose();
  });

  it('start no job after the deadline: the running ones finish, the rest come back missing', async () => {
    const core = await createTrainingCore({ backend: 'wasm', trainer: 'tfjs', workers: 1 });
    const base = new MlpHandle('base', initMlp(small.layers, 0), 'wasm');
    const { data, training } = smallTask(2);
    const jobs: StudentJob[] = [1, 2].map((seed) => ({
      id: `j${seed}`,
      role: 'probe',
      seed,
      init: base,
      data,
      training,
    }));
    expect(await core.trainStudents(jobs, undefined, { deadline: Date.now() - 1 })).toEqual([]);
    expect((await core.trainStudents(jobs, undefined, { deadline: Date.now() + 600_000 })).map((t) => t.jobId)).toEqual(
      ['j1', 'j2'],
    );
    await core.dispose();
  });

  it('are kept from run to run: started early, the same threads serve every run; a failed run ends them', async () => {
    const base = new MlpHandle('base', initMlp(small.layers, 0), 'cpu');
    const { data, training } = smallTask(3);
    const mlp = familyNamed('mlp');
    const memo = <T>(_key: object, make: () => T) => make();
    const jobs = (ids: string[], family = 'mlp'): WorkerJob[] =>
      ids.map((id, i) => ({
        jobId: id,
        family,
        engine: 'tfjs',
        args: mlp.encodeJob({ id, role: 'probe', seed: i + 1, init: base, data, training }, base, memo),
      }));
    const pool = new WorkerPool('cpu');
    try {
      pool.start(2);
      const started = pool.threadIds();
      expect(started).toHaveLength(2);
      const first = await pool.run(jobs(['a', 'b', 'c']), { workers: 2 });
      expect(first.map((r) => r?.jobId)).toEqual(['a', 'b', 'c']);
      const second = await pool.run(jobs(['d']), { workers: 2 });
      expect(second.map((r) => r?.steps)).toEqual([2]);
      expect(pool.threadIds()).toEqual(started);
      // The same job in a later run trains the same weights.
      const again = await pool.run(jobs(['a']), { workers: 1 });
      again[0]!.weights.forEach((w, i) => expect(w).toEqual(first[0]!.weights[i]));
      await expect(pool.run(jobs(['x'], 'no-such-family'), { workers: 2 })).rejects.toThrow(/training x failed/);
      expect(pool.threadIds()).toEqual([]);
      const fresh = await pool.run(jobs(['e', 'f']), { workers: 2 });
      expect(fresh.map((r) => r?.jobId)).toEqual(['e', 'f']);
      expect(pool.threadIds().some((id) => started.includes(id))).toBe(false);
    } finally {
      await pool.close();
    }
    expect(pool.threadIds()).toEqual([]);
  });

  it('run the code their caller runs: the TypeScript sources here, not a build of them', async () => {
    expect(workerEntry.href).toBe(new URL('./student-worker.ts', import.meta.url).href);
    const worker = startWorker();
    try {
      const ready = await new Promise<FromWorker>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ type: 'init', backend: 'cpu' });
      });
      expect(ready).toEqual({ type: 'ready', backend: 'cpu', module: workerEntry.href });
    } finally {
      await worker.terminate();
    }
  });

  const dist = new URL('../../dist/workers/pool.js', import.meta.url);
  it.skipIf(!existsSync(dist))('run the compiled worker beside the compiled pool', () => {
    const script = [
      `const { startWorker } = await import(${JSON.stringify(dist.href)});`,
      'const w = startWorker();',
      "w.once('message', async (m) => { console.log(m.module); await w.terminate(); });",
      "w.postMessage({ type: 'init', backend: 'cpu' });",
    ].join('\n');
    const file = join(mkdtempSync(join(tmpdir(), 'dg-pool-')), 'start.mjs');
    writeFileSync(file, script);
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
    expect(out.trim()).toBe(new URL('./student-worker.js', dist).href);
    expect(existsSync(fileURLToPath(new URL('./student-worker.js', dist)))).toBe(true);
  });
});
