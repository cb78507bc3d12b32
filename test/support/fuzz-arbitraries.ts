import fc from 'fast-check';

/**
 * Request generators for test/fuzz.test.ts. Each route lists its real field names with a kind; a kind
 * yields mostly plausible values (real ids, valid keys) so that requests get past the schema into the
 * services and the store, and sometimes values of the wrong type or shape.
 */

export type Kind =
  | 'expId' | 'expIds' | 'runId' | 'runIds' | 'key' | 'keys' | 'str' | 'name' | 'int64' | 'double'
  | 'viewType' | 'status' | 'x' | 'runFilter' | 'expFilter' | 'runOrder' | 'expOrder' | 'token'
  | 'kvs' | 'metrics' | 'datasets';

export interface RouteSpec {
  method: 'GET' | 'POST';
  /** Relative to an MLflow prefix, or absolute when it starts with '/'. */
  path: string;
  fields: Record<string, Kind>;
}

export interface SeedIds {
  expId: string;
  deletedExpId: string;
  runId: string;
  deletedRunId: string;
  keys: string[];
}

const RUN = { run_id: 'runId', run_uuid: 'runId' } as const;
const EXP_SEARCH = { max_results: 'int64', page_token: 'token', filter: 'expFilter', order_by: 'expOrder', view_type: 'viewType' } as const;

/** Every route of server/api/*.routes.ts (each is served under both MLflow prefixes). */
export const ROUTES: RouteSpec[] = [
  { method: 'POST', path: 'experiments/create', fields: { name: 'name', artifact_location: 'str', tags: 'kvs' } },
  { method: 'GET', path: 'experiments/get', fields: { experiment_id: 'expId' } },
  { method: 'GET', path: 'experiments/get-by-name', fields: { experiment_name: 'name' } },
  { method: 'POST', path: 'experiments/search', fields: EXP_SEARCH },
  { method: 'GET', path: 'experiments/search', fields: EXP_SEARCH },
  { method: 'GET', path: 'experiments/list', fields: { view_type: 'viewType', max_results: 'int64', page_token: 'token' } },
  { method: 'POST', path: 'experiments/update', fields: { experiment_id: 'expId', new_name: 'name' } },
  { method: 'POST', path: 'experiments/delete', fields: { experiment_id: 'expId' } },
  { method: 'POST', path: 'experiments/restore', fields: { experiment_id: 'expId' } },
  { method: 'POST', path: 'experiments/set-experiment-tag', fields: { experiment_id: 'expId', key: 'key', value: 'str' } },
  { method: 'POST', path: 'experiments/delete-experiment-tag', fields: { experiment_id: 'expId', key: 'key' } },
  { method: 'POST', path: 'runs/create', fields: { experiment_id: 'expId', user_id: 'str', run_name: 'str', start_time: 'int64', tags: 'kvs' } },
  { method: 'GET', path: 'runs/get', fields: RUN },
  { method: 'POST', path: 'runs/update', fields: { ...RUN, status: 'status', end_time: 'int64', run_name: 'str' } },
  { method: 'POST', path: 'runs/delete', fields: RUN },
  { method: 'POST', path: 'runs/restore', fields: RUN },
  { method: 'POST', path: 'runs/log-metric', fields: { ...RUN, key: 'key', value: 'double', timestamp: 'int64', step: 'int64' } },
  { method: 'POST', path: 'runs/log-parameter', fields: { ...RUN, key: 'key', value: 'str' } },
  { method: 'POST', path: 'runs/set-tag', fields: { ...RUN, key: 'key', value: 'str' } },
  { method: 'POST', path: 'runs/delete-tag', fields: { ...RUN, key: 'key' } },
  { method: 'POST', path: 'runs/log-batch', fields: { ...RUN, metrics: 'metrics', params: 'kvs', tags: 'kvs' } },
  { method: 'POST', path: 'runs/log-inputs', fields: { ...RUN, datasets: 'datasets' } },
  {
    method: 'POST',
    path: 'runs/search',
    fields: { experiment_ids: 'expIds', filter: 'runFilter', run_view_type: 'viewType', max_results: 'int64', order_by: 'runOrder', page_token: 'token' },
  },
  { method: 'GET', path: 'metrics/get-history', fields: { ...RUN, metric_key: 'key', max_results: 'int64', page_token: 'token' } },
  {
    method: 'GET',
    path: 'metrics/get-history-bulk-interval',
    fields: { run_ids: 'runIds', metric_key: 'key', start_step: 'int64', end_step: 'int64', max_results: 'int64' },
  },
  { method: 'GET', path: 'metrics/get-history-bulk', fields: { run_id: 'runIds', metric_key: 'key', max_results: 'int64' } },
  { method: 'GET', path: '/api/2.0/lablog/metrics/sampled', fields: { run_ids: 'runIds', keys: 'keys', x: 'x', start: 'int64', end: 'int64', buckets: 'int64' } },
  { method: 'GET', path: '/health', fields: {} },
  { method: 'GET', path: '/version', fields: {} },
];

export const PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

export function urlOf(route: RouteSpec, prefix: string): string {
  return route.path.startsWith('/') ? route.path : `${prefix}/${route.path}`;
}

/** Values that are the wrong type (or an out-of-range rendering) for almost any field. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constant('z'.repeat(300_000)),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '9223372036854775807', '-9223372036854775809', '18446744073709551616', '1e400', '-0', '1.5', '0x1f', ' 7 ', ''),
  fc.constantFrom(1e308, -1e308, 9007199254740993, -9007199254740993, 2 ** 63, 0.1),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

const FILTER_WORDS = [
  'metrics.loss', 'metric.acc', 'params.lr', 'parameters.opt', 'tags.team', 'tag.`a b`', 'attributes.status', 'attr.start_time',
  'run.end_time', 'run_id', 'run_name', '"run name"', 'created', 'user_id', 'artifact_uri', 'lifecycle_stage', 'datasets.name',
  'datasets.digest', 'datasets.context', 'name', 'creation_time', 'last_update_time', 'experiment_id', 'metrics."val-loss"',
  'metrics.', 'params.`', 'unknown.x', '`', '"', "'", '(', ')', ',', '.', '=', '!=', '<', '<=', '>', '>=', '==', '<>', '~', '!',
  'AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'LIKE', 'ILIKE', 'and', 'or', 'not in', 'ASC', 'DESC', "'x'", "'%a_'", '"y"', "''",
  '0', '-1', '1.5e3', '.5', '5.', '1e999', '-', 'NaN', 'Infinity', "'it''s'", "'\\''", ';', '--', '/*', 'DROP TABLE runs', '\u0000',
  '😀', 'ß', '\\', '*', '?', '[', '%', '$1', '?1', ':x',
];

/** Random token soup for filters and order_by clauses: mostly the language's own words, badly arranged. */
const soup = fc
  .array(fc.oneof({ arbitrary: fc.constantFrom(...FILTER_WORDS), weight: 5 }, fc.string({ maxLength: 5 })), { maxLength: 12 })
  .chain((words) => fc.array(fc.constantFrom(' ', '', '  ', '\t'), { minLength: words.length, maxLength: words.length }).map((seps) => words.map((w, i) => w + seps[i]).join('')));

// The seeded values themselves (0.5, 1, -1, end times 5001..5008) are there so that a boundary off by one
// (< for <=) or a case folded (LIKE for ILIKE) changes an answer the oracle checks.
const numberLiteral = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.constantFrom('0', '-3', '.5', '5.', '1e3', '1e999', '0.1'),
  fc.constantFrom('0.5', '1', '-1', '5002', '5005'),
);
const stringLiteral = fc.oneof(
  fc.constantFrom("'0.1'", "'adam'", "'a'", "'%'", "'%a_'", "'[*?]'", "'RUNNING'", "''", "'it''s'", '"dq"'),
  fc.constantFrom("'A'", "'ADAM'", "'Ad%'", "'running'", "'%A'", "'0._'", "'B'"),
  fc.string({ maxLength: 6 }).map((v) => `'${v.replaceAll("'", "''")}'`),
);
const stringList = fc.array(stringLiteral, { minLength: 1, maxLength: 3 }).map((vs) => `(${vs.join(', ')})`);
const numericTest = (field: string) => fc.tuple(fc.constantFrom('=', '!=', '<', '<=', '>', '>='), numberLiteral).map(([op, v]) => `${field} ${op} ${v}`);
const stringTest = (field: string) =>
  fc.oneof(
    fc.tuple(fc.constantFrom('=', '!=', 'LIKE', 'ILIKE', 'like'), stringLiteral).map(([op, v]) => `${field} ${op} ${v}`),
    fc.tuple(fc.constantFrom('IN', 'NOT IN'), stringList).map(([op, v]) => `${field} ${op} ${v}`),
  );
const nullTest = (field: string) => fc.constantFrom(`${field} IS NULL`, `${field} IS NOT NULL`);

/** Well-formed filters (right comparator and literal for each field), so that they reach the SQL. */
function wellFormed(numeric: string[], strings: string[], nullable: string[]): fc.Arbitrary<string> {
  const leaf = fc.oneof(
    fc.constantFrom(...numeric).chain(numericTest),
    fc.constantFrom(...strings).chain(stringTest),
    fc.constantFrom(...nullable).chain(nullTest),
  );
  const { expr } = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(tie('expr'), fc.constantFrom(' AND ', ' OR ', ' and '), tie('expr')).map(([a, j, b]) => a + j + b),
      tie('expr').map((e) => `(${e})`),
    ),
  }));
  return expr;
}

const runFilterWellFormed = wellFormed(
  ['metrics.loss', 'metric.acc', 'attributes.start_time', 'created', 'end_time', 'metrics.`x y`'],
  ['params.lr', 'param.opt', 'tags.team', 'tags.`x y`', 'attributes.status', 'run_name', '"run name"', 'run_id', 'user_id', 'datasets.name', 'datasets.context', 'lifecycle_stage'],
  ['metrics.loss', 'params.lr', 'tags.team', 'end_time'],
);
const expFilterWellFormed = wellFormed(['creation_time', 'attributes.last_update_time'], ['name', 'tags.owner', 'tags.`x y`'], ['tags.owner']);

export const runFilterText = fc.oneof({ arbitrary: runFilterWellFormed, weight: 3 }, { arbitrary: soup, weight: 2 }, fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
export const expFilterText = fc.oneof({ arbitrary: expFilterWellFormed, weight: 3 }, { arbitrary: soup, weight: 2 }, fc.string({ maxLength: 30 }));
export const orderText = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.constantFrom('metrics.loss', 'params.lr', 'tags.team', 'start_time', 'name', 'experiment_id', 'run_name', 'datasets.name', 'last_update_time', 'end_time'), fc.constantFrom('', ' ASC', ' DESC', ' desc', ' DOWN'))
      .map(([a, b]) => a + b),
    weight: 4,
  },
  { arbitrary: soup, weight: 1 },
);

const b64 = (s: string) => Buffer.from(s).toString('base64');
export const pageToken = fc.oneof(
  fc.oneof(fc.integer(), fc.double(), fc.constant(-1), fc.constant(2 ** 60), fc.string(), fc.constant(null)).map((offset) => b64(JSON.stringify({ offset }))),
  fc.jsonValue({ maxDepth: 2 }).map((v) => b64(JSON.stringify(v) ?? '')),
  fc.base64String({ maxLength: 24 }),
  fc.string({ maxLength: 24 }),
  fc.constantFrom('', '====', '%%%', 'eyJvZmZzZXQiOjF9', b64('{"offset": 1'), b64('{"offset": 9007199254740991}')),
);

export const VALID_KEYS = ['loss', 'acc', 'lr', 'a/b', 'x y', 'mlflow.runName', 'mlflow.user', 'team', 'k.1-2_3'];
export const INVALID_KEYS = ['../up', '/abs', 'a//b', './x', 'x/', 'bad$key', 'ключ', '', '.', 'k'.repeat(251), 'nul\u0000'];

/** Builds the per-kind generators around the seeded ids. */
export function kindArbitraries(seed: SeedIds): Record<Kind, fc.Arbitrary<unknown>> {
  const mix = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good as fc.Arbitrary<unknown>, weight: 5 }, { arbitrary: wrongValue, weight: 1 });
  const expId = mix(fc.oneof(fc.constantFrom('0', seed.expId, seed.deletedExpId, '424242', '-1', '0x1', ' 1'), fc.constantFrom(0, Number(seed.expId))));
  const runId = mix(fc.oneof(fc.constantFrom(seed.runId, seed.deletedRunId, '0'.repeat(32), seed.runId.toUpperCase()), fc.string({ maxLength: 8 })));
  const key = mix(fc.oneof({ arbitrary: fc.constantFrom(...VALID_KEYS, ...seed.keys), weight: 4 }, fc.constantFrom(...INVALID_KEYS), fc.string({ maxLength: 8 })));
  const str = mix(fc.oneof({ arbitrary: fc.string({ maxLength: 20 }), weight: 4 }, fc.constantFrom('x'.repeat(5001), 'y'.repeat(6001), ''), fc.string({ unit: 'binary', maxLength: 20 })));
  const name = mix(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('Default', 'fuzz-exp', 'n'.repeat(501), '   ')));
  const int64 = mix(fc.oneof(fc.integer({ min: -5, max: 3000 }), fc.integer(), fc.constantFrom(0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), '123', '-5', '00')));
  const double = mix(fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity', '-Infinity', 'inf', '1e400', ' 3.5 ', '0x10', '-0', 'abc')));
  const kv = fc.record({ key, value: str }, { requiredKeys: [] });
  const metric = fc.record({ key, value: double, timestamp: int64, step: int64 }, { requiredKeys: [] });
  const dataset = fc.record(
    { name: str, digest: fc.oneof(fc.string({ maxLength: 40 }), wrongValue), source_type: str, source: str, schema: str, profile: str },
    { requiredKeys: [] },
  );
  return {
    expId,
    expIds: mix(fc.array(expId, { maxLength: 4 })),
    runId,
    runIds: mix(fc.array(runId, { maxLength: 4 })),
    key,
    keys: mix(fc.array(key, { maxLength: 4 })),
    str,
    name,
    int64,
    double,
    viewType: mix(fc.constantFrom('ACTIVE_ONLY', 'DELETED_ONLY', 'ALL', 1, 2, 3, '1', '2', '3', 'active_only', 0, 4)),
    status: mix(fc.constantFrom('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED', 'running', 3)),
    x: mix(fc.constantFrom('step', 'time', 'STEP', 'wall')),
    runFilter: mix(runFilterText),
    expFilter: mix(expFilterText),
    runOrder: mix(fc.array(mix(orderText), { maxLength: 3 })),
    expOrder: mix(fc.array(mix(orderText), { maxLength: 3 })),
    token: mix(pageToken),
    kvs: mix(fc.array(mix(kv), { maxLength: 4 })),
    metrics: mix(fc.array(mix(metric), { maxLength: 4 })),
    datasets: mix(fc.array(mix(fc.record({ tags: mix(fc.array(kv, { maxLength: 2 })), dataset: mix(dataset) }, { requiredKeys: [] })), { maxLength: 3 })),
  };
}

/** An object with any subset of the route's fields (each plausible or wrong) and a few unknown ones. */
export function fieldsOf(route: RouteSpec, kinds: Record<Kind, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [field, kind] of Object.entries(route.fields)) model[field] = kinds[kind];
  return fc
    .tuple(fc.record(model, { requiredKeys: [] }), fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }))
    .map(([known, extra]) => ({ ...extra, ...known }));
}

/** Query strings carry text only: repeated keys for arrays, JSON for objects. */
export function toQueryString(fields: Record<string, unknown>): string {
  const parts: string[] = [];
  const one = (v: unknown) => (typeof v === 'string' ? v : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one(item))}`);
  }
  return parts.join('&');
}
