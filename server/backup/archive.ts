import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';
import { Header, Parser, Pax, type ReadEntry } from 'tar';

const BLOCK = 512;
const READ_SIZE = 1024 * 1024;

/**
 * Writes a tar archive (gzipped if asked) entry by entry. Headers come from the `tar` package (ustar,
 * with a PAX header when a path is longer than ustar allows); the file bodies are read here, so a file
 * that disappears between listing and reading is skipped instead of failing the whole archive.
 */
export class TarWriter {
  private readonly head: Writable;
  private readonly done: Promise<void>;
  private failure: Error | null = null;
  /** Over every file added with addFile, in order: see contentDigest. */
  private readonly digest = createHash('sha256');

  constructor(file: string, gzip: boolean) {
    const out: WriteStream = createWriteStream(file, { flags: 'wx' });
    if (gzip) {
      const z = createGzip({ level: zlib.Z_BEST_SPEED });
      this.head = z;
      this.done = pipeline(z, out);
    } else {
      this.head = out;
      this.done = new Promise((resolve, reject) => {
        out.once('close', resolve);
        out.once('error', reject);
      });
    }
    this.done.catch((err: Error) => (this.failure ??= err));
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.head.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.head.off('error', onError);
          resolve();
        };
        const onError = (err: Error) => {
          this.head.off('drain', onDrain);
          reject(err);
        };
        this.head.once('drain', onDrain);
        this.head.once('error', onError);
      });
    }
  }

  private async header(name: string, type: 'File' | 'Directory', size: number, mode: number, mtime: Date): Promise<void> {
    const h = new Header({ path: name, type, size, mode, mtime, uid: 0, gid: 0 });
    if (h.encode()) await this.write(new Pax({ path: name, size, mtime }).encode());
    await this.write(h.block!);
  }

  async addDirectory(name: string, mtime: Date): Promise<void> {
    await this.header(name.endsWith('/') ? name : `${name}/`, 'Directory', 0, 0o755, mtime);
  }

  async addBuffer(name: string, body: Buffer, mtime = new Date()): Promise<void> {
    await this.header(name, 'File', body.length, 0o644, mtime);
    await this.body(body);
  }

  /**
   * Adds the regular file at `abs` as `name`; returns its size, or null when it is gone (or is no longer
   * a regular file). Its size is taken from the open descriptor, so a file renamed over meanwhile is
   * archived as the version that was opened, whole.
   */
  async addFile(name: string, abs: string, onBytes?: (n: number) => void): Promise<number | null> {
    let fh;
    try {
      fh = await open(abs, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null;
      throw err;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return null;
      const size = st.size;
      await this.header(name, 'File', size, 0o644, st.mtime);
      digestHead(this.digest, name, size);
      let pos = 0;
      while (pos < size) {
        const buf = Buffer.allocUnsafe(Math.min(READ_SIZE, size - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        // Artifacts are never changed in place; a file that shrank anyway is a fault worth stopping for.
        if (bytesRead === 0) throw new Error(`${abs} shrank while it was being archived`);
        const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        this.digest.update(chunk);
        await this.write(chunk);
        pos += bytesRead;
        onBytes?.(bytesRead);
      }
      await this.pad(size);
      return size;
    } finally {
      await fh.close();
    }
  }

  private async body(buf: Buffer): Promise<void> {
    if (buf.length > 0) await this.write(buf);
    await this.pad(buf.length);
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.write(Buffer.alloc(BLOCK - rest));
  }

  /** sha256 over the names, sizes and bodies of the files added with addFile (see contentDigest). */
  contentDigest(): string {
    return this.digest.copy().digest('hex');
  }

  /** Two zero blocks end the archive; resolves once the file is written and closed. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(2 * BLOCK));
    this.head.end();
    await this.done;
  }

  /** Stops writing (after a failure); the caller removes the file. */
  async abort(): Promise<void> {
    this.head.destroy();
    await this.done.catch(() => {});
  }
}

/** Each file's path and size go into the digest before its body, so a renamed or moved file counts too. */
function digestHead(h: Hash, name: string, size: number): void {
  h.update(`${name}\0${size}\0`);
}

export interface ExtractOptions {
  /** Called for every entry; false skips it. An absolute path or one with '..' fails the extraction. */
  accept: (entry: ReadEntry) => boolean;
  onProgress?: (read: number, total: number) => void;
  /** Whether a file entry counts in the returned contentDigest (as TarWriter.addFile entries do). */
  digest?: (entry: ReadEntry) => boolean;
}

/**
 * Extracts `file` (tar, gzipped or not: the parser tells from the first bytes) into `dir`, one entry at a
 * time, only regular files and directories. Strict: a bad header checksum, a truncated body or broken
 * gzip data rejects instead of being skipped with a warning. When it rejects, nothing it started is
 * still writing, so the caller may remove `dir` at once.
 */
export async function extractTar(file: string, dir: string, opts: ExtractOptions): Promise<{ contentDigest: string }> {
  const digest = createHash('sha256');
  const total = (await stat(file)).size;
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      opts.onProgress?.(read, total);
      cb(null, chunk);
    },
  });
  // A backup may hold gigabytes of zeros (a preallocated checkpoint); that is not a zip bomb here.
  const parser = new Parser({ strict: true, maxDecompressionRatio: Infinity });
  let failure: Error | null = null;
  let current: ReadEntry | null = null;
  const fail = (err: Error) => {
    failure ??= err;
    current?.destroy();
    parser.abort(err);
  };
  // Errors reach us through the pipeline; an abort after the pipeline settled must not go unheard.
  parser.on('error', () => {});
  let chain = Promise.resolve();
  parser.on('entry', (entry: ReadEntry) => {
    if (!failure && !isSafe(entry.path)) fail(new Error(`unsafe path '${entry.path}' (absolute, or with '..')`));
    if (failure || !opts.accept(entry)) {
      entry.resume();
      return;
    }
    chain = chain.then(async () => {
      if (failure) return void entry.resume();
      current = entry;
      try {
        await writeEntry(dir, entry, opts.digest?.(entry) ? digest : null);
      } catch (err) {
        fail(err as Error);
      } finally {
        current = null;
      }
    });
  });
  await pipeline(createReadStream(file, { highWaterMark: READ_SIZE }), counter, parser).catch((err: Error) => fail(err));
  await chain;
  if (failure) throw failure;
  return { contentDigest: digest.digest('hex') };
}

function isSafe(name: string): boolean {
  const segs = name.replace(/\/+$/, '').split('/');
  return !name.startsWith('/') && !name.includes('\\') && segs.every((s) => s !== '' && s !== '.' && s !== '..');
}

async function writeEntry(dir: string, entry: ReadEntry, digest: Hash | null): Promise<void> {
  const target = path.join(dir, ...entry.path.replace(/\/+$/, '').split('/'));
  if (entry.type === 'Directory') {
    await mkdir(target, { recursive: true });
    entry.resume();
    return;
  }
  if (entry.type !== 'File') throw new Error(`${entry.path}: ${entry.type} entries are not extracted`);
  await mkdir(path.dirname(target), { recursive: true });
  const fh = await open(target, 'wx');
  if (digest) digestHead(digest, entry.path, entry.size ?? 0);
  try {
    // Checked before every read: an entry destroyed because the archive failed yields nothing more, and
    // iterating it would wait forever.
    const chunks = (entry as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    while (!entry.destroyed) {
      const { done, value } = await chunks.next();
      if (done) break;
      digest?.update(value);
      for (let off = 0; off < value.length; ) off += (await fh.write(value, off)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
  if (entry.blockRemain > 0 || entry.remain > 0) throw new Error(`${entry.path}: cut short`);
}
