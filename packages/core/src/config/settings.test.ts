import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from './schema.js';
import {
  actionInputs,
  checkCommandOptions,
  resolveRunSettings,
  runSettingList,
  runSettingsSchemaProperties,
  settingFromInput,
  settingOverrides,
} from './settings.js';

const published = JSON.parse(readFileSync(new URL('../../schema/config.schema.json', import.meta.url), 'utf8'));
const cwd = resolve('/work/space');

/** The attribute commander gives a long flag: --bad-records -> badRecords, --no-cache -> cache. */
const attribute = (flag: string) =>
  flag.replace(/^--(no-)?/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

describe('the settings table', () => {
  it('has one flag, one input and one config property per setting, and each flag names its key', () => {
    const flags = runSettingList.flatMap((s) => (s.cli ? [s.cli.flag] : []));
    const inputs = runSettingList.flatMap((s) => (s.action ? [s.action.input] : []));
    const pointers = runSettingList.flatMap((s) => (s.configPath ? [s.configPath] : []));
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(inputs).size).toBe(inputs.length);
    expect(new Set(pointers).size).toBe(pointers.length);
    for (const s of runSettingList) {
      if (s.cli) expect(attribute(s.cli.flag), s.cli.flag).toBe(s.key);
      if (s.cli) expect(s.cli.flag.startsWith('--no-'), s.cli.flag).toBe(Boolean(s.negated));
      if (s.configPath) expect(s.configPath).toBe(`/${s.key}`);
      expect(s.description.length, s.key).toBeGreaterThan(0);
    }
  });

  it('every config setting is in the published schema, with its type, default and description', () => {
    for (const s of runSettingList.filter((r) => r.configPath)) {
      const property = published.properties[s.key];
      expect(property, `${s.key} is missing from schema/config.schema.json`).toBeDefined();
      expect(property).toEqual({
        ...s.type,
        ...(s.default !== undefined ? { default: s.default } : {}),
        description: s.description,
      });
    }
    expect(configSchema.properties).toMatchObject(runSettingsSchemaProperties());
  });

  it('describes the check options as the CLI has them', () => {
    const options = checkCommandOptions();
    expect(options.map((o) => o.flags)).toEqual([
      '-c, --config <path>',
      '--seeds <n|list>',
      '--threshold <number>',
      '--backend <name>',
      '--trainer <engine>',
      '--inference <engine>',
      '--inconclusive <policy>',
      '--workers <n>',
      '--bad-records <policy>',
      '--max-minutes <m>',
      '--max-records <n>',
      '--sample-records <n|all>',
      '--report-dir <dir>',
      '--shard <i/n>',
      '--cache-dir <dir>',
      '--no-cache',
      '--save-students <dir>',
      '--screen',
      '--json',
      '--no-progress',
    ]);
    const by = Object.fromEntries(options.map((o) => [o.key, o]));
    // Only --config has a CLI default; the config file holds the others'.
    expect(options.filter((o) => o.default !== undefined)).toEqual([by.config]);
    expect(by.config.default).toBe('distill-gate.config.json');
    expect(by.backend.choices).toEqual(['auto', 'tensorflow', 'wasm', 'cpu']);
    expect(by.backend.parse).toBeUndefined();
    expect(by.badRecords.choices).toBeUndefined();
    expect(() => by.badRecords.parse!('x')).toThrow('must be fail or skip');
    expect(() => by.threshold.parse!(' ')).toThrow('must be a number');
    expect(() => by.maxMinutes.parse!('0')).toThrow('must be a number of minutes > 0');
    expect(() => by.workers.parse!('1.5')).toThrow('--workers must be an integer >= 1');
    expect(() => by.maxRecords.parse!('0')).toThrow('--max-records must be an integer >= 1');
    expect(by.sampleRecords.parse!('all')).toBe('all');
    expect(by.sampleRecords.parse!('500')).toBe(500);
    expect(() => by.sampleRecords.parse!('0')).toThrow('--sample-records must be an integer >= 1 or "all"');
    expect(() => by.shard.parse!('3/2')).toThrow('--shard must be i/n with 1 <= i <= n, got "3/2"');
    expect(by.seeds.parse!('3')).toEqual([1, 2, 3]);
    expect(by.shard.parse!('2/3')).toEqual({ index: 2, count: 3 });
  });

  it('declares the Action inputs with their defaults', () => {
    const inputs = actionInputs();
    expect(Object.keys(inputs)).toEqual([
      'config',
      'datasets',
      'changed-only',
      'seeds',
      'threshold',
      'backend',
      'trainer',
      'inference',
      'onnxruntime',
      'inconclusive',
      'bad-records',
      'max-minutes',
      'max-records',
      'sample-records',
      'report-dir',
      'shard',
      'cache-dir',
      'no-cache',
      'screen',
      'merge',
    ]);
    const defaults = Object.fromEntries(Object.entries(inputs).map(([n, i]) => [n, i.default]));
    expect(defaults).toMatchObject({
      config: 'distill-gate.config.json',
      'changed-only': 'true',
      onnxruntime: 'install',
      'report-dir': 'distill-gate-report',
      'no-cache': 'false',
      seeds: '',
      threshold: '',
      backend: '',
    });
    expect(Object.values(inputs).filter((i) => i.multiline)).toEqual([inputs.datasets, inputs.merge]);
    expect(Object.values(inputs).some((i) => i.required)).toBe(false);
  });
});

describe('settingFromInput', () => {
  it('parses each kind of input as the Action always did', () => {
    expect(settingFromInput('config', '', cwd)).toBe(join(cwd, 'distill-gate.config.json'));
    expect(settingFromInput('config', 'sub/c.json', cwd)).toBe(join(cwd, 'sub/c.json'));
    expect(settingFromInput('report-dir', '', cwd)).toBe(join(cwd, 'distill-gate-report'));
    expect(settingFromInput('cache-dir', '', cwd)).toBeUndefined();
    expect(settingFromInput('cache-dir', 'c', cwd)).toBe(join(cwd, 'c'));
    expect(settingFromInput('seeds', '3', cwd)).toEqual([1, 2, 3]);
    expect(settingFromInput('seeds', '', cwd)).toBeUndefined();
    expect(settingFromInput('threshold', '0.1', cwd)).toBe(0.1);
    expect(settingFromInput('max-records', '20', cwd)).toBe(20);
    expect(settingFromInput('shard', '1/2', cwd)).toEqual({ index: 1, count: 2 });
    expect(settingFromInput('backend', 'wasm', cwd)).toBe('wasm');
    expect(settingFromInput('onnxruntime', '', cwd)).toBe('install');
    expect(settingFromInput('datasets', ['a/*.jsonl', 'b.jsonl'], cwd)).toEqual(['a/*.jsonl', 'b.jsonl']);
  });

  it('reads booleans: only the literal other than the default changes them', () => {
    expect(settingFromInput('changed-only', '', cwd)).toBe(true);
    expect(settingFromInput('changed-only', 'false', cwd)).toBe(false);
    expect(settingFromInput('changed-only', 'no', cwd)).toBe(true);
    // no-cache: true turns the cache off
    expect(settingFromInput('no-cache', '', cwd)).toBe(true);
    expect(settingFromInput('no-cache', 'true', cwd)).toBe(false);
    expect(settingFromInput('no-cache', 'yes', cwd)).toBe(true);
  });

  it('names the input in its errors', () => {
    expect(() => settingFromInput('backend', 'gpu', cwd)).toThrow(
      'input "backend" must be one of auto, tensorflow, wasm, cpu, got "gpu"',
    );
    expect(() => settingFromInput('onnxruntime', 'maybe', cwd)).toThrow(
      'input "onnxruntime" must be one of install, skip, got "maybe"',
    );
    expect(() => settingFromInput('bad-records', 'x', cwd)).toThrow(
      'input "bad-records" must be one of fail, skip, got "x"',
    );
    expect(() => settingFromInput('threshold', 'abc', cwd)).toThrow('input "threshold" must be a number, got "abc"');
    expect(() => settingFromInput('seeds', '1,1', cwd)).toThrow('--seeds has duplicates: "1,1"');
    expect(() => settingFromInput('shard', 'x', cwd)).toThrow('--shard must be i/n with 1 <= i <= n, got "x"');
    expect(() => settingFromInput('nope', '', cwd)).toThrow('no input "nope"');
  });

  it('parses max-records and max-minutes as the CLI does', () => {
    expect(settingFromInput('max-minutes', '1.5', cwd)).toBe(1.5);
    for (const bad of ['1.5', '-1', '0', 'many', '1e3'])
      expect(() => settingFromInput('max-records', bad, cwd), bad).toThrow(
        `input "max-records" must be an integer >= 1, got "${bad}"`,
      );
    expect(settingFromInput('sample-records', 'all', cwd)).toBe('all');
    for (const bad of ['1.5', '0', 'some'])
      expect(() => settingFromInput('sample-records', bad, cwd), bad).toThrow(
        `input "sample-records" must be an integer >= 1 or "all", got "${bad}"`,
      );
    for (const bad of ['0', '-1', 'soon'])
      expect(() => settingFromInput('max-minutes', bad, cwd), bad).toThrow(
        `input "max-minutes" must be a number of minutes > 0, got "${bad}"`,
      );
  });

  it('accepts and rejects, for each setting with a flag and an input, exactly what the flag does', () => {
    const texts = ['1', '20', '1.5', '-1', '0', '1e3', '0x10', 'abc', '1,2', '1,1', '2/3', '3/2', 'wasm', 'skip'];
    const options = Object.fromEntries(checkCommandOptions().map((o) => [o.key, o]));
    const rows = runSettingList.filter((s) => s.cli && s.action && (s.parse || s.cli.parse || s.type.enum));
    expect(rows.map((s) => s.key)).toEqual([
      'seeds',
      'threshold',
      'backend',
      'trainer',
      'inference',
      'inconclusive',
      'badRecords',
      'maxMinutes',
      'maxRecords',
      'sampleRecords',
      'shard',
    ]);
    const outcome = (parse: () => unknown) => {
      try {
        return { value: parse() };
      } catch (e) {
        return { error: (e as Error).message };
      }
    };
    for (const s of rows) {
      const option = options[s.key];
      const input = s.action!.input;
      for (const text of texts) {
        const flag = outcome(() => {
          if (option.choices && !option.choices.includes(text)) throw new Error('not a choice');
          return option.parse ? option.parse(text) : text;
        });
        const action = outcome(() => settingFromInput(input, text, cwd));
        expect('value' in action, `${input} ${text}`).toBe('value' in flag);
        if ('value' in flag) expect(action.value, `${input} ${text}`).toEqual(flag.value);
        // The same message (where the flag has the row's parser), naming the flag or the input and the value.
        else if (option.parse && !s.cli!.parse)
          expect([flag.error, `${flag.error!.replace(s.cli!.flag, `input "${input}"`)}, got "${text}"`]).toContain(
            action.error,
          );
      }
    }
  });
});

describe('overrides', () => {
  it('takes the config settings of the flags, and --no-cache as cacheDir false', () => {
    expect(
      settingOverrides({ config: 'c.json', seeds: [1], threshold: 0.1, json: true, cacheDir: 'c', cache: true }),
    ).toEqual({ seeds: [1], threshold: 0.1, cacheDir: 'c' });
    expect(settingOverrides({ cacheDir: 'c', cache: false, progress: false })).toEqual({ cacheDir: false });
    expect(settingOverrides({})).toEqual({});
  });

  it('resolves settings: overrides against cwd, the file against its folder, defaults from the file', () => {
    const dir = resolve('/repo/configs');
    const file = { seeds: 3, threshold: 0.05, reportDir: 'out', cacheDir: '.cache', backend: 'auto' };
    expect(resolveRunSettings(file, {}, { cwd, dir })).toEqual({
      seeds: [1, 2, 3],
      threshold: 0.05,
      backend: 'auto',
      reportDir: join(dir, 'out'),
      cacheDir: join(dir, '.cache'),
    });
    expect(
      resolveRunSettings(file, { seeds: [7], reportDir: 'r', cacheDir: false, maxRecords: 5 }, { cwd, dir }),
    ).toEqual({ seeds: [7], threshold: 0.05, backend: 'auto', reportDir: join(cwd, 'r'), maxRecords: 5 });
    expect(resolveRunSettings({ ...file, seeds: [4, 2] }, { reportDir: '' }, { cwd, dir })).toMatchObject({
      seeds: [4, 2],
      reportDir: join(dir, 'out'),
    });
  });
});
