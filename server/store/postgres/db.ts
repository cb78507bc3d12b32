import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR } from '../db.js';

export const PG_MIGRATIONS_DIR = path.join(MIGRATIONS_DIR, 'postgres');

/** Any one of lablog's processes holds this advisory lock while it migrates; the others wait. */
const MIGRATION_LOCK = 0x1ab109;

const INT8_OID = 20;

/** True for the URLs that select the PostgreSQL store. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * A connection pool whose bigint columns (ids, times, steps, counts) come back as JS numbers, as in the
 * SQLite store: lablog's values stay below 2^53. Its connections pipeline: a query is sent without
 * waiting for the one before it to be answered, which transaction() uses for BEGIN.
 */
export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    pipeline: true,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose connection drops must not take the process down; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

export type Queryable = pg.Pool | pg.PoolClient;

/** The statement each open transaction sent last without waiting for its answer (sendLast). */
const unanswered = new WeakMap<pg.PoolClient, Promise<unknown>>();

/**
 * Sends a statement of transaction()'s `fn` without waiting for its answer, for the last one: the
 * COMMIT goes out right behind it instead of a round trip later. transaction() then waits for its
 * answer and throws its error, since PostgreSQL answers a COMMIT after a failed statement with a
 * rollback, not an error.
 */
export function sendLast(client: pg.PoolClient, query: pg.QueryConfig): void {
  const answer = client.query(query);
  // Waited for by transaction(); handled now so that a failure meanwhile is not an unhandled rejection.
  answer.catch(() => {});
  unanswered.set(client, answer);
}

/**
 * Runs `fn` in one transaction on one pooled connection; rolls back when it throws. The connection
 * pipelines (createPool): BEGIN goes out with `fn`'s first statement, and COMMIT with its last when
 * `fn` sends that with sendLast, instead of a round trip each.
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  const begun = client.query(begin);
  begun.catch(() => {});
  try {
    let out: T;
    try {
      out = await fn(client);
    } finally {
      // A failed BEGIN is the error to report (the statements behind it failed for that reason).
      await begun;
    }
    const last = unanswered.get(client);
    unanswered.delete(client);
    const committed = client.query('COMMIT');
    committed.catch(() => {});
    if (last) await last;
    await committed;
    return out;
  } catch (err) {
    unanswered.delete(client);
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * A read of several statements that must see one state (a series' chunks and tail while another server
 * seals it, a run and its params): one REPEATABLE READ snapshot.
 */
export function snapshot<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

interface JournalEntry {
  idx: number;
  tag: string;
}

/**
 * Applies drizzle-kit's generated PostgreSQL migrations in journal order under a session advisory
 * lock, so several servers starting at once on one empty database run each migration exactly once:
 * the first holds the lock while it migrates, the others then find the bookkeeping rows and skip.
 * Returns how many migrations this call applied.
 */
export async function migratePostgres(pool: pg.Pool, migrationsDir = PG_MIGRATIONS_DIR): Promise<number> {
  const journal = JSON.parse(readFileSync(path.join(migrationsDir, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] };
  const client = await pool.connect();
  let applied = 0;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS lablog_migrations (idx integer PRIMARY KEY, tag text NOT NULL, hash text NOT NULL, applied_at bigint NOT NULL)',
      );
      for (const entry of [...journal.entries].sort((a, b) => a.idx - b.idx)) {
        const done = await client.query('SELECT 1 FROM lablog_migrations WHERE idx = $1', [entry.idx]);
        if (done.rowCount) continue;
        const text = readFileSync(path.join(migrationsDir, `${entry.tag}.sql`), 'utf8');
        await client.query('BEGIN');
        try {
          for (const statement of text.split('--> statement-breakpoint')) {
            if (statement.trim()) await client.query(statement);
          }
          await client.query('INSERT INTO lablog_migrations (idx, tag, hash, applied_at) VALUES ($1, $2, $3, $4)', [
            entry.idx,
            entry.tag,
            createHash('sha256').update(text).digest('hex'),
            Date.now(),
          ]);
          await client.query('COMMIT');
          applied++;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
  return applied;
}

/** A unique constraint refused the row (SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}
