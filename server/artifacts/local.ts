import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalid, translateErrors } from '../errors.js';
import { fsFault, fsFaultReason } from '../storage/faults.js';
import { byName, byteLimit, checkedParts, checkPartNumber, checkUploadId, uploadMissing } from './common.js';
import type { ArtifactEntry, ArtifactStore, Range } from './types.js';

/**
 * Artifacts as plain files under `root`. Uploads stream into a temp file beside the root (same file
 * system) and are renamed into place only when complete, so a failed, aborted or oversize upload leaves
 * nothing and no reader sees half a file. Multipart parts wait in the same staging area. A write the
 * disk refuses (full, read-only) rejects with StorageUnavailableError.
 */
export function createLocalArtifactStore(root: string): ArtifactStore {
  mkdirUnlessRefused(root);
  const realRoot = existsSync(root) ? realpathSync(root) : path.resolve(root);
  const staging = stagingDirOf(realRoot);
  mkdirUnlessRefused(path.join(staging, 'mpu'));

  /** Absolute path for a canonical relative path, refusing any that a symlink leads out of the root. */
  async function resolve(rel: string): Promise<string> {
    const abs = path.join(realRoot, rel);
    let probe = abs;
    for (;;) {
      try {
        const real = realpathSync(probe);
        if (real !== realRoot && !real.startsWith(realRoot + path.sep)) throw invalid(`Invalid path '${rel}': it leads outside the artifact root`);
        return abs;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // ENOTDIR: the path runs through a file; it names nothing, like a missing path.
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
        // No root at all (a read-only data directory that never had one): nothing can lead out of it.
        if (probe === realRoot) return abs;
        // A dangling symlink is missing to realpath but may point anywhere once written through.
        if (code === 'ENOENT' && lstatSync(probe, { throwIfNoEntry: false })?.isSymbolicLink()) throw invalid(`Invalid path '${rel}': it runs through a dangling symbolic link`);
        probe = path.dirname(probe);
      }
    }
  }

  /** Streams `body` into a fresh staging file, at most maxBytes; returns its path, size and (for parts, whose ETag it is) MD5. */
  async function stage(body: Readable, maxBytes: number, withMd5 = false): Promise<{ file: string; size: number; md5: string }> {
    // The pid in the name tells a later process whether the writer is gone (removeStaleUploads).
    const file = path.join(staging, `${process.pid}-${randomUUID()}`);
    const limit = byteLimit(maxBytes, withMd5);
    const out = createWriteStream(file, { flags: 'wx' });
    try {
      await pipeline(body, limit.stream, out);
    } catch (err) {
      // A body refused at once (over the limit) can fail the pipeline while the file is still being
      // opened: removed before the open completes, it would appear afterwards and stay.
      if (!out.closed) await once(out, 'close').catch(() => {});
      await rm(file, { force: true });
      throw err;
    }
    return { file, size: limit.size(), md5: limit.md5() };
  }

  async function moveIntoPlace(staged: string, rel: string): Promise<void> {
    if (rel === '') throw invalid('An artifact needs a file path, not the root');
    const target = await resolve(rel);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const existing = await lstat(target).catch(() => null);
      if (existing?.isDirectory()) throw invalid(`Cannot write artifact '${rel}': a directory of that name exists`);
      await rename(staged, target);
    } catch (err) {
      await rm(staged, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') throw invalid(`Cannot write artifact '${rel}': a file stands where a directory is needed`);
      throw err;
    }
  }

  const uploadDir = (id: string) => {
    checkUploadId(id);
    return path.join(staging, 'mpu', id);
  };

  async function uploadTarget(id: string): Promise<string> {
    try {
      return await readFile(path.join(uploadDir(id), 'target'), 'utf8');
    } catch {
      throw uploadMissing(id);
    }
  }

  const store: ArtifactStore = {
    async put(rel, body, maxBytes) {
      await resolve(rel);
      const { file, size } = await stage(body, maxBytes);
      await moveIntoPlace(file, rel);
      return { size };
    },

    async stat(rel) {
      const s = await stat(await resolve(rel)).catch(() => null);
      if (!s?.isFile()) return null;
      return { size: s.size, mtimeMs: s.mtimeMs, etag: `"${s.size.toString(16)}-${Math.floor(s.mtimeMs * 1000).toString(16)}-${s.ino.toString(16)}"` };
    },

    read(rel, range?: Range) {
      // Callers stat() first, which resolved the path; joining again cannot leave the root.
      return createReadStream(path.join(realRoot, rel), range ? { start: range.start, end: range.end } : {});
    },

    async list(rel) {
      const dir = await resolve(rel);
      const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
        throw err;
      });
      if (!entries) return null;
      const out: ArtifactEntry[] = [];
      // Symlinks are not listed: they may point anywhere.
      for (const e of entries) {
        if (e.isDirectory()) out.push({ name: e.name, isDir: true, size: null });
        else if (e.isFile()) out.push({ name: e.name, isDir: false, size: (await stat(path.join(dir, e.name))).size });
      }
      return out.sort(byName);
    },

    async delete(rel) {
      if (rel === '') throw invalid('Refusing to delete the artifact root');
      const abs = await resolve(rel);
      if ((await lstat(abs).catch(() => null)) === null) return false;
      await rm(abs, { recursive: true, force: true });
      return true;
    },

    async removeTree(rel) {
      if (rel === '') throw invalid('Refusing to remove the artifact root');
      const abs = await resolve(rel);
      const bytes = await treeSize(abs);
      if (bytes === null) return { existed: false, bytes: 0 };
      await rm(abs, { recursive: true, force: true });
      return { existed: true, bytes };
    },

    async createUpload(rel) {
      if (rel === '') throw invalid('A multipart upload needs a file path');
      await resolve(rel);
      const id = randomUUID();
      try {
        await mkdir(uploadDir(id));
        await writeFile(path.join(uploadDir(id), 'target'), rel);
      } catch (err) {
        await rm(uploadDir(id), { recursive: true, force: true });
        throw err;
      }
      return id;
    },

    async putPart(id, partNumber, body, maxBytes) {
      await uploadTarget(id);
      checkPartNumber(partNumber);
      const { file, size, md5 } = await stage(body, maxBytes, true);
      const part = path.join(uploadDir(id), `part-${partNumber}`);
      try {
        await rename(file, part);
        await writeFile(`${part}.etag`, md5);
      } catch (err) {
        // A part without its whole etag is no part: completing the upload then names it missing.
        await Promise.all([file, part, `${part}.etag`].map((f) => rm(f, { force: true })));
        throw err;
      }
      return { etag: md5, size };
    },

    async completeUpload(id, rel, parts, maxBytes) {
      const target = await uploadTarget(id);
      if (target !== rel) throw invalid(`Upload ${id} is for '${target}', not '${rel}'`);
      const part = (n: number) => path.join(uploadDir(id), `part-${n}`);
      const files = (await checkedParts(id, parts, (n) => readFile(`${part(n)}.etag`, 'utf8').catch(() => null))).map(part);
      const { file, size } = await stage(Readable.from(concat(files)), maxBytes);
      await moveIntoPlace(file, rel);
      await rm(uploadDir(id), { recursive: true, force: true });
      return { size };
    },

    async abortUpload(id) {
      await uploadTarget(id);
      await rm(uploadDir(id), { recursive: true, force: true });
    },
  };
  return translateErrors(store, (err) => fsFault(err, 'the artifact store'), ['put', 'delete', 'removeTree', 'createUpload', 'putPart', 'completeUpload', 'abortUpload']);
}

/** Creates `dir`, unless the disk refuses: a server on a read-only data directory still serves reads. */
function mkdirUnlessRefused(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    // A recursive mkdir on a read-only mount may answer ENOENT for the part it could not create.
    if (fsFaultReason(err, dir) === null && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Beside the root, on the same file system, so that moving a finished upload into place is a rename. */
function stagingDirOf(realRoot: string): string {
  return path.join(path.dirname(realRoot), `.${path.basename(realRoot)}-staging`);
}

const STAGED_NAME = /^(?:(\d+)-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Removes the staging files of uploads whose process is gone: a server killed mid-upload (kill -9, OOM,
 * power) leaves its half-received file behind, never visible under the root but taking disk space.
 * Call it once at start, before serving: a file named with this process's pid is then from an earlier
 * process that had the same pid (in a container the server is always pid 1). Files of other live
 * processes on the same data dir (a second server, an import) are kept; names without a pid come from
 * versions before the pid was recorded, whose process cannot still be running after an upgrade.
 * Multipart uploads (`mpu/`) are kept: a client may complete them after a restart.
 */
export async function removeStaleUploads(root: string): Promise<{ files: number; bytes: number }> {
  const staging = stagingDirOf(realpathSync(root));
  let files = 0;
  let bytes = 0;
  const entries = await readdir(staging, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const m = STAGED_NAME.exec(e.name);
    if (!e.isFile() || !m) continue;
    if (m[1] !== undefined && Number(m[1]) !== process.pid && processAlive(Number(m[1]))) continue;
    const file = path.join(staging, e.name);
    const size = (await stat(file).catch(() => null))?.size ?? 0;
    // Gone already (a concurrent sweep): nothing to count.
    if (await unlink(file).then(() => true, () => false)) {
      files++;
      bytes += size;
    }
  }
  return { files, bytes };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function* concat(files: string[]): AsyncGenerator<Buffer> {
  for (const f of files) for await (const chunk of createReadStream(f)) yield chunk as Buffer;
}

/** Bytes under a file or directory (symlinks not followed); null when nothing is there. */
async function treeSize(abs: string): Promise<number | null> {
  const s = await lstat(abs).catch(() => null);
  if (!s) return null;
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const e of await readdir(abs)) total += (await treeSize(path.join(abs, e))) ?? 0;
  return total;
}
