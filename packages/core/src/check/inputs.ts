/** Stage 1 of a check: the plugins, the base (and cross base) and the (trait, evaluator) pairs to score. */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type {
  AnyModelHandle,
  EvaluatorPlugin,
  FilterPlugin,
  GeneratorPlugin,
  ModelFormat,
  LoraSettings,
  ProbeSet,
  TraitPlugin,
  TrainingCore,
  TrainingSettings,
} from '../contracts.js';
import { withSystemPrompt } from '../data/text-generation.js';
import type { ResolvedConfig } from '../config/load.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';
import type { LoadedPlugin } from '../plugins/loader.js';
import type { CheckContext } from './context.js';
import { checkCrossBase, checkTrainingFitsBase, probesFitBase } from './fit.js';

/** One trait scored by one evaluator on the trait's probes. */
export interface Evaluation {
  trait: LoadedPlugin<TraitPlugin<any>>;
  evaluator: LoadedPlugin<EvaluatorPlugin<any>>;
  probes: ProbeSet;
}

export interface CheckInputs {
  traits: LoadedPlugin<TraitPlugin<any>>[];
  evaluators: LoadedPlugin<EvaluatorPlugin<any>>[];
  filters: LoadedPlugin<FilterPlugin<any, any>>[];
  /** Writes prompt-matched control data; absent when the control data is a file. */
  controlGenerator?: LoadedPlugin<GeneratorPlugin<any>>;
  base: AnyModelHandle;
  crossBase?: AnyModelHandle;
  evaluations: Evaluation[];
}

export async function loadInputs(ctx: CheckContext): Promise<CheckInputs> {
  const { config, driver, training } = ctx;
  ctx.progress({ phase: 'load', message: 'loading plugins and the base model' });
  const traits = await driver.loadAll(config.traits, 'trait');
  const evaluators = await driver.loadAll(config.evaluators, 'evaluator');
  const filters = await driver.loadAll(config.filters, 'filter');
  const controlGenerator =
    config.control.kind === 'generate' ? await driver.load(config.control.generator, 'generator') : undefined;
  const base = await loadModelAt(training, config.basePath, config.baseFormat, config, '/base/path');
  checkTrainable(training, base, config.locate('/base/path'));
  checkTrainingFitsBase(base, config);
  resolveTraining(training, base, config);
  const crossBase = config.crossBasePath
    ? await loadModelAt(training, config.crossBasePath, config.crossBaseFormat, config, '/crossBase/path')
    : undefined;
  if (crossBase) checkTrainable(training, crossBase, config.locate('/crossBase/path'));
  if (crossBase) checkCrossBase(base, crossBase, config);
  const evaluations: Evaluation[] = [];
  for (const trait of traits) {
    const probes = await driver.call(trait, (t, context) => t.loadProbes(context));
    const probeProblem = probesFitBase(probes, base);
    if (probeProblem) throw new DistillGateError(probeProblem, driver.where(trait));
    for (const evaluator of evaluatorsFor(trait, evaluators, config)) evaluations.push({ trait, evaluator, probes });
  }
  return { traits, evaluators, filters, controlGenerator, base, crossBase, evaluations };
}

/** The evaluators that score a trait: those that list it in "traits", else those that accept its kind of probes. */
function evaluatorsFor(
  trait: LoadedPlugin<TraitPlugin<any>>,
  evaluators: LoadedPlugin<EvaluatorPlugin<any>>[],
  config: ResolvedConfig,
): LoadedPlugin<EvaluatorPlugin<any>>[] {
  const matching = evaluators.filter(
    (e) =>
      (e.ref as { traits?: string[] }).traits?.includes(trait.plugin.name) ??
      e.plugin.accepts.includes(trait.plugin.probeKind),
  );
  if (!matching.length) {
    throw new DistillGateError(
      `no evaluator scores trait "${trait.plugin.name}" (probe kind ${trait.plugin.probeKind})`,
      config.locate('/evaluators'),
      'add an evaluator that accepts these probes, or list the trait in its "traits"',
    );
  }
  return matching;
}

/** Students start from the base: a model the training core cannot train from is refused before any work. */
function checkTrainable(training: TrainingCore, model: AnyModelHandle, where: ErrorLocation): void {
  const why = training.cannotTrain?.(model);
  if (why) throw new DistillGateError(why, where);
}

/** The training settings completed for the base's family (and recorded so in the result and the cache keys). */
function resolveTraining(training: TrainingCore, base: AnyModelHandle, config: ResolvedConfig): void {
  const resolve = (settings: TrainingSettings, pointer: string) => {
    if (!training.trainingFor) return settings;
    try {
      return training.trainingFor(base, settings);
    } catch (e) {
      if (e instanceof DistillGateError) throw e;
      throw new DistillGateError((e as Error).message, config.locate(pointer));
    }
  };
  const asConfigured = config.training;
  config.training = resolve(asConfigured, '/training/lora');
  // Each probe configuration once (the dataset entries share them): its LoRA settings over the configured ones.
  for (const probe of new Set(config.datasets.flatMap((d) => (d.probe ? [d.probe] : [])))) {
    probe.training = probe.lora
      ? resolve(
          { ...asConfigured, lora: { ...asConfigured.lora, ...probe.lora } as LoraSettings },
          `${probe.pointer}/lora`,
        )
      : config.training;
    if (probe.systemPrompt !== undefined)
      withSystemPrompt(base, probe.systemPrompt, config.locate(`${probe.pointer}/systemPrompt`));
  }
}

/** Loads a model the config names, with errors that name the file as the config does. */
export async function loadModelAt(
  training: TrainingCore,
  path: string,
  format: ModelFormat | undefined,
  config: ResolvedConfig,
  pointer: string,
): Promise<AnyModelHandle> {
  if (!existsSync(path))
    throw new DistillGateError(`model file not found: ${relative(config.dir, path)}`, config.locate(pointer));
  try {
    return await training.loadModel(path, format);
  } catch (e) {
    if (e instanceof DistillGateError)
      throw new DistillGateError(e.message, { ...e.location, file: relative(config.dir, path) || path }, e.hint);
    throw e;
  }
}
