import { open, stat } from 'node:fs/promises';
import { DistillGateError, writeFileAtomic } from '@distill-gate/core';
import { toShared } from './shared-memory.js';

/**
 * The safetensors format (a standard for tensors, used across ML tooling): 8 bytes little-endian header length N,
 * N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}`, then the
 * raw little-endian data. Tensors are read one at a time, by offset, so a reader never loads more than it needs.
 */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Byte offset where the data section starts. */
  dataStart: number;
  fileSize: number;
}

const BYTES: Record<string, number> = { F32: 4, F64: 8, I32: 4, U8: 1, F16: 2 };
const MAX_HEADER = 100 * 1024 * 1024;

export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(path);
  try {
    const { size } = await fh.stat();
    if (size < 8)
      throw new DistillGateError(`not a safetensors file: ${size} bytes, shorter than the 8-byte header length`, {
        file: path,
      });
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len > MAX_HEADER || 8 + len > size) {
      throw new DistillGateError(
        `not a safetensors file (or truncated): header length ${len} does not fit in ${size} bytes`,
        { file: path },
      );
    }
    const headerBuf = Buffer.alloc(len);
    await fh.read(headerBuf, 0, len, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new DistillGateError(`safetensors header is not valid JSON: ${(e as Error).message}`, { file: path });
    }
    const metadata = (json.__metadata__ ?? {}) as Record<string, string>;
    delete json.__metadata__;
    const dataStart = 8 + len;
    const tensors = json as Record<string, SafetensorsEntry>;
    for (const [name, t] of Object.entries(tensors)) {
      const where = { file: path, pointer: `/${name}` };
      if (
        !t ||
        typeof t !== 'object' ||
        !Array.isArray(t.shape) ||
        !Array.isArray(t.data_offsets) ||
        typeof t.dtype !== 'string'
      ) {
        throw new DistillGateError('malformed tensor entry in safetensors header', where);
      }
      const bytes = BYTES[t.dtype];
      if (!bytes)
        throw new DistillGateError(`unsupported dtype ${t.dtype} (supported: ${Object.keys(BYTES).join(', ')})`, where);
      const count = t.shape.reduce((a, b) => a * b, 1);
      const [begin, end] = t.data_offsets;
      if (end - begin !== count * bytes) {
        throw new DistillGateError(
          `tensor byte range [${begin}, ${end}) does not match shape [${t.shape}] of ${t.dtype}`,
          where,
        );
      }
      if (dataStart + end > size) {
        throw new DistillGateError(
          `file is truncated: tensor "${name}" ends at byte ${dataStart + end} but the file has ${size}`,
          where,
        );
      }
    }
    return { tensors, metadata, dataStart, fileSize: size };
  } finally {
    await fh.close();
  }
}

async function openForRead(path: string) {
  try {
    return await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DistillGateError(code === 'ENOENT' ? 'file not found' : `cannot open file (${code})`, { file: path });
  }
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, I32: 4, U8: 1, F16: 2 };

/**
 * Reads one tensor as float32, reading only its bytes (with `rows`, only the first rows of its leading dimension,
 * so memory follows the rows asked for, not the file). Rejects NaN/Inf unless `allowNonFinite`.
 */
export async function readSafetensor(
  path: string,
  header: SafetensorsHeader,
  name: string,
  opts: { allowNonFinite?: boolean; rows?: number; shared?: boolean } = {},
): Promise<{ data: Float32Array; shape: number[] }> {
  const full = header.tensors[name];
  if (!full)
    throw new DistillGateError(
      `tensor "${name}" is missing (present: ${Object.keys(header.tensors).join(', ') || 'none'})`,
      { file: path },
    );
  let t = full;
  if (opts.rows !== undefined && full.shape.length > 0 && opts.rows < full.shape[0]) {
    const rowBytes = full.shape.slice(1).reduce((a, b) => a * b, 1) * (DTYPE_BYTES[full.dtype] ?? 4);
    t = {
      ...full,
      shape: [opts.rows, ...full.shape.slice(1)],
      data_offsets: [full.data_offsets[0], full.data_offsets[0] + opts.rows * rowBytes],
    };
  }
  const [begin, end] = t.data_offsets;
  const count = t.shape.reduce((a, b) => a * b, 1);
  // float32 on disk is read straight into the result (in shared memory when asked: the training workers read it);
  // other dtypes go through a byte buffer and are converted.
  const direct = t.dtype === 'F32' && end - begin === count * 4;
  const out = direct
    ? new Float32Array(opts.shared ? new SharedArrayBuffer(count * 4) : new ArrayBuffer(count * 4))
    : undefined;
  const buf = out ? Buffer.from(out.buffer, out.byteOffset, out.byteLength) : Buffer.alloc(end - begin);
  const fh = await openForRead(path);
  try {
    // Large tensors are read in chunks: a single read is capped by the platform at ~2 GiB.
    const chunk = 1 << 30;
    for (let off = 0; off < buf.length; off += chunk) {
      await fh.read(buf, off, Math.min(chunk, buf.length - off), header.dataStart + begin + off);
    }
  } finally {
    await fh.close();
  }
  let data: Float32Array;
  if (out) {
    data = out;
  } else if (t.dtype === 'F32') {
    data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf);
  } else if (t.dtype === 'F64') {
    data = Float32Array.from({ length: count }, (_, i) => buf.readDoubleLE(i * 8));
  } else if (t.dtype === 'I32') {
    data = Float32Array.from({ length: count }, (_, i) => buf.readInt32LE(i * 4));
  } else if (t.dtype === 'U8') {
    data = Float32Array.from(buf);
  } else {
    data = Float32Array.from({ length: count }, (_, i) => halfToFloat(buf.readUInt16LE(i * 2)));
  }
  if (opts.shared) data = toShared(data);
  if (!opts.allowNonFinite) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        const row = t.shape.length > 1 ? Math.floor(i / (count / t.shape[0])) : i;
        throw new DistillGateError(`tensor "${name}" holds a non-finite value (${data[i]}) at flat index ${i}`, {
          file: path,
          record: row,
          pointer: `/${name}`,
        });
      }
    }
  }
  return { data, shape: t.shape };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Writes float32 tensors (and string metadata) as one safetensors file, atomically. */
export async function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(`tensor ${t.name}: shape [${t.shape}] needs ${count} values, got ${t.data.length}`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data section starts 8-byte aligned (as the reference implementation does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  await writeFileAtomic(path, out);
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
