import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TRAINING_V8_FLAGS } from './v8-flags.js';

describe('the V8 settings of training processes', () => {
  it('are flags this Node accepts, and give worker threads started after them ArrayBuffer.prototype.transfer', () => {
    const cli = spawnSync(process.execPath, [...TRAINING_V8_FLAGS, '-e', '0'], { encoding: 'utf8' });
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    // Set from inside a running process, as the bin sets them, then a worker thread started.
    const script =
      `const v8 = require('node:v8'); for (const f of ${JSON.stringify(TRAINING_V8_FLAGS)}) v8.setFlagsFromString(f);` +
      "const { Worker } = require('node:worker_threads');" +
      'const w = new Worker(\'require("node:worker_threads").parentPort.postMessage(' +
      "typeof ArrayBuffer.prototype.transfer)', { eval: true });" +
      "w.on('message', (m) => { console.log(m); w.terminate(); });";
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('function');
  });

  it('are set by the bin before the CLI loads', () => {
    const bin = readFileSync(new URL('../bin/distill-gate.js', import.meta.url), 'utf8');
    expect(bin.indexOf('setTrainingV8Flags();')).toBeGreaterThan(-1);
    expect(bin.indexOf('setTrainingV8Flags();')).toBeLessThan(bin.indexOf("await import('../dist/index.js')"));
    expect(bin).not.toMatch(/^import .*dist\/index\.js/m);
  });
});
