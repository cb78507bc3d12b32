import assert from 'node:assert/strict';
import type { TestApp } from '../helper.js';

/** The lablog tables whose row counts prove that a failed request wrote nothing. */
export const DATA_TABLES = [
  'experiments',
  'experiment_tags',
  'runs',
  'params',
  'tags',
  'metric_series',
  'metric_tail',
  'metric_chunks',
  'datasets',
  'inputs',
  'input_tags',
] as const;

/** Row count of every lablog table (plus any other user table, so nothing is missed). */
export function tableCounts(t: TestApp): Record<string, number> {
  const names = new Set<string>(DATA_TABLES);
  for (const r of t.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]) {
    names.add(r.name);
  }
  const out: Record<string, number> = {};
  for (const n of [...names].sort()) out[n] = (t.db.prepare(`SELECT COUNT(*) AS n FROM "${n}"`).get() as { n: number }).n;
  return out;
}

/** tableCounts on either backend (PostgreSQL's tables from its catalog). */
export async function tableCountsOf(t: TestApp): Promise<Record<string, number>> {
  if (t.backend === 'sqlite') return tableCounts(t);
  const names = new Set<string>(DATA_TABLES);
  for (const r of await t.sql<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")) names.add(r.name);
  const out: Record<string, number> = {};
  for (const n of [...names].sort()) out[n] = (await t.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM "${n}"`))[0].n;
  return out;
}

/** A clock the test moves by hand: `clock.now()` for the app, `clock.ms` to read or set. */
export function manualClock(start = 1_700_000_000_000) {
  const c = {
    ms: start,
    now: () => c.ms,
    advance(by = 1000) {
      c.ms += by;
      return c.ms;
    },
  };
  return c;
}

export interface KV {
  key: string;
  value: string;
}

/** Key/value lists sorted by key: MLflow does not promise an order for tags and params. */
export function byKey<T extends { key: string }>(list: T[] | undefined): T[] {
  return [...(list ?? [])].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Asserts an MLflow error answer: status, error_code, JSON content type, and (optionally) the message. */
export function assertError(
  res: { status: number; json: any; body: string; headers: Record<string, unknown> },
  status: number,
  code: string,
  message?: string | RegExp,
): string {
  assert.equal(res.status, status, `status (body: ${res.body.slice(0, 300)})`);
  assert.equal(res.json?.error_code, code, `error_code (body: ${res.body.slice(0, 300)})`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const msg = String(res.json.message);
  if (typeof message === 'string') assert.equal(msg, message);
  else if (message) assert.match(msg, message);
  return msg;
}

export function oneRow<T>(t: TestApp, sql: string, ...params: unknown[]): T | undefined {
  return t.db.prepare(sql).get(...params) as T | undefined;
}

export function rows<T>(t: TestApp, sql: string, ...params: unknown[]): T[] {
  return t.db.prepare(sql).all(...params) as T[];
}

/** The internal integer id of a run (foreign key of params, tags, metric_series, inputs). */
export function runPk(t: TestApp, runUuid: string): number {
  const r = oneRow<{ id: number }>(t, 'SELECT id FROM runs WHERE run_uuid = ?', runUuid);
  if (!r) throw new Error(`no run row for ${runUuid}`);
  return r.id;
}

/** A row of the runs table. */
export interface RunRow {
  id: number;
  run_uuid: string;
  name: string;
  experiment_id: number;
  user_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
}

/** The runs row of a run id, undefined when there is none. */
export function runRowOf(t: TestApp, runUuid: string): RunRow | undefined {
  return oneRow<RunRow>(t, 'SELECT * FROM runs WHERE run_uuid = ?', runUuid);
}

/** The tag rows of a run, by key. */
export function tagRowsOf(t: TestApp, runUuid: string): KV[] {
  return rows<KV>(t, 'SELECT key, value FROM tags WHERE run_id = ? ORDER BY key', runPk(t, runUuid));
}

// Backend-neutral row readers (SQLite and PostgreSQL) through `t.sql`, which takes `?` placeholders on both.
// Text ordering must be explicit (ORDER BY) in the queries: the two backends return unordered rows differently.

export async function oneRowOf<T>(t: TestApp, sql: string, ...params: unknown[]): Promise<T | undefined> {
  return (await t.sql<T>(sql, ...params))[0];
}

export function rowsOf<T>(t: TestApp, sql: string, ...params: unknown[]): Promise<T[]> {
  return t.sql<T>(sql, ...params);
}

/** runPk on either backend. */
export async function runPkOf(t: TestApp, runUuid: string): Promise<number> {
  const r = await oneRowOf<{ id: number }>(t, 'SELECT id FROM runs WHERE run_uuid = ?', runUuid);
  if (!r) throw new Error(`no run row for ${runUuid}`);
  return r.id;
}

/** A runs row on either backend; deleted_with_experiment as a boolean (SQLite stores 0/1, PostgreSQL a boolean). */
export interface StoredRunRow extends RunRow {
  deleted_with_experiment: boolean;
}

/** runRowOf on either backend. */
export async function storedRunRow(t: TestApp, runUuid: string): Promise<StoredRunRow | undefined> {
  const r = await oneRowOf<StoredRunRow>(t, 'SELECT * FROM runs WHERE run_uuid = ?', runUuid);
  return r && { ...r, deleted_with_experiment: Boolean(r.deleted_with_experiment) };
}

/** tagRowsOf on either backend. */
export async function storedTagRows(t: TestApp, runUuid: string): Promise<KV[]> {
  return rowsOf<KV>(t, 'SELECT key, value FROM tags WHERE run_id = ? ORDER BY key', await runPkOf(t, runUuid));
}
