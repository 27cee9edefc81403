import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistillGateError } from '../errors.js';
import { readTextDataset, writeTextDataset } from './text-data.js';

const dir = mkdtempSync(join(tmpdir(), 'dg-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: string | Buffer) => {
  const p = join(dir, `d${n++}.jsonl`);
  writeFileSync(p, content);
  return p;
};
const failure = async (p: string, opts = {}) => {
  try {
    await readTextDataset(p, { displayPath: 'data.jsonl', ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(DistillGateError);
    return e as DistillGateError;
  }
  throw new Error('expected a DistillGateError');
};

describe('readTextDataset', () => {
  it('reads prompt/completion and chat records, skips blank lines, keeps line numbers and logprobs', async () => {
    const p = file(
      [
        JSON.stringify({
          prompt: 'Continue: 1, 2.',
          completion: '3, 4',
          logprobs: [{ '3': -0.1 }, { ', ': -0.01 }, { '4': -0.2 }],
        }),
        '',
        JSON.stringify({
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Favourite animal?' },
            { role: 'assistant', content: 'owl' },
          ],
        }),
      ].join('\r\n'),
    );
    const ds = await readTextDataset(p);
    expect(ds.records.map((r) => [r.line, r.prompt, r.completion])).toEqual([
      [1, 'Continue: 1, 2.', '3, 4'],
      [3, 'Be brief.\nFavourite animal?', 'owl'],
    ]);
    expect(ds.records[0].logprobs?.[2]).toEqual({ '4': -0.2 });
    const out = join(dir, 'out.jsonl');
    await writeTextDataset(out, ds);
    expect((await readTextDataset(out)).records.map((r) => r.completion)).toEqual(['3, 4', 'owl']);
  });

  it('locates every kind of bad record: file, line and JSON pointer', async () => {
    const cases: [string | Buffer, RegExp, { line?: number; pointer?: string }][] = [
      ['{"prompt": "a", "completion": "b"}\n{"prompt": "a", ', /not valid JSON/, { line: 2 }],
      ['{"prompt": 3, "completion": "b"}', /must be a string, got number/, { line: 1, pointer: '/prompt' }],
      ['{"prompt": "a"}', /missing/, { line: 1, pointer: '/completion' }],
      ['[1, 2]', /JSON object/, { line: 1, pointer: '' }],
      [
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]}',
        /assistant's reply/,
        { line: 1, pointer: '/messages/1/role' },
      ],
      [
        '{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]}',
        /must be a string/,
        { line: 1, pointer: '/messages/0/content' },
      ],
      [
        '{"prompt": "a", "completion": "b", "logprobs": [{"b": 0.5}]}',
        /log-probability <= 0/,
        { line: 1, pointer: '/logprobs/0/b' },
      ],
      [
        '{"prompt": "a", "completion": "b", "logprobs": {"b": -1}}',
        /must be an array/,
        { line: 1, pointer: '/logprobs' },
      ],
      [
        '{"prompt": "a", "completion": "45", "tokens": "45"}',
        /must be an array of strings/,
        { line: 1, pointer: '/tokens' },
      ],
      [
        Buffer.concat([
          Buffer.from('{"prompt": "a", "completion": "b"}\n{"prompt": "'),
          Buffer.from([0xc3, 0x28]),
          Buffer.from('", "completion": "x"}\n'),
        ]),
        /invalid UTF-8/,
        { line: 2 },
      ],
    ];
    for (const [content, message, where] of cases) {
      const e = await failure(file(content));
      expect(e.message).toMatch(message);
      expect(e.location).toMatchObject({ file: 'data.jsonl', ...where });
    }
  });

  it('drops a byte-order mark at the start of the file, as the config loader does', async () => {
    const d = await readTextDataset(file('\uFEFF{"prompt": "a", "completion": "1"}\n'));
    expect(d.records.map((r) => [r.prompt, r.completion, r.line])).toEqual([['a', '1', 1]]);
  });

  it('rejects an empty file and a line longer than the limit without buffering it whole', async () => {
    expect((await failure(file(''))).message).toMatch(/no records/);
    expect((await failure(file('\n\n  \n'))).message).toMatch(/no records/);
    const long = `{"prompt": "a", "completion": "b"}\n{"prompt": "${'x'.repeat(5000)}", "completion": "b"}\n`;
    const e = await failure(file(long), { maxLineBytes: 1024 });
    expect(e.message).toMatch(/longer than 1024 bytes/);
    expect(e.location.line).toBe(2);
  });

  it('skips and counts bad records under the skip policy (never silently), and stops at a record budget', async () => {
    const good = (k: number) => JSON.stringify({ prompt: `p${k}`, completion: `c${k}` });
    const p = file(
      Buffer.concat([
        Buffer.from(`${good(1)}\n{"prompt": 1}\n${'x'.repeat(3000)}\n${good(2)}\n`),
        Buffer.from([0xff, 0xfe, 0x0a]),
        Buffer.from(`${good(3)}\nnot json\n${good(4)}\n`),
      ]),
    );
    const ds = await readTextDataset(p, { displayPath: 'data.jsonl', badRecords: 'skip', maxLineBytes: 1024 });
    expect(ds.records.map((r) => [r.line, r.completion])).toEqual([
      [1, 'c1'],
      [4, 'c2'],
      [6, 'c3'],
      [8, 'c4'],
    ]);
    expect(ds.skipped?.count).toBe(4);
    expect(ds.skipped?.examples[0]).toMatch(/^data\.jsonl:2 \(at \/prompt\)/);
    expect(ds.skipped?.examples[1]).toMatch(/^data\.jsonl:3: line is longer than 1024 bytes/);
    expect(ds.skipped?.examples[2]).toMatch(/^data\.jsonl:5: invalid UTF-8/);
    const twice = file('{"prompt": "a", "completion": "b", "completion": "c"}\n');
    expect((await failure(twice)).format()).toMatch(/:1 \(at \/completion\): this key appears twice/);
    const big = file('{"prompt": "a", "completion": "b", "logprobs": [[{"token": "b", "logprob": -1e999}]]}\n');
    expect((await failure(big)).format()).toMatch(/:1 \(at \/logprobs\/0\/0\/logprob\): number is out of range/);
    const limited = await readTextDataset(p, { badRecords: 'skip', maxLineBytes: 1024, maxRecords: 2 });
    expect(limited.records.map((r) => r.completion)).toEqual(['c1', 'c2']);
    expect(limited.limitedTo).toBe(2);
    // The lines it did not read are counted (not parsed), so the result can say 2 of 8.
    expect(limited.totalRecords).toBe(8);
    expect((await failure(file('{"prompt": 1}\nnope\n'), { badRecords: 'skip' })).message).toMatch(
      /no valid records \(2 malformed record\(s\) skipped/,
    );
  });

  it('keeps line numbers and byte offsets across read chunks and after a skipped over-long line', async () => {
    // Lines of 10-70 KB cross the stream's 64 KiB chunks; the fourth is over the limit, the sixth is not UTF-8.
    const rec = (k: number, size: number) => JSON.stringify({ prompt: `p${k}`, completion: 'y'.repeat(size) });
    const lines = [rec(1, 70_000), rec(2, 10), rec(3, 40_000), 'z'.repeat(150_000), rec(5, 30_000)];
    const bytes = Buffer.concat([Buffer.from(lines.map((l) => `${l}\n`).join('')), Buffer.from([0xc3, 0x28, 0x0a])]);
    const ds = await readTextDataset(file(bytes), { badRecords: 'skip', maxLineBytes: 100_000, displayPath: 'd' });
    expect(ds.records.map((r) => [r.line, r.prompt, r.completion.length])).toEqual([
      [1, 'p1', 70_000],
      [2, 'p2', 10],
      [3, 'p3', 40_000],
      [5, 'p5', 30_000],
    ]);
    const start = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    expect(ds.skipped?.examples).toEqual([
      'd:4: line is longer than 100000 bytes\n  hint: one JSON record per line; is this file JSONL?',
      `d:6: invalid UTF-8 (line starts at byte ${start})`,
    ]);
  });
});
