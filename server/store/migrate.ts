import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { encodeChunk } from './chunk-codec.js';

interface JournalEntry {
  idx: number;
  tag: string;
}

/**
 * Applies drizzle-kit's generated migrations in journal order. Each runs under BEGIN IMMEDIATE, so two
 * processes starting on one file at once serialize on SQLite's write lock (busy_timeout waits) and the
 * second sees the first's bookkeeping row and skips, instead of both running the DDL.
 */
export function migrate(db: Database, migrationsDir: string): number {
  const journal = readJournal(migrationsDir);
  registerMigrationFunctions(db);
  db.exec(
    'CREATE TABLE IF NOT EXISTS lablog_migrations (idx INTEGER PRIMARY KEY, tag TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const isApplied = db.prepare('SELECT 1 FROM lablog_migrations WHERE idx = ?');
  const record = db.prepare('INSERT INTO lablog_migrations (idx, tag, hash, applied_at) VALUES (?, ?, ?, ?)');
  // Every start comes here: a database already up to date costs one query, not a file read and a
  // write-locked transaction per migration. What another process applies meanwhile is still caught
  // by the check inside each transaction below.
  const done = new Set(db.prepare<[], number>('SELECT idx FROM lablog_migrations').pluck().all());
  let applied = 0;
  for (const entry of journal) {
    if (done.has(entry.idx)) continue;
    const text = readFileSync(path.join(migrationsDir, `${entry.tag}.sql`), 'utf8');
    const run = db.transaction(() => {
      if (isApplied.get(entry.idx)) return;
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.trim()) db.exec(statement);
      }
      record.run(entry.idx, entry.tag, createHash('sha256').update(text).digest('hex'), Date.now());
      applied++;
    });
    run.immediate();
  }
  return applied;
}

/**
 * What a migration's SQL cannot compute itself. lablog_tail_piece(step, timestamp, value ORDER BY seq):
 * a series' tail rows as one piece in the chunk encoding (0015_tail_pieces; a NULL value is NaN).
 */
function registerMigrationFunctions(db: Database): void {
  type Rows = { steps: number[]; timestamps: number[]; values: number[] };
  db.aggregate('lablog_tail_piece', {
    start: (): Rows => ({ steps: [], timestamps: [], values: [] }),
    // The SQL function takes as many arguments as this has after the accumulator (its types assume one).
    step: ((acc: Rows, step: unknown, timestamp: unknown, value: unknown) => {
      acc.steps.push(Number(step));
      acc.timestamps.push(Number(timestamp));
      acc.values.push(value === null ? NaN : Number(value));
    }) as never,
    result: (acc: Rows) => encodeChunk(acc.steps, acc.timestamps, acc.values),
  });
}

function readJournal(migrationsDir: string): JournalEntry[] {
  const journal = JSON.parse(readFileSync(path.join(migrationsDir, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] };
  return [...journal.entries].sort((a, b) => a.idx - b.idx);
}

/** The tags of the migrations a database still lacks, found without writing (for a read-only open). */
export function pendingMigrations(db: Database, migrationsDir: string): string[] {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lablog_migrations'").get();
  const applied = new Set(hasTable ? db.prepare<[], number>('SELECT idx FROM lablog_migrations').pluck().all() : []);
  return readJournal(migrationsDir).filter((e) => !applied.has(e.idx)).map((e) => e.tag);
}
