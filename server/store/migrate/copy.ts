import path from 'node:path';
import type pg from 'pg';
import { openDatabaseReadOnly, type Db } from '../db.js';
import { transaction } from '../postgres/db.js';
import type { TablePlan } from './tables.js';

/** Where the copy is, kept in the target in the same transaction as each batch it counts. */
const PROGRESS = 'lablog_migrate_store';
const MAX_ROWS = 10_000;
const MAX_BYTES = 16 << 20;

export class MigrateStoreError extends Error {}

export interface TableProgress {
  table: string;
  copied: number;
  total: number;
}

/**
 * The source data dir's database, read-only, inside one read transaction: every table is read from
 * the same snapshot. `end()` finishes the transaction and closes it.
 */
export function openSourceSnapshot(dataDir: string, dbFile: string): { db: Db; runIds(): string[]; end(): void } {
  const db = openDatabaseReadOnly(path.join(dataDir, dbFile));
  db.exec('BEGIN');
  return {
    db,
    runIds: () => db.prepare('SELECT run_uuid FROM runs ORDER BY id').pluck().all() as string[],
    end() {
      if (db.inTransaction) db.exec('COMMIT');
      db.close();
    },
  };
}

/** Rows per table in the source, in copy order. */
export function sourceCounts(db: Db, plan: TablePlan[]): Map<string, number> {
  return new Map(plan.map((t) => [t.name, (db.prepare(`SELECT count(*) AS n FROM "${t.name}"`).get() as { n: number }).n]));
}

/**
 * Prepares the target: a first copy needs a migrated database with no lablog data in it (the default
 * experiment its migrations seed is removed, the source brings its own); a resumed copy needs the
 * source unchanged since the copy began (its row counts are kept with the progress), since the
 * resume skips the rows already copied by their position in key order.
 */
export async function beginCopy(pool: pg.Pool, plan: TablePlan[], counts: Map<string, number>, restart: boolean): Promise<Map<string, number>> {
  return transaction(pool, async (c) => {
    // One copier at a time: a second one waits here, then resumes where the first stopped.
    await c.query(`SELECT pg_advisory_xact_lock(hashtext('${PROGRESS}'))`);
    const exists = (await c.query(`SELECT to_regclass('${PROGRESS}') IS NOT NULL AS e`)).rows[0].e as boolean;
    if (exists && restart) await c.query(`DROP TABLE ${PROGRESS}`);
    if (exists && !restart) {
      const rows = (await c.query<{ table_name: string; copied: number; source_rows: number }>(`SELECT table_name, copied, source_rows FROM ${PROGRESS}`)).rows;
      const changed = rows.filter((r) => counts.get(r.table_name) !== Number(r.source_rows)).map((r) => r.table_name);
      if (changed.length > 0 || rows.length !== plan.length) {
        throw new MigrateStoreError(
          `the source changed since this copy began (${changed.join(', ') || 'other tables'}); stop the server using it, then run again with --restart to copy from the start`,
        );
      }
      return new Map(rows.map((r) => [r.table_name, Number(r.copied)]));
    }
    if (restart) {
      await c.query(`TRUNCATE ${plan.map((t) => `"${t.name}"`).join(', ')} CASCADE`);
    } else {
      const held = await c.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM users) + (SELECT count(*) FROM registered_models) + (SELECT count(*) FROM experiments WHERE experiment_id <> 0 OR name <> 'Default') AS n`,
      );
      if (Number(held.rows[0].n) > 0) {
        throw new MigrateStoreError('the target database already holds lablog data; migrate-store copies into an empty one (or add --restart to empty it first)');
      }
      await c.query('DELETE FROM experiments');
    }
    await c.query(`CREATE TABLE ${PROGRESS} (table_name text PRIMARY KEY, copied bigint NOT NULL, source_rows bigint NOT NULL)`);
    for (const t of plan) await c.query(`INSERT INTO ${PROGRESS} VALUES ($1, 0, $2)`, [t.name, counts.get(t.name)]);
    return new Map(plan.map((t) => [t.name, 0]));
  });
}

const sizeOf = (v: unknown) => (Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length : 8);

/**
 * Copies one table from where the last copy stopped: rows in SQLite's key order, in batches that are
 * each inserted in one transaction together with the new count, so an interruption at any moment
 * leaves the target and its count in step.
 */
export async function copyTable(db: Db, pool: pg.Pool, t: TablePlan, done: number, onBatch: (copied: number) => void): Promise<number> {
  const cols = t.columns.map((c) => `"${c}"`).join(', ');
  const rows = db.prepare(`SELECT ${cols} FROM "${t.name}" ORDER BY ${t.orderBy} LIMIT -1 OFFSET ?`).raw().iterate(done) as IterableIterator<unknown[]>;
  // One array parameter per column (unnest): a batch of 10,000 narrow rows is one short statement,
  // parsed once, instead of tens of thousands of parameters.
  const insert = `INSERT INTO "${t.name}" (${cols}) SELECT * FROM unnest(${t.types.map((type, i) => `$${i + 1}::${type}[]`).join(', ')})`;
  const booleans = t.columns.map((c) => t.booleans.has(c));
  let batch: unknown[][] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const n = batch.length;
    await transaction(pool, async (c) => {
      await c.query(insert, t.columns.map((_, i) => batch.map((row) => (booleans[i] && row[i] !== null ? row[i] === 1 : row[i]))));
      await c.query(`UPDATE ${PROGRESS} SET copied = copied + $1 WHERE table_name = $2`, [n, t.name]);
    });
    done += n;
    onBatch(done);
    batch = [];
    bytes = 0;
  };
  for (const row of rows) {
    batch.push(row);
    for (const v of row) bytes += sizeOf(v);
    if (batch.length >= MAX_ROWS || bytes >= MAX_BYTES) await flush();
  }
  await flush();
  return done;
}

/**
 * Identity columns were given the source's values, not drawn from their sequences: each sequence is
 * moved past the largest value copied, so the next row PostgreSQL numbers does not collide.
 */
export async function advanceSequences(pool: pg.Pool, plan: TablePlan[]): Promise<void> {
  const identities = await pool.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'`,
  );
  const copied = new Set(plan.map((t) => t.name));
  for (const { table_name: table, column_name: column } of identities.rows) {
    if (!copied.has(table)) continue;
    await pool.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max("${column}") FROM "${table}"), 0) + 1, false)`,
      [`"${table}"`, column],
    );
  }
}

/** Rows per table in the target, for the final comparison. */
export async function targetCounts(pool: pg.Pool, plan: TablePlan[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of plan) {
    out.set(t.name, Number((await pool.query<{ n: number }>(`SELECT count(*) AS n FROM "${t.name}"`)).rows[0].n));
  }
  return out;
}

/** The copy finished and was verified: its bookkeeping goes, so the target is a plain lablog database. */
export async function finishCopy(pool: pg.Pool): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${PROGRESS}`);
}
