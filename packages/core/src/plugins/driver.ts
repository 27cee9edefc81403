/**
 * The plugin driver, in the spirit of Rollup's PluginDriver: the one place that resolves a plugin reference, validates
 * its shape and options (ajv), calls its hooks and attributes whatever goes wrong to the plugin by name, with the
 * config location of its reference. Nothing else in the core calls a plugin hook directly.
 */
import type { AnyPlugin, Logger, PluginContext, PluginKind } from '../contracts.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';
import type { PluginRef } from '../config/load.js';
import { loadPlugin, type BuiltinPlugins, type LoadedPlugin } from './loader.js';

type PluginOfKind<K extends PluginKind> = Extract<AnyPlugin, { kind: K }>;

/** An error from a plugin hook, located at its config reference and named after the plugin. */
export function pluginError(
  e: unknown,
  plugin: string,
  where: ErrorLocation,
  prefix = 'plugin failed',
): DistillGateError {
  if (e instanceof DistillGateError)
    return new DistillGateError(e.message, { ...where, ...e.location, plugin }, e.hint);
  return new DistillGateError(`${prefix}: ${(e as Error)?.message ?? String(e)}`, { ...where, plugin });
}

export class PluginDriver {
  constructor(
    private readonly config: { dir: string; locate: (pointer: string) => ErrorLocation },
    private readonly log: Logger,
    private readonly builtins?: BuiltinPlugins,
  ) {}

  /** Resolves, imports and validates one plugin reference. */
  load<K extends PluginKind>(ref: PluginRef, kind: K): Promise<LoadedPlugin<PluginOfKind<K>>> {
    return loadPlugin(ref, kind, this.config.dir, this.config.locate, this.builtins);
  }

  loadAll<K extends PluginKind>(refs: PluginRef[], kind: K): Promise<LoadedPlugin<PluginOfKind<K>>[]> {
    return Promise.all(refs.map((r) => this.load(r, kind)));
  }

  /** The context every hook receives: the plugin's validated options, the config's folder and the run's logger. */
  context<O>(p: LoadedPlugin): PluginContext<O> {
    return { options: p.options as O, configDir: this.config.dir, log: this.log };
  }

  /** Where the plugin's reference stands in the config, named after the plugin. */
  where(p: LoadedPlugin): ErrorLocation {
    return { ...this.config.locate(p.ref.pointer), plugin: p.plugin.name };
  }

  /**
   * Calls one hook of a loaded plugin with its context; any error it throws becomes a DistillGateError that names the
   * plugin and its config location (a DistillGateError keeps its own, more precise location).
   */
  async call<P extends AnyPlugin, T>(
    p: LoadedPlugin<P>,
    hook: (plugin: P, context: PluginContext<any>) => T | Promise<T>,
    /** Turns an error about the caller's own input (e.g. one dataset record) into a better-located one. */
    relocate?: (e: unknown) => DistillGateError | undefined,
  ): Promise<T> {
    try {
      return await hook(p.plugin, this.context(p));
    } catch (e) {
      throw relocate?.(e) ?? this.error(p, e);
    }
  }

  /** An error from one of the plugin's hooks, attributed to it. */
  error(p: LoadedPlugin, e: unknown): DistillGateError {
    return pluginError(e, p.plugin.name, this.config.locate(p.ref.pointer));
  }
}
