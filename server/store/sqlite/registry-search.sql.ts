/**
 * Registered model and model version search: the filter AST compiled to parameterized SQL (columns
 * picked by a switch, values bound), MLflow's orderings and tie-breaks, offset paging. The query text
 * is built for a dialect (SQLite here, PostgreSQL in store/postgres/registry-search.sql.ts), so both
 * backends filter and order alike.
 */
import type { Comparison, OrderKey } from '../../search/ast.js';
import type { ReadableBy } from '../auth-types.js';
import type { Db } from '../db.js';
import type { ModelVersionSearch, RegisteredModelSearch } from '../registry-types.js';
import { Binder, compileExpr, valueTest } from './search.sql.js';

/** What differs between the backends: placeholders, value tests, and how text columns sort. */
export interface RegistryDialect {
  binder(): Binder;
  valueTest(column: string, c: Comparison, b: Binder): string;
  /** An ORDER BY term for a text column (bytewise, as SQLite's BINARY collation). */
  text(column: string): string;
}

export const SQLITE_DIALECT: RegistryDialect = { binder: () => new Binder(), valueTest, text: (column) => column };

const MODEL_COLUMNS: Record<string, string> = {
  name: 'm.name',
  creation_timestamp: 'm.creation_time',
  last_updated_timestamp: 'm.last_updated_time',
};

const VERSION_COLUMNS: Record<string, string> = {
  name: 'v.name',
  version_number: 'v.version',
  run_id: 'v.run_id',
  source_path: 'v.source',
  current_stage: 'v.current_stage',
  creation_timestamp: 'v.creation_time',
  last_updated_timestamp: 'v.last_updated_time',
};

const TEXT_COLUMNS = new Set(['m.name', 'v.name', 'v.run_id', 'v.source', 'v.current_stage']);

/** `name IN / NOT IN (names with the tag)`; a model lacking the key never matches a comparison. */
function tagTest(c: Comparison, b: Binder, d: RegistryDialect, nameColumn: string, table: string, extra: string): string {
  const key = b.bind(c.key);
  if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
    const not = c.op === 'IS NULL' ? 'NOT ' : '';
    return `${not}EXISTS (SELECT 1 FROM ${table} x WHERE x.name = ${nameColumn}${extra} AND x.key = ${key})`;
  }
  return `EXISTS (SELECT 1 FROM ${table} x WHERE x.name = ${nameColumn}${extra} AND x.key = ${key} AND ${d.valueTest('x.value', c, b)})`;
}

function column(map: Record<string, string>, what: string, key: string): string {
  const col = map[key];
  if (col === undefined) throw new Error(`no column for ${what} attribute ${key}`);
  return col;
}

const modelCondition = (d: RegistryDialect) => (c: Comparison, b: Binder): string =>
  c.entity === 'attribute' ? d.valueTest(column(MODEL_COLUMNS, 'registered model', c.key), c, b) : tagTest(c, b, d, 'm.name', 'registered_model_tags', '');

const versionCondition = (d: RegistryDialect) => (c: Comparison, b: Binder): string =>
  c.entity === 'attribute'
    ? d.valueTest(column(VERSION_COLUMNS, 'model version', c.key), c, b)
    : tagTest(c, b, d, 'v.name', 'model_version_tags', ' AND x.version = v.version');

/** "This user may read the model": their explicit permission, else the default one. */
function readableModelSql(nameColumn: string, r: ReadableBy, b: Binder): string {
  const user = b.bind(r.userId);
  return r.defaultReadable
    ? `${nameColumn} NOT IN (SELECT name FROM registered_model_permissions WHERE user_id = ${user} AND permission = 'NO_PERMISSIONS')`
    : `${nameColumn} IN (SELECT name FROM registered_model_permissions WHERE user_id = ${user} AND permission <> 'NO_PERMISSIONS')`;
}

function orderTerms(keys: OrderKey[], map: Record<string, string>, what: string, d: RegistryDialect): string[] {
  return keys.map((k) => {
    const col = column(map, what, k.key);
    return `${TEXT_COLUMNS.has(col) ? d.text(col) : col} ${k.ascending ? 'ASC' : 'DESC'}`;
  });
}

function where(q: RegisteredModelSearch, b: Binder, leaf: (c: Comparison, b: Binder) => string, nameColumn: string): string {
  const parts: string[] = [];
  if (q.filter) parts.push(compileExpr(q.filter, b, leaf));
  if (q.readableBy) parts.push(readableModelSql(nameColumn, q.readableBy, b));
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

export interface RegistryQuery {
  /** The query without LIMIT/OFFSET (the caller pages with limit + 1 rows to learn whether more follow). */
  sql: string;
  b: Binder;
}

/** Model names, MLflow's order: the given keys, then name ASC. */
export function registeredModelQuery(q: RegisteredModelSearch, d: RegistryDialect): RegistryQuery {
  const b = d.binder();
  const filter = where(q, b, modelCondition(d), 'm.name');
  const terms = orderTerms(q.orderBy, MODEL_COLUMNS, 'registered model', d);
  if (!q.orderBy.some((k) => k.key === 'name')) terms.push(`${d.text('m.name')} ASC`);
  return { sql: `SELECT m.name FROM registered_models m${filter} ORDER BY ${terms.join(', ')}`, b };
}

/** Version keys, MLflow's order: the given keys (default last_updated DESC), then name ASC, version DESC. */
export function modelVersionQuery(q: ModelVersionSearch, d: RegistryDialect): RegistryQuery {
  const b = d.binder();
  const filter = where(q, b, versionCondition(d), 'v.name');
  const order: OrderKey[] = q.orderBy.length
    ? q.orderBy
    : [
        { entity: 'attribute', key: 'last_updated_timestamp', ascending: false },
        { entity: 'attribute', key: 'name', ascending: true },
        { entity: 'attribute', key: 'version_number', ascending: false },
      ];
  const terms = orderTerms(order, VERSION_COLUMNS, 'model version', d);
  if (!order.some((k) => k.key === 'name')) terms.push(`${d.text('v.name')} ASC`);
  if (!order.some((k) => k.key === 'version_number')) terms.push('v.version DESC');
  return { sql: `SELECT v.name, v.version FROM model_versions v${filter} ORDER BY ${terms.join(', ')}`, b };
}

/** One page of `rows` fetched with limit + 1: the page and the next offset, or null at the end. */
export function pageOf<T>(rows: T[], q: { offset: number; limit: number }): { items: T[]; nextOffset: number | null } {
  const more = rows.length > q.limit;
  return { items: more ? rows.slice(0, q.limit) : rows, nextOffset: more ? q.offset + q.limit : null };
}

export function searchRegisteredModelNames(db: Db, q: RegisteredModelSearch): { items: string[]; nextOffset: number | null } {
  const { sql, b } = registeredModelQuery(q, SQLITE_DIALECT);
  return pageOf(db.prepare(`${sql} LIMIT ? OFFSET ?`).pluck().all(...b.values, q.limit + 1, q.offset) as string[], q);
}

export function searchModelVersionKeys(db: Db, q: ModelVersionSearch): { items: { name: string; version: number }[]; nextOffset: number | null } {
  const { sql, b } = modelVersionQuery(q, SQLITE_DIALECT);
  return pageOf(db.prepare(`${sql} LIMIT ? OFFSET ?`).all(...b.values, q.limit + 1, q.offset) as { name: string; version: number }[], q);
}
