import Database from 'better-sqlite3';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from './migrate.js';

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
