import { createHash } from 'node:crypto';
import { DistillGateError, rememberTableHash, type TensorDataset, type TensorReadOptions } from '@distill-gate/core';
import {
  DTYPE_BYTES,
  openForRead,
  readFully,
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
 * Reads a tensor dataset; with `maxRows`, only its first rows are read from disk. With `stream`, a file of more rows
 * than `stream.rows` is streamed in chunks to `stream.visit` instead, and none of it is kept. `shared` puts its
 * arrays in SharedArrayBuffers (the training workers read them without a copy).
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
  if (opts.stream && opts.stream.rows(inputDim + targetDim) < take) {
    const ds = await streamRows(path, header, take, opts.stream.visit);
    return { ...ds, ...(take < rows ? { limitedTo: take, totalRecords: rows } : {}) };
  }
  const inputs = opts.shared
    ? await sharedInputs(path, header, take)
    : (await readSafetensor(path, header, 'inputs', { rows: take })).data;
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
 * Streams the first `take` rows to `visit` in chunks of about 8 MiB, keeping none of them: memory holds one chunk,
 * whatever the file's size. What to keep is the visitor's choice.
 */
async function streamRows(
  path: string,
  header: SafetensorsHeader,
  take: number,
  visit: NonNullable<TensorReadOptions['stream']>['visit'],
): Promise<TensorDataset> {
  const [inputDim, targetDim] = [header.tensors.inputs.shape[1], header.tensors.targets.shape[1]];
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / (4 * Math.max(1, inputDim + targetDim))));
  const fh = await openForRead(path);
  try {
    for (let start = 0; start < take; start += chunk) {
      const count = Math.min(chunk, take - start);
      const x = await readSafetensorRows(fh, path, header, 'inputs', start, count);
      const y = await readSafetensorRows(fh, path, header, 'targets', start, count);
      for (let r = 0; r < count; r++) {
        const input = x.subarray(r * inputDim, (r + 1) * inputDim);
        const target = y.subarray(r * targetDim, (r + 1) * targetDim);
        visit({ index: start + r, input, target }, header.metadata);
      }
    }
  } finally {
    await fh.close();
  }
  return {
    rows: 0,
    inputDim,
    targetDim,
    inputs: new Float32Array(0),
    targets: new Float32Array(0),
    metadata: header.metadata,
    streamed: take,
  };
}

/** Inputs tables in shared memory, by the bytes they were read from: each is held once however many files hold it. */
const inputTables = new Map<string, WeakRef<Float32Array>>();

/**
 * The first `take` rows of the inputs, in shared memory. Files written by several models on the same inputs (a
 * teacher's, the base's and another teacher's logits on one set of noise images, as in the MNIST example) share one
 * table: the bytes on disk are hashed first, in chunks, and an identical table still in memory is returned instead
 * of a second copy. Shared tables are read-only (the training workers read them); tables are held by weak
 * reference, so nothing is kept for this alone.
 */
async function sharedInputs(path: string, header: SafetensorsHeader, take: number): Promise<Float32Array> {
  const t = header.tensors.inputs;
  const bytes = take * t.shape[1] * DTYPE_BYTES[t.dtype];
  const start = header.dataStart + t.data_offsets[0];
  const hash = createHash('sha256');
  const fh = await openForRead(path);
  try {
    const chunk = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(1, bytes)));
    for (let off = 0; off < bytes; off += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, bytes - off));
      await readFully(fh, part, start + off, path);
      hash.update(part);
    }
  } finally {
    await fh.close();
  }
  const digest = hash.digest('hex');
  const key = `${t.dtype}:${take}x${t.shape[1]}:${digest}`;
  const held = inputTables.get(key)?.deref();
  if (held) return held;
  const data = (await readSafetensor(path, header, 'inputs', { rows: take, shared: true })).data;
  for (const [k, ref] of inputTables) if (!ref.deref()) inputTables.delete(k);
  inputTables.set(key, new WeakRef(data));
  // Float32 on disk (little-endian, as safetensors is) are the table's own bytes: their hash is the table's.
  if (t.dtype === 'F32') rememberTableHash(data, digest);
  return data;
}
