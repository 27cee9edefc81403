import { createHash } from 'node:crypto';
import { DistillGateError, type TensorDataset } from '@distill-gate/core';
import { parameterNames, parameterShapes, type MlpParameters } from './mlp.js';
import { readSafetensor, readSafetensorsHeader, writeSafetensors } from './safetensors.js';

const FAMILY = 'distill-gate.family';
const LAYERS = 'distill-gate.layers';

/** Saves MLP parameters as safetensors (`layers.{i}.weight` [in,out], `layers.{i}.bias`), with the layout in metadata. */
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
  const header = await readSafetensorsHeader(path);
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

/** A tensor dataset file: `inputs` [rows, inputDim] and `targets` [rows, targetDim] in one safetensors file. */
export async function writeTensorDataset(path: string, ds: TensorDataset): Promise<void> {
  await writeSafetensors(
    path,
    [
      { name: 'inputs', shape: [ds.rows, ds.inputDim], data: ds.inputs },
      { name: 'targets', shape: [ds.rows, ds.targetDim], data: ds.targets },
    ],
    ds.metadata,
  );
}

/**
 * Reads a tensor dataset; with `maxRows`, only its first rows are read from disk. `shared` puts its arrays in
 * SharedArrayBuffers (the training workers read them without a copy).
 */
export async function readTensorDataset(
  path: string,
  opts: { maxRows?: number; shared?: boolean } = {},
): Promise<TensorDataset> {
  const header = await readSafetensorsHeader(path);
  for (const name of ['inputs', 'targets']) {
    const t = header.tensors[name];
    if (!t)
      throw new DistillGateError(
        `dataset has no "${name}" tensor (present: ${Object.keys(header.tensors).join(', ') || 'none'})`,
        { file: path },
      );
    if (t.shape.length !== 2)
      throw new DistillGateError(`"${name}" must be 2-D [rows, width], got shape [${t.shape}]`, {
        file: path,
        pointer: `/${name}`,
      });
  }
  const [rows, inputDim] = header.tensors.inputs.shape;
  const [trows, targetDim] = header.tensors.targets.shape;
  if (rows !== trows)
    throw new DistillGateError(`"inputs" has ${rows} rows but "targets" has ${trows}`, { file: path });
  const take = opts.maxRows !== undefined && opts.maxRows < rows ? opts.maxRows : rows;
  const inputs = (await readSafetensor(path, header, 'inputs', { rows: take, shared: opts.shared })).data;
  const targets = (await readSafetensor(path, header, 'targets', { rows: take, shared: opts.shared })).data;
  return {
    rows: take,
    inputDim,
    targetDim,
    inputs,
    targets,
    metadata: header.metadata,
    ...(take < rows ? { limitedTo: take } : {}),
  };
}
