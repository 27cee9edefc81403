/**
 * `distill-gate score --model DIR --input FILE.jsonl [--json]`: every record rendered as training renders it, scored
 * teacher-forced by the model. With --json, one object per line on stdout:
 * {"index", "ids", "logprobs": [null, lp1, ...], "assistant": [booleans]} (natural-log, f32); otherwise a readable
 * summary. It checks that a model folder loaded right and is the raw material of divergence-token analysis.
 */
import { Option, type Command } from 'commander';
import { readTextDataset, type TextRecord } from '@distill-gate/core';
import { loadScoringModel, scoreRecords, type OverlongPolicy, type ScoredRecord } from '@distill-gate/train';
import { relative } from 'node:path';

type Output = { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream };

interface ScoreCommandOptions {
  model: string;
  input: string;
  json?: boolean;
  overlong: OverlongPolicy;
  batchTokens: number;
}

export function scoreCommand(program: Command, out: Output): void {
  program
    .command('score')
    .description(
      "teacher-forced log-probabilities of a JSONL dataset's records under a model, each record rendered with the " +
        "model's chat template as training renders it",
    )
    .requiredOption('--model <dir>', 'a Hugging Face model folder (config.json, safetensors weights, tokenizer.json)')
    .requiredOption('--input <file>', 'a JSONL dataset: chat {"messages": [...]} or {"prompt", "completion"} records')
    .option('--json', 'one JSON object per record on stdout: index, ids, logprobs, assistant')
    .addOption(
      new Option('--overlong <policy>', 'a record longer than the model reads: keep its first tokens, or drop it')
        .choices(['truncate', 'drop'])
        .default('truncate'),
    )
    .addOption(
      new Option('--batch-tokens <n>', 'padded tokens per forward pass (memory)').default(8192).argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--batch-tokens must be an integer >= 1, got "${v}"`);
        return n;
      }),
    )
    .action(async (opts: ScoreCommandOptions) => {
      const file = relative(process.cwd(), opts.input) || opts.input;
      const model = await loadScoringModel(opts.model);
      const dataset = await readTextDataset(opts.input, { displayPath: file });
      const rows: ScoredRecord[] = [];
      const write = opts.json
        ? (r: ScoredRecord) => out.stdout.write(`${JSON.stringify(jsonLine(r))}\n`)
        : (r: ScoredRecord) => rows.push(r);
      const summary = await scoreRecords(
        model,
        dataset.records as Iterable<TextRecord>,
        { ...opts, file },
        write,
      ).finally(() => model.release());
      const overlong = summary.overlong.count
        ? `${summary.overlong.count} record(s) longer than the model's ${model.contextLength} tokens ` +
          `(by up to ${summary.overlong.maxExcess}), ${opts.overlong === 'drop' ? 'dropped' : 'truncated'}`
        : '';
      const { pieces, records } = summary.unknown;
      const unknown = pieces
        ? `${pieces} piece(s) of text in ${records} record(s) the tokenizer cannot represent became its unknown token`
        : '';
      const notes = [overlong, unknown].filter(Boolean).join('; ');
      if (!opts.json) out.stdout.write(formatSummary(rows, summary.tokens, summary.assistantTokens, notes));
      else if (notes) out.stderr.write(`distill-gate score: ${notes}\n`);
    });
}

function jsonLine(r: ScoredRecord) {
  return {
    index: r.index,
    ids: r.ids,
    logprobs: r.logprobs,
    assistant: r.assistant,
    ...(r.truncated ? { truncated: r.truncated } : {}),
    ...(r.unknown ? { unknown: r.unknown } : {}),
  };
}

/** Per record: tokens, assistant tokens and the mean log-prob over them; then the totals. */
function formatSummary(rows: ScoredRecord[], tokens: number, assistantTokens: number, notes: string): string {
  const lines = ['record  line  tokens  assistant  mean log-prob (assistant)  mean log-prob (all)'];
  const mean = (xs: number[]) => (xs.length ? (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4) : '-');
  for (const r of rows.slice(0, 50)) {
    const all = r.logprobs.filter((x): x is number => x !== null);
    const mine = r.logprobs.filter((x, t): x is number => x !== null && r.assistant[t]);
    lines.push(
      `${String(r.index).padStart(6)}  ${String(r.line).padStart(4)}  ${String(r.ids.length).padStart(6)}  ` +
        `${String(mine.length).padStart(9)}  ${mean(mine).padStart(25)}  ${mean(all).padStart(19)}` +
        (r.truncated ? `  (truncated by ${r.truncated})` : ''),
    );
  }
  if (rows.length > 50) lines.push(`... ${rows.length - 50} more (--json prints every record)`);
  lines.push(
    `${rows.length} record(s), ${tokens} tokens, ${assistantTokens} with the loss${notes ? `; ${notes}` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
