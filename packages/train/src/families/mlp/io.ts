import { createHash } from 'node:crypto';
import { DistillGateError } from '@distill-gate/core';
import { parameterNames, parameterShapes, type MlpParameters } from './model.js';
import { readSafetensor, readSafetensorsHeader, writeSafetensors, type SafetensorsHeader } from '../../safetensors.js';

const FAMILY = 'distill-gate.family';
const LAYERS = 'distill-gate.layers';

/**
 * Saves MLP parameters as safetensors (`layers.{i}.weight` [in,out], `layers.{i}.bias`), with the layout in
 * metadata.
 */
export async function saveMlp(
  path: string,
  params: MlpParameters,
  metadata: Record<string, string> = {},
): Promise<void> {
  const names = parameterNames(params.layers);
  const shapes = parameterShapes(params.layers);
  await writeSafetensors(
    path,
    params.tensors.map((data, i) => ({ name: names[i], shape: shapes[i], data })),
    { ...metadata, [FAMILY]: 'mlp', [LAYERS]: params.layers.join(','), 'distill-gate.activation': 'relu' },
  );
}

export async function loadMlp(path: string): Promise<MlpParameters & { metadata: Record<string, string> }> {
  return mlpFromSafetensors(path, await readSafetensorsHeader(path));
}

/** True when a safetensors header is tagged as a distill-gate MLP. */
export function isMlpSafetensors(header: SafetensorsHeader): boolean {
  return header.metadata[FAMILY] === 'mlp';
}

/** Reads an MLP from a safetensors file whose header has been read. */
export async function mlpFromSafetensors(
  path: string,
  header: SafetensorsHeader,
): Promise<MlpParameters & { metadata: Record<string, string> }> {
  const family = header.metadata[FAMILY];
  if (family !== 'mlp') {
    throw new DistillGateError(
      family
        ? `unsupported model family "${family}" (supported: mlp)`
        : `not a distill-gate model: metadata "${FAMILY}" is missing`,
      { file: path },
    );
  }
  const layers = (header.metadata[LAYERS] ?? '').split(',').map(Number);
  if (layers.length < 2 || !layers.every((n) => Number.isInteger(n) && n > 0)) {
    throw new DistillGateError(`metadata "${LAYERS}" must list layer widths, got "${header.metadata[LAYERS]}"`, {
      file: path,
    });
  }
  const names = parameterNames(layers);
  const shapes = parameterShapes(layers);
  const tensors: Float32Array[] = [];
  for (let i = 0; i < names.length; i++) {
    const { data, shape } = await readSafetensor(path, header, names[i]);
    if (shape.join() !== shapes[i].join()) {
      throw new DistillGateError(`tensor "${names[i]}" has shape [${shape}], expected [${shapes[i]}]`, { file: path });
    }
    tensors.push(data);
  }
  return { layers, tensors, metadata: header.metadata };
}

export function hashParameters(tensors: Float32Array[]): string {
  const h = createHash('sha256');
  for (const t of tensors) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  return h.digest('hex');
}
