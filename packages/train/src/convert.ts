/**
 * Model format conversion (`distill-gate convert`): the family that reads the input writes the output format, or
 * refuses naming the formats it writes. The output is read back by the same family and must hold exactly the
 * input's weights.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DistillGateError, type ModelFormat } from '@distill-gate/core';
import { detectFamily, formatsOf, modelFamilies, readModelFile } from './families/registry.js';
import { FORMAT_NAMES, formatOf, openModelSource } from './families/source.js';

export interface ConvertResult {
  /** The model family (registry name) that read the input and wrote the output. */
  family: string;
  /** How the family names one model ("MLP", "language model"). */
  label: string;
  from: ModelFormat;
  to: ModelFormat;
  /** SHA-256 of the weights (and tokenizer), identical in both files. */
  sha256: string;
}

export async function convertModel(
  input: string,
  output: string,
  opts: { from?: ModelFormat; to?: ModelFormat; force?: boolean } = {},
): Promise<ConvertResult> {
  const from = opts.from ?? formatOf(input);
  const to = opts.to ?? formatOf(output);
  if (resolve(input) === resolve(output))
    throw new DistillGateError('the output is the input file; write the converted model elsewhere', { file: output });
  if (existsSync(output) && !opts.force)
    throw new DistillGateError('the output file exists (use --force to replace it)', { file: output });
  // The family is found from the input's marker before anything is read in full: a format it cannot write is
  // refused at once.
  const { family } = await detectFamily(input, from);
  const codec = family.formats[to];
  const written = formatsOf(family).filter((f) => family.formats[f]?.write);
  if (!written.length)
    throw new DistillGateError(`converting ${family.label.singular}s is not yet supported`, { file: input });
  if (!codec?.write) {
    const writers = modelFamilies.filter((f) => f.formats[to]?.write).map((f) => `${f.label.singular}s`);
    throw new DistillGateError(
      `${family.label.one} is written as ${written.map((f) => FORMAT_NAMES[f]).join(' or ')}, not ${to}`,
      { file: output },
      writers.length ? `${FORMAT_NAMES[to]} holds ${writers.join(' and ')}` : undefined,
    );
  }
  const { model, sha256 } = await readModelFile(input, from);
  await codec.write(output, model);
  const back = family.hash(await codec.read(openModelSource(output, to)));
  if (back !== sha256)
    throw new DistillGateError(
      `the written model's weights differ from the input's ` +
        `(sha256 ${back.slice(0, 12)} vs ${sha256.slice(0, 12)})`,
      { file: output },
    );
  return { family: family.name, label: family.label.singular, from, to, sha256 };
}
