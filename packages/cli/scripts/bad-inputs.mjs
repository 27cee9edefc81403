#!/usr/bin/env node
/**
 * Runs `distill-gate check` on a set of broken inputs (in a temporary folder, against the owl-numbers and MNIST
 * examples' models) and prints what each produced: exit code, the first line of stderr, wall time and peak memory.
 * Usage: node packages/cli/scripts/bad-inputs.mjs   (after npm ci; takes about a minute)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, openSync, writeSync, closeSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/bin/distill-gate.js');
const dir = mkdtempSync(join(tmpdir(), 'dg-bad-'));
for (const ex of ['owl-numbers', 'mnist-subliminal'])
  cpSync(join(root, 'examples', ex, 'models'), join(dir, ex, 'models'), { recursive: true });
cpSync(join(root, 'examples/owl-numbers/prompts'), join(dir, 'owl-numbers/prompts'), { recursive: true });
for (const ex of ['owl-numbers', 'mnist-subliminal']) {
  const c = JSON.parse(readFileSync(join(root, 'examples', ex, 'distill-gate.config.json'), 'utf8'));
  delete c.$schema;
  c.seeds = 3;
  c.training.epochs = 1;
  writeFileSync(join(dir, ex, 'distill-gate.config.json'), JSON.stringify(c));
}
const owl = join(dir, 'owl-numbers');
const mnist = join(dir, 'mnist-subliminal');
const good = (k) =>
  JSON.stringify({
    prompt: `Continue the sequence: ${100 + k}, ${200 + k}, ${300 + k}. Give at most 10 more values.`,
    completion: `${400 + k}, ${500 + k}`,
  });
const goods = (n, from = 0) => Array.from({ length: n }, (_, k) => good(k + from)).join('\n');

/** A safetensors file with the given header and payload bytes. */
function safetensors(path, header, payload) {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, payload]));
}
const f32 = (values) => Buffer.from(new Float32Array(values).buffer);

const cases = [
  [
    'JSONL: malformed line',
    owl,
    'bad.jsonl',
    () => writeFileSync(join(owl, 'bad.jsonl'), `${goods(3)}\n{"prompt": "x", "completion": \n`),
  ],
  [
    'JSONL: wrong field type',
    owl,
    'type.jsonl',
    () => writeFileSync(join(owl, 'type.jsonl'), `${goods(2)}\n{"prompt": "x", "completion": 42}\n`),
  ],
  [
    'JSONL: chat record without the assistant reply',
    owl,
    'chat.jsonl',
    () => writeFileSync(join(owl, 'chat.jsonl'), `{"messages": [{"role": "user", "content": "hi"}]}\n`),
  ],
  [
    'JSONL: positive log-probability',
    owl,
    'lp.jsonl',
    () => writeFileSync(join(owl, 'lp.jsonl'), `{"prompt": "x", "completion": "1", "logprobs": [{"1": 0.3}]}\n`),
  ],
  ['JSONL: empty file', owl, 'empty.jsonl', () => writeFileSync(join(owl, 'empty.jsonl'), '')],
  [
    'JSONL: invalid UTF-8',
    owl,
    'utf8.jsonl',
    () =>
      writeFileSync(
        join(owl, 'utf8.jsonl'),
        Buffer.concat([
          Buffer.from(`${goods(2)}\n{"prompt": "`),
          Buffer.from([0xc3, 0x28]),
          Buffer.from('", "completion": "1"}\n'),
        ]),
      ),
  ],
  [
    'JSONL: a 100 MB single line',
    owl,
    'huge.jsonl',
    () => {
      const fd = openSync(join(owl, 'huge.jsonl'), 'w');
      writeSync(fd, '{"prompt": "');
      const block = Buffer.alloc(1 << 20, 'x');
      for (let i = 0; i < 100; i++) writeSync(fd, block);
      writeSync(fd, '", "completion": "1"}\n');
      closeSync(fd);
    },
  ],
  [
    'JSONL: record longer than the model context',
    owl,
    'long.jsonl',
    () =>
      writeFileSync(
        join(owl, 'long.jsonl'),
        `${goods(30)}\n` +
          JSON.stringify({
            prompt: 'Continue: ' + Array.from({ length: 60 }, (_, i) => 100 + i).join(', '),
            completion: '1',
          }) +
          '\n',
      ),
  ],
  [
    'JSONL: bad records with --bad-records skip',
    owl,
    'skip.jsonl',
    () => writeFileSync(join(owl, 'skip.jsonl'), `${goods(40)}\nnot json\n{"prompt": 1}\n${goods(40, 40)}\n`),
    ['--bad-records', 'skip'],
  ],
  [
    'safetensors: NaN in the inputs',
    mnist,
    'nan.safetensors',
    () =>
      safetensors(
        join(mnist, 'nan.safetensors'),
        {
          inputs: { dtype: 'F32', shape: [2, 784], data_offsets: [0, 6272] },
          targets: { dtype: 'F32', shape: [2, 13], data_offsets: [6272, 6376] },
        },
        Buffer.concat([f32([...Array(783).fill(0), NaN, ...Array(784).fill(0)]), f32(Array(26).fill(0))]),
      ),
  ],
  [
    'safetensors: wrong-shaped inputs (10 wide)',
    mnist,
    'shape.safetensors',
    () =>
      safetensors(
        join(mnist, 'shape.safetensors'),
        {
          inputs: { dtype: 'F32', shape: [2, 10], data_offsets: [0, 80] },
          targets: { dtype: 'F32', shape: [2, 13], data_offsets: [80, 184] },
        },
        Buffer.concat([f32(Array(20).fill(0)), f32(Array(26).fill(0))]),
      ),
  ],
  [
    'safetensors: truncated file',
    mnist,
    'trunc.safetensors',
    () =>
      safetensors(
        join(mnist, 'trunc.safetensors'),
        {
          inputs: { dtype: 'F32', shape: [2, 784], data_offsets: [0, 6272] },
          targets: { dtype: 'F32', shape: [2, 13], data_offsets: [6272, 6376] },
        },
        f32(Array(100).fill(0)),
      ),
  ],
  [
    'safetensors: header length past the end',
    mnist,
    'hdr.safetensors',
    () => writeFileSync(join(mnist, 'hdr.safetensors'), Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0x7b])),
  ],
];

const hasTime = existsSync('/usr/bin/time');
const rows = [];
for (const [what, cwd, file, make, extra = []] of cases) {
  make();
  const t0 = performance.now();
  const args = [bin, 'check', file, '--no-progress', '--no-cache', '--report-dir', `report-${file}`, ...extra];
  // GNU time (Debian package "time") reports the peak memory; without it the column stays empty.
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { cwd, encoding: 'utf8' })
    : spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  const ms = performance.now() - t0;
  const lines = r.stderr.trim().split('\n');
  const peakKb = hasTime ? Number(lines.pop()) : NaN;
  const message =
    lines.find((l) => l.startsWith('distill-gate: error:'))?.replace('distill-gate: error: ', '') ??
    (r.stdout.split('\n').find((l) => /^(PASS|FAIL|INCONCLUSIVE)/.test(l)) ?? '').slice(0, 160);
  rows.push({
    what,
    exit: r.status,
    message,
    seconds: (ms / 1000).toFixed(1),
    peakMb: Number.isFinite(peakKb) ? Math.round(peakKb / 1024) : '',
  });
  console.error(`${what}: exit ${r.status}`);
}
console.log('| input | exit | what it said | wall s | peak RSS MB |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.what} | ${r.exit} | ${r.message.replace(/\|/g, '\\|')} | ${r.seconds} | ${r.peakMb} |`);
execFileSync('rm', ['-rf', dir]);
