// The real program, with the real @distill-gate/train behind it: importing it loads tfjs's JavaScript (under a
// second), and neither onnxruntime-node nor a backend; building the program trains nothing.
import { describe, expect, it } from 'vitest';
import { checkCommandOptions, runSettingList } from '@distill-gate/core';
import { buildProgram } from './program.js';
import { VERSION } from './version.js';

const checkCommand = () => {
  const command = buildProgram().program.commands.find((c) => c.name() === 'check');
  if (!command) throw new Error('no check command');
  return command;
};

describe('the check command', () => {
  it('has an option for every setting of the table with a CLI flag, and no other', () => {
    const options = checkCommand().options;
    const cliRows = runSettingList.filter((s) => s.cli);
    expect(options.map((o) => o.attributeName())).toEqual(cliRows.map((s) => s.key));
    expect(options.map((o) => o.long)).toEqual(cliRows.map((s) => s.cli!.flag));
    const descriptors = checkCommandOptions();
    for (const [i, o] of options.entries()) {
      expect(o.flags).toBe(descriptors[i].flags);
      expect(o.description).toBe(descriptors[i].description);
    }
  });

  it('reports a bad argument the way commander does, with the parser message', async () => {
    const errors: string[] = [];
    const out = { stdout: { write: () => true }, stderr: { write: (s: string) => errors.push(s) } };
    const { program } = buildProgram(out as unknown as Parameters<typeof buildProgram>[0]);
    await expect(program.parseAsync(['node', 'dg', 'check', '--max-records', '0'])).rejects.toThrow();
    expect(errors.join('')).toContain(
      "option '--max-records <n>' argument '0' is invalid. --max-records must be an integer >= 1",
    );
    errors.length = 0;
    await expect(program.parseAsync(['node', 'dg', 'check', '--max-minutes', '-1'])).rejects.toThrow();
    expect(errors.join('')).toContain(
      "option '--max-minutes <m>' argument '-1' is invalid. --max-minutes must be a number of minutes > 0",
    );
  });
});

describe('the version', () => {
  it('-v and --version print it', async () => {
    for (const flag of ['-v', '--version']) {
      const printed: string[] = [];
      const out = { stdout: { write: (s: string) => printed.push(s) }, stderr: { write: () => true } };
      const { program } = buildProgram(out as unknown as Parameters<typeof buildProgram>[0]);
      await expect(program.parseAsync(['node', 'dg', flag])).rejects.toMatchObject({ code: 'commander.version' });
      expect(printed.join('')).toBe(`${VERSION}\n`);
    }
  });
});

describe('--quiet and --verbose', () => {
  it('are program-wide options, and together they are a usage error before any work', async () => {
    const { main } = await import('./program.js');
    const err: string[] = [];
    const out = {
      stdout: { write: () => true } as unknown as NodeJS.WriteStream,
      stderr: { write: (s: string) => err.push(s) } as unknown as NodeJS.WriteStream,
    };
    const root = buildProgram().program;
    expect(root.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--quiet', '--verbose']));
    const code = await main(['node', 'distill-gate', 'check', '--quiet', '--verbose', '--config', 'nope.json'], out);
    expect(code).toBe(2);
    expect(err.join('')).toContain('--quiet and --verbose contradict each other');
  });
});
