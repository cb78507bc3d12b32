import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReadEntry } from 'tar';
import { DB_FILE } from '../store/sqlite/index.js';
import { checkSqlite, shippedMigrations, snapshotSqlite } from '../store/sqlite/backup.js';
import { VERSION } from '../version.js';
import { extractTar, TarWriter } from './archive.js';

/**
 * A backup is one tar file (gzipped when its name ends in .tar.gz or .tgz):
 *   lablog.db            a consistent copy of the database (SQLite's online backup API)
 *   artifacts/...        the artifact files, unless left out
 *   lablog-backup.json   the manifest, written last: its presence proves the archive is complete
 */
export const MANIFEST_FILE = 'lablog-backup.json';
const ARTIFACTS = 'artifacts';

export interface BackupManifest {
  format: 'lablog-backup';
  formatVersion: 1;
  lablogVersion: string;
  createdAt: string;
  /** Migrations applied to the copied database. */
  migrations: number;
  artifacts: boolean;
  dbBytes: number;
  artifactFiles: number;
  artifactBytes: number;
  /** sha256 over the path, size and bytes of every file before the manifest, in archive order. */
  contentSha256: string;
}

/** Why a backup or restore did not happen: `usage` is the caller's mistake (exit 2), `failed` is not (exit 1). */
export class BackupError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'failed',
  ) {
    super(message);
  }
}

export interface BackupProgress {
  phase: 'database' | 'artifacts' | 'archive';
  done: number;
  total: number;
}

export interface BackupResult {
  manifest: BackupManifest;
  /** Size of the archive file. */
  bytes: number;
  /** Artifact files that vanished between listing and reading (deleted meanwhile). */
  vanished: number;
}

export const isGzipName = (file: string) => /\.(tar\.gz|tgz)$/i.test(file);

/** Writes the backup of `dataDir` to `file` (which must not exist). The server may keep running meanwhile. */
export async function createBackup(opts: {
  dataDir: string;
  file: string;
  artifacts: boolean;
  onProgress?: (p: BackupProgress) => void;
  now?: () => Date;
}): Promise<BackupResult> {
  const { dataDir, file, onProgress } = opts;
  const dbFile = path.join(dataDir, DB_FILE);
  if (!existsSync(dbFile)) throw new BackupError(`no lablog data in '${dataDir}' (${DB_FILE} not found); give --data-dir or LABLOG_DATA_DIR`, 'usage');
  if (existsSync(file)) throw new BackupError(`'${file}' already exists; remove it or choose another name`, 'usage');
  const outDir = path.dirname(path.resolve(file));
  if (!(await stat(outDir).catch(() => null))?.isDirectory()) throw new BackupError(`directory '${outDir}' does not exist`, 'usage');

  // Work files go beside the archive: that disk has room for the backup, a tmpfs might not.
  const work = await mkdtemp(path.join(outDir, '.lablog-backup-'));
  const partial = path.join(work, 'archive');
  let writer: TarWriter | null = null;
  try {
    const snapshot = path.join(work, DB_FILE);
    const db = await snapshotSqlite(dbFile, snapshot, (p) => onProgress?.({ phase: 'database', done: p.copiedPages, total: p.totalPages }));

    const files = opts.artifacts ? await listTree(path.join(dataDir, ARTIFACTS), (n) => onProgress?.({ phase: 'artifacts', done: n, total: 0 })) : [];
    const total = db.bytes + files.reduce((sum, f) => sum + f.size, 0);
    let done = 0;
    const advance = (n: number) => {
      done += n;
      onProgress?.({ phase: 'archive', done, total });
    };

    writer = new TarWriter(partial, isGzipName(file));
    if ((await writer.addFile(DB_FILE, snapshot, advance)) === null) throw new Error('the database snapshot vanished');
    let artifactFiles = 0;
    let artifactBytes = 0;
    let vanished = 0;
    if (opts.artifacts) await writer.addDirectory(ARTIFACTS, new Date());
    for (const f of files) {
      const name = `${ARTIFACTS}/${f.rel}`;
      if (f.dir) {
        await writer.addDirectory(name, f.mtime);
        continue;
      }
      const size = await writer.addFile(name, path.join(dataDir, ARTIFACTS, f.rel), advance);
      if (size === null) {
        vanished++;
        advance(f.size);
        continue;
      }
      artifactFiles++;
      artifactBytes += size;
    }
    const manifest: BackupManifest = {
      format: 'lablog-backup',
      formatVersion: 1,
      lablogVersion: VERSION,
      createdAt: (opts.now?.() ?? new Date()).toISOString(),
      migrations: db.migrations,
      artifacts: opts.artifacts,
      dbBytes: db.bytes,
      artifactFiles,
      artifactBytes,
      contentSha256: writer.contentDigest(),
    };
    await writer.addBuffer(MANIFEST_FILE, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    await writer.finish();
    writer = null;
    await fsync(partial);
    if (existsSync(file)) throw new BackupError(`'${file}' appeared while the backup ran; not overwritten`, 'usage');
    await rename(partial, file);
    return { manifest, bytes: (await stat(file)).size, vanished };
  } finally {
    await writer?.abort();
    await rm(work, { recursive: true, force: true });
  }
}

export interface RestoreProgress {
  phase: 'extract' | 'verify';
  done: number;
  total: number;
}

export interface RestoreResult {
  manifest: BackupManifest;
}

/**
 * Restores the backup `file` into `dataDir`, which must be empty or missing. Everything is extracted
 * and verified (manifest, sizes, `PRAGMA integrity_check`) in a staging folder inside `dataDir` first;
 * only then are the database and artifacts moved into place. On any failure `dataDir` is left as it
 * was found: empty, or absent.
 */
export async function restoreBackup(opts: { file: string; dataDir: string; onProgress?: (p: RestoreProgress) => void }): Promise<RestoreResult> {
  const { file, dataDir, onProgress } = opts;
  if (!(await stat(file).catch(() => null))?.isFile()) throw new BackupError(`no backup file '${file}'`, 'usage');
  const existing = await lstat(dataDir).catch(() => null);
  if (existing && !existing.isDirectory()) throw new BackupError(`'${dataDir}' exists and is not a directory`, 'usage');
  if (existing) {
    const entries = await readdir(dataDir);
    if (entries.length > 0) {
      const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? ', ...' : '');
      throw new BackupError(`'${dataDir}' is not empty (${shown}); restore only into an empty or new directory`, 'usage');
    }
  }
  await mkdir(dataDir, { recursive: true });
  const staging = await mkdtemp(path.join(dataDir, '.lablog-restore-'));
  try {
    const unexpected: string[] = [];
    const { contentDigest } = await extractTar(file, staging, {
      digest: (entry) => entry.type === 'File' && entry.path !== MANIFEST_FILE,
      accept: (entry) => {
        if (isExpected(entry)) return true;
        unexpected.push(`${entry.path} (${entry.type})`);
        return false;
      },
      onProgress: (done, total) => onProgress?.({ phase: 'extract', done, total }),
    }).catch((err: Error) => {
      throw new BackupError(`'${file}' is not a readable backup archive: ${err.message}`, 'failed');
    });
    if (unexpected.length > 0) throw new BackupError(`'${file}' is not a lablog backup: unexpected entries ${unexpected.slice(0, 5).join(', ')}`, 'failed');
    const manifest = await readManifest(file, staging);
    if (contentDigest !== manifest.contentSha256) {
      throw new BackupError(`'${file}' is corrupt: its contents do not match the sha256 in its manifest`, 'failed');
    }

    const db = path.join(staging, DB_FILE);
    const dbSize = (await stat(db).catch(() => null))?.size;
    if (dbSize === undefined) throw new BackupError(`'${file}' holds no ${DB_FILE}`, 'failed');
    if (dbSize !== manifest.dbBytes) throw new BackupError(`${DB_FILE} in '${file}' is ${dbSize} bytes, the manifest says ${manifest.dbBytes}`, 'failed');
    const artifacts = path.join(staging, ARTIFACTS);
    const tree = existsSync(artifacts) ? await listTree(artifacts) : [];
    const got = tree.filter((f) => !f.dir);
    const gotBytes = got.reduce((sum, f) => sum + f.size, 0);
    if (got.length !== manifest.artifactFiles || gotBytes !== manifest.artifactBytes) {
      throw new BackupError(
        `artifacts in '${file}' are ${got.length} files, ${gotBytes} bytes; the manifest says ${manifest.artifactFiles} files, ${manifest.artifactBytes} bytes`,
        'failed',
      );
    }

    onProgress?.({ phase: 'verify', done: 0, total: 1 });
    const check = checkSqlite(db);
    if (check.problems.length > 0) {
      throw new BackupError(`the database in '${file}' failed PRAGMA integrity_check:\n  ${check.problems.slice(0, 10).join('\n  ')}`, 'failed');
    }
    if (check.migrations !== manifest.migrations) {
      throw new BackupError(`the database in '${file}' has ${check.migrations} migrations, the manifest says ${manifest.migrations}`, 'failed');
    }
    const shipped = shippedMigrations();
    if (manifest.migrations > shipped) {
      throw new BackupError(
        `'${file}' was made by lablog ${manifest.lablogVersion}, whose database is newer (${manifest.migrations} migrations) than this lablog ${VERSION} knows (${shipped}); restore it with that version or a later one`,
        'usage',
      );
    }
    onProgress?.({ phase: 'verify', done: 1, total: 1 });

    await rename(db, path.join(dataDir, DB_FILE));
    if (existsSync(artifacts)) await rename(artifacts, path.join(dataDir, ARTIFACTS));
    await rm(staging, { recursive: true, force: true });
    return { manifest };
  } catch (err) {
    // Leave the directory as it was found: remove what this restore put there (or the directory it made).
    if (existing) {
      for (const name of await readdir(dataDir)) await rm(path.join(dataDir, name), { recursive: true, force: true });
    } else {
      await rm(dataDir, { recursive: true, force: true });
    }
    throw err;
  }
}

function isExpected(entry: ReadEntry): boolean {
  const name = entry.path.replace(/\/+$/, '');
  if (name.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) return false;
  if (name === DB_FILE || name === MANIFEST_FILE) return entry.type === 'File';
  if (name === ARTIFACTS) return entry.type === 'Directory';
  return name.startsWith(`${ARTIFACTS}/`) && (entry.type === 'File' || entry.type === 'Directory');
}

async function readManifest(file: string, staging: string): Promise<BackupManifest> {
  const text = await readFile(path.join(staging, MANIFEST_FILE), 'utf8').catch(() => null);
  // The manifest is the last entry: without it the archive was cut short (or is not a lablog backup).
  if (text === null) throw new BackupError(`'${file}' has no ${MANIFEST_FILE}: the archive is incomplete or not a lablog backup`, 'failed');
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new BackupError(`${MANIFEST_FILE} in '${file}' is not valid JSON`, 'failed');
  }
  const numbers = ['migrations', 'dbBytes', 'artifactFiles', 'artifactBytes'] as const;
  if (m.format !== 'lablog-backup' || typeof m.artifacts !== 'boolean' || typeof m.contentSha256 !== 'string' || numbers.some((k) => !Number.isSafeInteger(m[k]))) {
    throw new BackupError(`${MANIFEST_FILE} in '${file}' is not a lablog backup manifest`, 'failed');
  }
  if (m.formatVersion !== 1) throw new BackupError(`'${file}' has backup format ${m.formatVersion}; this lablog ${VERSION} reads format 1`, 'failed');
  return m as BackupManifest;
}

interface TreeEntry {
  rel: string;
  dir: boolean;
  size: number;
  mtime: Date;
}

/** Files and directories under `root` (depth first, sorted), without symlinks; missing root = empty. */
async function listTree(root: string, onCount?: (n: number) => void): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      // A folder deleted while we walk (gc, an artifact delete) is simply not in the backup.
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!e.isDirectory() && !e.isFile()) continue;
      const s = await lstat(path.join(root, r)).catch(() => null);
      if (!s) continue;
      out.push({ rel: r, dir: s.isDirectory(), size: s.isFile() ? s.size : 0, mtime: s.mtime });
      onCount?.(out.length);
      if (s.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

async function fsync(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
