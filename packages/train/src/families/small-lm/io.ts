import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DistillGateError, fileInside, writeFileAtomic } from '@distill-gate/core';
import { readJsonModel } from '../source.js';
import { Tokenizer, type TokenizerJson } from './tokenizer.js';
import {
  checkTransformerConfig,
  transformerSpec,
  type TransformerConfig,
  type TransformerParameters,
} from './transformer.js';

/**
 * Language models are stored in the TensorFlow.js artifacts layout: `model.json` (topology, tokenizer and a
 * `weightsManifest`) beside one `.bin` file of little-endian float32 weights in manifest order.
 */
export const LM_FORMAT = 'distill-gate/causal-lm';

export interface LanguageModelFile extends TransformerParameters {
  tokenizer: Tokenizer;
  metadata: Record<string, string>;
}

interface ModelJson {
  format: string;
  generatedBy: string;
  modelTopology: { family: 'causal-lm'; config: TransformerConfig };
  tokenizer: TokenizerJson;
  metadata?: Record<string, string>;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

export async function saveLanguageModel(path: string, model: LanguageModelFile): Promise<void> {
  const spec = transformerSpec(model.config);
  const weightsFile = `${basename(path, '.json')}.weights.bin`;
  const total = model.tensors.reduce((n, t) => n + t.length, 0);
  const bytes = new Float32Array(total);
  let at = 0;
  for (const t of model.tensors) {
    bytes.set(t, at);
    at += t.length;
  }
  const json: ModelJson = {
    format: LM_FORMAT,
    generatedBy: 'distill-gate',
    modelTopology: { family: 'causal-lm', config: model.config },
    tokenizer: model.tokenizer.toJSON(),
    metadata: model.metadata,
    weightsManifest: [
      { paths: [weightsFile], weights: spec.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' })) },
    ],
  };
  await writeFileAtomic(join(dirname(path), weightsFile), new Uint8Array(bytes.buffer));
  await writeFileAtomic(path, `${JSON.stringify(json)}\n`);
}

export async function loadLanguageModel(path: string): Promise<LanguageModelFile> {
  return languageModelFromJson(await readJsonModel(path), path);
}

/** True when parsed JSON is tagged as a distill-gate language model. */
export function isLanguageModelJson(json: unknown): boolean {
  return (json as ModelJson | null)?.format === LM_FORMAT;
}

/** A language model from its parsed model.json at `path` (the weights file is read from beside it). */
export async function languageModelFromJson(parsed: unknown, path: string): Promise<LanguageModelFile> {
  const json = parsed as ModelJson;
  if (json?.format !== LM_FORMAT)
    throw new DistillGateError(`not a distill-gate language model ("format" must be "${LM_FORMAT}")`, {
      file: path,
      pointer: '/format',
    });
  const config = json.modelTopology?.config;
  const problem = config ? checkTransformerConfig(config) : 'missing';
  if (problem)
    throw new DistillGateError(`bad transformer config: ${problem}`, { file: path, pointer: '/modelTopology/config' });
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJSON(json.tokenizer);
  } catch (e) {
    throw new DistillGateError((e as Error).message, { file: path, pointer: '/tokenizer' });
  }
  if (tokenizer.size !== config.vocabSize) {
    throw new DistillGateError(
      `the tokenizer has ${tokenizer.size} pieces but the model's vocabulary is ${config.vocabSize}`,
      { file: path, pointer: '/tokenizer' },
    );
  }
  const spec = transformerSpec(config);
  const group = json.weightsManifest?.[0];
  const listed = group?.weights ?? [];
  if (
    listed.length !== spec.length ||
    listed.some((w, i) => w.name !== spec[i].name || w.shape.join() !== spec[i].shape.join() || w.dtype !== 'float32')
  ) {
    throw new DistillGateError(
      'weightsManifest does not match the transformer config (names, shapes or float32 dtype)',
      { file: path, pointer: '/weightsManifest/0/weights' },
    );
  }
  if (!Array.isArray(group.paths) || group.paths.length !== 1 || typeof group.paths[0] !== 'string')
    throw new DistillGateError('weightsManifest must name exactly one weights file', {
      file: path,
      pointer: '/weightsManifest/0/paths',
    });
  // The weights file is confined to the model's folder and its size checked before a byte is read.
  const { path: binPath, size } = await fileInside(dirname(path), group.paths[0], {
    file: path,
    pointer: '/weightsManifest/0/paths/0',
  });
  const expected = spec.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0) * 4;
  if (size !== expected)
    throw new DistillGateError(`weights file has ${size} bytes, expected ${expected}`, { file: binPath });
  let buf: Buffer;
  try {
    buf = await readFile(binPath);
  } catch (e) {
    throw new DistillGateError(`cannot read the weights: ${(e as Error).message}`, { file: binPath });
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  for (let i = 0; i < all.length; i++) {
    if (!Number.isFinite(all[i]))
      throw new DistillGateError(`weight ${i} is not finite (${all[i]})`, { file: binPath, offset: i * 4 });
  }
  const tensors: Float32Array[] = [];
  let at = 0;
  for (const s of spec) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    tensors.push(all.slice(at, at + n));
    at += n;
  }
  return { config, tensors, tokenizer, metadata: json.metadata ?? {} };
}

/** SHA-256 of the weights and the tokenizer: both decide what the model computes. */
export function hashLanguageModel(m: Pick<LanguageModelFile, 'tensors' | 'tokenizer'>): string {
  const h = createHash('sha256');
  for (const t of m.tensors) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  h.update(JSON.stringify(m.tokenizer.pieces));
  return h.digest('hex');
}
