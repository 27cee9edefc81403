import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { DistillGateError } from './errors.js';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { finished } from 'node:stream/promises';

/**
 * Writes a file atomically: the bytes go to a temporary file in the same folder, which is then renamed over the
 * target. Readers see the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * A file written as a stream, atomically as writeFileAtomic writes one: into a temporary file beside it, renamed over
 * the target by close(); abort() leaves nothing behind.
 */
export async function atomicWriter(path: string) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const out = createWriteStream(tmp);
  return {
    async write(chunk: string | Uint8Array) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    },
    async close() {
      out.end();
      await finished(out);
      await rename(tmp, path);
    },
    async abort() {
      out.destroy();
      await rm(tmp, { force: true });
    },
  };
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Floats(...arrays: Float32Array[]): string {
  const hash = createHash('sha256');
  for (const a of arrays) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return hash.digest('hex');
}

/** Hashes of read-only tables, by their memory and then by the view's place in it (any view of the same bytes). */
const tableHashes = new WeakMap<ArrayBufferLike, Map<string, string>>();

/** The hashes held for views of a table's memory, by the view's place in it ("byteOffset:byteLength"). */
function viewsOf(table: Float32Array): Map<string, string> {
  let views = tableHashes.get(table.buffer);
  if (!views) tableHashes.set(table.buffer, (views = new Map()));
  return views;
}

const viewKey = (t: Float32Array) => `${t.byteOffset}:${t.byteLength}`;

/**
 * sha256Floats of a table that is not written after it is made, such as a dataset's inputs, computed once per table.
 * (Datasets on the same inputs share one table, and a check asks for its hash once per dataset and per student;
 * a filter that keeps every row passes on a view of the same bytes.)
 */
export function sha256Table(table: Float32Array): string {
  const views = viewsOf(table);
  let h = views.get(viewKey(table));
  if (h === undefined) {
    h = sha256Floats(table);
    views.set(viewKey(table), h);
  }
  return h;
}

/**
 * Records the sha256 of a read-only table's bytes, when the bytes were hashed as they were read (the reader of a
 * float32 file's inputs hashes them on disk), so that sha256Table need not read them again.
 */
export function rememberTableHash(table: Float32Array, sha256: string): void {
  viewsOf(table).set(viewKey(table), sha256);
}

/** What a path is, in words, for errors ("a folder", "a FIFO (named pipe)", "a device"). */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Refuses a path that exists but is not a regular file (a FIFO, a device, a folder, a socket) before anything opens
 * it: opening a FIFO blocks until a writer comes, and /dev/zero never ends. Symbolic links are followed (model
 * folders in a Hugging Face cache link their files into blobs/). A missing path is left to the reader's own error.
 * With `maxBytes`, a file read whole (JSON metadata, an ONNX protobuf) larger than that is refused before it is
 * read, instead of exhausting memory or the longest string V8 can hold.
 */
export function refuseIrregular(path: string, what = 'a file', maxBytes?: number): void {
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch {
    return; // unreadable (permissions, a loop of links): the reader's own open names the problem
  }
  if (st && !st.isFile())
    throw new DistillGateError(`${what} must be a regular file, this is ${kindOf(st)}`, { file: path });
  if (st && maxBytes !== undefined && st.size > maxBytes)
    throw new DistillGateError(
      `${what} is ${st.size} bytes; a file of this kind is read whole and may be at most ${maxBytes}`,
      { file: path },
    );
}

/**
 * Creates a folder the run will write into and proves it writable (a probe file written and removed), so that a bad
 * report or cache folder is an error before any training, not after it.
 */
export async function ensureWritableFolder(dir: string, what: string, shown = dir): Promise<void> {
  try {
    const st = await stat(dir).catch(() => undefined);
    if (st && !st.isDirectory()) throw Object.assign(new Error(`it is ${kindOf(st)}`), { code: 'ENOTDIR' });
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.distill-gate-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DistillGateError(
      `the ${what} folder cannot be written: ${err.code === 'ENOTDIR' ? err.message : (err.code ?? err.message)}`,
      { file: shown },
      `choose another ${what} folder`,
    );
  }
}

/**
 * A file that a model or config names, resolved inside its declared folder: no absolute path, no `..` out of it, no
 * symlink that leads out of it, and a regular file. Returns its path and size (check the size against what the
 * header promises before reading it).
 */
export async function fileInside(
  folder: string,
  name: string,
  where: { file: string; pointer?: string },
): Promise<{ path: string; size: number }> {
  const refuse = (why: string) => new DistillGateError(`${JSON.stringify(name)} ${why}`, where);
  if (name === '' || isAbsolute(name) || /^[a-zA-Z]:/.test(name)) throw refuse('must be a path relative to its folder');
  const path = resolve(folder, name);
  const rel = relative(folder, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw refuse(`leads out of its folder ${folder}`);
  let real: string;
  let realFolder: string;
  try {
    [real, realFolder] = await Promise.all([realpath(path), realpath(folder)]);
  } catch (e) {
    throw refuse(`cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const realRel = relative(realFolder, real);
  if (realRel.startsWith(`..${sep}`) || realRel === '..' || isAbsolute(realRel))
    throw refuse('is a link that leads out of its folder');
  const st = await stat(real);
  if (!st.isFile()) throw refuse(`must be a regular file, this is ${kindOf(st)}`);
  return { path, size: st.size };
}
