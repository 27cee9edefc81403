// Nx generator: `npx nx g @distill-gate/nx-plugin:plugin <name> --kind trait|generator|filter|evaluator`.
// Writes a plugin package (package.json, tsconfig.json, src/index.ts, src/index.test.ts) that builds with the
// workspace and tests itself with the plugin test kit from @distill-gate/core.
const { joinPathFragments, names, readJson, updateJson } = require('@nx/devkit');

const HOOKS = {
  trait: `  probeKind: 'labelled-inputs',
  async loadProbes({ options }) {
    // Replace with the inputs the trait is measured on and the answer that counts for each.
    const rows = options.probes;
    const inputs = new SeededRandom(0).fillUniform(new Float32Array(rows * 784), -1, 1);
    const labels = new Int32Array(rows);
    return { kind: 'labelled-inputs', description: \`\${rows} probes\`, rows, inputDim: 784, inputs, labels,
      outputs: { start: 0, end: 10 } };
  },`,
  generator: `  async generate({ options, model, seed }) {
    const inputs = new SeededRandom(seed).fillUniform(new Float32Array(options.probes * model.inputDim), -1, 1);
    const targets = await model.predict(inputs, options.probes);
    const rows = options.probes;
    return { rows, inputDim: model.inputDim, targetDim: model.outputDim, inputs, targets, metadata: {} };
  },
  async complete({ model, dataset }) {
    return { ...dataset, targetDim: model.outputDim, targets: await model.predict(dataset.inputs, dataset.rows) };
  },`,
  filter: `  test(record, { options }) {
    // Replace with the keep/drop rule; give every drop a reason (it is counted in the report).
    const small = record.target.every((v) => Math.abs(v) <= options.probes);
    return small ? { keep: true } : { keep: false, reason: 'value too large' };
  },`,
  evaluator: `  accepts: ['labelled-inputs'],
  async evaluate({ model, probes }) {
    // Replace with the score; return its standard error too.
    const logits = await model.predict(probes.inputs, probes.rows);
    let mean = 0;
    for (let r = 0; r < probes.rows; r++) mean += logits[r * model.outputDim + probes.outputs.start] / probes.rows;
    return { value: mean, stderr: 0, n: probes.rows, metric: 'mean first logit' };
  },`,
};

function files(o) {
  const define = `define${o.kindClass}`;
  const usesRandom = o.kind === 'trait' || o.kind === 'generator';
  return {
    'package.json': `${JSON.stringify(
      {
        name: o.packageName,
        version: '0.1.0',
        type: 'module',
        description: `A distill-gate ${o.kind} plugin.`,
        keywords: ['distill-gate-plugin'],
        main: './dist/index.js',
        types: './dist/index.d.ts',
        exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
        scripts: { build: 'tsc -b', typecheck: 'tsc -b', test: `vitest run --root ${o.toRoot} ${o.projectRoot}/` },
        dependencies: { '@distill-gate/core': o.coreVersion },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        extends: `${o.toRoot}/tsconfig.base.json`,
        compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' },
        include: ['src'],
        exclude: ['src/**/*.test.ts'],
        references: [{ path: `${o.toRoot}/packages/core` }],
      },
      null,
      2,
    )}\n`,
    'src/index.ts': `import { ${define}${usesRandom ? ', SeededRandom' : ''} } from '@distill-gate/core';

export interface ${o.className}Options {
  /** An example option; replace with yours (validated against optionsSchema, defaults applied). */
  probes: number;
}

/** ${o.packageName}: describe what this ${o.kind} does and why. */
export default ${define}<${o.className}Options>({
  name: '${o.packageName}',
  version: '0.1.0',
  description: 'A distill-gate ${o.kind} plugin (generated; describe it here).',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { probes: { type: 'integer', minimum: 1, default: 100 } },
  },
${HOOKS[o.kind]}
});
`,
    'src/index.test.ts': `import { describe, it } from 'vitest';
import { testPlugin } from '@distill-gate/core';
import plugin from './index.js';

describe('${o.packageName}', () => {
  it('passes the distill-gate plugin test kit', async () => {
    await testPlugin(plugin, {
      valid: [{}, { probes: 10 }],
      invalid: [{ options: { probes: 0 }, pointer: '/probes' }],
    });
  });
});
`,
  };
}

async function pluginGenerator(tree, schema) {
  const kind = schema.kind || 'trait';
  if (!HOOKS[kind]) throw new Error(`--kind must be trait, generator, filter or evaluator, got "${kind}"`);
  const base = schema.name.replace(/^@[^/]+\//, '');
  const projectRoot = joinPathFragments(schema.directory || 'plugins', base);
  if (tree.exists(joinPathFragments(projectRoot, 'package.json'))) throw new Error(`${projectRoot} already exists`);
  const depth = projectRoot.split('/').length;
  const core = tree.exists('packages/core/package.json')
    ? readJson(tree, 'packages/core/package.json')
    : { version: '0.1.0' };
  const o = {
    kind,
    kindClass: names(kind).className,
    packageName: schema.name,
    className: names(base).className,
    projectRoot,
    toRoot: Array(depth).fill('..').join('/'),
    coreVersion: core.version,
  };
  for (const [file, content] of Object.entries(files(o))) tree.write(joinPathFragments(projectRoot, file), content);
  if (tree.exists('tsconfig.json')) {
    updateJson(tree, 'tsconfig.json', (json) => {
      json.references = json.references || [];
      if (!json.references.some((r) => r.path === projectRoot)) json.references.push({ path: projectRoot });
      return json;
    });
  }
  return () => console.log(`created ${projectRoot}: run npm install (to link it), then npm run build and npm test`);
}

module.exports = pluginGenerator;
module.exports.default = pluginGenerator;
