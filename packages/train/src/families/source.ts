/**
 * A model file opened for the families to recognise and read. Each view of it (safetensors header, decoded ONNX,
 * parsed JSON) is read at most once and shared, so detection costs no second read; its errors are the readers' own
 * located errors.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  DistillGateError,
  MAX_JSON_BYTES,
  parseStrictJsonObject,
  refuseIrregular,
  type ModelFormat,
} from '@distill-gate/core';
import { readOnnxFile, type DecodedOnnx } from '../onnx/proto.js';
import { readSafetensorsHeader, type SafetensorsHeader } from '../safetensors.js';

export interface ModelSource {
  readonly path: string;
  readonly format: ModelFormat;
  safetensorsHeader(): Promise<SafetensorsHeader>;
  onnx(): Promise<DecodedOnnx>;
  json(): Promise<unknown>;
}

/** How messages name a format. */
export const FORMAT_NAMES: Record<ModelFormat, string> = {
  onnx: 'onnx',
  safetensors: 'safetensors',
  tfjs: 'tfjs (model.json)',
  hf: 'Hugging Face model folder',
};

/**
 * The format a path stands for: a folder is a Hugging Face model folder (config.json beside the weights); a file's
 * extension says the rest (.onnx, .json = tfjs layout, else safetensors).
 */
export function formatOf(path: string): ModelFormat {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return 'hf';
  return path.endsWith('.onnx') ? 'onnx' : path.endsWith('.json') ? 'tfjs' : 'safetensors';
}

/** Reads and parses a JSON model file; a located error when it cannot. */
export async function readJsonModel(path: string): Promise<unknown> {
  let text: string;
  refuseIrregular(path, 'a JSON model file', MAX_JSON_BYTES);
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DistillGateError(`cannot read the model: ${(e as Error).message}`, { file: path });
  }
  return parseStrictJsonObject(text, path, 'the model file');
}

export function openModelSource(path: string, format: ModelFormat = formatOf(path)): ModelSource {
  const once = <T>(read: () => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => (p ??= read());
  };
  return {
    path,
    format,
    safetensorsHeader: once(() => readSafetensorsHeader(path)),
    onnx: once(() => readOnnxFile(path)),
    json: once(() => readJsonModel(path)),
  };
}
