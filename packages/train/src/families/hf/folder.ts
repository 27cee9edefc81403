/**
 * Reading a Hugging Face model folder: config.json (the architecture), the tokenizer files and the safetensors
 * weights (single file or shards), checked against each other, and the model's hash.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillGateError, MAX_JSON_BYTES, parseStrictJsonObject, refuseIrregular } from '@distill-gate/core';
import { openSafetensorsCheckpoint } from '../../safetensors.js';
import { parseHfConfig, type HfArchitecture } from './config.js';
import { HfTokenizer } from './tokenizer.js';
import { checkVocabulary, readHfWeights, type HfWeights } from './weights.js';

/** A model folder as read: what it computes (architecture, weights) and how text becomes its token ids. */
export interface HfModelFolder {
  dir: string;
  /** config.json as written. */
  config: Record<string, unknown>;
  architecture: HfArchitecture;
  tokenizer: HfTokenizer;
  weights: HfWeights;
  /** The safetensors files the weights were read from. */
  weightFiles: string[];
  /** SHA-256 of the architecture, the weights (as float32, by name) and the tokenizer: see hashHfModel. */
  sha256: string;
}

/** Reads config.json: the JSON, and a located error when it is missing or not an object. */
export async function readHfConfigJson(dir: string): Promise<{ file: string; json: Record<string, unknown> }> {
  const file = join(dir, 'config.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DistillGateError('not a folder: a Hugging Face model is a folder with config.json', { file: dir });
  if (!existsSync(file))
    throw new DistillGateError(
      'config.json is missing: a Hugging Face model folder holds config.json, the weights and the tokenizer',
      { file },
    );
  let text: string;
  refuseIrregular(file, 'config.json', MAX_JSON_BYTES);
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DistillGateError(`cannot read config.json: ${(e as Error).message}`, { file });
  }
  return { file, json: parseStrictJsonObject(text, file, 'config.json') };
}

/**
 * SHA-256 of what decides the model's log-probs: the normalised architecture, every weight as float32 under its
 * prefix-free name (so a sharded checkpoint hashes as the single file, and BF16 weights as their float32 values),
 * and the tokenizer (tokenizer.json, special tokens, chat template).
 */
export function hashHfModel(a: HfArchitecture, weights: HfWeights, tokenizer: HfTokenizer): string {
  const h = createHash('sha256');
  h.update(`distill-gate hf\n${JSON.stringify(a)}\n`);
  for (const spec of weights.specs) {
    const t = weights.tensors.get(spec.name)!;
    h.update(`${spec.name} [${spec.shape}]\n`);
    h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }
  h.update(`tokenizer ${tokenizer.sha256}\n`);
  return h.digest('hex');
}

/** Reads a Hugging Face model folder (config.json, tokenizer, safetensors weights), checking each against the rest. */
export async function readHfModelFolder(dir: string): Promise<HfModelFolder> {
  const { file, json } = await readHfConfigJson(dir);
  const { architecture, tokenIds } = parseHfConfig(json, file);
  const tokenizer = await HfTokenizer.load(dir, tokenIds);
  checkVocabulary(architecture, tokenizer.vocabSize, file);
  const ckpt = await openSafetensorsCheckpoint(dir);
  const weights = await readHfWeights(architecture, ckpt);
  return {
    dir,
    config: json,
    architecture,
    tokenizer,
    weights,
    weightFiles: ckpt.files,
    sha256: hashHfModel(architecture, weights, tokenizer),
  };
}
