import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyPlugin, PluginKind } from '../contracts.js';
import { DistillGateError, type ErrorLocation } from '../errors.js';
import type { PluginRef } from '../config/load.js';
import { compileSchema, describeAjvErrors, nearest, schemaError } from '../validation.js';

/** A plugin with its validated options (defaults applied) and where it was loaded from. */
export interface LoadedPlugin<P extends AnyPlugin = AnyPlugin> {
  plugin: P;
  options: any;
  ref: PluginRef;
  resolvedFrom: string;
}

/** Plugins shipped with the tool, by package name: used before looking in node_modules (the Action has none). */
export type BuiltinPlugins = ReadonlyMap<string, AnyPlugin>;

type PluginOfKind<K extends PluginKind> = Extract<AnyPlugin, { kind: K }>;

/** The hooks each kind of plugin must have. */
export const hooksByKind: Record<PluginKind, string[]> = {
  trait: ['loadProbes'],
  generator: ['generate', 'complete'],
  filter: ['test'],
  evaluator: ['evaluate'],
};

function resolveSpecifier(use: string, configDir: string): string {
  if (use.startsWith('.') || isAbsolute(use)) return resolve(configDir, use);
  const attempts = [join(configDir, 'package.json'), import.meta.url];
  for (const from of attempts) {
    try {
      return createRequire(from).resolve(use);
    } catch {
      // try the next place: the config's folder first, then the packages installed beside distill-gate
    }
  }
  throw new Error(`cannot find package "${use}"`);
}

/** Loads the plugin named by `ref.use` (package name or path relative to the config), checks its shape and options. */
export async function loadPlugin<K extends PluginKind>(
  ref: PluginRef,
  kind: K,
  configDir: string,
  locate: (pointer: string) => ErrorLocation = (pointer) => ({ pointer }),
  builtins: BuiltinPlugins = new Map(),
): Promise<LoadedPlugin<PluginOfKind<K>>> {
  const at = { ...locate(`${ref.pointer}/use`), plugin: ref.use };
  let resolved: string;
  let mod: Record<string, unknown>;
  try {
    const builtin = builtins.get(ref.use);
    if (builtin) {
      resolved = 'built-in';
      mod = { default: builtin };
    } else {
      resolved = resolveSpecifier(ref.use, configDir);
      mod = await import(pathToFileURL(resolved).href);
    }
  } catch (e) {
    const local = ref.use.startsWith('.') || isAbsolute(ref.use);
    const guess = local ? undefined : nearest(ref.use, builtins.keys());
    throw new DistillGateError(
      `cannot load ${kind} plugin "${ref.use}": ${(e as Error).message.split('\n')[0]}`,
      at,
      local
        ? 'a path is resolved relative to the config file'
        : guess
          ? `did you mean "${guess}"?`
          : `install it (npm install ${ref.use}) or give a path relative to the config file`,
    );
  }
  const plugin = (mod.default ?? mod.plugin) as Partial<AnyPlugin> | undefined;
  const problems: string[] = [];
  if (!plugin || typeof plugin !== 'object')
    problems.push('it exports no plugin (expected a default export made with define*)');
  else {
    if (plugin.kind !== kind) problems.push(`it is a ${String(plugin.kind)} plugin, expected a ${kind} plugin`);
    if (typeof plugin.name !== 'string' || !plugin.name) problems.push('"name" is missing');
    if (typeof plugin.version !== 'string') problems.push('"version" is missing');
    if (!plugin.optionsSchema || typeof plugin.optionsSchema !== 'object') problems.push('"optionsSchema" is missing');
    for (const hook of hooksByKind[kind] ?? []) {
      if (typeof (plugin as Record<string, unknown>)[hook] !== 'function')
        problems.push(`hook "${hook}" is not a function`);
    }
  }
  if (problems.length)
    throw new DistillGateError(`"${ref.use}" is not a valid ${kind} plugin: ${problems.join('; ')}`, at);
  const valid = plugin as PluginOfKind<K>;
  let validate;
  try {
    validate = compileSchema(valid.optionsSchema);
  } catch (e) {
    throw new DistillGateError(`plugin's optionsSchema is not a valid JSON Schema: ${(e as Error).message}`, {
      ...at,
      plugin: valid.name,
    });
  }
  const options = structuredClone(ref.options ?? {});
  if (!validate(options)) {
    const issues = describeAjvErrors(validate.errors ?? []).map((i) => ({
      ...i,
      pointer: `${ref.pointer}/options${i.pointer}`,
    }));
    const err = schemaError(`invalid options for ${kind} plugin "${valid.name}"`, issues, (p) => ({
      ...locate(p),
      plugin: valid.name,
    }));
    throw err;
  }
  return { plugin: valid, options, ref, resolvedFrom: resolved };
}
