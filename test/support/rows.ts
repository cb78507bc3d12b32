import { decodeChunk } from '../../server/store/chunk-codec.js';
import type { TestApp } from '../helper.js';

// Reads of a test app's own database that work on either backend (t.sql takes `?` placeholders on both).

/** The first column of the first row, undefined when there is no row (count(*) comes back as a number on both). */
export async function pluck<T = unknown>(t: TestApp, sql: string, ...params: unknown[]): Promise<T | undefined> {
  const [row] = await t.sql(sql, ...params);
  return row === undefined ? undefined : (Object.values(row)[0] as T);
}

/** The first row, undefined when there is none. */
export async function oneRowOf<T = Record<string, unknown>>(t: TestApp, sql: string, ...params: unknown[]): Promise<T | undefined> {
  return (await t.sql<T>(sql, ...params))[0];
}

/** lablog's tables (not the migrations' bookkeeping), by name. */
export async function tableNames(t: TestApp): Promise<string[]> {
  const names =
    t.backend === 'sqlite'
      ? await t.sql<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      : await t.sql<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'lablog_migrations'");
  return names.map((r) => r.name).sort();
}

/** Row counts of `tables`. */
export async function countRows(t: TestApp, tables: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of tables) out[name] = Number(await pluck(t, `SELECT count(*) AS n FROM "${name}"`));
  return out;
}

/**
 * Every row of `table` in a stable order, sorted here by the rows' JSON: neither a rowid (SQLite's
 * WITHOUT ROWID tables and PostgreSQL have none) nor a column list is needed.
 */
export async function allRows(t: TestApp, table: string): Promise<Record<string, unknown>[]> {
  const keyed = (await t.sql(`SELECT * FROM "${table}"`)).map((row) => ({ row, key: JSON.stringify(row) }));
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((k) => k.row);
}

export interface TailPoint {
  step: number;
  timestamp: number;
  /** null for NaN, as SQLite stores it. */
  value: number | null;
}

/** The points in metric_tail (of one series, or all) in arrival order: its pieces (a row per write, store/tail-pieces.ts) unpacked. */
export async function tailPoints(t: Pick<TestApp, 'backend' | 'sql'>, seriesId?: number): Promise<TailPoint[]> {
  const where = seriesId === undefined ? '' : ' WHERE series_id = ?';
  const params = seriesId === undefined ? [] : [seriesId];
  const pieces = await t.sql<{ data: Buffer }>(`SELECT data FROM metric_tail${where} ORDER BY series_id, seq`, ...params);
  return pieces.flatMap(({ data }) => {
    const p = decodeChunk(data);
    return Array.from(p.values, (v, i) => ({ step: p.steps[i], timestamp: p.timestamps[i], value: Number.isNaN(v) ? null : v }));
  });
}
