import Database from 'better-sqlite3';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MIGRATIONS_DIR } from '../db.js';

export interface SnapshotProgress {
  totalPages: number;
  copiedPages: number;
}

export interface SnapshotInfo {
  /** Rows in lablog_migrations of the copied database. */
  migrations: number;
  /** Size of the written file. */
  bytes: number;
}

/** Pages copied per backup step (4 KiB pages: 4 MiB), between which the event loop runs. */
const PAGES_PER_STEP = 1024;

/**
 * Copies the live database `source` into the new file `dest` with SQLite's online backup API, while
 * other processes (a running server) keep writing to it.
 *
 * The source is opened read-only, so nothing here can run, or race, a migration. One read transaction
 * is held for the whole copy: in WAL mode it pins a snapshot that writers do not disturb, and the copy
 * is that snapshot. Without it, SQLite restarts the backup from page 1 every time another process
 * commits, which under a steady stream of writes never ends.
 */
export async function snapshotSqlite(source: string, dest: string, onProgress?: (p: SnapshotProgress) => void): Promise<SnapshotInfo> {
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN');
    // BEGIN is deferred: the first read takes the snapshot (and proves this is a lablog database).
    const migrations = migrationCount(db);
    if (migrations === null) throw new Error(`${source} is not a lablog database (no lablog_migrations table)`);
    await db.backup(dest, {
      progress: ({ totalPages, remainingPages }) => {
        onProgress?.({ totalPages, copiedPages: totalPages - remainingPages });
        return PAGES_PER_STEP;
      },
    });
    db.exec('COMMIT');
    const bytes = statSync(dest).size;
    onProgress?.({ totalPages: 1, copiedPages: 1 });
    return { migrations, bytes };
  } finally {
    db.close();
  }
}

export interface SqliteCheck {
  /** `PRAGMA integrity_check` lines other than "ok"; empty when the file is sound. */
  problems: string[];
  migrations: number | null;
}

/**
 * Runs `PRAGMA integrity_check` (every page, index and constraint) on a database no one else uses, e.g.
 * a restored copy. It opens read-write only so that closing removes the -wal and -shm files a reader of a
 * WAL database leaves behind; the check itself writes nothing.
 */
export function checkSqlite(file: string): SqliteCheck {
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { fileMustExist: true });
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((line) => line !== 'ok');
    return { problems, migrations: problems.length === 0 ? migrationCount(db) : null };
  } catch (err) {
    // A file that is not a database at all ("file is not a database") fails before any row.
    return { problems: [(err as Error).message], migrations: null };
  } finally {
    db?.close();
  }
}

/** How many migrations this build of lablog ships (a database with more was made by a newer one). */
export function shippedMigrations(): number {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

function migrationCount(db: Database.Database): number | null {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lablog_migrations'").get();
  if (!table) return null;
  return (db.prepare('SELECT COUNT(*) AS n FROM lablog_migrations').get() as { n: number }).n;
}
