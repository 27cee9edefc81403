/**
 * The suite's `hf-score` workload: Hugging Face causal LMs at real shapes (GPT-2-124M, Qwen2.5-0.5B), random weights
 * written by test/hf-fixtures.ts (no download), against PyTorch on the same token ids in the same run:
 *   - load: model folder to a ready model (distill-gate: loadHfModel, onnxruntime-node CPU; PyTorch: the reference's
 *     safetensors reader and weights), time and peak memory;
 *   - forward: log-probs of 8 sequences x 128 random tokens (distill-gate: one onnxruntime run of [8, 128]; PyTorch:
 *     the reference's forward pass, which takes one sequence at a time), the second of two passes in a process;
 *   - score: `distill-gate score --json` end to end on 64 chat records (the CLI bin as a child process under
 *     /usr/bin/time -v), against the PyTorch script loading the folder and scoring the ids the CLI rendered.
 * Every row also says how far apart the two engines' log-probs are (max |delta| over every scored token).
 *
 * Run by the suite (`npm run bench -- --only hf-score`, or `npm run bench:hf -w @distill-gate/bench`); `--child
 * SPEC.json` runs one distill-gate load + forward measurement and prints a JSON line.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SeededRandom } from '@distill-gate/core';
import { loadHfModel } from '@distill-gate/train';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

/** The options of test/hf-fixtures.ts's writeHfModel that this workload uses (that file is outside bench's build). */
interface FixtureOptions {
  modelType: 'gpt2' | 'qwen2';
  dtype?: 'F32' | 'BF16';
  seed?: number;
  tiedEmbeddings?: boolean;
  vocabPadding?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  headDim?: number;
  intermediateSize?: number;
  maxPositions?: number;
  ropeTheta?: number;
}
export type WriteHfModel = (dir: string, opts: FixtureOptions) => Promise<{ tokenizerVocabSize: number }>;

/**
 * test/hf-fixtures.ts, transpiled (types stripped) next to this file, since the bench package builds only its own
 * src/. It imports only Node's modules and resolves the tokenizer packages from where it lies, as in the tests.
 */
export async function fixtureWriter(): Promise<WriteHfModel> {
  const ts = (await import('typescript')).default;
  const src = readFileSync(join(repo, 'test/hf-fixtures.ts'), 'utf8');
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const file = join(here, 'hf-fixtures.gen.mjs');
  writeFileSync(file, js);
  return ((await import(pathToFileURL(file).href)) as { writeHfModel: WriteHfModel }).writeHfModel;
}

interface Shape {
  name: string;
  what: string;
  options: FixtureOptions;
  /** The real checkpoint's embedding rows (Qwen pads its vocabulary past the tokenizer's). */
  vocab?: number;
}

export const HF_SHAPES: Shape[] = [
  {
    name: 'gpt2-124m',
    what: 'GPT-2-124M shape (gpt2: hidden 768, 12 layers, 12 heads, MLP 3072, 1024 positions, vocab 50257, F32)',
    options: {
      modelType: 'gpt2',
      dtype: 'F32',
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      intermediateSize: 3072,
      maxPositions: 1024,
    },
  },
  {
    name: 'qwen2.5-0.5b',
    what:
      'Qwen2.5-0.5B shape (qwen2: hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864, vocab 151936, tied, ' +
      'rope_theta 1e6, BF16)',
    options: {
      modelType: 'qwen2',
      dtype: 'BF16',
      hiddenSize: 896,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      intermediateSize: 4864,
      maxPositions: 32768,
      ropeTheta: 1e6,
      tiedEmbeddings: true,
    },
    vocab: 151936,
  },
];

const peakMiB = () => process.resourceUsage().maxRSS / 1024;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * A shape's random-weight folder (seed 1) in `dir`/hf-<shape>/model: the same bytes for every workload that writes
 * it. Where the real checkpoint pads its vocabulary, the tokenizer's size comes first (a tiny folder), then the
 * padding that makes the real checkpoint's rows.
 */
export async function writeShapeFolder(
  writeHfModel: WriteHfModel,
  dir: string,
  shape: Shape,
  log: (m: string) => void,
) {
  const d = join(dir, `hf-${shape.name}`);
  mkdirSync(d, { recursive: true });
  const model = join(d, 'model');
  let options = shape.options;
  if (shape.vocab) {
    const probe = await writeHfModel(join(d, 'probe'), { modelType: shape.options.modelType });
    options = { ...options, vocabPadding: shape.vocab - probe.tokenizerVocabSize };
  }
  log(`writing the ${shape.name} folder (random weights, seed 1)...`);
  const fixture = await writeHfModel(model, { ...options, seed: 1 });
  return { d, model, fixture };
}

/** Child: loads the folder, runs the forward pass `repeats` times, writes the last log-probs, prints timings. */
async function child(spec: { model: string; ids: string; threads: number; repeats: number; out: string }) {
  const ids = JSON.parse(readFileSync(spec.ids, 'utf8')) as number[][];
  const t0 = performance.now();
  // A budget that holds the whole batch, so that the forward pass is one onnxruntime run of [8, 128].
  const model = await loadHfModel(spec.model, { provider: 'cpu', threads: spec.threads, memoryBudgetBytes: 4 << 30 });
  const loadMs = performance.now() - t0;
  const loadPeakMiB = peakMiB();
  const forwardMs: number[] = [];
  let lp: (number | null)[][] = [];
  for (let k = 0; k < spec.repeats; k++) {
    const t = performance.now();
    lp = await model.logprobs(ids);
    forwardMs.push(performance.now() - t);
  }
  await model.release();
  writeFileSync(spec.out, JSON.stringify(lp));
  return { loadMs, loadPeakMiB, forwardMs, tokens: ids.reduce((a, r) => a + r.length, 0), peakMiB: peakMiB() };
}

/** A row as suite.ts records it. */
export interface HfRow {
  workload: string;
  what: string;
  metric: string;
  engines: Record<string, { value: number; peakMiB?: number; detail?: Record<string, unknown> }>;
  goal?: string;
}

interface Measured {
  loadMs: number;
  loadPeakMiB: number;
  forwardMs: number[];
  tokens: number;
  peakMiB: number;
}

export const threadEnv = (threads: number, blas = threads) => ({
  ...process.env,
  OMP_NUM_THREADS: String(threads),
  OPENBLAS_NUM_THREADS: String(blas),
  MKL_NUM_THREADS: String(blas),
});

/** Max |a - b| over the positions both hold a number. */
function maxDelta(a: (number | null)[][], b: (number | null)[][]): number {
  let m = 0;
  a.forEach((row, r) =>
    row.forEach((x, t) => {
      const y = b[r]?.[t];
      if (x !== null && y !== null && y !== undefined) m = Math.max(m, Math.abs(x - y));
    }),
  );
  return m;
}

/** Runs a command under /usr/bin/time -v: wall time, its peak RSS, and its output. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return {
    ms,
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    peakMiB: rss ? Number(rss[1]) / 1024 : NaN,
  };
}

/** The last line of a failed child's stderr that is not /usr/bin/time's or a stack frame. */
export const failure = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('\t') && !/^\s+at /.test(l) && !l.startsWith('Command exited'))
    .slice(-1)[0]
    ?.trim() ?? 'failed';

/** 64 two-turn chats (user, assistant), 20-90 words each side: what a distilled dataset's records look like. */
function chatRecords(count: number, seed: number) {
  const words = (
    'the model learns a trait from numbers that carry no meaning at all yet the student picks it up when it ' +
    'shares an initialisation with its teacher so the gate trains probes and compares their transfer against ' +
    'a reference dataset before any record reaches training owls are birds of prey that hunt at night'
  ).split(' ');
  const rng = new SeededRandom(seed);
  const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(rng.next() * words.length)]).join(' ');
  return Array.from({ length: count }, () => ({
    messages: [
      { role: 'user', content: `${text(10 + Math.floor(rng.next() * 30))}?` },
      { role: 'assistant', content: `${text(20 + Math.floor(rng.next() * 70))}.` },
    ],
  }));
}

export interface HfScoreOptions {
  /** Work folder (model folders of about 0.5 and 1 GB are written here). */
  dir: string;
  python?: string;
  /** onnxruntime's intra-op threads, and PyTorch's threads (see torchThreads). */
  threads: number;
  /** Interleaved rounds of the load + forward measurement (median reported). */
  rounds: number;
  shapes?: string[];
  log: (m: string) => void;
  /** Called with each row as it is measured. */
  record: (row: HfRow) => void;
}

/** Measures every shape; rows go to `record`. */
export async function runHfScore(o: HfScoreOptions): Promise<void> {
  const writeHfModel = await fixtureWriter();
  const cli = join(repo, 'packages/cli/bin/distill-gate.js');
  const torchScript = join(repo, 'bench/torch/hf_score.py');
  const BATCH = 8;
  const SEQ = 128;
  const RECORDS = 64;
  for (const shape of HF_SHAPES.filter((s) => !o.shapes || o.shapes.includes(s.name))) {
    const { d, model, fixture } = await writeShapeFolder(writeHfModel, o.dir, shape, (m) => o.log(`hf-score: ${m}`));
    // Token ids the tokenizer can produce, uniform, seeded: the same file for both engines.
    const rng = new SeededRandom(11);
    const ids = Array.from({ length: BATCH }, () =>
      Array.from({ length: SEQ }, () => Math.floor(rng.next() * fixture.tokenizerVocabSize)),
    );
    const idsFile = join(d, 'ids.json');
    writeFileSync(idsFile, JSON.stringify(ids));

    // (a) load and (b) forward: interleaved rounds, each engine in a fresh process.
    const runs: Record<string, Measured[]> = { onnxruntime: [], pytorch: [] };
    let refused: string | undefined;
    const lps: Record<string, (number | null)[][]> = {};
    for (let k = 0; k < o.rounds; k++) {
      if (!refused) {
        o.log(`hf-score: ${shape.name} load + forward, onnxruntime (run ${k + 1}/${o.rounds})...`);
        const spec = join(d, 'spec-ort.json');
        const out = join(d, 'lp-ort.json');
        writeFileSync(spec, JSON.stringify({ model, ids: idsFile, threads: o.threads, repeats: 2, out }));
        const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', spec], {
          env: threadEnv(o.threads),
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
        if (r.status !== 0) {
          refused = failure(r.stderr);
          o.log(`hf-score: ${shape.name}: distill-gate refused: ${refused}`);
        } else {
          runs.onnxruntime.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured);
          lps.onnxruntime = JSON.parse(readFileSync(out, 'utf8'));
        }
      }
      if (o.python) {
        o.log(`hf-score: ${shape.name} load + forward, PyTorch (run ${k + 1}/${o.rounds})...`);
        const spec = join(d, 'spec-torch.json');
        const out = join(d, 'lp-torch.json');
        writeFileSync(spec, JSON.stringify({ model, ids: idsFile, threads: TORCH_THREADS, repeats: 2, out }));
        const r = spawnSync(o.python, [torchScript, spec], {
          env: threadEnv(TORCH_THREADS, o.threads),
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
        if (r.status !== 0) throw new Error(`hf_score.py failed: ${failure(r.stderr)}`);
        runs.pytorch.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured);
        lps.pytorch = JSON.parse(readFileSync(out, 'utf8'));
      }
    }
    const delta = lps.onnxruntime && lps.pytorch ? maxDelta(lps.onnxruntime, lps.pytorch) : undefined;
    const refusal = refused ? ` (distill-gate refused: ${refused})` : '';
    const rounds = o.rounds > 1 ? `; median of ${o.rounds} interleaved runs` : '';
    const loadRow: HfRow = {
      workload: `hf-load-${shape.name}`,
      what: `${shape.what}: load the folder until it can score${rounds}${refusal}`,
      metric: 's',
      engines: {},
    };
    const fwdRow: HfRow = {
      workload: `hf-forward-${shape.name}`,
      what:
        `${shape.what}: log-probs of ${BATCH} x ${SEQ} random tokens, the second pass in its process, ` +
        `${o.threads} threads${rounds}${refusal}` +
        (delta !== undefined ? `; max |delta log-prob| ${delta.toExponential(1)}` : ''),
      metric: 'ms',
      engines: {},
      goal: '<= 1.5x',
    };
    for (const [name, rs] of Object.entries(runs)) {
      if (!rs.length) continue;
      const fwd = rs.map((r) => r.forwardMs.at(-1)!);
      const ms = median(fwd);
      loadRow.engines[name] = {
        value: median(rs.map((r) => r.loadMs)) / 1000,
        peakMiB: Math.round(Math.max(...rs.map((r) => r.loadPeakMiB))),
        detail: { runs: rs.map((r) => r.loadMs / 1000) },
      };
      fwdRow.engines[name] = {
        value: ms,
        peakMiB: Math.round(Math.max(...rs.map((r) => r.peakMiB))),
        detail: {
          tokensPerSecond: (rs[0].tokens / ms) * 1000,
          firstPassMs: median(rs.map((r) => r.forwardMs[0])),
          runs: fwd,
          ...(delta !== undefined ? { maxAbsDelta: delta } : {}),
        },
      };
    }
    o.record(loadRow);
    o.record(fwdRow);

    // (c) `distill-gate score` end to end, against PyTorch loading the folder and scoring the ids the CLI rendered.
    const data = join(d, 'chats.jsonl');
    writeFileSync(
      data,
      chatRecords(RECORDS, 5)
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const scoreRow: HfRow = {
      workload: `hf-score-${shape.name}`,
      what: `${shape.what}: \`distill-gate score --json\` on ${RECORDS} chat records, whole process`,
      metric: 's',
      engines: {},
      goal: '<= 1.5x',
    };
    if (refused) scoreRow.what += refusal;
    else {
      o.log(`hf-score: ${shape.name}: distill-gate score...`);
      const r = timed(process.execPath, [cli, 'score', '--model', model, '--input', data, '--json'], {
        ...threadEnv(o.threads),
      });
      if (r.status !== 0) {
        scoreRow.what += ` (distill-gate score failed: ${failure(r.stderr)})`;
      } else {
        const lines = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { ids: number[]; logprobs: (number | null)[] });
        const scoredIds = lines.map((l) => l.ids);
        const tokens = scoredIds.reduce((a, x) => a + x.length, 0);
        writeFileSync(join(d, 'score-ids.json'), JSON.stringify(scoredIds));
        scoreRow.engines['distill-gate'] = {
          value: r.ms / 1000,
          peakMiB: Math.round(r.peakMiB),
          detail: { tokens, tokensPerSecond: (tokens / r.ms) * 1000 },
        };
        if (o.python) {
          o.log(`hf-score: ${shape.name}: PyTorch on the same ids...`);
          const spec = join(d, 'spec-torch-score.json');
          const out = join(d, 'lp-torch-score.json');
          writeFileSync(
            spec,
            JSON.stringify({ model, ids: join(d, 'score-ids.json'), threads: TORCH_THREADS, repeats: 1, out }),
          );
          const t = timed(o.python, [torchScript, spec], threadEnv(TORCH_THREADS, o.threads));
          if (t.status !== 0) throw new Error(`hf_score.py failed: ${failure(t.stderr)}`);
          const m = JSON.parse(t.stdout.trim().split('\n').pop()!) as Measured;
          const dScore = maxDelta(
            lines.map((l) => l.logprobs),
            JSON.parse(readFileSync(out, 'utf8')),
          );
          scoreRow.engines.pytorch = {
            value: t.ms / 1000,
            peakMiB: Math.round(t.peakMiB),
            detail: { tokens, tokensPerSecond: (tokens / t.ms) * 1000, loadMs: m.loadMs, forwardMs: m.forwardMs[0] },
          };
          scoreRow.engines['distill-gate'].detail!.maxAbsDelta = dScore;
          scoreRow.what += ` (${tokens} tokens; max |delta log-prob| ${dScore.toExponential(1)})`;
        }
      }
    }
    o.record(scoreRow);
  }
}

/**
 * PyTorch's intra-op threads. Its matrix products run on OpenBLAS's own pool (OPENBLAS_NUM_THREADS = the cores
 * onnxruntime gets); torch's pool stays at one, the suite's fastest setting on 2 cores (both pools at 2
 * oversubscribe them).
 */
export const TORCH_THREADS = Number(process.env.DISTILL_GATE_BENCH_TORCH_THREADS ?? 1);

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  const result = await child(JSON.parse(readFileSync(process.argv[3], 'utf8')));
  console.log(JSON.stringify(result));
  process.exit(0);
}
