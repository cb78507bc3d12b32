import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, pendingMigrations } from './migrate.js';

// SQLite reads a WAL database where it cannot create the -shm only when told the file is immutable,
// which takes a URI filename (openDatabaseReadOnly); better-sqlite3 turns URI filenames on from this
// variable when its addon loads, at the first open. Only names starting with "file:" read as URIs.
process.env.SQLITE_USE_URI ??= '1';

export type Db = Database.Database;

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

/** Opens (creating if needed) the SQLite file with lablog's pragmas and brings its schema up to date. */
export function openDatabase(file: string): Db {
  // Two processes opening one fresh file at once can meet SQLITE_BUSY where SQLite does not consult
  // the busy handler (switching to WAL, WAL recovery); those moments pass, so the whole open is retried.
  for (let attempt = 1; ; attempt++) {
    let db: Db | null = null;
    try {
      db = new Database(file);
      db.pragma('busy_timeout = 10000');
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a commit survives a process kill (the WAL is in the OS cache); only power
      // loss can drop the last transactions.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('cache_size = -16000');
      db.pragma('temp_store = MEMORY');
      migrate(db, MIGRATIONS_DIR);
      return db;
    } catch (err) {
      db?.close();
      const code = (err as { code?: string }).code ?? '';
      if (!code.startsWith('SQLITE_BUSY') || attempt >= 50) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 * attempt);
    }
  }
}

/**
 * Opens the database for reading only, for a server whose data directory refuses writes (a read-only
 * mount, a full disk, another owner). Throws when the schema is behind: migrating needs writes.
 */
export function openDatabaseReadOnly(file: string): Db {
  const abs = path.resolve(file);
  let db = new Database(abs, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    db.close();
    // A WAL database closed cleanly has no -wal or -shm, and SQLite cannot create them here. Read as
    // immutable it is exact while no -wal holds commits (the last close moved them into the file);
    // a -wal with content would be skipped, so then the error stands.
    if ((statSync(`${abs}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0) throw err;
    db = new Database(`file:${abs.replace(/[%?#]/g, encodeURIComponent)}?immutable=1`, { readonly: true, fileMustExist: true });
  }
  try {
    const pending = pendingMigrations(db, MIGRATIONS_DIR);
    if (pending.length > 0) throw new Error(`the database needs schema migrations (${pending.join(', ')}), which need a writable data directory`);
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -16000');
    db.pragma('temp_store = MEMORY');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
