import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
