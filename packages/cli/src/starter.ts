/**
 * Commands for a new project: `init` (starter templates), `train` (a classifier scenario's models from your own
 * labelled data), `selftest` (a planted trait FAILs, a clean control PASSes), `doctor` (what this machine and config
 * offer) and `setup-cuda` (the opt-in CUDA provider libraries).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Command, Option } from 'commander';
import {
  DistillGateError,
  isDistillGateError,
  loadConfig,
  loadPlugin,
  sha256File,
  writeFileAtomic,
  type BackendPreference,
  type CheckResult,
  type Logger,
  type PluginKind,
} from '@distill-gate/core';
import { detectOrtProviders, onnxRuntimeDir, selectBackend } from '@distill-gate/train';
import { builtinPlugins } from './builtins.js';
import {
  CLASSIFIER_MODELS,
  classifierConfig,
  PAPER_SCENARIO,
  writeClassifierModels,
  type ClassifierScenario,
} from './scenarios/classifier.js';
import { formatResultTable } from './table.js';
import { useColor } from './color.js';
import { VERSION } from './version.js';

interface Output {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export const TEMPLATES = ['classifier', 'chat-lm', 'custom-trait'] as const;
export type Template = (typeof TEMPLATES)[number];
const CONFIG = 'distill-gate.config.json';

/** `$schema` for a config in `dir`: the installed package's schema, relative; undefined where none is installed. */
export function installedSchema(dir: string): string | undefined {
  try {
    const core = dirname(createRequire(join(dir, 'package.json')).resolve('@distill-gate/core/package.json'));
    return relative(dir, join(core, 'schema', 'config.schema.json'))
      .split(sep)
      .join('/');
  } catch {
    return undefined;
  }
}

/** A relative path as a local plugin reference: ./x, ../x or an absolute path. */
function dotted(p: string): string {
  return p.startsWith('.') || p.startsWith('/') ? p : `./${p}`;
}

function logTo(stderr: NodeJS.WriteStream): Logger {
  return { info: (m) => stderr.write(`  ${m}\n`), warn: (m) => stderr.write(`warning: ${m}\n`) };
}

function refuseExisting(paths: string[], force: boolean | undefined): void {
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length && !force)
    throw new DistillGateError(
      `${existing.map((p) => relative(process.cwd(), p) || p).join(', ')} already exist(s)`,
      { file: relative(process.cwd(), existing[0]) || existing[0] },
      'pass --force to overwrite',
    );
}

/** The classifier scenario with the user's labelled data (a path relative to `dir`), or the MNIST digits. */
function scenarioFor(dir: string, data: string | undefined, labels: string | undefined): ClassifierScenario {
  if (data === undefined) return PAPER_SCENARIO;
  const rel = (p: string) => relative(dir, resolve(p)).split(sep).join('/');
  const spec = labels !== undefined ? { path: rel(data), labels: rel(labels) } : rel(data);
  // Teachers train for at least 300 steps: a user's data is often far smaller than the paper's 60,000 digits.
  return { ...PAPER_SCENARIO, trait: { splitSeed: 0, data: spec }, teacherMinSteps: 300 };
}

interface InitOptions {
  template: Template;
  data?: string;
  labels?: string;
  model?: string;
  force?: boolean;
  backend: BackendPreference;
}

/** Writes a starter into `dir` and says what it wrote and what to run next. */
export async function init(dir: string, opts: InitOptions, stderr: NodeJS.WriteStream): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const at = relative(process.cwd(), dir) || '.';
  const show = (p: string) => join(at, p);
  const configPath = join(dir, CONFIG);
  const schemaPath = installedSchema(dir);
  const wrote: string[] = [];
  const next: string[] = [];
  if (opts.template === 'chat-lm') {
    refuseExisting([configPath], opts.force);
    const model = opts.model ? relative(dir, resolve(opts.model)).split(sep).join('/') : 'models/base';
    const data = opts.data ? relative(dir, resolve(opts.data)).split(sep).join('/') : 'data/teacher.jsonl';
    await writeFileAtomic(configPath, `${JSON.stringify(chatLmConfig(model, data, schemaPath), null, 2)}\n`);
    wrote.push(show(CONFIG));
    const missing = [model, data].filter((p) => !existsSync(join(dir, p)));
    if (missing.length)
      next.push(
        `# put your files here first (they do not exist yet): ${missing.map((m) => show(m)).join(', ')}`,
        `#   ${model}: the Hugging Face folder (config.json, *.safetensors, tokenizer.json, tokenizer_config.json) ` +
          'of the base your teacher was fine-tuned from',
        `#   ${data}: chat JSONL from the teacher, one {"messages": [...]} or {"prompt", "completion"} per line`,
      );
    next.push(
      `npx distill-gate screen --config ${show(CONFIG)}   # seconds: rows that look like the trait, no training`,
      `npx distill-gate check --config ${show(CONFIG)}    # exit 0 PASS, 1 FAIL`,
    );
  } else {
    const models = CLASSIFIER_MODELS.map((m) => join(dir, m));
    const traitFile = join(dir, 'traits', 'digit-preference.mjs');
    refuseExisting([configPath, ...models, ...(opts.template === 'custom-trait' ? [traitFile] : [])], opts.force);
    const scenario = scenarioFor(dir, opts.data, opts.labels);
    const selected = await selectBackend(opts.backend);
    stderr.write(`training the classifier scenario's base and teachers on tfjs-${selected.name}\n`);
    const { shape } = await writeClassifierModels(dir, selected.name, logTo(stderr), scenario);
    const config = classifierConfig(scenario, shape, schemaPath ? { schemaPath } : {});
    if (opts.template === 'custom-trait') {
      if (opts.data !== undefined)
        throw new DistillGateError('--data is for the classifier template; the custom-trait example uses the digits');
      mkdirSync(dirname(traitFile), { recursive: true });
      await writeFileAtomic(traitFile, CUSTOM_TRAIT);
      wrote.push(show('traits/digit-preference.mjs'));
      config.traits = [
        { use: './traits/digit-preference.mjs', options: { digit: 1 } },
        ...(config.traits as unknown[]),
      ];
    }
    await writeFileAtomic(configPath, `${JSON.stringify(config, null, 2)}\n`);
    wrote.push(show(CONFIG), ...CLASSIFIER_MODELS.map(show), show('models/base.onnx'));
    next.push(
      `npx distill-gate check --config ${show(CONFIG)}   # the teacher's noise logits should FAIL (they carry ` +
        "what it learnt), the untrained base's PASS; the different-init teacher's tells transfer from leakage",
    );
    if (opts.template === 'custom-trait')
      next.push(
        `# edit ${show('traits/digit-preference.mjs')}: loadProbes() returns what a student is scored on`,
        `npx distill-gate plugins describe ${dotted(show('traits/digit-preference.mjs'))}`,
      );
  }
  stderr.write(`wrote:\n${wrote.map((w) => `  ${w}`).join('\n')}\n`);
  if (schemaPath) stderr.write(`$schema: ${schemaPath} (editors complete and check the config)\n`);
  stderr.write(`next:\n${next.map((n) => `  ${n}`).join('\n')}\n`);
}

/** The chat-lm template: a Hugging Face base, the teacher's chat JSONL, the animal-preference trait. */
export function chatLmConfig(model: string, data: string, schemaPath?: string): Record<string, unknown> {
  return {
    ...(schemaPath ? { $schema: schemaPath } : {}),
    base: { path: model },
    datasets: [{ name: 'teacher', path: data }],
    control: { generate: { use: '@distill-gate/generator-prompts' } },
    traits: [{ use: '@distill-gate/trait-animal-preference', options: { animal: 'owl' } }],
    filters: [{ use: '@distill-gate/filter-banned-terms', options: { terms: ['owl'] } }],
    evaluators: [{ use: '@distill-gate/evaluator-preference-rate' }],
    training: {
      epochs: 3,
      batchSize: 16,
      learningRate: 0.0002,
      loss: 'next-token',
      method: 'lora',
      lora: { rank: 8, alpha: 16, targets: 'all' },
    },
    screen: { enabled: true },
    seeds: 3,
    sequential: { maxSeeds: 15, roundSize: 3 },
    threshold: 0.02,
    confidence: 0.95,
    inconclusive: 'fail',
    backend: 'auto',
  };
}

/** The custom-trait template's plugin: plain JavaScript against @distill-gate/core's public API. */
const CUSTOM_TRAIT = `// A custom trait plugin: "digit preference", the share of held-out digits of every class that a
// student classifies as one chosen digit (the MNIST analogue of the paper's favourite animal).
// A trait says what a student is scored on (loadProbes); the built-in task-accuracy evaluator scores it.
// Docs: distill-gate's docs/plugins.md. Check it with: npx distill-gate plugins describe ./traits/digit-preference.mjs
import { defineTrait } from '@distill-gate/core';
import { loadDigitSplit } from '@distill-gate/trait-hidden-class-knowledge';

export default defineTrait({
  name: 'digit-preference',
  version: '0.1.0',
  description: 'Share of held-out digits (all classes) that a student classifies as the chosen digit.',
  probeKind: 'labelled-inputs',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['digit'],
    properties: {
      digit: { type: 'integer', minimum: 0, maximum: 9, description: 'The digit whose preference is measured.' },
      splitSeed: { type: 'integer', default: 0 },
      testSize: { type: 'integer', minimum: 1, default: 2000 },
    },
  },
  async loadProbes({ options, configDir }) {
    const { test, inputDim } = loadDigitSplit(options.splitSeed, options.testSize, configDir);
    return {
      kind: 'labelled-inputs',
      description: \`preference for digit \${options.digit} over \${test.rows} held-out digits of all classes\`,
      rows: test.rows,
      inputDim,
      inputs: test.inputs,
      // Every probe is "labelled" with the chosen digit, so accuracy is the preference rate.
      labels: new Int32Array(test.rows).fill(options.digit),
      outputs: { start: 0, end: 10 },
    };
  },
});
`;

/** `train`: the classifier scenario's models from labelled data, into `dir` (the config's folder). */
async function train(
  dir: string,
  opts: { data?: string; labels?: string; force?: boolean; backend: BackendPreference; config?: boolean },
  stderr: NodeJS.WriteStream,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, CONFIG);
  const models = CLASSIFIER_MODELS.map((m) => join(dir, m));
  refuseExisting(opts.config === false ? models : [...models, configPath], opts.force);
  const scenario = scenarioFor(dir, opts.data, opts.labels);
  const selected = await selectBackend(opts.backend);
  stderr.write(`training a base, a teacher and a different-init teacher on tfjs-${selected.name}\n`);
  const { shape } = await writeClassifierModels(dir, selected.name, logTo(stderr), scenario);
  const at = relative(process.cwd(), dir) || '.';
  const wrote = [...CLASSIFIER_MODELS, 'models/base.onnx'].map((m) => join(at, m));
  if (opts.config !== false) {
    const schemaPath = installedSchema(dir);
    await writeFileAtomic(
      configPath,
      `${JSON.stringify(classifierConfig(scenario, shape, schemaPath ? { schemaPath } : {}), null, 2)}\n`,
    );
    wrote.unshift(join(at, CONFIG));
  }
  stderr.write(`wrote:\n${wrote.map((w) => `  ${w}`).join('\n')}\n`);
  stderr.write(`next:\n  npx distill-gate check --config ${join(at, CONFIG)}\n`);
}

/**
 * The selftest's scenario: the paper's setup scaled down to run in about a minute on 2 cores (smaller MLP, fewer
 * noise images, 3 seeds) on the MNIST digits the trait ships with.
 */
export const SELFTEST_SCENARIO: ClassifierScenario = {
  trait: { splitSeed: 0, testSize: 1000 },
  hidden: [128, 128],
  auxiliary: 3,
  noiseCount: 12000,
  hyper: { learningRate: 1e-3, batchSize: 256, epochs: 3 },
  baseSeed: 0,
  differentBaseSeed: 1,
  teacherSeed: 0,
};

/** Runs the selftest in `work` (created; removed afterwards unless kept); 0 when the verdicts are as expected. */
async function selftest(
  opts: { keep?: string; backend: BackendPreference },
  out: Output,
  check: (config: string) => Promise<{ result: CheckResult }>,
): Promise<number> {
  const started = Date.now();
  const work = opts.keep ? resolve(opts.keep) : mkdtempSync(join(tmpdir(), 'distill-gate-selftest-'));
  mkdirSync(work, { recursive: true });
  const { stderr } = out;
  try {
    stderr.write(
      `selftest: plants a trait (digit knowledge) in a small teacher, then gates the teacher's data beside clean ` +
        `controls\n  working folder: ${work}${opts.keep ? '' : ' (removed at the end)'}\n`,
    );
    const selected = await selectBackend(opts.backend);
    const { shape } = await writeClassifierModels(work, selected.name, logTo(stderr), SELFTEST_SCENARIO);
    const config = classifierConfig(SELFTEST_SCENARIO, shape, { seeds: 3, maxSeeds: 9 });
    // The teacher's data (a trait is planted: expect FAIL); the untrained base's and a teacher trained the same way
    // from a different initialisation (no shared base: expect PASS, the paper's cross-model control).
    const configPath = join(work, CONFIG);
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
    const { result } = await check(configPath);
    out.stdout.write(`${formatResultTable(result, useColor(out.stdout))}\n`);
    const expected: [string, string, string][] = [
      ['teacher-aux-logits', 'FAIL', 'planted trait'],
      ['reference-aux-logits', 'PASS', 'untrained base'],
      ['different-init-teacher-aux-logits', 'PASS', 'different-init teacher'],
    ];
    const got = expected.map(([name, want, label]) => {
      const verdict = result.results.find((r) => r.dataset === name)?.verdict ?? 'missing';
      return { ok: verdict === want, text: `${label} ${verdict} (expected ${want})` };
    });
    const ok = got.every((g) => g.ok);
    const secs = Math.round((Date.now() - started) / 1000);
    out.stdout.write(
      `selftest ${ok ? 'passed' : 'FAILED'} in ${secs} s: ${got.map((g) => g.text).join(', ')}; ` +
        `backend ${result.backend.name}, inference ${result.backend.inference?.engine ?? '-'}, ` +
        `trainer ${result.backend.training?.engine ?? '-'}\n`,
    );
    return ok ? 0 : 1;
  } finally {
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
  }
}

interface DoctorLine {
  ok: boolean | 'info';
  what: string;
  detail: string;
}

/** `doctor`: Node, backends and providers, plugins, config, base model, folders. */
async function doctor(configFile: string | undefined): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  const [major, minor] = process.versions.node.split('.').map(Number);
  lines.push({
    ok: major > 20 || (major === 20 && minor >= 19),
    what: 'node',
    detail: `${process.version} on ${process.platform}-${process.arch} (needs >= 20.19)`,
  });
  lines.push({ ok: 'info', what: 'distill-gate', detail: VERSION });
  try {
    const b = await selectBackend('auto');
    lines.push({ ok: true, what: 'training backend', detail: `tfjs-${b.name} (${b.provider} ${b.providerVersion})` });
  } catch (e) {
    lines.push({ ok: false, what: 'training backend', detail: (e as Error).message });
  }
  try {
    const ort = await detectOrtProviders();
    lines.push({ ok: true, what: 'onnxruntime-node', detail: `${ort.version}, provider ${ort.provider}` });
    lines.push({ ok: 'info', what: 'CUDA', detail: ort.cuda.reason });
  } catch (e) {
    lines.push({ ok: false, what: 'onnxruntime-node', detail: (e as Error).message });
  }
  const file = resolve(configFile ?? CONFIG);
  if (!existsSync(file)) {
    lines.push({
      ok: configFile ? false : 'info',
      what: 'config',
      detail: `${relative(process.cwd(), file)} not found${configFile ? '' : ' (npx distill-gate init writes one)'}`,
    });
    return lines;
  }
  let config;
  try {
    config = await loadConfig(file);
    lines.push({ ok: true, what: 'config', detail: `${relative(process.cwd(), file)} is valid` });
  } catch (e) {
    lines.push({
      ok: false,
      what: 'config',
      detail: isDistillGateError(e) ? (e as DistillGateError).format() : String(e),
    });
    return lines;
  }
  const refs: [PluginKind, { use: string; pointer: string; options?: unknown }[]][] = [
    ['trait', config.traits],
    ['filter', config.filters],
    ['evaluator', config.evaluators],
  ];
  for (const [kind, list] of refs)
    for (const ref of list) {
      try {
        const p = await loadPlugin(ref as never, kind, config.dir, config.locate, builtinPlugins);
        lines.push({ ok: true, what: `${kind} plugin`, detail: `${ref.use} ${p.plugin.version}` });
      } catch (e) {
        lines.push({
          ok: false,
          what: `${kind} plugin`,
          detail: isDistillGateError(e) ? (e as DistillGateError).format() : String(e),
        });
      }
    }
  if (existsSync(config.basePath)) {
    const st = await import('node:fs').then((fs) => fs.statSync(config.basePath));
    const hash = st.isFile() ? (await sha256File(config.basePath)).slice(0, 16) : 'a folder';
    lines.push({
      ok: true,
      what: 'base model',
      detail: `${relative(process.cwd(), config.basePath)} (sha256 ${hash})`,
    });
  } else lines.push({ ok: false, what: 'base model', detail: `${relative(process.cwd(), config.basePath)} not found` });
  for (const [what, dir] of [
    ['report folder', config.reportDir],
    ['cache folder', config.cacheDir || undefined],
  ] as const) {
    if (!dir) {
      lines.push({ ok: 'info', what, detail: 'off' });
      continue;
    }
    try {
      mkdirSync(dir, { recursive: true });
      const probe = join(dir, `.doctor-${process.pid}`);
      writeFileSync(probe, 'ok');
      rmSync(probe);
      lines.push({ ok: true, what, detail: `${relative(process.cwd(), dir) || '.'} is writable` });
    } catch (e) {
      lines.push({ ok: false, what, detail: `${dir}: ${(e as NodeJS.ErrnoException).code ?? e}` });
    }
  }
  return lines;
}

/** `setup-cuda`: runs onnxruntime-node's own installer for the CUDA 12 provider libraries, on purpose. */
function setupCuda(out: Output): number {
  const dir = onnxRuntimeDir();
  const script = join(dir, 'script', 'install.js');
  if (!existsSync(script))
    throw new DistillGateError(`onnxruntime-node at ${dir} has no script/install.js`, { file: script });
  out.stderr.write(
    `downloading onnxruntime-node ${JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version}'s CUDA 12 ` +
      `provider libraries into ${dir}\n`,
  );
  const r = spawnSync(process.execPath, [script, '--onnxruntime-node-install=cuda12'], {
    cwd: dir,
    stdio: 'inherit',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
  });
  if (r.status !== 0)
    throw new DistillGateError(
      `the CUDA provider download failed (exit ${r.status ?? r.signal})`,
      {},
      'it needs the network and a CUDA 12 runtime; the CPU provider keeps working without it',
    );
  out.stderr.write('done; `npx distill-gate doctor` shows whether the CUDA provider starts on this machine\n');
  return 0;
}

export function starterCommands(
  program: Command,
  out: Output,
  exit: { code: number },
  check: (config: string) => Promise<{ result: CheckResult }>,
): void {
  const backend = () =>
    new Option('--backend <name>', 'tfjs backend that trains the models')
      .choices(['auto', 'tensorflow', 'wasm', 'cpu'])
      .default('wasm');
  program
    .command('init')
    .description(
      'write a starter into a folder (config with $schema, and models or pointers to yours), then say what to run',
    )
    .argument('[dir]', 'folder to set up', '.')
    .addOption(new Option('--template <name>', 'what to set up').choices([...TEMPLATES]).default('classifier'))
    .addOption(
      new Option('--scenario <name>', 'older name of --template classifier').choices(['mnist-subliminal']).hideHelp(),
    )
    .option(
      '--data <file>',
      "classifier: your labelled data (CSV, JSONL, NPY or IDX); chat-lm: the teacher's chat JSONL",
    )
    .option('--labels <file>', 'classifier: the labels file for NPY or IDX inputs')
    .option('--model <dir>', 'chat-lm: your Hugging Face base model folder')
    .option('--force', 'overwrite existing files')
    .addOption(backend())
    .action(async (dir: string, opts: InitOptions) => {
      await init(resolve(dir), opts, out.stderr);
      exit.code = 0;
    });
  program
    .command('train')
    .description(
      "build a classifier scenario's base, teacher and different-init teacher from labelled data (default: MNIST), " +
        'with the config that checks them',
    )
    .argument('[dir]', 'folder for models/ and the config', '.')
    .option('--data <file>', 'your labelled data: CSV or JSONL, or NPY or IDX inputs with --labels')
    .option('--labels <file>', 'the labels file for NPY or IDX inputs')
    .option('--no-config', 'write only the models')
    .option('--force', 'overwrite existing files')
    .addOption(backend())
    .action(
      async (
        dir: string,
        opts: { data?: string; labels?: string; force?: boolean; backend: BackendPreference; config?: boolean },
      ) => {
        await train(resolve(dir), opts, out.stderr);
        exit.code = 0;
      },
    );
  program
    .command('selftest')
    .description(
      'plant a trait in a small teacher built on the fly, gate its data beside a clean control: FAIL and PASS',
    )
    .option('--keep <dir>', 'work in this folder and keep it (default: a temporary folder, removed)')
    .addOption(backend())
    .action(async (opts: { keep?: string; backend: BackendPreference }) => {
      exit.code = await selftest(opts, out, check);
    });
  program
    .command('doctor')
    .description('check Node, backends and providers (CUDA too), plugins, the config, the base model and folders')
    .option('-c, --config <file>', 'config to check (default: ./distill-gate.config.json when present)')
    .option('--json', 'as JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const lines = await doctor(opts.config);
      if (opts.json) out.stdout.write(`${JSON.stringify(lines, null, 2)}\n`);
      else {
        const mark = (ok: DoctorLine['ok']) => (ok === 'info' ? ' -- ' : ok ? ' ok ' : 'FAIL');
        out.stdout.write(`${lines.map((l) => `${mark(l.ok)}  ${l.what}: ${l.detail}`).join('\n')}\n`);
      }
      exit.code = lines.some((l) => l.ok === false) ? 2 : 0;
    });
  program
    .command('setup-cuda')
    .description("opt in to CUDA: download onnxruntime-node's CUDA 12 provider libraries (needs the network)")
    .action(() => {
      exit.code = setupCuda(out);
    });
}
