/**
 * Labelled example sets (inputs with integer class labels) for classifier traits: a user's own evaluation data in
 * NPY, IDX (the MNIST format, optionally gzipped), CSV or JSONL. Every error names the file and, where there is one,
 * the line, column or JSON pointer.
 */
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DistillGateError } from '../errors.js';

export type LabelledFormat = 'npy' | 'idx' | 'csv' | 'jsonl';
/** How inputs are scaled: `auto` maps 8-bit data [0, 255] to [-1, 1] (as the paper does for MNIST), else none. */
export type LabelledScale = 'auto' | 'none' | 'unit' | 'symmetric';

export interface LabelledSetSpec {
  /** Inputs (NPY, IDX) or inputs with labels (CSV, JSONL). */
  path: string;
  /** The labels file, for NPY and IDX (1-D integers). */
  labels?: string;
  /** Default: from the file extension (.npy, .idx/.gz/ubyte, .csv, .jsonl). */
  format?: LabelledFormat;
  /** CSV: the label column, by header name or 0-based index (default "label", else the last column). */
  labelColumn?: string | number;
  scale?: LabelledScale;
}

export interface LabelledSet {
  rows: number;
  inputDim: number;
  /** Row-major [rows, inputDim]. */
  inputs: Float32Array;
  labels: Int32Array;
  /** max label + 1. */
  classes: number;
  /** What was read, for reports: "labelled.csv (1,000 rows, 64 inputs, 10 classes)". */
  description: string;
}

export const LABELLED_FORMATS: readonly LabelledFormat[] = ['npy', 'idx', 'csv', 'jsonl'];

/** The format a path's extension implies, if any. */
export function labelledFormatOf(path: string): LabelledFormat | undefined {
  const p = path.toLowerCase().replace(/\.gz$/, '');
  if (p.endsWith('.npy')) return 'npy';
  if (p.endsWith('.csv')) return 'csv';
  if (p.endsWith('.jsonl')) return 'jsonl';
  if (p.endsWith('.idx') || /-ubyte$/.test(p) || /idx\d-ubyte/.test(p)) return 'idx';
  return undefined;
}

interface RawArray {
  shape: number[];
  data: Float64Array | Float32Array | Uint8Array | Int8Array | Int16Array | Int32Array | Uint16Array;
  eightBit: boolean;
}

function readBytes(file: string, display: string): Buffer {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new DistillGateError(`labelled data not found (${(e as NodeJS.ErrnoException).code ?? e})`, {
      file: display,
    });
  }
  if (!st.isFile()) throw new DistillGateError('labelled data must be a regular file', { file: display });
  const buf = readFileSync(file);
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
  try {
    return gunzipSync(buf);
  } catch (e) {
    throw new DistillGateError(`gzip data is corrupt or truncated (${(e as Error).message})`, { file: display });
  }
}

const NPY_TYPES: Record<string, { size: number; read: (b: Buffer, n: number, off: number) => RawArray['data'] }> = {
  f4: { size: 4, read: (b, n, o) => new Float32Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 4 * n)) },
  f8: { size: 8, read: (b, n, o) => new Float64Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 8 * n)) },
  u1: { size: 1, read: (b, n, o) => new Uint8Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + n)) },
  i1: { size: 1, read: (b, n, o) => new Int8Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + n)) },
  i2: { size: 2, read: (b, n, o) => new Int16Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 2 * n)) },
  u2: { size: 2, read: (b, n, o) => new Uint16Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 2 * n)) },
  i4: { size: 4, read: (b, n, o) => new Int32Array(b.buffer.slice(b.byteOffset + o, b.byteOffset + o + 4 * n)) },
  i8: {
    size: 8,
    read: (b, n, o) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(b.readBigInt64LE(o + 8 * i));
      return out;
    },
  },
};

/** Parses a NumPy .npy file (format versions 1-3, little-endian numeric dtypes, C order). */
export function parseNpy(buf: Buffer, display: string): RawArray {
  const fail = (m: string, hint?: string) =>
    new DistillGateError(`not a readable .npy file: ${m}`, { file: display }, hint);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw fail('no \\x93NUMPY magic');
  const major = buf[6];
  if (major < 1 || major > 3) throw fail(`format version ${major} is not 1, 2 or 3`);
  if (major > 1 && buf.length < 12) throw fail('the header is cut short');
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > buf.length) throw fail('the header runs past the end of the file');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw fail(`header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`);
  if (fortran === 'True')
    throw fail('Fortran-ordered arrays are not supported', 'save it with np.ascontiguousarray(x)');
  const m = /^([<>|=])([fiu]\d)$/.exec(descr);
  const type = m && NPY_TYPES[m[2]];
  if (!m || !type || (m[1] === '>' && type.size > 1))
    throw fail(
      `dtype '${descr}' is not supported`,
      'use a little-endian float32, float64, int8-int64, uint8 or uint16 array',
    );
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw fail(`shape (${shapeText}) is not a tuple of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (offset + count * type.size !== buf.length)
    throw fail(
      `shape (${shape.join(', ')}) of ${descr} needs ${count * type.size} data bytes, ` +
        `the file has ${buf.length - offset}`,
    );
  return { shape, data: type.read(buf, count, offset), eightBit: m[2] === 'u1' };
}

/** Parses an IDX file (the MNIST format: big-endian, magic 0x0000 type dims). */
export function parseIdx(buf: Buffer, display: string): RawArray {
  const fail = (m: string) => new DistillGateError(`not a readable IDX file: ${m}`, { file: display });
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw fail('it does not start with two zero bytes');
  const code = buf[2];
  const dims = buf[3];
  const sizes: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };
  const size = sizes[code];
  if (!size) throw fail(`data type 0x${code.toString(16).padStart(2, '0')} is unknown`);
  if (dims < 1 || buf.length < 4 + 4 * dims) throw fail(`${dims} dimensions do not fit the header`);
  const shape = Array.from({ length: dims }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * dims;
  if (off + count * size !== buf.length)
    throw fail(`shape [${shape.join(', ')}] needs ${count * size} data bytes, the file has ${buf.length - off}`);
  let data: RawArray['data'];
  if (code === 0x08) data = new Uint8Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + count));
  else {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const o = off + i * size;
      out[i] =
        code === 0x09
          ? buf.readInt8(o)
          : code === 0x0b
            ? buf.readInt16BE(o)
            : code === 0x0c
              ? buf.readInt32BE(o)
              : code === 0x0d
                ? buf.readFloatBE(o)
                : buf.readDoubleBE(o);
    }
    data = out;
  }
  return { shape, data, eightBit: code === 0x08 };
}

function labelsFrom(values: ArrayLike<number>, display: string, where: (i: number) => string): Int32Array {
  const labels = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v > 100_000)
      throw new DistillGateError(`label ${v} at ${where(i)} is not a class index (an integer >= 0)`, {
        file: display,
      });
    labels[i] = v;
  }
  return labels;
}

function scaleInputs(
  values: ArrayLike<number>,
  eightBit: boolean,
  scale: LabelledScale,
  display: string,
): Float32Array {
  const mode = scale === 'auto' ? (eightBit ? 'symmetric' : 'none') : scale;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v))
      throw new DistillGateError(`input value ${v} at flat index ${i} is not finite`, { file: display });
    out[i] = mode === 'symmetric' ? (v / 255) * 2 - 1 : mode === 'unit' ? v / 255 : v;
  }
  return out;
}

function fromArrays(
  inputs: RawArray,
  labels: RawArray,
  spec: LabelledSetSpec,
  display: { inputs: string; labels: string },
): { rows: number; inputDim: number; inputs: Float32Array; labels: Int32Array } {
  if (inputs.shape.length < 2)
    throw new DistillGateError(`inputs must have a row dimension and features, got shape [${inputs.shape}]`, {
      file: display.inputs,
    });
  const rows = inputs.shape[0];
  const inputDim = inputs.shape.slice(1).reduce((a, b) => a * b, 1);
  const labelShape = labels.shape.filter((d, i) => i === 0 || d !== 1);
  if (labelShape.length !== 1)
    throw new DistillGateError(`labels must be 1-D, got shape [${labels.shape}]`, { file: display.labels });
  if (labelShape[0] !== rows)
    throw new DistillGateError(`${labelShape[0]} labels for ${rows} input rows`, { file: display.labels });
  return {
    rows,
    inputDim,
    inputs: scaleInputs(inputs.data, inputs.eightBit, spec.scale ?? 'auto', display.inputs),
    labels: labelsFrom(labels.data, display.labels, (i) => `row ${i}`),
  };
}

function parseCsv(text: string, spec: LabelledSetSpec, display: string) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  if (header.length < 2 || header.every((h) => h === '') || header.every((h) => h !== '' && Number.isFinite(Number(h))))
    throw new DistillGateError(
      'a CSV needs a header line naming its columns, one of them the label (this first line is numbers: data?)',
      { file: display, line: 1 },
      'add a header such as f0,f1,...,label (numpy.savetxt writes none by default: pass header=..., comments="")',
    );
  const want = spec.labelColumn ?? (header.includes('label') ? 'label' : header.length - 1);
  const labelAt = typeof want === 'number' ? want : header.indexOf(want);
  if (labelAt < 0 || labelAt >= header.length)
    throw new DistillGateError(`label column ${JSON.stringify(want)} is not in the header (${header.join(', ')})`, {
      file: display,
      line: 1,
    });
  const inputDim = header.length - 1;
  const inputs: number[] = [];
  const labels: number[] = [];
  for (let l = 1; l < lines.length; l++) {
    if (lines[l].trim() === '') continue;
    const cells = lines[l].split(',');
    if (cells.length !== header.length)
      throw new DistillGateError(`${cells.length} columns, the header has ${header.length}`, {
        file: display,
        line: l + 1,
      });
    for (let c = 0; c < cells.length; c++) {
      const t = cells[c].trim();
      const v = Number(t);
      if (t === '' || !Number.isFinite(v))
        throw new DistillGateError(`column "${header[c]}" holds ${JSON.stringify(t)}, not a finite number`, {
          file: display,
          line: l + 1,
          column: c + 1,
        });
      if (c === labelAt) {
        if (!Number.isInteger(v) || v < 0)
          throw new DistillGateError(`label ${t} is not a class index (an integer >= 0)`, {
            file: display,
            line: l + 1,
            column: c + 1,
          });
        labels.push(v);
      } else inputs.push(v);
    }
  }
  return { inputs, labels, inputDim };
}

function parseJsonl(text: string, display: string) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const inputs: number[] = [];
  const labels: number[] = [];
  let inputDim = -1;
  for (let l = 0; l < lines.length; l++) {
    if (lines[l].trim() === '') continue;
    const at = { file: display, line: l + 1 };
    let rec: unknown;
    try {
      rec = JSON.parse(lines[l]);
    } catch (e) {
      throw new DistillGateError(`not JSON: ${(e as Error).message}`, at);
    }
    const r = rec as { input?: unknown; label?: unknown };
    if (!rec || typeof rec !== 'object' || !Array.isArray(r.input))
      throw new DistillGateError('a record is {"input": [numbers], "label": class index}', {
        ...at,
        pointer: '/input',
      });
    if (inputDim === -1) inputDim = r.input.length;
    if (r.input.length !== inputDim || inputDim === 0)
      throw new DistillGateError(`"input" has ${r.input.length} values, the first record has ${inputDim}`, {
        ...at,
        pointer: '/input',
      });
    r.input.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new DistillGateError(`${JSON.stringify(v)} is not a finite number`, { ...at, pointer: `/input/${i}` });
      inputs.push(v);
    });
    if (typeof r.label !== 'number' || !Number.isInteger(r.label) || r.label < 0)
      throw new DistillGateError(`"label" ${JSON.stringify(r.label)} is not a class index (an integer >= 0)`, {
        ...at,
        pointer: '/label',
      });
    labels.push(r.label);
  }
  return { inputs, labels, inputDim: Math.max(inputDim, 0) };
}

/**
 * Reads a labelled set. `resolvePath` maps the spec's paths to files (relative to the config); `display` names them
 * in errors as the user wrote them.
 */
export function readLabelledSet(spec: LabelledSetSpec, resolvePath: (p: string) => string): LabelledSet {
  const format = spec.format ?? labelledFormatOf(spec.path);
  if (!format)
    throw new DistillGateError(
      `cannot tell the format of ${spec.path} from its extension "${extname(spec.path)}"`,
      { file: spec.path },
      `labelled data is ${LABELLED_FORMATS.join(', ')}; name the format with "format"`,
    );
  let set: { rows: number; inputDim: number; inputs: Float32Array; labels: Int32Array };
  if (format === 'npy' || format === 'idx') {
    if (!spec.labels)
      throw new DistillGateError(
        `${format.toUpperCase()} inputs need a labels file`,
        { file: spec.path },
        'add "labels": "<file>" (1-D integer class indices, one per input row)',
      );
    const parse = format === 'npy' ? parseNpy : parseIdx;
    const inputs = parse(readBytes(resolvePath(spec.path), spec.path), spec.path);
    const labels = parse(readBytes(resolvePath(spec.labels), spec.labels), spec.labels);
    set = fromArrays(inputs, labels, spec, { inputs: spec.path, labels: spec.labels });
  } else {
    const text = readBytes(resolvePath(spec.path), spec.path).toString('utf8');
    const parsed = format === 'csv' ? parseCsv(text, spec, spec.path) : parseJsonl(text, spec.path);
    const rows = parsed.labels.length;
    set = {
      rows,
      inputDim: parsed.inputDim,
      inputs: scaleInputs(parsed.inputs, false, spec.scale ?? 'auto', spec.path),
      labels: labelsFrom(parsed.labels, spec.path, (i) => `record ${i + 1}`),
    };
  }
  if (set.rows < 2)
    throw new DistillGateError(`labelled data holds ${set.rows} rows; it needs many`, { file: spec.path });
  let classes = 0;
  for (const l of set.labels) classes = Math.max(classes, l + 1);
  if (classes < 2)
    throw new DistillGateError('every label is 0: a classifier needs at least two classes', { file: spec.path });
  // Labels are class indices 0..K-1: a column of IDs or of labels numbered from 1 would make classes that never occur.
  const seen = new Set(set.labels);
  if (seen.size < classes)
    throw new DistillGateError(
      `labels run to ${classes - 1} but only ${seen.size} distinct values occur (missing: ${[
        ...Array(Math.min(classes, 50)).keys(),
      ]
        .filter((k) => !seen.has(k))
        .slice(0, 5)
        .join(', ')}${classes - seen.size > 5 ? ', ...' : ''})`,
      { file: spec.path },
      'labels must be the class indices 0..K-1, each present; renumber them (or pick the label column: labelColumn)',
    );
  return {
    ...set,
    classes,
    description: `${spec.path} (${set.rows.toLocaleString('en-US')} rows, ${set.inputDim} inputs, ${classes} classes)`,
  };
}
