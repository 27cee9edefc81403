// Module loader hooks for a training worker started from the TypeScript sources (see workerEntry in pool.ts).
// A relative './x.js' imported from a .ts module is './x.ts' where that exists (the sources import the names tsc
// emits), and each .ts module is compiled as it loads with vite's oxc transform: the one vitest applies to the
// caller's own modules (vite is vitest's dependency, so it is there wherever the sources run under vitest). The
// repository's TypeScript would do too, but its transpileModule made each worker start ~3 s slower on 2 cores.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

let vite;

async function compile(fileName) {
  try {
    vite ??= await import('vite');
  } catch (e) {
    throw new Error(
      `${fileName}: a training worker started from the TypeScript sources compiles them with vite (vitest's ` +
        `dependency), which cannot be loaded (${e.message}): install the dev dependencies, or run the build`,
      { cause: e },
    );
  }
  const { code, map } = await vite.transformWithOxc(await readFile(fileName, 'utf8'), fileName, {
    target: 'es2022',
    sourcemap: true,
  });
  // Inline, for stack traces under --enable-source-maps.
  const inline = map ? Buffer.from(JSON.stringify(map)).toString('base64') : undefined;
  return inline ? `${code}\n//# sourceMappingURL=data:application/json;base64,${inline}\n` : code;
}

export async function resolve(specifier, context, nextResolve) {
  if (context.parentURL?.endsWith('.ts') && /^\.\.?\//.test(specifier) && specifier.endsWith('.js')) {
    const source = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(source)) return { url: source.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  return { format: 'module', source: await compile(fileURLToPath(url)), shortCircuit: true };
}
