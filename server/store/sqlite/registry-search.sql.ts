/**
 * Registered model and model version search: the filter AST compiled to parameterized SQL (columns
 * picked by a switch, values bound), MLflow's orderings and tie-breaks, offset paging.
 */
import type { Comparison, OrderKey } from '../../search/ast.js';
import type { ReadableBy } from '../auth-types.js';
import type { Db } from '../db.js';
import type { ModelVersionSearch, RegisteredModelSearch } from '../registry-types.js';
import { Binder, compileExpr, valueTest } from './search.sql.js';

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

/** `name IN / NOT IN (names with the tag)`; a model lacking the key never matches a comparison. */
function tagTest(c: Comparison, b: Binder, nameColumn: string, table: string, extra: string): string {
  const key = b.bind(c.key);
  if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
    const not = c.op === 'IS NULL' ? 'NOT ' : '';
    return `${not}EXISTS (SELECT 1 FROM ${table} x WHERE x.name = ${nameColumn}${extra} AND x.key = ${key})`;
  }
  return `EXISTS (SELECT 1 FROM ${table} x WHERE x.name = ${nameColumn}${extra} AND x.key = ${key} AND ${valueTest('x.value', c, b)})`;
}

function column(map: Record<string, string>, what: string, key: string): string {
  const col = map[key];
  if (col === undefined) throw new Error(`no column for ${what} attribute ${key}`);
  return col;
}

const modelCondition = (c: Comparison, b: Binder): string =>
  c.entity === 'attribute' ? valueTest(column(MODEL_COLUMNS, 'registered model', c.key), c, b) : tagTest(c, b, 'm.name', 'registered_model_tags', '');

const versionCondition = (c: Comparison, b: Binder): string =>
  c.entity === 'attribute'
    ? valueTest(column(VERSION_COLUMNS, 'model version', c.key), c, b)
    : tagTest(c, b, 'v.name', 'model_version_tags', ' AND x.version = v.version');

/** "This user may read the model": their explicit permission, else the default one. */
function readableModelSql(nameColumn: string, r: ReadableBy, b: Binder): string {
  const user = b.bind(r.userId);
  return r.defaultReadable
    ? `${nameColumn} NOT IN (SELECT name FROM registered_model_permissions WHERE user_id = ${user} AND permission = 'NO_PERMISSIONS')`
    : `${nameColumn} IN (SELECT name FROM registered_model_permissions WHERE user_id = ${user} AND permission <> 'NO_PERMISSIONS')`;
}

function orderTerms(keys: OrderKey[], map: Record<string, string>, what: string): string[] {
  return keys.map((k) => `${column(map, what, k.key)} ${k.ascending ? 'ASC' : 'DESC'}`);
}

function where(q: RegisteredModelSearch, b: Binder, leaf: (c: Comparison, b: Binder) => string, nameColumn: string): string {
  const parts: string[] = [];
  if (q.filter) parts.push(compileExpr(q.filter, b, leaf));
  if (q.readableBy) parts.push(readableModelSql(nameColumn, q.readableBy, b));
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/** Names of one page, MLflow's order: the given keys, then name ASC. */
export function searchRegisteredModelNames(db: Db, q: RegisteredModelSearch): { ids: string[]; nextOffset: number | null } {
  const b = new Binder();
  const filter = where(q, b, modelCondition, 'm.name');
  const terms = orderTerms(q.orderBy, MODEL_COLUMNS, 'registered model');
  if (!q.orderBy.some((k) => k.key === 'name')) terms.push('m.name ASC');
  const rows = db
    .prepare(`SELECT m.name FROM registered_models m${filter} ORDER BY ${terms.join(', ')} LIMIT ? OFFSET ?`)
    .pluck()
    .all(...b.values, q.limit + 1, q.offset) as string[];
  const more = rows.length > q.limit;
  return { ids: more ? rows.slice(0, q.limit) : rows, nextOffset: more ? q.offset + q.limit : null };
}

/** Keys of one page, MLflow's order: the given keys (default last_updated DESC), then name ASC, version DESC. */
export function searchModelVersionKeys(db: Db, q: ModelVersionSearch): { keys: { name: string; version: number }[]; nextOffset: number | null } {
  const b = new Binder();
  const filter = where(q, b, versionCondition, 'v.name');
  const order: OrderKey[] = q.orderBy.length
    ? q.orderBy
    : [
        { entity: 'attribute', key: 'last_updated_timestamp', ascending: false },
        { entity: 'attribute', key: 'name', ascending: true },
        { entity: 'attribute', key: 'version_number', ascending: false },
      ];
  const terms = orderTerms(order, VERSION_COLUMNS, 'model version');
  if (!order.some((k) => k.key === 'name')) terms.push('v.name ASC');
  if (!order.some((k) => k.key === 'version_number')) terms.push('v.version DESC');
  const rows = db
    .prepare(`SELECT v.name, v.version FROM model_versions v${filter} ORDER BY ${terms.join(', ')} LIMIT ? OFFSET ?`)
    .all(...b.values, q.limit + 1, q.offset) as { name: string; version: number }[];
  const more = rows.length > q.limit;
  return { keys: more ? rows.slice(0, q.limit) : rows, nextOffset: more ? q.offset + q.limit : null };
}
