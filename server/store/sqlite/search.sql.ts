/**
 * Compiles the filter AST (search/ast.ts) to parameterized SQL and runs the id query for run and
 * experiment search. Every value and key is a bound parameter; only fixed column and table names
 * (chosen by a switch, never taken from input) are spliced into the text.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { Comparison, Expr, OrderKey } from '../../search/ast.js';
import type { ViewType } from '../types.js';

export interface IdPage {
  ids: number[];
  nextOffset: number | null;
}

export interface RunIdQuery {
  experimentIds: string[];
  filter: Expr | null;
  orderBy: OrderKey[];
  viewType: ViewType;
  offset: number;
  limit: number;
}

export interface ExperimentIdQuery {
  filter: Expr | null;
  orderBy: OrderKey[];
  viewType: ViewType;
  offset: number;
  limit: number;
}

/** The input tag holding a dataset input's context (MLflow's MLFLOW_DATASET_CONTEXT). */
const DATASET_CONTEXT_TAG = 'mlflow.data.context';

const RUN_COLUMNS: Record<string, string> = {
  run_id: 'r.run_uuid',
  run_name: 'r.name',
  status: 'r.status',
  user_id: 'r.user_id',
  start_time: 'r.start_time',
  end_time: 'r.end_time',
  artifact_uri: 'r.artifact_uri',
  lifecycle_stage: 'r.lifecycle_stage',
};

const EXPERIMENT_COLUMNS: Record<string, string> = {
  name: 'e.name',
  experiment_id: 'e.experiment_id',
  creation_time: 'e.creation_time',
  last_update_time: 'e.last_update_time',
};

const NULLABLE_COLUMNS = new Set(['r.end_time']);

/** Collects bound values in the order their placeholders appear in the SQL text. */
class Binder {
  readonly values: unknown[] = [];
  bind(v: unknown): string {
    this.values.push(v);
    return '?';
  }
  list(vs: readonly unknown[]): string {
    return `(${vs.map((v) => this.bind(v)).join(', ')})`;
  }
}

/**
 * MLflow's LIKE is case-sensitive; SQLite's LIKE is not (for ASCII). GLOB is case-sensitive, so the
 * pattern is rewritten: % -> *, _ -> ?, and GLOB's own metacharacters are bracketed to stay literal.
 */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (const c of pattern) {
    if (c === '%') out += '*';
    else if (c === '_') out += '?';
    else if (c === '*' || c === '?' || c === '[') out += `[${c}]`;
    else out += c;
  }
  return out;
}

/** `column <op> value` for a string or numeric comparison (not IS NULL). */
function valueTest(column: string, c: Comparison, b: Binder): string {
  switch (c.op) {
    case 'LIKE':
      return `${column} GLOB ${b.bind(likeToGlob(c.value as string))}`;
    case 'ILIKE':
      // SQLite's LIKE folds ASCII case only, like SQLAlchemy's ilike on SQLite (MLflow's reference).
      return `${column} LIKE ${b.bind(c.value)}`;
    case 'IN':
      return `${column} IN ${b.list(c.value as string[])}`;
    case 'NOT IN':
      return `${column} NOT IN ${b.list(c.value as string[])}`;
    case 'IS NULL':
      return `${column} IS NULL`;
    case 'IS NOT NULL':
      return `${column} IS NOT NULL`;
    default:
      return `${column} ${c.op} ${b.bind(c.value)}`;
  }
}

const KEYED_TABLES = { metric: 'metric_series', param: 'params', tag: 'tags' } as const;

function runCondition(c: Comparison, b: Binder): string {
  switch (c.entity) {
    case 'attribute': {
      const col = RUN_COLUMNS[c.key];
      if (col === undefined) throw new Error(`no column for run attribute ${c.key}`);
      return valueTest(col, c, b);
    }
    case 'metric':
    case 'param':
    case 'tag': {
      // Subqueries over the (key, value) indexes; a run lacking the key never matches a comparison
      // (not even !=), and a NaN metric (NULL value) fails every numeric test but is present.
      const table = KEYED_TABLES[c.entity];
      if (c.op === 'IS NULL') return `r.id NOT IN (SELECT run_id FROM ${table} WHERE key = ${b.bind(c.key)})`;
      if (c.op === 'IS NOT NULL') return `r.id IN (SELECT run_id FROM ${table} WHERE key = ${b.bind(c.key)})`;
      const key = b.bind(c.key);
      return `r.id IN (SELECT run_id FROM ${table} WHERE key = ${key} AND ${valueTest('value', c, b)})`;
    }
    case 'dataset': {
      if (c.key === 'context') {
        const key = b.bind(DATASET_CONTEXT_TAG);
        return `r.id IN (SELECT i.run_id FROM inputs i JOIN input_tags t ON t.input_id = i.id WHERE t.key = ${key} AND ${valueTest('t.value', c, b)})`;
      }
      const col = c.key === 'name' ? 'd.name' : c.key === 'digest' ? 'd.digest' : null;
      if (col === null) throw new Error(`no column for dataset key ${c.key}`);
      return `r.id IN (SELECT i.run_id FROM inputs i JOIN datasets d ON d.id = i.dataset_id WHERE ${valueTest(col, c, b)})`;
    }
  }
}

function experimentCondition(c: Comparison, b: Binder): string {
  if (c.entity === 'attribute') {
    const col = EXPERIMENT_COLUMNS[c.key];
    if (col === undefined) throw new Error(`no column for experiment attribute ${c.key}`);
    return valueTest(col, c, b);
  }
  if (c.entity !== 'tag') throw new Error(`experiments have no ${c.entity} keys`);
  if (c.op === 'IS NULL') return `e.experiment_id NOT IN (SELECT experiment_id FROM experiment_tags WHERE key = ${b.bind(c.key)})`;
  if (c.op === 'IS NOT NULL') return `e.experiment_id IN (SELECT experiment_id FROM experiment_tags WHERE key = ${b.bind(c.key)})`;
  const key = b.bind(c.key);
  return `e.experiment_id IN (SELECT experiment_id FROM experiment_tags WHERE key = ${key} AND ${valueTest('value', c, b)})`;
}

function compileExpr(e: Expr, b: Binder, leaf: (c: Comparison, b: Binder) => string): string {
  if (e.kind === 'cmp') return leaf(e, b);
  const glue = e.kind === 'and' ? ' AND ' : ' OR ';
  return `(${e.items.map((x) => compileExpr(x, b, leaf)).join(glue)})`;
}

function lifecycleTest(column: string, viewType: ViewType, b: Binder): string | null {
  if (viewType === 'ACTIVE_ONLY') return `${column} = ${b.bind('active')}`;
  if (viewType === 'DELETED_ONLY') return `${column} = ${b.bind('deleted')}`;
  return null;
}

// Prepared statements keyed by SQL text, per connection: the same query shapes repeat constantly.
const statementCache = new WeakMap<Database, Map<string, Statement>>();

function prepared(db: Database, sql: string): Statement {
  let cache = statementCache.get(db);
  if (cache === undefined) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql).pluck(true);
    // Bounded so that ad-hoc filters (every distinct IN-list length is a new shape) cannot grow it forever.
    if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
    cache.set(sql, stmt);
  }
  return stmt;
}

function page(db: Database, sql: string, values: unknown[], offset: number, limit: number): IdPage {
  const rows = prepared(db, sql).all(...values, limit + 1, offset) as number[];
  const more = rows.length > limit;
  return { ids: more ? rows.slice(0, limit) : rows, nextOffset: more ? offset + limit : null };
}

/** Experiment ids arrive as strings; anything that is not a non-negative integer matches nothing. */
function numericIds(ids: string[]): number[] {
  const out = new Set<number>();
  for (const s of ids) {
    const t = String(s).trim();
    if (/^\d+$/.test(t) && Number.isSafeInteger(Number(t))) out.add(Number(t));
  }
  return [...out];
}

function runOrder(orderBy: OrderKey[], joins: string[], b: Binder): string[] {
  const terms: string[] = [];
  orderBy.forEach((k, n) => {
    const dir = k.ascending ? 'ASC' : 'DESC';
    if (k.entity === 'attribute') {
      const col = RUN_COLUMNS[k.key];
      if (col === undefined) throw new Error(`no column for run attribute ${k.key}`);
      if (NULLABLE_COLUMNS.has(col)) terms.push(`${col} IS NULL`);
      terms.push(`${col} ${dir}`);
      return;
    }
    if (k.entity === 'dataset') throw new Error('cannot order by dataset keys');
    const alias = `o${n}`;
    joins.push(`LEFT JOIN ${KEYED_TABLES[k.entity]} ${alias} ON ${alias}.run_id = r.id AND ${alias}.key = ${b.bind(k.key)}`);
    // Missing keys sort last in both directions; a NaN metric (NULL value) after every number but
    // before the missing ones, as MLflow's SqlAlchemyStore does.
    terms.push(`${alias}.run_id IS NULL`);
    if (k.entity === 'metric') terms.push(`${alias}.value IS NULL`);
    terms.push(`${alias}.value ${dir}`);
  });
  if (!orderBy.some((k) => k.entity === 'attribute' && k.key === 'start_time')) terms.push('r.start_time DESC');
  terms.push('r.run_uuid ASC');
  return terms;
}

export interface CompiledQuery {
  sql: string;
  /** Bound values for the placeholders before the trailing LIMIT ? OFFSET ?. */
  values: unknown[];
}

/** The id query for a run search, or null when it cannot match anything (no valid experiment id). */
export function compileRunSearch(q: Omit<RunIdQuery, 'offset' | 'limit'>): CompiledQuery | null {
  const expIds = numericIds(q.experimentIds);
  if (expIds.length === 0) return null;
  const b = new Binder();
  const joins: string[] = [];
  const order = runOrder(q.orderBy, joins, b);
  const where = [`r.experiment_id IN ${b.list(expIds)}`];
  const stage = lifecycleTest('r.lifecycle_stage', q.viewType, b);
  if (stage) where.push(stage);
  if (q.filter) where.push(compileExpr(q.filter, b, runCondition));
  const sql =
    `SELECT r.id FROM runs r ${joins.join(' ')} WHERE ${where.join(' AND ')} ` +
    `ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`;
  return { sql, values: b.values };
}

export function searchRunIds(db: Database, q: RunIdQuery): IdPage {
  const c = compileRunSearch(q);
  if (c === null) return { ids: [], nextOffset: null };
  return page(db, c.sql, c.values, q.offset, q.limit);
}

export function searchExperimentIds(db: Database, q: ExperimentIdQuery): IdPage {
  const b = new Binder();
  const where: string[] = [];
  const stage = lifecycleTest('e.lifecycle_stage', q.viewType, b);
  if (stage) where.push(stage);
  if (q.filter) where.push(compileExpr(q.filter, b, experimentCondition));
  const terms: string[] = [];
  if (q.orderBy.length === 0) {
    // MLflow's SqlAlchemyStore default; with an explicit order_by the tie-break is experiment_id DESC.
    terms.push('e.creation_time DESC', 'e.experiment_id ASC');
  } else {
    for (const k of q.orderBy) {
      const col = EXPERIMENT_COLUMNS[k.key];
      if (k.entity !== 'attribute' || col === undefined) throw new Error(`cannot order experiments by ${k.entity} ${k.key}`);
      terms.push(`${col} ${k.ascending ? 'ASC' : 'DESC'}`);
    }
    if (!q.orderBy.some((k) => k.key === 'experiment_id')) terms.push('e.experiment_id DESC');
  }
  const sql =
    `SELECT e.experiment_id FROM experiments e${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
    `ORDER BY ${terms.join(', ')} LIMIT ? OFFSET ?`;
  return page(db, sql, b.values, q.offset, q.limit);
}
