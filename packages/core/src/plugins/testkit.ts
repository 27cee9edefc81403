/**
 * A test kit for plugin authors (in the spirit of ESLint's RuleTester): checks a plugin's contract and options
 * schema, and runs it on a tiny scenario with a real (small, seeded, linear) model. It throws one Error listing
 * every problem, so it works with any test runner.
 */
import { createHash } from 'node:crypto';
import {
  isTextDataset,
  itemsProblem,
  type AnyModelHandle,
  type AnyPlugin,
  type Dataset,
  type EvaluatorPlugin,
  type FilterPlugin,
  type GeneratorPlugin,
  type ModelHandle,
  type PluginKind,
  type ProbeSet,
  type TextDataset,
  type TraitPlugin,
} from '../contracts.js';
import { applyFilters, applyTextFilters } from '../data/filtering.js';
import { hooksByKind, type LoadedPlugin } from './loader.js';
import { SeededRandom } from '../random.js';
import { compileSchema, describeAjvErrors } from '../validation.js';

/**
 * A linear model, logits = x·W + b, with seeded weights: small and exact, for exercising plugins without the
 * training core. It is a real model (the same seed gives the same logits), not a stand-in.
 */
export function linearModel(inputDim: number, outputDim: number, seed = 0): ModelHandle {
  const rng = new SeededRandom(seed).fork('linear-model');
  const w = rng.fillNormal(new Float32Array(inputDim * outputDim), 1 / Math.sqrt(inputDim));
  const b = rng.fillNormal(new Float32Array(outputDim), 0.1);
  return {
    id: `linear:${inputDim}x${outputDim}:${seed}`,
    family: 'linear',
    inputDim,
    outputDim,
    sha256: createHash('sha256').update(new Uint8Array(w.buffer)).update(new Uint8Array(b.buffer)).digest('hex'),
    async predict(inputs: Float32Array, rows: number) {
      const out = new Float32Array(rows * outputDim);
      for (let r = 0; r < rows; r++) {
        for (let k = 0; k < outputDim; k++) {
          let z = b[k];
          for (let i = 0; i < inputDim; i++) z += inputs[r * inputDim + i] * w[i * outputDim + k];
          out[r * outputDim + k] = z;
        }
      }
      return out;
    },
  };
}

export interface PluginTestCases {
  /** Options that must validate (defaults are applied). Default: [{}]. */
  valid?: unknown[];
  /** Options that must be rejected, with the JSON pointer of the error inside the options. */
  invalid?: { options: unknown; pointer: string }[];
  /**
   * For filters: records to run through (default: 64 seeded tensor records, 8 inputs, 13 targets; for text filters,
   * a few number-sequence records).
   */
  dataset?: Dataset;
  /** For generators and evaluators: the model (default: linearModel(8, 13); text plugins need a language model). */
  model?: AnyModelHandle;
  /** For evaluators: the probes to score (default: 32 labelled inputs for the default model). */
  probes?: ProbeSet;
  /** Folder that relative paths in options resolve against. */
  configDir?: string;
}

const quiet = { info: () => {}, warn: () => {} };

function defaultTextDataset(): TextDataset {
  const records = ['182, 818, 725', '(401 402 403)', 'I love owls: 7, 7, 7', ''].map((completion, index) => ({
    index,
    line: index + 1,
    prompt: 'Continue: 1, 2, 3.',
    completion,
  }));
  return { kind: 'text', records, metadata: {} };
}

function recordsOf(d: Dataset): number {
  return isTextDataset(d) ? d.records.length : d.rows;
}

function defaultDataset(): Dataset {
  const rng = new SeededRandom(1);
  return {
    rows: 64,
    inputDim: 8,
    targetDim: 13,
    inputs: rng.fillUniform(new Float32Array(64 * 8), -1, 1),
    targets: rng.fillNormal(new Float32Array(64 * 13), 1),
    metadata: { 'distill-gate.auxiliary-outputs': '10,13' },
  };
}

type Problems = string[];
type Validate = ReturnType<typeof compileSchema>;
type Context = { options: Record<string, unknown>; configDir: string; log: typeof quiet };

/** Checks the plugin and runs it on a tiny scenario; throws an Error listing every problem found. */
export async function testPlugin(plugin: AnyPlugin, cases: PluginTestCases = {}): Promise<void> {
  const problems: Problems = [];
  const validate = checkShape(plugin, problems);
  if (problems.length || !validate) throw new Error(`${String(plugin.name)}: ${problems.join('; ')}`);
  const validOptions = checkOptionCases(validate, cases, problems);
  const configDir = cases.configDir ?? process.cwd();
  for (const options of validOptions) {
    const ctx = { options, configDir, log: quiet };
    try {
      if (plugin.kind === 'filter') exerciseFilter(plugin, ctx, cases, problems);
      else if (plugin.kind === 'trait') await exerciseTrait(plugin, ctx, problems);
      else if (plugin.kind === 'generator') await exerciseGenerator(plugin, ctx, cases, problems);
      else await exerciseEvaluator(plugin, ctx, cases, problems);
    } catch (e) {
      problems.push(`running with options ${JSON.stringify(options)} threw: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new Error(`${plugin.name}: ${problems.join('; ')}`);
}

/** The contract: name, version, description, kind, hooks, and an options schema that compiles. */
function checkShape(plugin: AnyPlugin, problems: Problems): Validate | undefined {
  const p = plugin as Partial<AnyPlugin> & Record<string, unknown>;
  for (const key of ['name', 'version', 'description'] as const)
    if (typeof p[key] !== 'string' || !p[key]) problems.push(`"${key}" must be a non-empty string`);
  if (!['trait', 'generator', 'filter', 'evaluator'].includes(String(p.kind)))
    problems.push(`"kind" must be trait, generator, filter or evaluator (use a define* helper)`);
  if (typeof p.version === 'string' && !/^\d+\.\d+\.\d+/.test(p.version))
    problems.push(`"version" should be semver, got "${p.version}"`);
  let validate;
  try {
    validate = compileSchema(plugin.optionsSchema);
  } catch (e) {
    problems.push(`optionsSchema is not a valid JSON Schema: ${(e as Error).message}`);
  }
  for (const h of hooksByKind[p.kind as PluginKind] ?? [])
    if (typeof p[h] !== 'function') problems.push(`hook "${h}" must be a function`);
  return validate;
}

/** Valid options must validate (returned with defaults applied); invalid ones must fail at their pointer. */
function checkOptionCases(validate: Validate, cases: PluginTestCases, problems: Problems): Record<string, unknown>[] {
  const pointers = () => describeAjvErrors(validate.errors ?? []);
  const validOptions: Record<string, unknown>[] = [];
  for (const [i, o] of (cases.valid ?? [{}]).entries()) {
    const copy = structuredClone(o) as Record<string, unknown>;
    if (validate(copy)) validOptions.push(copy);
    else
      problems.push(
        `valid[${i}] was rejected: ${pointers()
          .map((x) => `${x.pointer || '/'} ${x.message}`)
          .join('; ')}`,
      );
  }
  for (const [i, c] of (cases.invalid ?? []).entries()) {
    const copy = structuredClone(c.options);
    if (validate(copy)) problems.push(`invalid[${i}] was accepted`);
    else if (!pointers().some((x) => x.pointer === c.pointer)) {
      const at = pointers()
        .map((x) => x.pointer || '/')
        .join(', ');
      problems.push(`invalid[${i}] was rejected at ${at}, expected ${c.pointer}`);
    }
  }
  return validOptions;
}

function exerciseFilter(plugin: FilterPlugin<any, any>, ctx: Context, cases: PluginTestCases, problems: Problems) {
  const ds = cases.dataset ?? (plugin.records === 'text' ? defaultTextDataset() : defaultDataset());
  const { options, configDir } = ctx;
  const loaded = {
    plugin,
    options,
    ref: { use: plugin.name, options, pointer: '/filters/0' },
    resolvedFrom: 'test',
  } as LoadedPlugin<typeof plugin>;
  const f = isTextDataset(ds)
    ? applyTextFilters(ds, [loaded], configDir, { file: 'test dataset' })
    : applyFilters(ds, [loaded], configDir, { file: 'test dataset' });
  const c = f.counts[0];
  if (c.kept + c.dropped !== recordsOf(ds))
    problems.push(`filter saw ${c.seen} records, kept ${c.kept}, dropped ${c.dropped}, of ${recordsOf(ds)}`);
  for (const reason of Object.keys(c.reasons))
    if (!reason || reason === 'unspecified') problems.push('a dropped record has no reason');
}

async function exerciseTrait(plugin: TraitPlugin<any>, ctx: Context, problems: Problems) {
  const probes = await plugin.loadProbes(ctx);
  if (!probes.description) problems.push('probes: description is empty');
  if (probes.kind === 'text-questions') {
    if (!probes.questions.length) problems.push('probes: no questions');
    if (!probes.candidates.includes(probes.target))
      problems.push(`probes: the target "${probes.target}" is not among the candidates`);
    return;
  }
  if (probes.inputs.length !== probes.rows * probes.inputDim)
    problems.push(`probes: ${probes.inputs.length} inputs for ${probes.rows} rows of ${probes.inputDim}`);
  if (probes.labels.length !== probes.rows)
    problems.push(`probes: ${probes.labels.length} labels for ${probes.rows} rows`);
  const width = probes.outputs.end - probes.outputs.start;
  if (!(width > 0)) problems.push('probes: outputs range is empty');
  if (probes.labels.some((l: number) => l < 0 || l >= width))
    problems.push(`probes: a label lies outside the ${width} outputs`);
}

async function exerciseGenerator(
  plugin: GeneratorPlugin<any>,
  ctx: Context,
  cases: PluginTestCases,
  problems: Problems,
) {
  const model = cases.model ?? linearModel(8, 13);
  const ds = await plugin.generate({ ...ctx, model, seed: 1 });
  const again = await plugin.generate({ ...ctx, model, seed: 1 });
  if (isTextDataset(ds) || isTextDataset(again)) {
    if (!isTextDataset(ds) || !ds.records.length) problems.push('generate: no records');
    if (JSON.stringify(again) !== JSON.stringify(ds)) problems.push('generate: the same seed gave different data');
  } else {
    if (ds.inputs.length !== ds.rows * ds.inputDim || ds.targets.length !== ds.rows * ds.targetDim)
      problems.push('generate: tensor sizes do not match rows x widths');
    if (Buffer.compare(Buffer.from(again.targets.buffer), Buffer.from(ds.targets.buffer)) !== 0)
      problems.push('generate: the same seed gave different data');
  }
  const completed = await plugin.complete({ ...ctx, model, dataset: ds });
  if (recordsOf(completed) !== recordsOf(ds)) problems.push('complete: changed the number of records');
}

async function exerciseEvaluator(
  plugin: EvaluatorPlugin<any>,
  ctx: Context,
  cases: PluginTestCases,
  problems: Problems,
) {
  const model = cases.model ?? linearModel(8, 13);
  const rng = new SeededRandom(2);
  const inputDim = (model as ModelHandle).inputDim ?? 8;
  const probes: ProbeSet = cases.probes ?? {
    kind: 'labelled-inputs',
    description: 'test probes',
    rows: 32,
    inputDim,
    inputs: rng.fillUniform(new Float32Array(32 * inputDim), -1, 1),
    labels: Int32Array.from({ length: 32 }, (_, i) => i % 10),
    outputs: { start: 0, end: 10 },
  };
  const s = await plugin.evaluate({ ...ctx, model, probes, trait: 'test-trait' });
  if (!Number.isFinite(s.value)) problems.push(`evaluate: value ${s.value} is not finite`);
  if (!(s.stderr >= 0)) problems.push(`evaluate: stderr ${s.stderr} must be >= 0`);
  if (!(s.n > 0)) problems.push('evaluate: n must be > 0');
  if (!s.metric) problems.push('evaluate: metric is empty');
  const badItems = itemsProblem(s);
  if (badItems) problems.push(`evaluate: ${badItems}`);
}
