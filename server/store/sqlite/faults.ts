import { StorageUnavailableError } from '../../errors.js';

/**
 * SQLite's answers that mean the disk, not the request, is at fault. SQLite reports ENOSPC as
 * SQLITE_FULL and every other failed write (EDQUOT, EIO, a -shm that cannot grow) as SQLITE_IOERR_*;
 * a database on a read-only mount (or opened read-only) answers SQLITE_READONLY_*. In each case the
 * statement's transaction is rolled back (better-sqlite3 issues the ROLLBACK when SQLite has not).
 */
export function sqliteFault(err: unknown): StorageUnavailableError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  if (code === 'SQLITE_FULL') return new StorageUnavailableError(`the disk holding the database is full (${code})`);
  if (code.startsWith('SQLITE_READONLY')) return new StorageUnavailableError(`the database is read-only (${code})`);
  if (code.startsWith('SQLITE_IOERR')) return new StorageUnavailableError(`the disk holding the database failed a read or write, perhaps full or over quota (${code})`);
  if (code === 'SQLITE_CANTOPEN') return new StorageUnavailableError(`the database file cannot be opened (${code})`);
  return null;
}
