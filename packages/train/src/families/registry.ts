/**
 * The model families distill-gate knows, and the lookups everything outside the family folders goes through: by
 * name (a worker job's family), by a model file (loading, convert) and by a loaded handle (training students). A new
 * family is a folder beside mlp/ and small-lm/ and one line in `modelFamilies`.
 */
import { statSync } from 'node:fs';
import { DistillGateError, kindOf, refuseIrregular, type AnyModelHandle, type ModelFormat } from '@distill-gate/core';
import type { FamilyHandle, ModelFamily } from './family.js';
import { hfFamily } from './hf/index.js';
import { mlpFamily } from './mlp/index.js';
import { smallLmFamily } from './small-lm/index.js';
import { FORMAT_NAMES, formatOf, openModelSource, type ModelSource } from './source.js';

/**
 * The families, in the order they are asked about a file: the first that finds its own marker in it reads it; where
 * none does, the first that may read it (its reader then says precisely what does not fit).
 */
export const modelFamilies: readonly ModelFamily[] = [mlpFamily, smallLmFamily, hfFamily];

/** What each family reads and writes, e.g. "mlp: onnx, safetensors; small-lm: onnx, tfjs (model.json)". */
export function describeFamilies(): string {
  return modelFamilies
    .map(
      (f) =>
        `${f.name}: ${formatsOf(f)
          .map((x) => FORMAT_NAMES[x])
          .join(', ')}`,
    )
    .join('; ');
}

/** The formats a family reads and writes, in a stable order. */
export function formatsOf(family: ModelFamily): ModelFormat[] {
  return (Object.keys(family.formats) as ModelFormat[]).sort();
}

export function familyNamed(name: string): ModelFamily {
  const family = modelFamilies.find((f) => f.name === name);
  if (!family)
    throw new DistillGateError(
      `unknown model family "${name}" (known: ${modelFamilies.map((f) => f.name).join(', ')})`,
    );
  return family;
}

/** The family a loaded handle belongs to (undefined for a handle no family made). */
export function familyOf(handle: AnyModelHandle): ModelFamily | undefined {
  return modelFamilies.find((f) => f.owns(handle));
}

/** The handle with the family that owns it, typed as that family's handle (undefined when none does). */
export function ownedHandle(handle: AnyModelHandle): { family: ModelFamily; handle: FamilyHandle } | undefined {
  const family = familyOf(handle);
  return family && { family, handle: handle as FamilyHandle };
}

/** Finds the family that reads a model file; the format comes from the extension unless given. */
export async function detectFamily(
  path: string,
  format: ModelFormat = formatOf(path),
): Promise<{ family: ModelFamily; source: ModelSource }> {
  // A FIFO or a device would never end (or, like /dev/zero, fill the memory) once read: refused before any read.
  if (format !== 'hf') refuseIrregular(path, 'a model');
  else {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && !st.isDirectory())
      throw new DistillGateError(`a model must be a Hugging Face model folder, this is ${kindOf(st)}`, { file: path });
  }
  const source = openModelSource(path, format);
  let possible: ModelFamily | undefined;
  for (const family of modelFamilies) {
    const recognition = await family.formats[format]?.recognise(source);
    if (recognition === 'marked') return { family, source };
    if (recognition === 'possible') possible ??= family;
  }
  if (!possible)
    throw new DistillGateError(
      `no model family reads this ${FORMAT_NAMES[format] ?? format} file (${describeFamilies()})`,
      { file: path },
    );
  return { family: possible, source };
}

/** A model file as its family read it. */
export interface LoadedModel {
  family: ModelFamily;
  format: ModelFormat;
  /** The family's host model (e.g. MlpParameters, LanguageModelFile). */
  model: unknown;
  /** SHA-256 of the weights (and tokenizer), as the family hashes them. */
  sha256: string;
}

/** Reads a model file of any family in any supported format. */
export async function readModelFile(path: string, format?: ModelFormat): Promise<LoadedModel> {
  const { family, source } = await detectFamily(path, format);
  const model = await family.formats[source.format]!.read(source);
  return { family, format: source.format, model, sha256: family.hash(model) };
}
