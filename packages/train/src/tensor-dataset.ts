import { DistillGateError, type TensorDataset, type TensorReadOptions } from '@distill-gate/core';
import {
  openForRead,
  readSafetensor,
  readSafetensorRows,
  readSafetensorsHeader,
  writeSafetensors,
  type SafetensorsHeader,
} from './safetensors.js';

/** Bytes of one streamed chunk of rows (inputs and targets together): what a sampled read holds besides its sample. */
const CHUNK_BYTES = 8 * 1024 * 1024;

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
 * Reads a tensor dataset; with `maxRows`, only its first rows are read from disk. With `sample`, a file of more rows
 * than the sample size is streamed in chunks: `visit` sees every row, and only the sample's rows are kept. `shared`
 * puts its arrays in SharedArrayBuffers (the training workers read them without a copy).
 */
export async function readTensorDataset(
  path: string,
  opts: TensorReadOptions & { shared?: boolean } = {},
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
  const sampleRows = opts.sample ? opts.sample.rows(inputDim + targetDim) : Infinity;
  if (opts.sample && sampleRows < take) {
    const ds = await readSampledRows(path, header, take, sampleRows, opts);
    return { ...ds, ...(take < rows ? { limitedTo: take, totalRecords: rows } : {}) };
  }
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

/**
 * A seeded uniform sample of the first `take` rows, in file order, read in chunks of about 8 MiB: memory holds the
 * sample and one chunk, whatever the file's size. Every row is shown to `visit` with whether the sample keeps it.
 */
async function readSampledRows(
  path: string,
  header: SafetensorsHeader,
  take: number,
  size: number,
  opts: TensorReadOptions & { shared?: boolean },
): Promise<TensorDataset> {
  const { sample, visit } = opts;
  const [inputDim, targetDim] = [header.tensors.inputs.shape[1], header.tensors.targets.shape[1]];
  const chosen = sample!.indices(take, size);
  // In shared memory from the start when asked (the training workers read it), not copied there afterwards.
  const alloc = (n: number) => (opts.shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  const inputs = alloc(chosen.length * inputDim);
  const targets = alloc(chosen.length * targetDim);
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / (4 * Math.max(1, inputDim + targetDim))));
  const fh = await openForRead(path);
  try {
    let next = 0; // the next chosen row
    for (let start = 0; start < take; start += chunk) {
      const count = Math.min(chunk, take - start);
      // Without a visitor only the chunks that hold chosen rows are read.
      if (!visit && (next >= chosen.length || chosen[next] >= start + count)) continue;
      const x = await readSafetensorRows(fh, path, header, 'inputs', start, count);
      const y = await readSafetensorRows(fh, path, header, 'targets', start, count);
      for (let r = 0; r < count; r++) {
        const row = start + r;
        const input = x.subarray(r * inputDim, (r + 1) * inputDim);
        const target = y.subarray(r * targetDim, (r + 1) * targetDim);
        const kept = next < chosen.length && chosen[next] === row;
        if (kept) {
          inputs.set(input, next * inputDim);
          targets.set(target, next * targetDim);
          next++;
        }
        visit?.({ index: row, input, target }, kept, header.metadata);
      }
    }
  } finally {
    await fh.close();
  }
  return {
    rows: chosen.length,
    inputDim,
    targetDim,
    inputs,
    targets,
    metadata: header.metadata,
    sampled: { records: chosen.length, of: take, seed: sample!.seed },
  };
}
