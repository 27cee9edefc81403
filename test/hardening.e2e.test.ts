// Inputs that used to hang the CLI, pass silently, or fail only after all the training (issue: bad-input sweep):
// each is now a located exit-2 error before any work.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { bin, example, runCli, scaledExampleConfig, testDir } from './helpers.js';

function project(): string {
  const dir = testDir('dg-hard-');
  cpSync(join(example, 'models'), join(dir, 'models'), { recursive: true });
  cpSync(join(example, 'distill-gate.config.json'), join(dir, 'distill-gate.config.json'));
  return dir;
}

describe('bad inputs are refused before any work', () => {
  it('a FIFO as the config, a device or a folder as a dataset: no hang, exit 2', async () => {
    const dir = project();
    execFileSync('mkfifo', [join(dir, 'fifo.json')]);
    mkdirSync(join(dir, 'folder.safetensors'));
    const fifo = await runCli(['check', '--config', 'fifo.json'], dir);
    expect([fifo.code, fifo.stderr.trim()]).toEqual([
      2,
      'distill-gate: error: fifo.json: config must be a regular file, this is a FIFO (named pipe)',
    ]);
    const zero = await runCli(['check', '/dev/zero', '--no-progress'], dir);
    expect([zero.code, zero.stderr.trim()]).toEqual([
      2,
      'distill-gate: error: a dataset must be a regular file, this is a device: /dev/zero',
    ]);
    const folder = await runCli(['check', 'folder.safetensors', '--no-progress'], dir);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain('a dataset must be a regular file, this is a folder: folder.safetensors');
    // A FIFO as the control file (config control.path) hung while it was hashed.
    execFileSync('mkfifo', [join(dir, 'control.safetensors')]);
    writeFileSync(
      join(dir, 'fifo-control.json'),
      JSON.stringify({ ...scaledExampleConfig(), control: { path: 'control.safetensors' } }),
    );
    const control = await runCli(['check', '--config', 'fifo-control.json', '--no-progress'], dir);
    expect([control.code, control.stderr]).toEqual([
      2,
      expect.stringContaining('control.safetensors: the control file must be a regular file, this is a FIFO'),
    ]);
  });

  it('a report or cache folder that cannot be written fails before training, not after', async () => {
    const dir = project();
    writeFileSync(join(dir, 'taken'), '');
    for (const flag of ['--report-dir', '--cache-dir']) {
      const r = await runCli(['check', flag, 'taken'], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/taken: the (report|cache) folder cannot be written: it is a file/);
      expect(r.stderr).not.toContain('training');
    }
  });

  it('a key given twice or a number that overflows to Infinity in the config is a located error', async () => {
    const dir = project();
    const config = JSON.parse(readFileSync(join(dir, 'distill-gate.config.json'), 'utf8')) as Record<string, unknown>;
    const body = JSON.stringify({ ...config, threshold: undefined }, null, 2).slice(1, -2);
    writeFileSync(join(dir, 'twice.json'), `{\n  "threshold": 0.01,${body},\n  "threshold": 1000\n}\n`);
    const twice = await runCli(['check', '--config', 'twice.json'], dir);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/twice\.json:\d+:3 \(at \/threshold\): key "threshold" appears twice in one object/);
    writeFileSync(join(dir, 'inf.json'), `{${body},\n  "threshold": 1e999\n}\n`);
    const inf = await runCli(['check', '--config', 'inf.json'], dir);
    expect(inf.code).toBe(2);
    expect(inf.stderr).toMatch(/inf\.json:\d+:\d+ \(at \/threshold\): number is out of range \(it reads as Infinity\)/);
  });
});

describe('a corpus of hostile files, each refused with a located exit 2 before any training', () => {
  it('datasets: null header, negative or fractional shape, overlapping tensors, NumPy file, empty JSONL', async () => {
    const dir = project();
    const safetensors = (header: string, body = 0) => {
      const h = Buffer.from(header);
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(BigInt(h.length));
      return Buffer.concat([size, h, Buffer.alloc(body)]);
    };
    const corpus: [string, Buffer, string][] = [
      ['null.safetensors', safetensors('null'), 'null.safetensors: the safetensors header must be a JSON object'],
      [
        'negative.safetensors',
        safetensors('{"inputs":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}', 8),
        'must be a list of non-negative integers, got [-1,2]',
      ],
      [
        'fraction.safetensors',
        safetensors('{"inputs":{"dtype":"F32","shape":[1.5,2],"data_offsets":[0,12]}}', 12),
        'must be a list of non-negative integers, got [1.5,2]',
      ],
      [
        'overlap.safetensors',
        safetensors(
          '{"inputs":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
            '"targets":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
          12,
        ),
        'tensor "targets" [4,12] overlaps tensor "inputs" [0,8]',
      ],
      ['data.npy', Buffer.from('\x93NUMPY'), 'dataset format .npy is not supported: data.npy'],
      ['empty.jsonl', Buffer.alloc(0), 'empty.jsonl: the dataset has no records (empty file)'],
    ];
    for (const [name, bytes, message] of corpus) {
      writeFileSync(join(dir, name), bytes);
      const r = await runCli(['check', name, '--no-progress'], dir);
      expect([name, r.code]).toEqual([name, 2]);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('training');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('models: an ONNX base with negative dims or a NaN weight', async () => {
    const dir = project();
    const config = scaledExampleConfig();
    const onnx = onnxProto.onnx;
    const base = onnx.ModelProto.decode(readFileSync(join(example, 'models/base.onnx')));
    const negative = onnx.ModelProto.decode(onnx.ModelProto.encode(base).finish());
    negative.graph!.initializer![0].dims = [-784, -256];
    const nan = onnx.ModelProto.decode(onnx.ModelProto.encode(base).finish());
    const bias = nan.graph!.initializer![1];
    const values = new Float32Array(new Uint8Array(bias.rawData!).buffer);
    values[3] = NaN;
    bias.rawData = new Uint8Array(values.buffer);
    for (const [name, model, message] of [
      ['negative.onnx', negative, 'initializer "layers.0.weight" has dims [-784,-256]: each must be a non-negative'],
      ['nan.onnx', nan, 'initializer "layers.0.bias" holds a non-finite value (NaN) at flat index 3'],
    ] as const) {
      writeFileSync(join(dir, 'models', name), onnx.ModelProto.encode(model).finish());
      writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...config, base: { path: `models/${name}` } }));
      const r = await runCli(['check', '--config', `${name}.json`, '--no-progress'], dir);
      expect([name, r.code]).toEqual([name, 2]);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('training');
    }
  });
});

describe('nothing is written outside the working, report and cache folders', () => {
  it("onnxruntime's telemetry (a device id under ~/.cache, mat-debug logs in the temp folder) stays off", () => {
    const dir = project();
    writeFileSync(join(dir, 'distill-gate.config.json'), JSON.stringify(scaledExampleConfig(), null, 2));
    const home = testDir('dg-home-');
    const tmp = testDir('dg-tmp-');
    const env = { PATH: process.env.PATH, HOME: home, TMPDIR: tmp };
    let code = 0;
    try {
      execFileSync(process.execPath, [bin, 'check', '--no-progress'], { cwd: dir, env, stdio: 'pipe' });
    } catch (e) {
      code = (e as { status: number }).status;
    }
    expect(code).toBe(1); // the teacher's data FAILs: students were trained and evaluated on onnxruntime
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
