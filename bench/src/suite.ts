/**
 * distill-gate's benchmark suite against PyTorch CPU on the same machine (`npm run bench`; nx: `npx nx run
 * @distill-gate/bench:bench`). Every workload is written once to a work folder (initial weights, data, minibatch
 * orders, token batches) and run by each engine in its own child process with the same thread count, so the
 * numbers compare the same computation and each process's peak memory is its own:
 *   - distill-gate: tfjs-wasm and onnxruntime-node (this file, `--child`);
 *   - PyTorch: bench/torch/bench.py, with Debian's python3-torch (apt-get install python3-torch libopenblas0-pthread).
 * Results: bench/results/bench.json and bench/results/bench.md (or --out DIR).
 *
 * Usage: npm run bench [-- --only mlp-step,gate,hf-score,hf-lora,memory --scale 1 --out DIR --python PATH]
 *        [--quick: steps, evaluation, generation and the gate (3 seeds) once each, about 2 minutes]
 *        memory only: [--memory-records 500,5000,20000 --memory-rows 2000,60000,240000] (sizes above 20,000
 *        text records or 240,000 rows repeat the largest generated dataset listed before them)
 *        hf-score and hf-lora only: [--hf-shapes gpt2-124m,qwen2.5-0.5b --hf-rounds 3] (bench/src/hf-score.ts,
 *        bench/src/hf-lora.ts)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SeededRandom, writeFileAtomic } from '@distill-gate/core';
import {
  buildLmBatch,
  createTrainingCore,
  encodeRecords,
  initMlp,
  LanguageModel,
  loadLanguageModel,
  MlpHandle,
  OnnxLmEngine,
  OnnxMlpSession,
  BOS,
  SEP,
  EOS,
  MlpModel,
  loadMlp,
  readTensorDataset,
  selectBackend,
  trainLm,
  trainMlp,
  trainMlpOnnx,
  trainLmOnnx,
  type LmTrainingData,
  type MlpParameters,
  type TextPair,
} from '@distill-gate/train';
import { loadDigitSplit } from '@distill-gate/trait-hidden-class-knowledge';
import { runHfLora } from './hf-lora.js';
import { runMemory } from './memory.js';
import { runHfScore } from './hf-score.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const MLP = [784, 256, 256, 13];
const AUX = { start: 10, end: 13 };

// ---------------------------------------------------------------------------------------------------------------
// Child mode: one workload on one distill-gate engine; prints a JSON line with the time and the peak memory.

type Spec = { kind: string; engine: string; threads: number; dir: string; [k: string]: unknown };

const f32 = (dir: string, name: string) => {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
};
const peakMiB = () => process.resourceUsage().maxRSS / 1024;

/**
 * A training run's clock: `ms` is the whole run (set-up included), `msPerStep` the steady state, from the end of the
 * first step to the end of the last, as the PyTorch script measures it (bench.py).
 */
function stepClock() {
  const t0 = performance.now();
  let first = t0;
  return {
    onStep: (done: number) => {
      if (done === 1) first = performance.now();
    },
    end: (steps: number) => {
      const end = performance.now();
      return { ms: end - t0, msPerStep: steps > 1 ? (end - first) / (steps - 1) : end - t0 };
    },
  };
}

async function child(spec: Spec): Promise<Record<string, unknown>> {
  const d = spec.dir;
  if (spec.engine.startsWith('tfjs')) await selectBackend('wasm');
  const mlpInit = () => (spec.init as string[]).map((f) => f32(d, f));
  if (spec.kind === 'mlp-train') {
    const rows = spec.rows as number;
    const data = {
      rows,
      inputDim: MLP[0],
      inputs: f32(d, spec.x as string),
      targets: f32(d, spec.target as string),
      targetDim: 3,
    };
    const layers = (spec.layers as number[] | undefined) ?? MLP;
    const common = {
      layers,
      data,
      loss: 'softmax-kl' as const,
      outputs: AUX,
      epochs: spec.epochs as number,
      batchSize: spec.batchSize as number,
      learningRate: 3e-4,
    };
    const clock = stepClock();
    let r;
    if (spec.engine === 'onnxruntime')
      [r] = await trainMlpOnnx({
        ...common,
        inits: [mlpInit()],
        seeds: [spec.seed as number],
        threads: spec.threads,
        onStep: clock.onStep,
      });
    else r = trainMlp({ ...common, init: mlpInit(), seed: spec.seed as number, backend: 'wasm', onStep: clock.onStep });
    return { ...clock.end(r.steps), steps: r.steps, lossHistory: r.lossHistory };
  }
  if (spec.kind === 'gate') {
    // The CLI in this process, so that the peak memory covers its training workers too.
    const { main } = await import('distill-gate');
    const t0 = performance.now();
    const exit = await main(
      [
        'node',
        'distill-gate',
        'check',
        '--config',
        spec.config as string,
        '--seeds',
        String(spec.seeds ?? 5),
        '--no-cache',
        '--report-dir',
        spec.reportDir as string,
      ],
      { stdout: process.stderr, stderr: process.stderr },
    );
    return { ms: performance.now() - t0, exit };
  }
  if (spec.kind === 'check') {
    // Any distill-gate command line, in its own folder; the peak memory covers the training workers too.
    const { main } = await import('distill-gate');
    process.chdir(spec.cwd as string);
    const t0 = performance.now();
    const exit = await main(['node', 'distill-gate', ...(spec.args as string[])], {
      stdout: process.stderr,
      stderr: process.stderr,
    });
    return { ms: performance.now() - t0, exit };
  }
  if (spec.kind === 'mlp-batched') {
    // S students on one thread: one after another (S = 1 per graph), or together as one batched graph.
    const rows = spec.rows as number;
    const data = {
      rows,
      inputDim: MLP[0],
      inputs: f32(d, spec.x as string),
      targets: f32(d, spec.target as string),
      targetDim: 3,
    };
    const n = spec.students as number;
    const inits = Array.from({ length: n }, (_, i) => initMlp(MLP, i + 1).tensors);
    const seeds = inits.map((_, i) => i + 1);
    const common = {
      layers: MLP,
      data,
      loss: 'softmax-kl' as const,
      outputs: AUX,
      epochs: 1,
      batchSize: spec.batchSize as number,
      learningRate: 3e-4,
      threads: 1,
    };
    const t0 = performance.now();
    if (spec.engine === 'onnxruntime-batched') await trainMlpOnnx({ ...common, inits, seeds });
    else for (let i = 0; i < n; i++) await trainMlpOnnx({ ...common, inits: [inits[i]], seeds: [seeds[i]] });
    return { ms: performance.now() - t0 };
  }
  if (spec.kind === 'mlp-students') {
    // The product path: the training core's worker pool, one worker per core.
    const rows = spec.rows as number;
    const core = await createTrainingCore({
      backend: 'wasm',
      trainer: spec.engine === 'onnxruntime' ? 'onnxruntime' : 'tfjs',
      inference: 'tfjs',
      workers: spec.threads,
    });
    const base = new MlpHandle('base', { layers: spec.layers as number[], tensors: mlpInit() }, 'wasm');
    const dataset = {
      rows,
      inputDim: MLP[0],
      targetDim: 3,
      inputs: f32(d, spec.x as string),
      targets: f32(d, spec.target as string),
      metadata: {},
    };
    const jobs = Array.from({ length: spec.students as number }, (_, i) => ({
      id: `s${i}`,
      role: 'probe' as const,
      seed: i + 1,
      init: base,
      data: dataset,
      training: {
        epochs: spec.epochs as number,
        batchSize: spec.batchSize as number,
        learningRate: 3e-4,
        loss: 'softmax-kl' as const,
        outputs: AUX,
      },
    }));
    const t0 = performance.now();
    const out = await core.trainStudents(jobs);
    const ms = performance.now() - t0;
    await core.dispose();
    return { ms, students: out.length, lossHistory: out[0].lossHistory };
  }
  if (spec.kind === 'mlp-eval') {
    const params: MlpParameters = { layers: MLP, tensors: mlpInit() };
    const rows = spec.rows as number;
    const x = f32(d, spec.x as string);
    const times: number[] = [];
    let out: Float32Array = new Float32Array();
    if (spec.engine === 'onnxruntime') {
      const s = await OnnxMlpSession.create(params, { threads: spec.threads });
      for (let k = 0; k < (spec.repeats as number); k++) {
        const t0 = performance.now();
        out = await s.predict(x, rows);
        times.push(performance.now() - t0);
      }
      await s.release();
    } else {
      const m = new MlpModel(MLP, params.tensors, 'wasm', false);
      for (let k = 0; k < (spec.repeats as number); k++) {
        const t0 = performance.now();
        out = m.predict(x, rows, 8192);
        times.push(performance.now() - t0);
      }
    }
    return { ms: times.sort((a, b) => a - b)[times.length >> 1], checksum: out.reduce((a, b) => a + b, 0) };
  }
  const lm = await loadLanguageModel(join(repo, 'examples/owl-numbers/models/base.json'));
  const records = JSON.parse(
    readFileSync(join(d, (spec.recordsFile as string | undefined) ?? 'lm-records.json'), 'utf8'),
  ) as TextPair[];
  if (spec.kind === 'lm-train') {
    const data = encodeRecords(lm.tokenizer, records.slice(0, spec.records as number), lm.config.contextLength);
    const clock = stepClock();
    const common = {
      config: lm.config,
      init: lm.tensors,
      data,
      epochs: spec.epochs as number,
      batchSize: 32,
      learningRate: 1e-3,
      seed: 1,
      onStep: clock.onStep,
    };
    const r =
      spec.engine === 'onnxruntime'
        ? await trainLmOnnx({ ...common, threads: spec.threads })
        : trainLm({ ...common, backend: 'wasm' });
    return { ...clock.end(r.steps), steps: r.steps, lossHistory: r.lossHistory };
  }
  const model = new LanguageModel(
    { config: lm.config, tensors: lm.tensors },
    lm.tokenizer,
    spec.engine === 'onnxruntime' ? (p) => OnnxLmEngine.create(p, { threads: spec.threads }) : 'wasm',
  );
  if (spec.kind === 'lm-eval') {
    const pairs = records.slice(0, spec.records as number);
    const times: number[] = [];
    let sum = 0;
    for (let k = 0; k < (spec.repeats as number); k++) {
      const t0 = performance.now();
      sum = (await model.sequenceLogProbs(pairs)).reduce((a, b) => a + b, 0);
      times.push(performance.now() - t0);
    }
    return { ms: times.sort((a, b) => a - b)[times.length >> 1], sumLogProb: sum };
  }
  if (spec.kind === 'lm-generate') {
    const prompts = records.slice(0, spec.count as number).map((r) => r.prompt);
    const t0 = performance.now();
    const out = await model.generate(prompts, { temperature: 1, topP: 1, maxTokens: spec.maxNew as number, seed: 1 });
    const ms = performance.now() - t0;
    const tokens = out.reduce((a, c) => a + lm.tokenizer.encode(c.completion).length + (c.finished ? 1 : 0), 0);
    // (tokens counts what the completions hold; rows that finished early still take part in later batch steps.)
    return { ms, tokens, tokensPerSecond: (tokens / ms) * 1000 };
  }
  throw new Error(`unknown workload ${spec.kind}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Parent mode: writes the shared inputs, runs every engine, prints and writes the table.

interface Row {
  workload: string;
  what: string;
  metric: string;
  engines: Record<string, { value: number; peakMiB?: number; detail?: Record<string, unknown> }>;
  /** distill-gate's best engine over PyTorch (higher = slower than PyTorch), where both ran. */
  ratio?: number;
  goal?: string;
}

function findPython(explicit?: string): { path: string; version: string } | { error: string } {
  const candidates = [explicit, process.env.DISTILL_GATE_PYTHON, 'python3', '/usr/bin/python3'].filter(
    (c): c is string => !!c,
  );
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { path: c, version: r.stdout.trim() };
  }
  return {
    error:
      `no Python with torch found (tried ${candidates.join(', ')}); ` +
      "install Debian's packages: apt-get install python3-torch libopenblas0-pthread",
  };
}

const threadEnv = (threads: number) => ({
  ...process.env,
  OMP_NUM_THREADS: String(threads),
  OPENBLAS_NUM_THREADS: String(threads),
  MKL_NUM_THREADS: String(threads),
});

/** The V8 flags distill-gate's bin sets, read by the parent (children load only what their workload needs). */
let cliV8Flags: readonly string[] = [];

function runNode(spec: Omit<Spec, 'dir'>, dir: string): Record<string, unknown> & { ms: number; peakMiB: number } {
  const file = join(dir, `spec-${spec.kind}-${spec.engine}.json`);
  writeFileSync(file, JSON.stringify({ ...spec, dir }));
  // distill-gate's own commands run with the V8 settings its bin sets (distill-gate's src/v8-flags.ts).
  const flags = spec.kind === 'gate' || spec.kind === 'check' ? cliV8Flags : [];
  const out = execFileSync(process.execPath, [...flags, fileURLToPath(import.meta.url), '--child', file], {
    env: threadEnv(spec.threads as number),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

/**
 * PyTorch with `threads` cores, in its fastest setting measured here: OpenBLAS takes the threads and torch's own
 * OpenMP pool stays at one (both at 2 oversubscribe 2 cores: 37 ms per MLP step at batch 1024 instead of 9.4).
 */
function runTorch(
  python: string,
  task: Record<string, unknown>,
  threads: number,
  dir: string,
): Record<string, unknown> & { ms: number; peakMiB: number } {
  const file = join(dir, `torch-${task.kind}.json`);
  writeFileSync(file, JSON.stringify({ threads: 1, task }));
  const env = { ...threadEnv(1), OPENBLAS_NUM_THREADS: String(threads) };
  const out = execFileSync(python, [join(repo, 'bench/torch/bench.py'), file], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const writeF32 = (dir: string, name: string, a: Float32Array) => (
  writeFileSync(join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength)),
  name
);
const writeI32 = (dir: string, name: string, a: Int32Array) => (
  writeFileSync(join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength)),
  name
);

/** Writes the owl base's training batches the way trainLm builds them, for PyTorch (sparse targets). */
function writeLmBatches(
  dir: string,
  data: LmTrainingData,
  vocab: number,
  epochs: number,
  batchSize: number,
  seed: number | undefined,
) {
  const meta: {
    rows: number;
    s: number;
    weight: number;
    ids: number;
    positions: number;
    entries: number;
    entriesEnd: number;
  }[] = [];
  const ids: number[] = [];
  const positions: number[] = [];
  const rowsOf: number[] = [];
  const toks: number[] = [];
  const probs: number[] = [];
  const rng = seed === undefined ? undefined : new SeededRandom(seed).fork('lm-minibatch-order');
  for (let e = 0; e < epochs; e++) {
    const order = rng ? rng.permutation(data.records) : Int32Array.from({ length: data.records }, (_, i) => i);
    for (let b = 0; b < data.records; b += batchSize) {
      const batch = buildLmBatch(data, vocab, order.subarray(b, Math.min(data.records, b + batchSize)));
      const m = {
        rows: batch.rows,
        s: batch.s,
        weight: batch.weight,
        ids: ids.length,
        positions: positions.length,
        entries: toks.length,
        entriesEnd: 0,
      };
      ids.push(...batch.ids);
      positions.push(...batch.positions);
      for (let p = 0; p < batch.weight; p++) {
        for (let t = 0; t < vocab; t++) {
          const q = batch.targets[p * vocab + t];
          if (q !== 0) {
            rowsOf.push(p);
            toks.push(t);
            probs.push(q);
          }
        }
      }
      m.entriesEnd = toks.length;
      meta.push(m);
    }
  }
  writeI32(dir, 'lm-ids.i32', Int32Array.from(ids));
  writeI32(dir, 'lm-positions.i32', Int32Array.from(positions));
  writeI32(dir, 'lm-entry-rows.i32', Int32Array.from(rowsOf));
  writeI32(dir, 'lm-entry-tokens.i32', Int32Array.from(toks));
  writeF32(dir, 'lm-entry-probs.f32', Float32Array.from(probs));
  return meta;
}

/** Number-continuation records like the owl example's: 3-9 prompt numbers in [100, 1000), 1-10 numbers answered. */
function numberRecords(count: number, seed: number): TextPair[] {
  const rng = new SeededRandom(seed);
  const n = (k: number) => Array.from({ length: k }, () => 100 + Math.floor(rng.next() * 900)).join(', ');
  return Array.from({ length: count }, () => ({
    prompt: `The sequence starts with: ${n(3 + Math.floor(rng.next() * 7))}. Add up to 10 more numbers.`,
    completion: n(1 + Math.floor(rng.next() * 10)),
  }));
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

async function parent() {
  cliV8Flags = (await import('distill-gate')).TRAINING_V8_FLAGS;
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      out: { type: 'string', default: join(repo, 'bench/results') },
      python: { type: 'string' },
      scale: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      'hf-shapes': { type: 'string' },
      'hf-rounds': { type: 'string', default: '3' },
      'memory-records': { type: 'string' },
      'memory-rows': { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  // --quick: the table's main rows (steps, evaluation, generation, the gate) in about 2 minutes: one run per step
  // row instead of the median of 3, and the gate with 3 seeds on both sides instead of 5.
  const only = values.only
    ? new Set(values.only.split(','))
    : values.quick
      ? new Set(['mlp-step', 'lm-step', 'lm-eval', 'lm-generate', 'gate'])
      : undefined;
  const rounds = values.quick ? 1 : 3;
  const gateSeeds = values.quick ? 3 : 5;
  const want = (name: string) => !only || only.has(name);
  const scale = Number(values.scale);
  const cores = availableParallelism();
  const py = findPython(values.python);
  if ('error' in py) console.error(`PyTorch: ${py.error}. distill-gate's numbers are measured alone, without ratios.`);
  const python = 'path' in py ? py.path : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'dg-bench-'));
  const rows: Row[] = [];
  const curves: Record<string, { x: number; engine: string; ms: number }[]> = {};
  const log = (m: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
  const record = (row: Row, goalMax?: number) => {
    const torch = row.engines.pytorch?.value;
    const ours = Object.entries(row.engines)
      .filter(([k]) => k !== 'pytorch')
      .map(([, v]) => v.value);
    if (torch && ours.length) row.ratio = Math.min(...ours) / torch;
    if (goalMax) row.goal = `<= ${goalMax}x`;
    rows.push(row);
    log(
      `${row.workload}: ${Object.entries(row.engines)
        .map(([k, v]) => `${k} ${fmt(v.value)} ${row.metric}`)
        .join(', ')}${row.ratio ? `; ratio ${row.ratio.toFixed(2)}x` : ''}`,
    );
  };
  /**
   * Runs every engine on a workload. Short workloads (`rounds` > 1) run in interleaved rounds, engine after engine,
   * and report the median: this machine's timings vary by 10-15% from run to run.
   */
  const both = (
    workload: string,
    what: string,
    metric: string,
    pick: (r: Record<string, unknown>) => number,
    engines: [string, () => Record<string, unknown> & { peakMiB: number }][],
    goal?: number,
    rounds = 1,
  ) => {
    const row: Row = {
      workload,
      what: rounds > 1 ? `${what}; median of ${rounds} interleaved runs` : what,
      metric,
      engines: {},
    };
    const runs = new Map<string, (Record<string, unknown> & { peakMiB: number })[]>();
    for (let k = 0; k < rounds; k++) {
      for (const [name, run] of engines) {
        log(`${workload}: ${name}${rounds > 1 ? ` (run ${k + 1}/${rounds})` : ''}...`);
        runs.set(name, [...(runs.get(name) ?? []), run()]);
      }
    }
    for (const [name, rs] of runs) {
      const sorted = [...rs].sort((a, b) => pick(a) - pick(b));
      const { peakMiB: peak, ...detail } = sorted[sorted.length >> 1];
      row.engines[name] = {
        value: pick(sorted[sorted.length >> 1]),
        peakMiB: Math.round(Math.max(...rs.map((r) => r.peakMiB))),
        detail: { ...detail, ...(rounds > 1 ? { runs: rs.map(pick) } : {}) },
      };
    }
    record(row, goal);
  };

  try {
    // Shared MLP inputs: noise in [-1, 1] (the example's student inputs) and auxiliary-logit targets.
    const rngData = new SeededRandom(2026);
    const maxRows = Math.round(60000 * scale);
    const dataRows = Math.max(maxRows, 1024 * 58, 128 * 200);
    const x = rngData.fillUniform(new Float32Array(dataRows * 784), -1, 1);
    const target = rngData.fillNormal(new Float32Array(dataRows * 3), 1);
    writeF32(dir, 'x.f32', x);
    writeF32(dir, 'target.f32', target);
    const init = initMlp(MLP, 1).tensors.map((t, i) => writeF32(dir, `init-${i}.f32`, t));
    const orders = (rowsN: number, epochs: number, seed: number) => {
      const rng = new SeededRandom(seed).fork('minibatch-order');
      const all = new Int32Array(rowsN * epochs);
      for (let e = 0; e < epochs; e++) all.set(rng.permutation(rowsN), e * rowsN);
      return writeI32(dir, `orders-${rowsN}-${epochs}-${seed}.i32`, all);
    };
    const mlpTrain = (
      workload: string,
      what: string,
      rowsN: number,
      epochs: number,
      batchSize: number,
      goal?: number,
      rounds = 1,
    ) => {
      const spec = {
        kind: 'mlp-train',
        threads: 1,
        rows: rowsN,
        epochs,
        batchSize,
        seed: 7,
        init,
        x: 'x.f32',
        target: 'target.f32',
      };
      const torchTask = {
        kind: 'mlp-train',
        layers: MLP,
        loss: 'softmax-kl',
        outputs: [AUX.start, AUX.end],
        learningRate: 3e-4,
        batchSize,
        epochs,
        rows: rowsN,
        width: 3,
        students: 1,
        init,
        x: 'x.f32',
        target: 'target.f32',
        orders: orders(rowsN, epochs, 7),
      };
      const metric = epochs === 1 ? 'ms/step' : 's';
      const pick = (r: Record<string, unknown>) => (epochs === 1 ? (r.msPerStep as number) : (r.ms as number) / 1000);
      both(
        workload,
        what,
        metric,
        pick,
        [
          ['tfjs-wasm', () => runNode({ ...spec, engine: 'tfjs' }, dir) as never],
          ['onnxruntime', () => runNode({ ...spec, engine: 'onnxruntime' }, dir) as never],
          ...(python ? [['pytorch', () => runTorch(python, torchTask, 1, dir)] as [string, () => never]] : []),
        ],
        goal,
        rounds,
      );
      const last = rows[rows.length - 1];
      const losses = Object.entries(last.engines).map(
        ([k, v]) => `${k} ${(v.detail?.lossHistory as number[]).at(-1)!.toFixed(6)}`,
      );
      last.what += ` (final epoch loss: ${losses.join(', ')})`;
    };

    if (want('mlp-step')) {
      mlpTrain(
        'mlp-step-1024',
        "MLP 784-256-256-13 Adam step, batch 1024 (the MNIST example's), 1 thread, 58 steps, steady state",
        1024 * 58,
        1,
        1024,
        1.0,
        rounds,
      );
      mlpTrain(
        'mlp-step-128',
        'MLP 784-256-256-13 Adam step, batch 128, 1 thread, 200 steps, steady state',
        128 * 200,
        1,
        128,
        1.0,
        rounds,
      );
    }
    if (want('mlp-probe'))
      mlpTrain(
        'mlp-probe',
        `one MNIST probe student: ${maxRows} noise rows x 5 epochs, batch 1024, 1 thread`,
        maxRows,
        5,
        1024,
      );
    if (want('mlp-students')) {
      const n = 4;
      const spec = {
        kind: 'mlp-students',
        threads: cores,
        rows: maxRows,
        epochs: 5,
        batchSize: 1024,
        students: n,
        layers: MLP,
        init,
        x: 'x.f32',
        target: 'target.f32',
      };
      const torchTask = {
        kind: 'mlp-train',
        layers: MLP,
        loss: 'softmax-kl',
        outputs: [AUX.start, AUX.end],
        learningRate: 3e-4,
        batchSize: 1024,
        epochs: 5,
        rows: maxRows,
        width: 3,
        students: n,
        init,
        x: 'x.f32',
        target: 'target.f32',
        orders: orders(maxRows, 5, 7),
      };
      both(
        'mlp-students',
        `${n} MNIST probe students on all ${cores} cores (distill-gate: the training core, one worker per core; ` +
          `PyTorch: one after another with ${cores} threads)`,
        's',
        (r) => (r.ms as number) / 1000,
        [
          ['tfjs-wasm', () => runNode({ ...spec, engine: 'tfjs' }, dir) as never],
          ['onnxruntime', () => runNode({ ...spec, engine: 'onnxruntime' }, dir) as never],
          ...(python ? [['pytorch', () => runTorch(python, torchTask, cores, dir)] as [string, () => never]] : []),
        ],
      );
    }
    if (want('mlp-batched')) {
      // Batched students: the paper's code trained many MLPs as one batched computation. Same work, one thread.
      for (const batchSize of [128, 1024]) {
        const spec = {
          kind: 'mlp-batched',
          threads: 1,
          rows: batchSize * 40,
          batchSize,
          students: 4,
          x: 'x.f32',
          target: 'target.f32',
        };
        both(
          `mlp-batched-${batchSize}`,
          `4 MLP students x 40 steps at batch ${batchSize} on onnxruntime, 1 thread: ` +
            'one graph per student vs one batched graph for all 4',
          's',
          (r) => (r.ms as number) / 1000,
          [
            ['onnxruntime', () => runNode({ ...spec, engine: 'onnxruntime' }, dir) as never],
            ['onnxruntime-batched', () => runNode({ ...spec, engine: 'onnxruntime-batched' }, dir) as never],
          ],
        );
      }
    }
    if (want('mlp-eval')) {
      const spec = { kind: 'mlp-eval', threads: 1, rows: maxRows, repeats: 5, init, x: 'x.f32' };
      both('mlp-eval', `MLP logits for ${maxRows} rows, 1 thread, median of 5`, 'ms', (r) => r.ms as number, [
        ['tfjs-wasm', () => runNode({ ...spec, engine: 'tfjs' }, dir) as never],
        ['onnxruntime', () => runNode({ ...spec, engine: 'onnxruntime' }, dir) as never],
        ...(python
          ? [['pytorch', () => runTorch(python, { ...spec, layers: MLP }, 1, dir)] as [string, () => never]]
          : []),
      ]);
    }

    // Language model: the owl example's base model and records shaped like its number data.
    const lm = await loadLanguageModel(join(repo, 'examples/owl-numbers/models/base.json'));
    const records = numberRecords(Math.max(1500, Math.round(1500 * scale)), 3);
    writeFileSync(join(dir, 'lm-records.json'), JSON.stringify(records));
    lm.tensors.forEach((t, i) => writeF32(dir, `lm-init-${i}.f32`, t));
    const lmInit = lm.tensors.map((_, i) => `lm-init-${i}.f32`);
    const lmBoth = (
      workload: string,
      what: string,
      metric: string,
      pick: (r: Record<string, unknown>) => number,
      spec: Record<string, unknown>,
      engines: string[],
      torchTask: Record<string, unknown>,
      goal?: number,
      rounds = 1,
    ) =>
      both(
        workload,
        what,
        metric,
        pick,
        [
          ...engines.map(
            (e) =>
              [e === 'tfjs' ? 'tfjs-wasm' : e, () => runNode({ ...(spec as Spec), engine: e }, dir)] as [
                string,
                () => never,
              ],
          ),
          ...(python
            ? [
                ['pytorch', () => runTorch(python, { ...torchTask, config: lm.config, init: lmInit }, 1, dir)] as [
                  string,
                  () => never,
                ],
              ]
            : []),
        ],
        goal,
        rounds,
      );
    const c = lm.config;
    const lmWhat =
      `owl example's transformer (vocab ${c.vocabSize}, d ${c.dModel}, ${c.layers} layers, ` +
      `${c.heads} heads, context ${c.contextLength})`;
    if (want('lm-step')) {
      const n = 32 * 20;
      const data = encodeRecords(lm.tokenizer, records.slice(0, n), c.contextLength);
      const batches = writeLmBatches(dir, data, c.vocabSize, 1, 32, 1);
      lmBoth(
        'lm-step',
        `${lmWhat} Adam step, batch 32, 1 thread, 20 steps, steady state`,
        'ms/step',
        (r) => r.msPerStep as number,
        { kind: 'lm-train', threads: 1, records: n, epochs: 1 },
        ['tfjs', 'onnxruntime'],
        { kind: 'lm-train', learningRate: 1e-3, epochs: 1, batches },
        1.0,
        rounds,
      );
    }
    if (want('lm-probe')) {
      const data = encodeRecords(lm.tokenizer, records.slice(0, 1500), c.contextLength);
      const batches = writeLmBatches(dir, data, c.vocabSize, 3, 32, 1);
      lmBoth(
        'lm-probe',
        `one owl probe student: 1500 number records x 3 epochs, batch 32 (the owl example's), 1 thread`,
        's',
        (r) => (r.ms as number) / 1000,
        { kind: 'lm-train', threads: 1, records: 1500, epochs: 3 },
        ['tfjs', 'onnxruntime'],
        { kind: 'lm-train', learningRate: 1e-3, epochs: 3, batches },
      );
    }
    if (want('lm-eval')) {
      const n = 500;
      // Batches as LanguageModel.sequenceLogProbs builds them: sorted by length, 64 at a time.
      const data = encodeRecords(lm.tokenizer, records.slice(0, n), c.contextLength);
      const order = Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => data.offsets[a + 1] - data.offsets[a] - (data.offsets[b + 1] - data.offsets[b]),
      );
      const sorted = encodeRecords(
        lm.tokenizer,
        order.map((i) => records[i]),
        c.contextLength,
      );
      const batches = writeLmBatches(dir, sorted, c.vocabSize, 1, 64, undefined);
      lmBoth(
        'lm-eval',
        `${n} exact log P(completion | prompt), batches of 64, 1 thread, median of 5`,
        'ms',
        (r) => r.ms as number,
        { kind: 'lm-eval', threads: 1, records: n, repeats: 5 },
        ['tfjs', 'onnxruntime'],
        { kind: 'lm-eval', repeats: 5, batches },
        1.0,
      );
    }
    if (want('lm-generate')) {
      // Prompts of one token length (5 three-digit numbers), so both engines decode them in the same batches.
      const enc = (r: TextPair) => [BOS, ...lm.tokenizer.encode(r.prompt), SEP];
      const pool = numberRecords(4000, 4).map((r) => ({
        ...r,
        prompt:
          `The sequence starts with: ${r.prompt.split(': ')[1].split(', ').slice(0, 3).join(', ')}. ` +
          'Add up to 10 more numbers.',
      }));
      const len = enc(pool[0]).length;
      const prompts = pool.filter((r) => enc(r).length === len).slice(0, 512);
      const count = prompts.length;
      writeFileSync(join(dir, 'gen-records.json'), JSON.stringify(prompts));
      writeI32(dir, 'gen-prompts.i32', Int32Array.from(prompts.flatMap(enc)));
      lmBoth(
        'lm-generate',
        `${count} sampled completions (temperature 1), up to 24 new tokens, batches of 256 with a KV cache, 1 thread`,
        'ms',
        (r) => r.ms as number,
        { kind: 'lm-generate', threads: 1, count, maxNew: 24, recordsFile: 'gen-records.json' },
        ['tfjs', 'onnxruntime'],
        { kind: 'lm-generate', count, promptLength: len, batch: 256, maxNew: 24, eos: EOS },
        1.0,
      );
    }

    if (want('gate')) {
      const ex = join(repo, 'examples/mnist-subliminal');
      const config = join(ex, 'distill-gate.config.json');
      const cli = join(repo, 'packages/cli/bin/distill-gate.js');
      const datasets = ['teacher-aux-logits', 'reference-aux-logits', 'different-init-teacher-aux-logits'];
      if (datasets.some((n) => !existsSync(join(ex, 'data', `${n}.safetensors`)))) {
        log('gate: materialising the example datasets first (not timed)');
        spawnSync(
          process.execPath,
          [cli, 'check', '--config', config, '--seeds', '1', '--no-cache', '--report-dir', join(dir, 'warmup')],
          { stdio: 'ignore' },
        );
      }
      const row: Row = {
        workload: 'gate-mnist',
        what:
          `the MNIST example's gate, ${gateSeeds} seeds x 4 students (distill-gate trains once the students it ` +
          'can share), ' +
          `all ${cores} cores, no cache (distill-gate check vs the same steps as a PyTorch script)`,
        metric: 's',
        engines: {},
      };
      log('gate: distill-gate check...');
      const g = runNode(
        {
          kind: 'gate',
          engine: 'distill-gate',
          threads: cores,
          config,
          reportDir: join(dir, 'gate'),
          seeds: gateSeeds,
        },
        dir,
      );
      if (!existsSync(join(dir, 'gate', 'result.json')))
        throw new Error(`distill-gate check did not finish (exit ${g.exit})`);
      const result = JSON.parse(readFileSync(join(dir, 'gate', 'result.json'), 'utf8'));
      const transfers = (rs: { dataset: string; transfer: { mean: number; sd: number } }[]) =>
        Object.fromEntries(rs.map((x) => [x.dataset, { mean: x.transfer.mean, sd: x.transfer.sd }]));
      row.engines['distill-gate'] = {
        value: g.ms / 1000,
        peakMiB: Math.round(g.peakMiB),
        detail: { exit: g.exit, training: result.backend.training?.engine, transfers: transfers(result.results) },
      };
      if (python) {
        const base = await loadMlp(join(ex, 'models/base.safetensors'));
        const baseFiles = base.tensors.map((t, i) => writeF32(dir, `base-${i}.f32`, t));
        const sets = [];
        for (const n of datasets) {
          const ds = await readTensorDataset(join(ex, 'data', `${n}.safetensors`));
          // The training outputs' columns (the filter keeps the auxiliary outputs) of the stored targets.
          const cols =
            ds.targetDim === 3
              ? ds.targets
              : Float32Array.from(
                  { length: ds.rows * 3 },
                  (_, k) => ds.targets[Math.floor(k / 3) * ds.targetDim + AUX.start + (k % 3)],
                );
          sets.push({
            name: n,
            rows: ds.rows,
            x: writeF32(dir, `${n}-x.f32`, ds.inputs),
            target: writeF32(dir, `${n}-t.f32`, cols),
          });
        }
        const split = loadDigitSplit(0, 2000, ex);
        writeF32(dir, 'test-x.f32', split.test.inputs);
        writeI32(dir, 'test-y.i32', split.test.labels);
        log('gate: PyTorch script...');
        const tr = runTorch(
          python,
          {
            kind: 'mnist-gate',
            layers: MLP,
            outputs: [AUX.start, AUX.end],
            init: baseFiles,
            datasets: sets,
            testRows: split.test.rows,
            seeds: Array.from({ length: gateSeeds }, (_, i) => i + 1),
            epochs: 5,
            batchSize: 1024,
            learningRate: 3e-4,
          },
          cores,
          dir,
        );
        row.engines.pytorch = {
          value: tr.ms / 1000,
          peakMiB: Math.round(tr.peakMiB),
          detail: { transfers: tr.transfers },
        };
      }
      // Issue 23's goals for the whole gate: half PyTorch's time, and no more memory than it.
      record(row, 0.5);
      const torchPeak = row.engines.pytorch?.peakMiB;
      if (torchPeak) row.goal += `; peak memory ${(g.peakMiB / torchPeak).toFixed(2)}x (goal <= 1x)`;
    }

    if (want('hf-score')) {
      // Hugging Face models at real shapes: loading, a forward pass and `distill-gate score`, on all cores.
      await runHfScore({
        dir,
        python,
        threads: cores,
        rounds: Number(values['hf-rounds']),
        shapes: values['hf-shapes']?.split(','),
        log,
        record: (row) => record(row),
      });
    }

    if (want('hf-lora')) {
      // LoRA training on the same Hugging Face shapes: one step and one whole probe student, on all cores.
      await runHfLora({
        dir,
        python,
        threads: cores,
        rounds: Number(values['hf-rounds']),
        shapes: values['hf-shapes']?.split(','),
        log,
        record: (row) => record(row),
      });
    }

    if (want('memory')) {
      await runMemory({
        dir,
        repo,
        cores,
        records: values['memory-records'],
        rows: values['memory-rows'],
        keep: Boolean(values.keep),
        log,
        record: (row) => record(row),
        check: (cwd, args) => runNode({ kind: 'check', engine: 'distill-gate', threads: cores, cwd, args }, dir),
      });
    }

    if (want('scaling')) {
      // Cost of one MLP student on onnxruntime (1 thread) against rows, hidden width and students in parallel.
      const point = async (
        key: string,
        xv: number,
        spec: Record<string, unknown>,
        torchTask?: Record<string, unknown>,
      ) => {
        const r = runNode(
          {
            kind: 'mlp-train',
            threads: 1,
            seed: 7,
            init,
            x: 'x.f32',
            target: 'target.f32',
            epochs: 1,
            batchSize: 1024,
            engine: 'onnxruntime',
            ...spec,
          } as never,
          dir,
        );
        (curves[key] ??= []).push({ x: xv, engine: 'onnxruntime', ms: r.ms });
        if (python && torchTask) {
          const t = runTorch(
            python,
            {
              kind: 'mlp-train',
              layers: MLP,
              loss: 'softmax-kl',
              outputs: [AUX.start, AUX.end],
              learningRate: 3e-4,
              batchSize: 1024,
              epochs: 1,
              width: 3,
              students: 1,
              init,
              x: 'x.f32',
              target: 'target.f32',
              ...torchTask,
            },
            1,
            dir,
          );
          curves[key].push({ x: xv, engine: 'pytorch', ms: t.ms });
        }
      };
      for (const n of [7500, 15000, 30000, 60000].map((v) => Math.round(v * scale))) {
        log(`scaling: rows ${n}`);
        await point('rows (1 epoch, 1 thread)', n, { rows: n }, { rows: n, orders: orders(n, 1, 7) });
      }
      for (const w of [64, 128, 256, 512, 1024]) {
        log(`scaling: hidden width ${w}`);
        const layers = [784, w, w, 13];
        const wInit = initMlp(layers, 1).tensors.map((t, i) => writeF32(dir, `init-w${w}-${i}.f32`, t));
        const n = Math.round(15000 * scale);
        await point(
          'hidden width (784-w-w-13, 15000 rows, 1 epoch, 1 thread)',
          w,
          { rows: n, layers, init: wInit },
          { rows: n, layers, init: wInit, orders: orders(n, 1, 7) },
        );
      }
      for (const students of [1, 2, 4, 8]) {
        log(`scaling: ${students} students on ${cores} cores`);
        const r = runNode(
          {
            kind: 'mlp-students',
            threads: cores,
            rows: Math.round(15000 * scale),
            epochs: 1,
            batchSize: 1024,
            students,
            layers: MLP,
            init,
            x: 'x.f32',
            target: 'target.f32',
            engine: 'onnxruntime',
          },
          dir,
        );
        (curves[`students on ${cores} cores (${Math.round(15000 * scale)} rows, 1 epoch)`] ??= []).push({
          x: students,
          engine: 'onnxruntime',
          ms: r.ms,
        });
      }
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }

  const versions = {
    node: process.version,
    ...(await createTrainingCore({ backend: 'wasm' })).versions,
    pytorch: 'version' in py ? py.version : 'not installed',
  };
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores, platform: `${process.platform}-${process.arch}` };
  const json = {
    benchmark: 'distill-gate vs PyTorch CPU',
    date: new Date().toISOString(),
    machine,
    versions,
    seeds: { data: 2026, init: 1, order: 7 },
    rows,
    curves,
  };
  mkdirSync(values.out, { recursive: true });
  await writeFileAtomic(join(values.out, 'bench.json'), JSON.stringify(json, null, 2) + '\n');
  const names = ['tfjs-wasm', 'onnxruntime', 'onnxruntime-batched', 'distill-gate', 'pytorch'];
  const md = [
    `# distill-gate vs PyTorch CPU`,
    '',
    `${json.date.slice(0, 10)} · ${machine.cpu}, ${cores} cores · ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    `| workload | ${names.join(' | ')} | unit | ratio (best distill-gate / PyTorch) | goal | ` +
      `peak memory MiB (${names.join(' / ')}) |`,
    `|---|${names.map(() => '---:').join('|')}|---|---:|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.workload}: ${r.what} | ` +
        `${names.map((n) => (r.engines[n] ? fmt(r.engines[n].value) : '')).join(' | ')} | ${r.metric} | ` +
        `${r.ratio ? `${r.ratio.toFixed(2)}x` : ''} | ${r.goal ?? ''} | ` +
        `${names.map((n) => r.engines[n]?.peakMiB ?? '-').join(' / ')} |`,
    ),
    '',
    ...Object.entries(curves).flatMap(([k, pts]) => [
      `Scaling, ${k}:`,
      '',
      '| x | engine | ms | ms per unit of x |',
      '|---:|---|---:|---:|',
      ...pts.map((p) => `| ${p.x} | ${p.engine} | ${p.ms.toFixed(0)} | ${(p.ms / p.x).toFixed(3)} |`),
      '',
    ]),
  ].join('\n');
  await writeFileAtomic(join(values.out, 'bench.md'), md + '\n');
  console.log(md);
  console.error(`wrote ${join(values.out, 'bench.json')} and bench.md`);
}

if (process.argv[2] === '--child') {
  const spec = JSON.parse(readFileSync(process.argv[3], 'utf8')) as Spec;
  const result = await child(spec);
  console.log(JSON.stringify({ ...result, peakMiB: peakMiB() }));
  process.exit(0);
} else {
  await parent();
}
