/**
 * Compiles the filter AST (search/ast.ts) to parameterized SQL and runs the id query for run and
 * experiment search. Every value and key is a bound parameter; only fixed column and table names
 * (chosen by a switch, never taken from input) are spliced into the text.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { Comparison, Expr, OrderKey } from '../../search/ast.js';
import { keyedLeaves, numericIds, pageWindow, planRunSearch, streamKindOf, type LeafForm, type Plan } from '../../search/plan.js';
import type { ExperimentSearch, RunSearch, ViewType } from '../types.js';
import { readableSql } from './readable.sql.js';

export interface IdPage {
  ids: number[];
  nextOffset: number | null;
}

/** The input tag holding a dataset input's context (MLflow's MLFLOW_DATASET_CONTEXT). */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';

export const RUN_COLUMNS: Record<string, string> = {
  run_id: 'r.run_uuid',
  run_name: 'r.name',
  status: 'r.status',
  user_id: 'r.user_id',
  start_time: 'r.start_time',
  end_time: 'r.end_time',
  artifact_uri: 'r.artifact_uri',
  lifecycle_stage: 'r.lifecycle_stage',
};

export const EXPERIMENT_COLUMNS: Record<string, string> = {
  name: 'e.name',
  experiment_id: 'e.experiment_id',
  creation_time: 'e.creation_time',
  last_update_time: 'e.last_update_time',
};

export const NULLABLE_COLUMNS = new Set(['r.end_time']);

// The column behind an attribute, shared by both compilers; the parser admits only known keys, so a
// miss is a bug, not bad input.
export function runColumn(key: string): string {
  const col = RUN_COLUMNS[key];
  if (col === undefined) throw new Error(`no column for run attribute ${key}`);
  return col;
}

export function experimentColumn(key: string): string {
  const col = EXPERIMENT_COLUMNS[key];
  if (col === undefined) throw new Error(`no column for experiment attribute ${key}`);
  return col;
}

export function datasetColumn(key: string): string {
  if (key === 'name' || key === 'digest') return `d.${key}`;
  throw new Error(`no column for dataset key ${key}`);
}

/** Collects bound values in the order their placeholders appear in the SQL text. */
export class Binder {
  readonly values: unknown[] = [];
  bind(v: unknown): string {
    this.values.push(v);
    return '?';
  }
  /** An IN-list operand; long lists travel as one JSON parameter, clear of SQLite's variable limit. */
  list(vs: readonly unknown[]): string {
    if (vs.length > 32) return `(SELECT value FROM json_each(${this.bind(JSON.stringify(vs))}))`;
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
export function valueTest(column: string, c: Comparison, b: Binder): string {
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

export function keyedTable(c: { entity: string }): string {
  const t = KEYED_TABLES[c.entity as keyof typeof KEYED_TABLES];
  if (t === undefined) throw new Error(`no table for ${c.entity} keys`);
  return t;
}

/**
 * A metric/param/tag condition. A run lacking the key never matches a comparison (not even !=), and a
 * NaN metric (NULL value) fails every numeric test yet counts as present. 'list' materializes the
 * matching run ids once from the (key, value) index; 'exists' probes the (run_id, key) index per run.
 */
function keyedCondition(c: Comparison, form: LeafForm, b: Binder, table = keyedTable(c), owner = 'run_id', outer = 'r.id'): string {
  const key = b.bind(c.key);
  if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
    const not = c.op === 'IS NULL' ? 'NOT ' : '';
    return form === 'list'
      ? `${outer} ${not}IN (SELECT ${owner} FROM ${table} WHERE key = ${key})`
      : `${not}EXISTS (SELECT 1 FROM ${table} x WHERE x.${owner} = ${outer} AND x.key = ${key})`;
  }
  return form === 'list'
    ? `${outer} IN (SELECT ${owner} FROM ${table} WHERE key = ${key} AND ${valueTest('value', c, b)})`
    : `EXISTS (SELECT 1 FROM ${table} x WHERE x.${owner} = ${outer} AND x.key = ${key} AND ${valueTest('x.value', c, b)})`;
}

function runCondition(forms: Map<Comparison, LeafForm>) {
  return (c: Comparison, b: Binder): string => {
    switch (c.entity) {
      case 'attribute': {
        return valueTest(runColumn(c.key), c, b);
      }
      case 'metric':
      case 'param':
      case 'tag':
        return keyedCondition(c, forms.get(c) ?? 'list', b);
      case 'dataset': {
        if (c.key === 'context') {
          const key = b.bind(DATASET_CONTEXT_TAG);
          return `r.id IN (SELECT i.run_id FROM inputs i JOIN input_tags t ON t.input_id = i.id WHERE t.key = ${key} AND ${valueTest('t.value', c, b)})`;
        }
        return `r.id IN (SELECT i.run_id FROM inputs i JOIN datasets d ON d.id = i.dataset_id WHERE ${valueTest(datasetColumn(c.key), c, b)})`;
      }
    }
  };
}

function experimentCondition(c: Comparison, b: Binder): string {
  if (c.entity === 'attribute') {
    return valueTest(experimentColumn(c.key), c, b);
  }
  if (c.entity !== 'tag') throw new Error(`experiments have no ${c.entity} keys`);
  return keyedCondition(c, 'list', b, 'experiment_tags', 'experiment_id', 'e.experiment_id');
}

export function compileExpr(e: Expr, b: Binder, leaf: (c: Comparison, b: Binder) => string): string {
  if (e.kind === 'cmp') return leaf(e, b);
  const glue = e.kind === 'and' ? ' AND ' : ' OR ';
  // SQLite parses `a OR b OR c ...` into a chain as deep as it is long and refuses depth > 1000;
  // halving keeps a long junction's tree depth logarithmic.
  const half = (items: Expr[]): string =>
    items.length <= 4
      ? `(${items.map((x) => compileExpr(x, b, leaf)).join(glue)})`
      : `(${half(items.slice(0, items.length >> 1))}${glue}${half(items.slice(items.length >> 1))})`;
  return half(e.items);
}

function lifecycleTest(column: string, viewType: ViewType, b: Binder): string | null {
  if (viewType === 'ACTIVE_ONLY') return `${column} = ${b.bind('active')}`;
  if (viewType === 'DELETED_ONLY') return `${column} = ${b.bind('deleted')}`;
  return null;
}

// Prepared statements keyed by SQL text, per connection: the same query shapes repeat constantly.
const statementCache = new WeakMap<Database, Map<string, Statement>>();

/** A cached statement returning the first column of each row, or (raw) each row as an array. */
function prepared(db: Database, sql: string, raw = false): Statement {
  let cache = statementCache.get(db);
  if (cache === undefined) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  const cacheKey = raw ? `raw:${sql}` : sql;
  let stmt = cache.get(cacheKey);
  if (stmt === undefined) {
    stmt = raw ? db.prepare(sql).raw(true) : db.prepare(sql).pluck(true);
    // Bounded so that ad-hoc filters (every distinct IN-list length is a new shape) cannot grow it forever.
    if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
    cache.set(cacheKey, stmt);
  }
  return stmt;
}

function page(db: Database, sql: string, values: unknown[], q: { offset: number; limit: number }): IdPage {
  const w = pageWindow(q);
  if (!w) return { ids: [], nextOffset: null };
  const { offset, limit } = w;
  const rows = prepared(db, sql).all(...values, limit + 1, offset) as number[];
  const more = rows.length > limit;
  return { ids: more ? rows.slice(0, limit) : rows, nextOffset: more ? offset + limit : null };
}

/** The ids that name an experiment, so that the plan (walks per experiment) sees only real ones. */
function existingExperiments(db: Database, ids: number[]): number[] {
  if (ids.length === 0) return ids;
  const b = new Binder();
  const sql = `SELECT experiment_id FROM experiments WHERE experiment_id IN ${b.list(ids)} ORDER BY experiment_id`;
  return prepared(db, sql).all(...b.values) as number[];
}

/** ORDER BY terms for keys[from..], adding the LEFT JOINs they need (aliases o<n>). */
function orderTerms(keys: OrderKey[], from: number, joins: Binder, joinSql: string[]): string[] {
  const terms: string[] = [];
  for (let n = from; n < keys.length; n++) {
    const k = keys[n];
    const dir = k.ascending ? 'ASC' : 'DESC';
    if (k.entity === 'attribute') {
      const col = runColumn(k.key);
      if (NULLABLE_COLUMNS.has(col)) terms.push(`${col} IS NULL`);
      terms.push(`${col} ${dir}`);
      continue;
    }
    const alias = `o${n}`;
    joinSql.push(`LEFT JOIN ${keyedTable(k)} ${alias} ON ${alias}.run_id = r.id AND ${alias}.key = ${joins.bind(k.key)}`);
    // Missing keys sort last in both directions; a NaN metric (NULL value) after every number but
    // before the missing ones, as MLflow's SqlAlchemyStore does.
    terms.push(`${alias}.run_id IS NULL`);
    if (k.entity === 'metric') terms.push(`${alias}.value IS NULL`);
    terms.push(`${alias}.value ${dir}`);
  }
  // MLflow's natural order, the tie-break after any explicit keys.
  if (!keys.some((k) => k.entity === 'attribute' && k.key === 'start_time')) terms.push('r.start_time DESC');
  terms.push('r.run_uuid ASC');
  return terms;
}

export interface CompiledQuery {
  /** SELECT without ORDER BY / LIMIT, so that it can also be counted. */
  select: string;
  order: string;
  values: unknown[];
}

/**
 * Which slice of the result a query produces. With a metric/param/tag as first order key the
 * stream plan runs the slices in their final order: runs with a value (walking the (key, value)
 * index in order), then NaN metrics, then runs lacking the key.
 */
type Slice = 'all' | 'valued' | 'nan' | 'missing';

/**
 * `timeWalk`: the stream plan walks the store-wide start_time index (streamKind 'time'), named outright:
 * without statistics SQLite would rather scan the table and sort every run.
 */
function runQuery(q: RunShape, expIds: number[], plan: Plan, slice: Slice, columns = 'r.id', timeWalk = false): CompiledQuery {
  const joins = new Binder();
  const where = new Binder();
  const joinSql: string[] = [];
  const conds: string[] = [];
  let from = timeWalk ? 'runs r INDEXED BY runs_start_time' : 'runs r';
  let order: string[];
  if (slice === 'all') {
    order = orderTerms(q.orderBy, 0, joins, joinSql);
  } else {
    const first = q.orderBy[0];
    const table = keyedTable(first);
    order = orderTerms(q.orderBy, 1, joins, joinSql);
    if (slice === 'missing') {
      conds.push(`NOT EXISTS (SELECT 1 FROM ${table} x WHERE x.run_id = r.id AND x.key = ${where.bind(first.key)})`);
    } else {
      // CROSS JOIN pins the driver as the outer loop, so rows come off the index already sorted.
      from = `${table} o0 CROSS JOIN runs r`;
      // A metric in one experiment is walked over that experiment's values only (the series carry it).
      if (scopedKeyWalk(first, expIds)) conds.push(`o0.experiment_id = ${where.bind(expIds[0])}`);
      conds.push(`o0.key = ${where.bind(first.key)}`, 'r.id = o0.run_id');
      if (first.entity === 'metric') conds.push(slice === 'nan' ? 'o0.value IS NULL' : 'o0.value IS NOT NULL');
      if (slice === 'valued') order.unshift(`o0.value ${first.ascending ? 'ASC' : 'DESC'}`);
    }
  }
  // A unary + keeps SQLite off the experiment index, which costs a random page read per run.
  conds.push(`${(plan.tableScan || timeWalk) && slice === 'all' ? '+' : ''}r.experiment_id IN ${where.list(expIds)}`);
  const stage = lifecycleTest('r.lifecycle_stage', q.viewType, where);
  if (stage) conds.push(stage);
  if (q.filter) conds.push(compileExpr(q.filter, where, runCondition(plan.forms)));
  return {
    select: `SELECT ${columns} FROM ${from} ${joinSql.join(' ')} WHERE ${conds.join(' AND ')}`,
    order: order.join(', '),
    values: [...joins.values, ...where.values],
  };
}

type RunShape = Omit<RunSearch, 'offset' | 'limit' | 'experimentIds'>;

/**
 * Whether an order by this key walks metric_series_experiment_key_value_run: a metric, in one
 * experiment. (Several experiments would each be in order, not all together; params and tags do not
 * carry the experiment.)
 */
function scopedKeyWalk(first: OrderKey | undefined, expIds: number[]): boolean {
  return first?.entity === 'metric' && expIds.length === 1;
}

/** Store-wide rows a keyed condition matches, counted on the covering (key, value) index. */
function leafRows(db: Database, c: Comparison): number {
  const b = new Binder();
  const table = keyedTable(c);
  const test = c.op === 'IS NULL' || c.op === 'IS NOT NULL' ? '' : ` AND ${valueTest('value', c, b)}`;
  const key = new Binder();
  const sql = `SELECT count(*) FROM ${table} WHERE key = ${key.bind(c.key)}${test}`;
  return counted(db, sql, [...key.values, ...b.values]);
}

/** How long a count the planner made is used again: it only weighs plans, never decides an answer. */
const COUNT_TTL_MS = 30_000;
const counts = new WeakMap<Database, Map<string, { n: number; at: number }>>();

/**
 * A planning count, remembered for COUNT_TTL_MS. In a store of a million runs, counting the runs of
 * an experiment and the rows of each condition walks hundreds of thousands of index entries (10-30 ms)
 * before every search; the same filters and experiments come back again and again (a table's pages,
 * its live refresh, a sweep's polling), and a count some seconds old weighs the plans as well.
 */
function counted(db: Database, sql: string, values: unknown[]): number {
  let cache = counts.get(db);
  if (cache === undefined) counts.set(db, (cache = new Map()));
  const key = `${sql}\0${JSON.stringify(values)}`;
  const now = Date.now();
  const hit = cache.get(key);
  if (hit !== undefined && now - hit.at < COUNT_TTL_MS) return hit.n;
  const n = (prepared(db, sql).get(...values) as number | null) ?? 0;
  cache.delete(key);
  if (cache.size >= 1000) cache.delete(cache.keys().next().value as string);
  cache.set(key, { n, at: now });
  return n;
}

// Counting costs a query per condition; a long generated filter is planned without counts.
const MAX_COUNTED_LEAVES = 16;

function choosePlan(db: Database, q: RunShape, expIds: number[], need: number): Plan {
  const streamKind = streamKindOf(q.orderBy, expIds.length);
  // Walking the searched experiments' own start_time order needs no counting to know it wins.
  if (q.filter === null && streamKind === 'start') return { stream: true, forms: new Map() };
  const leaves = keyedLeaves(q.filter);
  if (leaves.length > MAX_COUNTED_LEAVES) return { stream: false, forms: new Map() };

  // max(id) is O(1) and close enough to the run count for ratios.
  const totalRuns = (prepared(db, 'SELECT max(id) FROM runs').get() as number | null) ?? 0;
  const idList = new Binder();
  const candidates = counted(db, `SELECT count(*) FROM runs WHERE experiment_id IN ${idList.list(expIds)}`, idList.values);
  const rows = new Map<Comparison, number>();
  for (const leaf of leaves) rows.set(leaf, leafRows(db, leaf));
  // A stream over the searched experiments' own rows meets only candidates; one over a store-wide
  // index meets every run, the candidates among them at their share.
  const walksCandidates = streamKind === 'start' || scopedKeyWalk(q.orderBy[0], expIds);
  return planRunSearch({
    filter: q.filter,
    streamKind,
    streamRows: walksCandidates ? candidates : totalRuns,
    streamHitRate: walksCandidates ? 1 : candidates / Math.max(1, totalRuns),
    streamWalks: streamKind === 'start' ? expIds.length : 1,
    need,
    candidates,
    totalRuns,
    orderJoins: q.orderBy.filter((k) => k.entity !== 'attribute').length,
    leafRows: rows,
  });
}

export interface SearchOptions {
  /** Forces an execution shape (tests use it to check both give the same answer). */
  plan?: 'stream' | 'full';
}

export interface RunSearchExecution {
  plan: Plan;
  /**
   * 'slices': run the queries in turn, each continuing the order of the previous one.
   * 'merge': each query yields one experiment's first rows as [id, start_time, run_uuid]; merge them.
   */
  mode: 'slices' | 'merge';
  queries: CompiledQuery[];
}

/** How a run search will execute, for inspection (EXPLAIN QUERY PLAN, tests). */
export function explainRunSearch(db: Database, q: RunSearch, opts: SearchOptions = {}): RunSearchExecution | null {
  const expIds = existingExperiments(db, numericIds(q.experimentIds));
  if (expIds.length === 0) return null;
  const plan = choosePlan(db, q, expIds, q.offset + q.limit + 1);
  if (opts.plan !== undefined) plan.stream = opts.plan === 'stream';
  const kind = streamKindOf(q.orderBy, expIds.length);
  if (plan.stream && kind === 'key') {
    const slices: Slice[] = q.orderBy[0].entity === 'metric' ? ['valued', 'nan', 'missing'] : ['valued', 'missing'];
    return { plan, mode: 'slices', queries: slices.map((s) => runQuery(q, expIds, plan, s)) };
  }
  if (plan.stream && kind === 'start' && expIds.length > 1) {
    const queries = expIds.map((id) => runQuery(q, [id], plan, 'all', 'r.id, r.start_time, r.run_uuid'));
    return { plan, mode: 'merge', queries };
  }
  return { plan, mode: 'slices', queries: [runQuery(q, expIds, plan, 'all', 'r.id', plan.stream && kind === 'time')] };
}

function runSlices(db: Database, queries: CompiledQuery[], offset: number, want: number): number[] {
  const ids: number[] = [];
  let skip = offset;
  for (const part of queries) {
    if (ids.length >= want) break;
    const sql = `${part.select} ORDER BY ${part.order} LIMIT ? OFFSET ?`;
    const rows = prepared(db, sql).all(...part.values, want - ids.length, skip) as number[];
    if (rows.length > 0) {
      ids.push(...rows);
      skip = 0;
    } else if (skip > 0) {
      // The offset lies beyond this slice: only its size is needed to carry the offset over.
      skip -= prepared(db, `SELECT count(*) FROM (${part.select})`).get(...part.values) as number;
    }
  }
  return ids;
}

function runMerge(db: Database, queries: CompiledQuery[], ascending: boolean, offset: number, want: number): number[] {
  const rows: Array<[number, number, string]> = [];
  for (const part of queries) {
    const sql = `${part.select} ORDER BY ${part.order} LIMIT ?`;
    rows.push(...(prepared(db, sql, true).all(...part.values, offset + want) as Array<[number, number, string]>));
  }
  const dir = ascending ? 1 : -1;
  rows.sort((a, b) => (a[1] !== b[1] ? dir * (a[1] - b[1]) : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  return rows.slice(offset, offset + want).map((r) => r[0]);
}

export function searchRunIds(db: Database, q: RunSearch, opts: SearchOptions = {}): IdPage {
  const w = pageWindow(q);
  const ex = w && explainRunSearch(db, { ...q, ...w }, opts);
  if (!w || !ex) return { ids: [], nextOffset: null };
  const want = w.limit + 1;
  const ids =
    ex.mode === 'merge'
      ? runMerge(db, ex.queries, q.orderBy[0]?.ascending ?? false, w.offset, want)
      : runSlices(db, ex.queries, w.offset, want);
  const more = ids.length > w.limit;
  return { ids: more ? ids.slice(0, w.limit) : ids, nextOffset: more ? w.offset + w.limit : null };
}


export function searchExperimentIds(db: Database, q: ExperimentSearch): IdPage {
  const b = new Binder();
  const where: string[] = [];
  const stage = lifecycleTest('e.lifecycle_stage', q.viewType, b);
  if (stage) where.push(stage);
  if (q.filter) where.push(compileExpr(q.filter, b, experimentCondition));
  if (q.readableBy) where.push(readableSql('e.experiment_id', q.readableBy.defaultReadable, b.bind(q.readableBy.userId)));
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
  return page(db, sql, b.values, q);
}
