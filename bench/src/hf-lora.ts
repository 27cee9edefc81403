/**
 * The suite's `hf-lora` workload: LoRA training on Hugging Face causal LMs at real shapes (GPT-2-124M,
 * Qwen2.5-0.5B; random weights written by test/hf-fixtures.ts, no download), distill-gate (HfLoraTrainer:
 * onnxruntime-node, Adam on the host) against a plain PyTorch LoRA loop (bench/torch/hf_lora.py: the reference's
 * forward pass batched, autograd, torch.optim.Adam) on the same inputs in the same run:
 *   - 16 records of 128 random token ids, hard next-token targets on the last 64 positions of each, batches of 4
 *     records in order (4 steps an epoch), LoRA rank 8, alpha 8 on every projection, Adam lr 1e-4;
 *   - the same initial adapters for both engines: A as PEFT draws it (initLoraParams, seed 1), B small seeded
 *     uniform values instead of zeros, so both A and B get gradients from the first step.
 * Each engine runs in its own fresh process, which loads the folder and trains 2 epochs (8 steps); two rows:
 *   - hf-lora-step-<shape>: the median of steps 2..4 of the first epoch, ms; the process's peak RSS;
 *   - hf-lora-student-<shape>: one whole probe student, from nothing loaded (reading the folder, building the
 *     training session / the weights and the adapters) to the adapters after 8 steps, s; the process's peak RSS.
 * Every row also says how far apart the two engines' losses are (max |delta| over the 8 steps).
 *
 * Run by the suite (`npm run bench -- --only hf-lora`, or `npm run bench:hf-lora -w @distill-gate/bench`);
 * `--child SPEC.json` runs the distill-gate side and prints a JSON line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@distill-gate/core';
import {
  HfLoraTrainer,
  initLoraParams,
  loraAdapterSpecs,
  parseHfConfig,
  readHfModelFolder,
  type LoraAdapterSpec,
  type LoraExample,
} from '@distill-gate/train';
import {
  failure,
  fixtureWriter,
  HF_SHAPES,
  median,
  writeShapeFolder,
  threadEnv,
  TORCH_THREADS,
  type HfRow,
  type WriteHfModel,
} from './hf-score.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

const RECORDS = 16;
const SEQ = 128;
/** Targets on positions FIRST_TARGET .. SEQ - 2 (each predicting the next token): the last 64 tokens of a record. */
const FIRST_TARGET = 63;
const BATCH = 4;
const EPOCHS = 2;
const LORA = { rank: 8, alpha: 8, targets: 'all' as const };
const LEARNING_RATE = 1e-4;

/** What both engines read: the model folder, the token ids, the adapters and their initial values. */
export interface LoraSpec {
  model: string;
  /** JSON file: RECORDS arrays of SEQ token ids. */
  records: string;
  /** Float32 little-endian file: A then B of each adapter, in `adapters` order, row-major. */
  init: string;
  adapters: LoraAdapterSpec[];
  rank: number;
  alpha: number;
  learningRate: number;
  firstTarget: number;
  batch: number;
  epochs: number;
  threads: number;
}

/** What each engine's process prints. */
interface Measured {
  loadMs: number;
  stepMs: number[];
  losses: number[];
  totalMs: number;
  peakMiB: number;
}

/** The initial adapters of the file `spec.init`, split as HfLoraTrainer.create's `initial` takes them. */
function readInit(spec: LoraSpec): Float32Array[] {
  const b = readFileSync(spec.init);
  const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const out: Float32Array[] = [];
  let at = 0;
  for (const s of spec.adapters) {
    for (const n of [spec.rank * s.in, s.out * spec.rank]) {
      out.push(all.slice(at, at + n));
      at += n;
    }
  }
  if (at !== all.length) throw new Error(`${spec.init}: ${all.length} values, the adapters take ${at}`);
  return out;
}

/** The batches of an epoch, in record order: hard targets on the last positions, each 1/(targets in the batch). */
function batches(spec: LoraSpec, records: number[][]): LoraExample[][] {
  const out: LoraExample[][] = [];
  for (let b = 0; b < records.length; b += spec.batch) {
    const rows = records.slice(b, b + spec.batch);
    const weight = 1 / rows.reduce((a, ids) => a + ids.length - 1 - spec.firstTarget, 0);
    out.push(
      rows.map((ids) => ({
        ids,
        targets: ids
          .slice(spec.firstTarget + 1)
          .map((next, k) => ({ pos: spec.firstTarget + k, ids: [next], probs: [1], weight })),
      })),
    );
  }
  return out;
}

const peakMiB = () => process.resourceUsage().maxRSS / 1024;

/** Child: from nothing loaded to the adapters after `epochs` epochs; every step's time and loss. */
async function child(spec: LoraSpec): Promise<Measured> {
  const records = JSON.parse(readFileSync(spec.records, 'utf8')) as number[][];
  const epoch = batches(spec, records);
  const t0 = performance.now();
  const folder = await readHfModelFolder(spec.model);
  const initial = readInit(spec);
  const trainer = await HfLoraTrainer.create(
    folder.architecture,
    folder.weights,
    { rank: spec.rank, alpha: spec.alpha, targets: 'all' },
    { learningRate: spec.learningRate, seed: 1, threads: spec.threads, initial },
  );
  const loadMs = performance.now() - t0;
  const names = trainer.adapters.map((a) => `${a.projection} ${a.in}x${a.out}`).join(',');
  if (names !== spec.adapters.map((a) => `${a.projection} ${a.in}x${a.out}`).join(','))
    throw new Error("the trainer's adapters are not the ones the initial values were written for");
  const stepMs: number[] = [];
  const losses: number[] = [];
  for (let e = 0; e < spec.epochs; e++) {
    for (const batch of epoch) {
      const t = performance.now();
      losses.push(await trainer.step(batch));
      stepMs.push(performance.now() - t);
    }
  }
  const totalMs = performance.now() - t0;
  await trainer.release();
  return { loadMs, stepMs, losses, totalMs, peakMiB: peakMiB() };
}

/** The fixture as test/hf-fixtures.ts returns it (hf-score.ts's type names only the vocabulary size). */
type Fixture = Awaited<ReturnType<WriteHfModel>> & {
  config: Record<string, unknown>;
  tensors: Record<string, { shape: number[] }>;
};

/** The adapters HfLoraTrainer puts on the fixture, from its config and tensor shapes (without reading weights). */
function adaptersOf(fixture: Fixture, model: string): LoraAdapterSpec[] {
  const { architecture } = parseHfConfig(fixture.config, join(model, 'config.json'));
  const specs = Object.entries(fixture.tensors).map(([name, t]) => ({
    name: name.replace(/^(model|transformer)\./, ''),
    shape: t.shape,
  }));
  return loraAdapterSpecs(architecture, { tensors: new Map(), specs }, LORA);
}

export interface HfLoraOptions {
  /** Work folder (model folders of about 0.5 and 1 GB are written here). */
  dir: string;
  python?: string;
  /** onnxruntime's intra-op threads, and the OpenBLAS threads of PyTorch (as hf-score.ts runs it). */
  threads: number;
  /** Interleaved rounds, each engine in a fresh process (median reported). */
  rounds: number;
  shapes?: string[];
  log: (m: string) => void;
  /** Called with each row as it is measured. */
  record: (row: HfRow) => void;
}

/** Measures every shape; rows go to `record`. */
export async function runHfLora(o: HfLoraOptions): Promise<void> {
  const writeHfModel = await fixtureWriter();
  const torchScript = join(repo, 'bench/torch/hf_lora.py');
  for (const shape of HF_SHAPES.filter((s) => !o.shapes || o.shapes.includes(s.name))) {
    // hf-score's folder (the same seed and options, so the same bytes when both workloads run).
    const written = await writeShapeFolder(writeHfModel, o.dir, shape, (m) => o.log(`hf-lora: ${m}`));
    const { d, model } = written;
    const fixture = written.fixture as Fixture;

    // Token ids the tokenizer can produce, uniform, seeded.
    const rng = new SeededRandom(12);
    const records = Array.from({ length: RECORDS }, () =>
      Array.from({ length: SEQ }, () => rng.int(fixture.tokenizerVocabSize)),
    );
    writeFileSync(join(d, 'lora-records.json'), JSON.stringify(records));
    // PEFT's A (seed 1); B small and seeded instead of PEFT's zeros, so that A has a gradient from the first step.
    const adapters = adaptersOf(fixture, model);
    const bRng = new SeededRandom(13);
    const init = initLoraParams(adapters, LORA.rank, 1).map((p, i) =>
      i % 2 ? p.map(() => bRng.uniform(-0.01, 0.01)) : p,
    );
    const bytes = new Uint8Array(init.reduce((a, p) => a + p.byteLength, 0));
    init.reduce((at, p) => (bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at), at + p.byteLength), 0);
    writeFileSync(join(d, 'lora-init.f32'), bytes);
    const spec = (threads: number): LoraSpec => ({
      model,
      records: join(d, 'lora-records.json'),
      init: join(d, 'lora-init.f32'),
      adapters,
      rank: LORA.rank,
      alpha: LORA.alpha,
      learningRate: LEARNING_RATE,
      firstTarget: FIRST_TARGET,
      batch: BATCH,
      epochs: EPOCHS,
      threads,
    });

    const runs: Record<string, Measured[]> = { onnxruntime: [], pytorch: [] };
    let refused: string | undefined;
    for (let k = 0; k < o.rounds; k++) {
      const round = o.rounds > 1 ? ` (run ${k + 1}/${o.rounds})` : '';
      if (!refused) {
        o.log(`hf-lora: ${shape.name}, onnxruntime${round}...`);
        const file = join(d, 'spec-lora-ort.json');
        writeFileSync(file, JSON.stringify(spec(o.threads)));
        const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', file], {
          env: threadEnv(o.threads),
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
        if (r.status !== 0) {
          refused = failure(r.stderr);
          o.log(`hf-lora: ${shape.name}: distill-gate failed: ${refused}`);
        } else runs.onnxruntime.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured);
      }
      if (o.python) {
        o.log(`hf-lora: ${shape.name}, PyTorch${round}...`);
        const file = join(d, 'spec-lora-torch.json');
        writeFileSync(file, JSON.stringify(spec(TORCH_THREADS)));
        const r = spawnSync(o.python, [torchScript, file], {
          env: threadEnv(TORCH_THREADS, o.threads),
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
        if (r.status !== 0) throw new Error(`hf_lora.py failed: ${failure(r.stderr)}`);
        runs.pytorch.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured);
      }
    }

    // The losses of the last run of each engine (every run computes the same ones).
    const ours = runs.onnxruntime.at(-1)?.losses;
    const theirs = runs.pytorch.at(-1)?.losses;
    const delta = ours && theirs ? Math.max(...ours.map((l, i) => Math.abs(l - theirs[i]))) : undefined;
    const deltaText = delta !== undefined ? `; max |delta loss| ${delta.toExponential(1)} over the 8 steps` : '';
    const refusal = refused ? ` (distill-gate failed: ${refused})` : '';
    const rounds = o.rounds > 1 ? `; median of ${o.rounds} interleaved runs` : '';
    const setup =
      `LoRA r ${LORA.rank} alpha ${LORA.alpha} on every projection, Adam lr ${LEARNING_RATE}, ` +
      `batch ${BATCH} x ${SEQ} tokens, ${SEQ - 1 - FIRST_TARGET} hard targets a record, ${o.threads} threads`;
    const stepRow: HfRow = {
      workload: `hf-lora-step-${shape.name}`,
      what: `${shape.what}: ${setup}; one step, the median of steps 2..4${rounds}${refusal}${deltaText}`,
      metric: 'ms',
      engines: {},
      goal: '<= 1.5x',
    };
    const studentRow: HfRow = {
      workload: `hf-lora-student-${shape.name}`,
      what:
        `${shape.what}: one probe student, ${RECORDS} records x ${EPOCHS} epochs (${setup}), from nothing loaded ` +
        `to trained adapters${rounds}${refusal}${deltaText}`,
      metric: 's',
      engines: {},
      goal: '<= 1.5x',
    };
    for (const [name, rs] of Object.entries(runs)) {
      if (!rs.length) continue;
      const steps = rs.map((r) => median(r.stepMs.slice(1, 4)));
      const peak = Math.round(Math.max(...rs.map((r) => r.peakMiB)));
      const common = {
        losses: rs.at(-1)!.losses,
        ...(delta !== undefined ? { maxAbsDeltaLoss: delta } : {}),
        ...(name === 'pytorch' ? { torchThreads: TORCH_THREADS, blasThreads: o.threads } : {}),
      };
      stepRow.engines[name] = {
        value: median(steps),
        peakMiB: peak,
        detail: { runs: steps, firstStepMs: median(rs.map((r) => r.stepMs[0])), ...common },
      };
      studentRow.engines[name] = {
        value: median(rs.map((r) => r.totalMs)) / 1000,
        peakMiB: peak,
        detail: {
          runs: rs.map((r) => r.totalMs / 1000),
          loadMs: median(rs.map((r) => r.loadMs)),
          stepMs: rs.at(-1)!.stepMs,
          ...common,
        },
      };
    }
    o.record(stepRow);
    o.record(studentRow);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  const result = await child(JSON.parse(readFileSync(process.argv[3], 'utf8')) as LoraSpec);
  console.log(JSON.stringify(result));
  process.exit(0);
}
