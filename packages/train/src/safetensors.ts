import { existsSync } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  DistillGateError,
  MAX_JSON_BYTES,
  parseStrictJsonObject,
  pointerTo,
  refuseIrregular,
  writeFileAtomic,
  type ErrorLocation,
} from '@distill-gate/core';
import { toShared } from './shared-memory.js';

/**
 * The safetensors format (a standard for tensors, used across ML tooling): 8 bytes little-endian header length N,
 * N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}`, then the
 * raw little-endian data. Tensors are read one at a time, by offset, so a reader never loads more than it needs.
 *
 * The header is checked strictly before any tensor is read: every entry has a known dtype, a shape of non-negative
 * integers and offsets whose byte length is exactly the shape's, inside the file and overlapping no other tensor; no
 * name appears twice (JSON.parse would silently keep the last one, so the header text is scanned for duplicates);
 * `__metadata__` maps strings to strings. Errors name the file and the tensor (pointer `/<tensor>`).
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

/** Bytes per element of every dtype the format defines (all are accepted in a header). */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** The dtypes readSafetensor decodes (to float32). */
export const READABLE_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'] as const;

const MAX_HEADER = 100 * 1024 * 1024;

export { pointerTo };

/** Parses a JSON header or index: a located error when it is not JSON, not an object, or repeats a key. */
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Checks one tensor entry; returns it typed, or throws naming the file and the tensor. */
function checkEntry(name: string, t: unknown, where: ErrorLocation, dataBytes: number): SafetensorsEntry {
  const bad = (why: string) => new DistillGateError(`tensor "${name}": ${why}`, where);
  if (!t || typeof t !== 'object' || Array.isArray(t)) throw bad('the header entry is not an object');
  const e = t as Partial<SafetensorsEntry>;
  if (typeof e.dtype !== 'string') throw bad('"dtype" is missing or not a string');
  const bytes = DTYPE_BYTES[e.dtype];
  if (!bytes) throw bad(`unknown dtype "${e.dtype}" (the format defines ${Object.keys(DTYPE_BYTES).join(', ')})`);
  if (!Array.isArray(e.shape) || !e.shape.every(isCount))
    throw bad(`"shape" must be a list of non-negative integers, got ${JSON.stringify(e.shape)}`);
  const offsets = e.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1])
    throw bad(`"data_offsets" must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  const count = e.shape.reduce((a, b) => a * b, 1);
  const [begin, end] = offsets;
  if (end - begin !== count * bytes)
    throw bad(
      `its byte range [${begin}, ${end}) holds ${end - begin} bytes; shape [${e.shape}] of ${e.dtype} ` +
        `needs ${count} x ${bytes} = ${count * bytes}`,
    );
  if (end > dataBytes)
    throw bad(`the file is truncated: the tensor ends at data byte ${end} but the data section has ${dataBytes}`);
  return { dtype: e.dtype, shape: e.shape, data_offsets: [begin, end] };
}

/** Rejects two tensors whose byte ranges overlap (empty tensors overlap nothing). */
function checkNoOverlap(tensors: Record<string, SafetensorsEntry>, file: string): void {
  const ranges = Object.entries(tensors)
    .filter(([, t]) => t.data_offsets[1] > t.data_offsets[0])
    .sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0]);
  for (let i = 1; i < ranges.length; i++) {
    const [prevName, prev] = ranges[i - 1];
    const [name, t] = ranges[i];
    if (t.data_offsets[0] < prev.data_offsets[1])
      throw new DistillGateError(
        `tensor "${name}" [${t.data_offsets}] overlaps tensor "${prevName}" [${prev.data_offsets}]`,
        { file, pointer: pointerTo(name) },
      );
  }
}

function checkMetadata(raw: unknown, file: string): Record<string, string> {
  if (raw === undefined) return {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new DistillGateError('"__metadata__" must map strings to strings', { file, pointer: '/__metadata__' });
  for (const [k, v] of Object.entries(raw))
    if (typeof v !== 'string')
      throw new DistillGateError(`"__metadata__" value of "${k}" is ${JSON.stringify(v)}, not a string`, {
        file,
        pointer: pointerTo('__metadata__', k),
      });
  return raw as Record<string, string>;
}

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
    const json = parseStrictJsonObject(headerBuf.toString('utf8'), path, 'the safetensors header');
    const metadata = checkMetadata(json.__metadata__, path);
    const dataStart = 8 + len;
    const tensors: Record<string, SafetensorsEntry> = {};
    for (const [name, t] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      tensors[name] = checkEntry(name, t, { file: path, pointer: pointerTo(name) }, size - dataStart);
    }
    checkNoOverlap(tensors, path);
    return { tensors, metadata, dataStart, fileSize: size };
  } finally {
    await fh.close();
  }
}

/** Opens a file to read, refusing a FIFO or device first; a missing or unreadable file is a located error. */
export async function openForRead(path: string): Promise<FileHandle> {
  refuseIrregular(path);
  try {
    return await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DistillGateError(code === 'ENOENT' ? 'file not found' : `cannot open file (${code})`, { file: path });
  }
}

let f16Table: Float32Array | undefined;

/** float16 bits -> float32, exactly (subnormals, signed zeros, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Decodes little-endian raw bytes of a dtype to float32 (the bytes start at offset 0 of their own buffer). */
function decode(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  const b = bytes.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(b, bytes.byteOffset, count);
    case 'BF16': {
      // bfloat16 is the top half of a float32: shifting the bits up is exact.
      const u16 = new Uint16Array(b, bytes.byteOffset, count);
      const u32 = new Uint32Array(count);
      for (let i = 0; i < count; i++) u32[i] = u16[i] << 16;
      return new Float32Array(u32.buffer);
    }
    case 'F16': {
      f16Table ??= Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h));
      const u16 = new Uint16Array(b, bytes.byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16Table[u16[i]];
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(b, bytes.byteOffset, count));
    case 'I64':
      return Float32Array.from(new BigInt64Array(b, bytes.byteOffset, count), (x) => Number(x));
    case 'I32':
      return Float32Array.from(new Int32Array(b, bytes.byteOffset, count));
    case 'I16':
      return Float32Array.from(new Int16Array(b, bytes.byteOffset, count));
    case 'I8':
      return Float32Array.from(new Int8Array(b, bytes.byteOffset, count));
    default: // U8, BOOL
      return Float32Array.from(bytes.subarray(0, count));
  }
}

/**
 * Fills `buf` with the bytes of an open file at `position`, in chunks (a single read is capped by the platform at
 * ~2 GiB); a file shorter than that is a located error.
 */
export async function readFully(fh: FileHandle, buf: Uint8Array, position: number, path: string): Promise<void> {
  const chunk = 1 << 30;
  for (let off = 0; off < buf.length; off += chunk) {
    const { bytesRead } = await fh.read(buf, off, Math.min(chunk, buf.length - off), position + off);
    if (bytesRead < Math.min(chunk, buf.length - off))
      throw new DistillGateError('the file changed or is truncated while being read', { file: path });
  }
}

/** Reads `buf.length` bytes at `position` of a file into `buf`. */
async function readRange(path: string, buf: Uint8Array, position: number): Promise<void> {
  const fh = await openForRead(path);
  try {
    await readFully(fh, buf, position, path);
  } finally {
    await fh.close();
  }
}

/** Refuses a tensor of a dtype distill-gate does not decode, by name. */
function checkReadable(entry: SafetensorsEntry, name: string, path: string): void {
  if (!(READABLE_DTYPES as readonly string[]).includes(entry.dtype))
    throw new DistillGateError(`tensor "${name}" is ${entry.dtype}; distill-gate reads ${READABLE_DTYPES.join(', ')}`, {
      file: path,
      pointer: pointerTo(name),
    });
}

/**
 * Rejects a NaN or infinity, naming the tensor, the flat index and the row; `data` holds rows of the tensor's
 * leading dimension from `firstRow` on (0: the whole tensor, or its first rows).
 */
function checkFinite(data: Float32Array, shape: number[], name: string, path: string, firstRow = 0): void {
  const width = shape.length > 1 ? data.length / shape[0] : 1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const row = firstRow + Math.floor(i / width);
      throw new DistillGateError(
        `tensor "${name}" holds a non-finite value (${data[i]}) at flat index ${firstRow * width + i}`,
        { file: path, record: row, pointer: pointerTo(name) },
      );
    }
  }
}

/**
 * Reads one tensor as float32, reading only its bytes (with `rows`, only the first rows of its leading dimension,
 * so memory follows the rows asked for, not the file). F32, F16, BF16 and F64 are decoded exactly (F64 rounded to
 * float32), integer dtypes converted. Rejects NaN/Inf unless `allowNonFinite`.
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
  checkReadable(full, name, path);
  const elem = DTYPE_BYTES[full.dtype];
  const rows = opts.rows !== undefined && full.shape.length > 0 && opts.rows < full.shape[0] ? opts.rows : undefined;
  const shape = rows === undefined ? full.shape : [rows, ...full.shape.slice(1)];
  const count = shape.reduce((a, b) => a * b, 1);
  // float32 on disk is read straight into the result (in shared memory when asked: the training workers read it);
  // other dtypes go through a byte buffer of their own and are converted.
  const direct = full.dtype === 'F32';
  const backing = opts.shared && direct ? new SharedArrayBuffer(count * 4) : new ArrayBuffer(count * elem);
  const bytes = new Uint8Array(backing);
  await readRange(path, bytes, header.dataStart + full.data_offsets[0]);
  let data = decode(full.dtype, bytes, count);
  if (opts.shared) data = toShared(data);
  if (!opts.allowNonFinite) checkFinite(data, shape, name, path);
  return { data, shape };
}

/**
 * Rows [start, start + count) of a tensor's leading dimension as float32, read from an open file: what a streamed
 * pass over a large tensor reads, one bounded chunk at a time. Non-finite values are refused with their row.
 */
export async function readSafetensorRows(
  fh: FileHandle,
  path: string,
  header: SafetensorsHeader,
  name: string,
  start: number,
  count: number,
): Promise<Float32Array> {
  const t = header.tensors[name];
  checkReadable(t, name, path);
  const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const elem = DTYPE_BYTES[t.dtype];
  const bytes = new Uint8Array(count * width * elem);
  await readFully(fh, bytes, header.dataStart + t.data_offsets[0] + start * width * elem, path);
  const data = decode(t.dtype, bytes, count * width);
  checkFinite(data, [count, width], name, path, start);
  return data;
}

/** Where one tensor of a (possibly sharded) checkpoint lives. */
export interface CheckpointTensor {
  file: string;
  header: SafetensorsHeader;
  entry: SafetensorsEntry;
}

/** A model folder's safetensors weights: `model.safetensors`, or shards listed in `model.safetensors.index.json`. */
export interface SafetensorsCheckpoint {
  dir: string;
  /** The index file, for a sharded checkpoint. */
  index?: string;
  /** The safetensors files, in the order they are named. */
  files: string[];
  tensors: Map<string, CheckpointTensor>;
}

export const SINGLE_WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

/**
 * Opens a folder's safetensors checkpoint (the single file when there is one, as Hugging Face's loader prefers),
 * reading every header. A sharded checkpoint must be consistent: each tensor of the index's `weight_map` is in the
 * shard it names and every tensor of a shard is listed for that shard; shard names stay inside the folder.
 */
export async function openSafetensorsCheckpoint(dir: string): Promise<SafetensorsCheckpoint> {
  const single = join(dir, SINGLE_WEIGHTS);
  const index = join(dir, WEIGHTS_INDEX);
  if (existsSync(single)) {
    const header = await readSafetensorsHeader(single);
    const tensors = new Map(Object.entries(header.tensors).map(([n, entry]) => [n, { file: single, header, entry }]));
    return { dir, files: [single], tensors };
  }
  if (!existsSync(index)) {
    const other = ['pytorch_model.bin', 'model.bin', 'pytorch_model.bin.index.json'].find((f) =>
      existsSync(join(dir, f)),
    );
    throw new DistillGateError(
      `no ${SINGLE_WEIGHTS} or ${WEIGHTS_INDEX} in the model folder` + (other ? ` (found ${other})` : ''),
      { file: dir },
      other ? 'distill-gate reads safetensors weights only: save the model with safe_serialization=True' : undefined,
    );
  }
  const weightMap = await readWeightMap(index, dir);
  const shards = [...new Set(weightMap.values())];
  const headers = new Map<string, SafetensorsHeader>();
  for (const shard of shards) headers.set(shard, await readSafetensorsHeader(join(dir, shard)));
  const tensors = new Map<string, CheckpointTensor>();
  for (const [name, shard] of weightMap) {
    const file = join(dir, shard);
    const header = headers.get(shard)!;
    const entry = header.tensors[name];
    if (!entry)
      throw new DistillGateError(`tensor "${name}" is mapped to ${shard}, which does not hold it`, {
        file: index,
        pointer: pointerTo('weight_map', name),
      });
    tensors.set(name, { file, header, entry });
  }
  for (const [shard, header] of headers)
    for (const name of Object.keys(header.tensors))
      if (weightMap.get(name) !== shard)
        throw new DistillGateError(
          `the shard holds tensor "${name}", which ${WEIGHTS_INDEX} ` +
            (weightMap.has(name) ? `maps to ${weightMap.get(name)}` : 'does not list'),
          { file: join(dir, shard), pointer: pointerTo(name) },
        );
  return { dir, index, files: shards.map((s) => join(dir, s)), tensors };
}

/** The index's `weight_map` (tensor -> shard file name), each shard confined to the model folder. */
async function readWeightMap(index: string, dir: string): Promise<Map<string, string>> {
  let text: string;
  refuseIrregular(index, 'the index', MAX_JSON_BYTES);
  try {
    text = await readFile(index, 'utf8');
  } catch (e) {
    throw new DistillGateError(`cannot read the index: ${(e as Error).message}`, { file: index });
  }
  const json = parseStrictJsonObject(text, index, 'the index');
  const map = json.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map))
    throw new DistillGateError('"weight_map" (tensor name -> shard file) is missing or not an object', {
      file: index,
      pointer: '/weight_map',
    });
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    const where = { file: index, pointer: pointerTo('weight_map', name) };
    if (typeof shard !== 'string' || shard === '')
      throw new DistillGateError(`the shard of tensor "${name}" must be a file name`, where);
    const inside = relative(resolve(dir), resolve(dir, shard));
    if (isAbsolute(shard) || shard.split(/[\\/]/).includes('..') || inside.startsWith('..') || isAbsolute(inside))
      throw new DistillGateError(
        `the shard of tensor "${name}" is "${shard}": shards must be files inside the model folder`,
        where,
      );
    out.set(name, shard);
  }
  if (!out.size) throw new DistillGateError('"weight_map" lists no tensor', { file: index, pointer: '/weight_map' });
  return out;
}

/** Reads one tensor of a checkpoint from its shard. */
export async function readCheckpointTensor(
  ckpt: SafetensorsCheckpoint,
  name: string,
  opts: { allowNonFinite?: boolean } = {},
): Promise<{ data: Float32Array; shape: number[]; file: string }> {
  const t = ckpt.tensors.get(name);
  if (!t) throw new DistillGateError(`tensor "${name}" is missing`, { file: ckpt.index ?? ckpt.files[0] });
  return { ...(await readSafetensor(t.file, t.header, name, opts)), file: t.file };
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  /** Stored as F32 (the default) or BF16 (rounded to nearest, ties to even; half the bytes). */
  dtype?: 'F32' | 'BF16';
}

/** float32 values as bfloat16 bit patterns: rounded to nearest, ties to even; NaN stays NaN. */
export function toBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    out[i] = Number.isNaN(values[i]) ? 0x7fc0 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Writes float32 tensors, each as F32 or BF16 (and string metadata), as one safetensors file, atomically. */
export async function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const stored = tensors.map((t) => (t.dtype === 'BF16' ? toBf16(t.data) : t.data));
  tensors.forEach((t, i) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(`tensor ${t.name}: shape [${t.shape}] needs ${count} values, got ${t.data.length}`);
    const bytes = stored[i].byteLength;
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  });
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data section starts 8-byte aligned (as the reference implementation does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const d of stored) {
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  await writeFileAtomic(path, out);
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
