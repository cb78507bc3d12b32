import { existsSync } from 'node:fs';
import path from 'node:path';
import { DB_FILE, openSqliteStore } from '../store/sqlite/index.js';
import type { TrackingStore } from '../store/types.js';

/**
 * The store a command works on, as the server would open it: the PostgreSQL database when a URL is
 * given (--database-url or LABLOG_DATABASE_URL), else the SQLite file in the data dir.
 */
export async function openCommandStore(dataDir: string, databaseUrl: string | undefined): Promise<TrackingStore> {
  if (!databaseUrl) return openSqliteStore(dataDir);
  return (await import('../store/postgres/index.js')).openPostgresStore(databaseUrl, { poolSize: 4 });
}

/** Why there is nothing to work on (a mistyped --data-dir), or null. Opening would create an empty database instead. */
export function missingData(dataDir: string, databaseUrl: string | undefined): string | null {
  if (databaseUrl || existsSync(path.join(dataDir, DB_FILE))) return null;
  return `no lablog data in '${dataDir}' (${DB_FILE} not found); give --data-dir or LABLOG_DATA_DIR, or --database-url or LABLOG_DATABASE_URL`;
}
