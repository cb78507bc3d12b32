// The raw limit for log-batch ingest (issue #14): the same points inserted by a bare better-sqlite3
// loop, on the same file system and with the pragmas the store uses (WAL, synchronous NORMAL), one
// transaction per 1,000 points as one log-batch request commits them. No HTTP, no JSON, no validation,
// no encoding: one row per point in a rowid table, the least any store on SQLite can do. (bench/ is
// outside the server's layering; this file is the only one here that speaks SQL.)
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

/** Inserts `points` points (10 series, like bench/ingest.ts's requests) in transactions of `perTx`; points/s. */
export function rawInsertRate(dir: string, points: number, perTx = 1000): number {
  const file = path.join(dir, 'raw-limit.db');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE points (series INTEGER NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL, value REAL)');
    const insert = db.prepare('INSERT INTO points (series, step, timestamp, value) VALUES (?, ?, ?, ?)');
    const batch = db.transaction((from: number) => {
      for (let i = from; i < from + perTx; i++) insert.run(i % 10, Math.floor(i / 10), 1_700_000_000_000 + i, Math.random());
    });
    const t0 = performance.now();
    for (let from = 0; from < points; from += perTx) batch(from);
    return points / ((performance.now() - t0) / 1000);
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  }
}
