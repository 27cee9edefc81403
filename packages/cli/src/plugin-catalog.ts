import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileSchema, DistillGateError, type AnyPlugin } from '@distill-gate/core';
import { builtinPlugins } from './builtins.js';

/** Keyword that marks an npm package as a distill-gate plugin (so `plugins list` finds it). */
export const PLUGIN_KEYWORD = 'distill-gate-plugin';

export interface CatalogEntry {
  plugin: AnyPlugin;
  source: 'built-in' | string;
}

/** Packages under node_modules folders from `dir` upwards whose package.json has the plugin keyword. */
function installedPluginPackages(dir: string): string[] {
  const found: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const nm = join(d, 'node_modules');
    if (existsSync(nm)) {
      for (const name of readdirSync(nm)) {
        const dirs = name.startsWith('@')
          ? readdirSync(join(nm, name)).map((n) => join(nm, name, n))
          : [join(nm, name)];
        for (const p of dirs) {
          try {
            const pkg = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
            if (Array.isArray(pkg.keywords) && pkg.keywords.includes(PLUGIN_KEYWORD)) found.push(p);
          } catch {
            // not a package folder
          }
        }
      }
    }
    if (dirname(d) === d) return found;
  }
}

/** The built-in plugins and the installed plugin packages visible from `dir`. */
export async function pluginCatalog(dir: string): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = [...builtinPlugins.values()].map((plugin) => ({ plugin, source: 'built-in' }));
  const seen = new Set(entries.map((e) => e.plugin.name));
  for (const p of installedPluginPackages(dir)) {
    const pkg = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
    const main = pkg.exports?.['.']?.default ?? pkg.exports?.['.'] ?? pkg.main ?? 'index.js';
    try {
      const mod = await import(pathToFileURL(join(p, typeof main === 'string' ? main : 'index.js')).href);
      const plugin = (mod.default ?? mod.plugin) as AnyPlugin | undefined;
      if (plugin?.name && !seen.has(plugin.name)) {
        seen.add(plugin.name);
        entries.push({ plugin, source: p });
      }
    } catch {
      // a package that fails to load is reported by `check` when a config uses it
    }
  }
  return entries.sort(
    (a, b) => a.plugin.kind.localeCompare(b.plugin.kind) || a.plugin.name.localeCompare(b.plugin.name),
  );
}

/** The options a plugin gets when the config gives none (its schema's defaults). */
export function defaultOptions(plugin: AnyPlugin): unknown {
  const options = {};
  compileSchema(plugin.optionsSchema)(options);
  return options;
}

export function formatPluginList(entries: CatalogEntry[]): string {
  const rows = entries.map((e) => [
    e.plugin.kind,
    e.plugin.name,
    e.plugin.version,
    e.source === 'built-in' ? 'built-in' : 'installed',
    e.plugin.description,
  ]);
  const header = ['kind', 'name', 'version', 'source', 'description'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function describePlugin(entries: CatalogEntry[], name: string): string {
  const e =
    entries.find((x) => x.plugin.name === name) ??
    entries.find((x) => x.plugin.name.endsWith(`/${name}`) || x.plugin.name.endsWith(`-${name}`));
  if (!e) {
    const names = entries.map((x) => x.plugin.name);
    throw new DistillGateError(`no plugin named "${name}"`, {}, `installed: ${names.join(', ')}`);
  }
  const p = e.plugin;
  return [
    `${p.name} ${p.version} (${p.kind}${e.source === 'built-in' ? ', built-in' : `, from ${e.source}`})`,
    p.description,
    '',
    'options schema:',
    JSON.stringify(p.optionsSchema, null, 2),
    '',
    'defaults:',
    JSON.stringify(defaultOptions(p), null, 2),
    '',
    'use it in distill-gate.config.json as:',
    JSON.stringify({ use: p.name, options: defaultOptions(p) }),
  ].join('\n');
}
