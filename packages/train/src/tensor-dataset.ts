import { DistillGateError, type TensorDataset } from '@distill-gate/core';
import { readSafetensor, readSafetensorsHeader, writeSafetensors } from './safetensors.js';

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
    ...(take < rows ? { limitedTo: take, totalRecords: rows } : {}),
  };
}
