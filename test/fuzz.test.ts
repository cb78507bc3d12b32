import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Statement } from 'better-sqlite3';
import { CHUNK_POINTS } from '../server/store/sqlite/metrics.sql.js';
import { buildTestApp, seedRun, type TestApp } from './helper.js';
import { MAX_CONDITIONS, MAX_FILTER_LENGTH, MAX_LIST_VALUES, MAX_NESTING, MAX_ORDER_KEYS, MAX_PATTERN_LENGTH, parseRunFilter } from '../server/search/parser.js';
import { BULK_MAX_RUNS, SAMPLED_MAX_KEYS } from '../server/tracking/metrics.service.js';
import { SEARCH_MAX_EXPERIMENTS } from '../server/tracking/runs.service.js';
import { matches, type RunView } from './support/filter-oracle.js';
import {
  fieldsOf,
  expFilterText,
  INVALID_KEYS,
  kindArbitraries,
  orderText,
  pageToken,
  runFilterText,
  PREFIXES,
  ROUTES,
  toQueryString,
  urlOf,
  wrongValue,
  type Kind,
  type RouteSpec,
  type SeedIds,
} from './support/fuzz-arbitraries.js';

// Properties over every route: no 5xx, every error in MLflow's JSON shape, and a rejected request
// leaves the database exactly as it was. The app is seeded so that ids exist and writes could happen.

interface Req {
  method: string;
  url: string;
  payload?: string;
  headers?: Record<string, string>;
}

// Puts the failing assertion (request and answer) into fast-check's report, not only its cause.
fc.configureGlobal({ includeErrorInReport: true });

let t: TestApp;
let seed: SeedIds;
let kinds: Record<Kind, fc.Arbitrary<unknown>>;
const tableStatements: Statement[] = [];

/** Every row of every table (including the migrations bookkeeping), ordered by all columns. */
function snapshot(): string {
  return JSON.stringify(tableStatements.map((s) => s.all()));
}

function describeReq(r: Req): string {
  const body = r.payload === undefined ? '' : ` body=${r.payload.length > 300 ? `${r.payload.slice(0, 300)}…(${r.payload.length} chars)` : r.payload}`;
  return `${r.method} ${r.url.length > 300 ? `${r.url.slice(0, 300)}…` : r.url}${body} headers=${JSON.stringify(r.headers ?? {})}`;
}

/** Sends one request and checks the three properties; returns the status and parsed body. */
async function exercise(r: Req): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const beforeRows = snapshot();
  const res = await t.app.inject({ method: r.method as 'GET', url: r.url, payload: r.payload, headers: r.headers });
  const what = `${describeReq(r)}\n  -> ${res.statusCode} ${res.body.slice(0, 500)}`;
  assert.ok(res.statusCode < 500, `5xx answer: ${what}`);
  let json: any;
  try {
    json = res.body === '' ? undefined : JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  if (res.statusCode >= 300) {
    assert.ok(json !== null && typeof json === 'object', `error body is not a JSON object: ${what}`);
    assert.equal(typeof json.error_code, 'string', `error body without string error_code: ${what}`);
    assert.equal(typeof json.message, 'string', `error body without string message: ${what}`);
    assert.match(String(res.headers['content-type']), /^application\/json/, `error content-type: ${what}`);
    assert.equal(snapshot(), beforeRows, `a rejected request changed the database: ${what}`);
  } else if (r.method === 'POST' && !r.url.endsWith('/search')) {
    await heal();
  }
  return { status: res.statusCode, json, headers: res.headers };
}

/** Random successful writes may delete or restore the seeded entities; put them back so later cases reach deep paths. */
async function heal() {
  await t.post('experiments/restore', { experiment_id: seed.expId });
  await t.post('runs/restore', { run_id: seed.runId });
  await t.post('experiments/delete', { experiment_id: seed.deletedExpId });
  await t.post('runs/delete', { run_id: seed.deletedRunId });
}

function jsonReq(route: RouteSpec, prefix: string, fields: unknown): Req {
  const url = urlOf(route, prefix);
  if (route.method === 'GET') {
    const qs = fields !== null && typeof fields === 'object' && !Array.isArray(fields) ? toQueryString(fields as Record<string, unknown>) : '';
    return { method: 'GET', url: qs ? `${url}?${qs}` : url };
  }
  return { method: 'POST', url, payload: JSON.stringify(fields) ?? 'null', headers: { 'content-type': 'application/json' } };
}

const unwire = (v: number) => (Math.abs(v) === Number.MAX_VALUE ? Math.sign(v) * Infinity : v);

/** A run as runs/search answers it, as the filter oracle reads it. */
function runView(run: any): RunView {
  const kv = (list: { key: string; value: string }[] | undefined) => Object.fromEntries((list ?? []).map((e) => [e.key, e.value]));
  const info = run.info;
  return {
    // NaN arrives as a string and the infinities as ±Number.MAX_VALUE, as MLflow writes them; the store
    // keeps the infinities themselves, so the oracle reads them back as such.
    metrics: Object.fromEntries((run.data.metrics ?? []).map((m: { key: string; value: number | string }) => [m.key, unwire(Number(m.value))])),
    params: kv(run.data.params),
    tags: kv(run.data.tags),
    attributes: {
      run_id: info.run_id, run_name: info.run_name, status: info.status, user_id: info.user_id, start_time: info.start_time,
      end_time: info.end_time ?? null, artifact_uri: info.artifact_uri, lifecycle_stage: info.lifecycle_stage,
    },
    datasets: (run.inputs?.dataset_inputs ?? []).map((d: { dataset: { name: string; digest: string }; tags?: { key: string; value: string }[] }) => ({
      name: d.dataset.name, digest: d.dataset.digest, context: kv(d.tags)['mlflow.data.context'] ?? null,
    })),
  };
}

/** Logs points in batches of at most 1000 (MLflow's per-request limit). */
async function logPoints(runId: string, metrics: object[]) {
  for (let i = 0; i < metrics.length; i += 1000) {
    assert.equal((await t.post('runs/log-batch', { run_id: runId, metrics: metrics.slice(i, i + 1000) })).status, 200);
  }
}

const route = fc.constantFrom(...ROUTES);
const prefix = fc.constantFrom(...PREFIXES);
const postRoutes = ROUTES.filter((r) => r.method === 'POST');

before(async () => {
  t = await buildTestApp();
  const { experimentId, runId } = await seedRun(t, { experiment: 'fuzz-exp', runName: 'seeded', tags: [{ key: 'team', value: 'a' }] });
  await t.post('experiments/set-experiment-tag', { experiment_id: experimentId, key: 'owner', value: 'me' });
  // Past CHUNK_POINTS points of one key, so that reads go through a packed chunk and the tail.
  await logPoints(runId, Array.from({ length: CHUNK_POINTS + 76 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestamp: 1000 + i, step: i })));
  const batch = {
    run_id: runId,
    metrics: [{ key: 'acc', value: 'NaN', timestamp: 5, step: 1 }, { key: 'acc', value: 0.5, timestamp: 6, step: 2 }],
    params: [{ key: 'lr', value: '0.1' }, { key: 'opt', value: 'adam' }],
    tags: [{ key: 'x y', value: 'z' }],
  };
  assert.equal((await t.post('runs/log-batch', batch)).status, 200);
  const dataset = { name: 'ds', digest: 'abc', source_type: 'local', source: '/data' };
  assert.equal((await t.post('runs/log-inputs', { run_id: runId, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset }] })).status, 200);
  // Runs with ties, NaN, ±Infinity and missing keys in two experiments, so that ordering and paging have work to do.
  const losses = [0.5, 0.5, 'NaN', 1, null, -1, 'Infinity', 0.5, '-Infinity'];
  for (let i = 0; i < losses.length; i++) {
    const r = await seedRun(t, i % 3 === 0 ? {} : { experiment: 'fuzz-exp' });
    const metrics = losses[i] === null ? [] : [{ key: 'loss', value: losses[i], timestamp: i % 2, step: i % 4 }];
    const params = i % 4 === 3 ? [] : [{ key: 'lr', value: String((i % 3) / 10) }];
    assert.equal((await t.post('runs/log-batch', { run_id: r.runId, metrics, params, tags: [{ key: 'team', value: i % 2 ? 'a' : 'b' }] })).status, 200);
    await t.post('runs/update', { run_id: r.runId, status: i % 2 ? 'FINISHED' : 'RUNNING', end_time: i % 3 ? 5000 + i : undefined });
  }
  const dead = await seedRun(t, { experiment: 'fuzz-exp', runName: 'dead' });
  const gone = await seedRun(t, { experiment: 'fuzz-deleted' });
  seed = { expId: experimentId, deletedExpId: gone.experimentId, runId, deletedRunId: dead.runId, keys: ['loss', 'acc', 'lr', 'opt', 'owner'] };
  await heal();
  kinds = kindArbitraries(seed);
  const tables = t.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  assert.ok(tables.includes('metric_chunks') && tables.includes('runs'));
  for (const name of tables) {
    const columns = t.db.prepare(`SELECT count(*) FROM pragma_table_info(?)`).pluck().get(name) as number;
    const order = Array.from({ length: columns }, (_, i) => i + 1).join(', ');
    tableStatements.push(t.db.prepare(`SELECT * FROM "${name}" ORDER BY ${order}`).raw());
  }
  assert.equal(t.db.prepare('SELECT count(*) FROM metric_chunks').pluck().get(), 1, 'the seed packs one chunk');
});

after(async () => {
  await t?.close();
});

describe('fuzz: every route', () => {
  it('survives bodies and queries built from the real field names, with plausible and wrong-typed values', async () => {
    await fc.assert(
      fc.asyncProperty(route.chain((r) => fc.tuple(fc.constant(r), prefix, fieldsOf(r, kinds))), async ([r, p, fields]) => {
        await exercise(jsonReq(r, p, fields));
      }),
      { numRuns: 300 },
    );
  });

  it('survives arbitrary JSON values as the body or the query', async () => {
    const query = fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(route, prefix, fc.oneof(fc.jsonValue(), fc.anything().map((v) => JSON.parse(JSON.stringify(v) ?? 'null'))), query, async (r, p, body, q) => {
        await exercise(jsonReq(r, p, r.method === 'GET' ? q : body));
      }),
      { numRuns: 200 },
    );
  });

  it('answers raw invalid JSON, wrong content types and raw query strings in the JSON error shape', async () => {
    const rawBody = fc.oneof(
      fc.constantFrom('{', '{"run_id":', '[1,]', 'NaN', 'undefined', "{'a': 1}", '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {"x": 1}}}', '\ufeff{}', 'null', '"str"', '"{\\"experiment_id\\": \\"0\\"}"', '', ' ', '{}{}', '0', 'true'),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const contentType = fc.constantFrom(
      'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/jsonx',
      'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*', '', undefined,
    );
    const rawQuery = fc.string({ unit: fc.constantFrom('&', '=', '%', '+', '[', ']', 'a', 'run_id', 'run_ids', '1', '%zz', '%E0%A4', '#', '?', ' '), maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...postRoutes), prefix, rawBody, contentType, route, rawQuery, async (r, p, body, ct, anyRoute, q) => {
        await exercise({ method: 'POST', url: urlOf(r, p), payload: body, headers: ct === undefined ? {} : { 'content-type': ct } });
        await exercise({ method: 'GET', url: `${urlOf(anyRoute, p)}?${q}` });
      }),
      { numRuns: 200 },
    );
  });

  it('answers searches with token-soup filters, order_by and page tokens: 200 only with matching runs', async () => {
    const viewType = fc.constantFrom('ACTIVE_ONLY', 'DELETED_ONLY', 'ALL');
    const experiment_ids = [seed.expId, '0'];
    // Every run of those experiments as the oracle reads them, to check an answer against.
    const all = await t.post('runs/search', { experiment_ids, run_view_type: 'ALL', max_results: 1000 });
    const views = new Map<string, RunView>(all.json.runs.map((r: any) => [r.info.run_id, runView(r)]));
    assert.ok(views.size >= 10);
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(runFilterText, expFilterText, fc.array(orderText, { maxLength: 3 }), fc.option(pageToken, { nil: undefined }), viewType, prefix, async (filter, expFilter, order_by, page_token, view, p) => {
        const runs = await exercise(jsonReq(ROUTES.find((r) => r.path === 'runs/search')!, p, { experiment_ids, filter, order_by, page_token, run_view_type: view }));
        if (runs.status === 200) {
          const got = (runs.json.runs ?? []).map((run: any) => run.info.run_id as string);
          for (const run of runs.json.runs ?? []) {
            assert.ok(experiment_ids.includes(run.info.experiment_id), `run from another experiment for filter ${filter}`);
            if (view !== 'ALL') assert.equal(run.info.lifecycle_stage, view === 'ACTIVE_ONLY' ? 'active' : 'deleted');
          }
          // The answer is what the filter means: on a first page exactly the matching runs, on a
          // later page some of them.
          const ast = parseRunFilter(filter);
          const stage = (id: string) => views.get(id)!.attributes.lifecycle_stage;
          const want = [...views.keys()].filter((id) => (view === 'ALL' || stage(id) === (view === 'ACTIVE_ONLY' ? 'active' : 'deleted')) && (ast === null || matches(views.get(id)!, ast)));
          if (page_token === undefined) assert.deepEqual([...got].sort(), want.sort(), `runs for filter ${JSON.stringify(filter)}`);
          else for (const id of got) assert.ok(want.includes(id), `run ${id} does not match ${JSON.stringify(filter)}`);
        } else assert.equal(runs.json.error_code, 'INVALID_PARAMETER_VALUE');
        // The filter alone (the order and token above are often what was refused), compared whole.
        const ast = (() => {
          try {
            return { ok: true, expr: parseRunFilter(filter) };
          } catch {
            return { ok: false, expr: null };
          }
        })();
        const alone = await exercise(jsonReq(ROUTES.find((r) => r.path === 'runs/search')!, p, { experiment_ids, filter, run_view_type: view, max_results: 1000 }));
        assert.equal(alone.status, ast.ok ? 200 : 400, `filter ${JSON.stringify(filter)}: ${JSON.stringify(alone.json)}`);
        if (ast.ok) {
          const stage = (id: string) => views.get(id)!.attributes.lifecycle_stage;
          const want = [...views.keys()].filter((id) => (view === 'ALL' || stage(id) === (view === 'ACTIVE_ONLY' ? 'active' : 'deleted')) && (ast.expr === null || matches(views.get(id)!, ast.expr)));
          assert.deepEqual((alone.json.runs ?? []).map((r: any) => r.info.run_id).sort(), want.sort(), `runs for filter ${JSON.stringify(filter)}`);
          compared++;
        }
        const exps = await exercise(jsonReq(ROUTES.find((r) => r.path === 'experiments/search' && r.method === 'GET')!, p, { filter: expFilter, order_by, page_token, view_type: view }));
        if (exps.status === 200) {
          for (const e of exps.json.experiments ?? []) if (view !== 'ALL') assert.equal(e.lifecycle_stage, view === 'ACTIVE_ONLY' ? 'active' : 'deleted');
        } else assert.equal(exps.json.error_code, 'INVALID_PARAMETER_VALUE');
      }),
      { numRuns: 300 },
    );
    // Most generated filters are soup that does not parse; enough of them did to mean something.
    assert.ok(compared >= 30, `only ${compared} answers compared with the oracle`);
  });

  it('paging a run search with small pages yields exactly the runs of one large page, in order', async () => {
    const search = (body: object): Req => ({ method: 'POST', url: '/api/2.0/mlflow/runs/search', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const ids = (json: any): string[] => (json.runs ?? []).map((r: any) => r.info.run_id);
    const viewType = fc.constantFrom('ACTIVE_ONLY', 'DELETED_ONLY', 'ALL');
    let paged_ = 0;
    await fc.assert(
      fc.asyncProperty(runFilterText, fc.array(orderText, { maxLength: 2 }), viewType, fc.integer({ min: 1, max: 4 }), async (filter, order_by, view, k) => {
        const base = { experiment_ids: [seed.expId, '0'], filter, order_by, run_view_type: view };
        const whole = await exercise(search({ ...base, max_results: 1000 }));
        if (whole.status !== 200) return;
        paged_ += 1;
        assert.equal(whole.json.next_page_token, undefined);
        const paged: string[] = [];
        let token: string | undefined;
        do {
          const page = await exercise(search({ ...base, max_results: k, page_token: token }));
          assert.equal(page.status, 200);
          assert.ok(ids(page.json).length <= k);
          paged.push(...ids(page.json));
          token = page.json.next_page_token;
        } while (token !== undefined && paged.length <= 1000);
        assert.deepEqual(paged, ids(whole.json), `filter ${filter} order_by ${JSON.stringify(order_by)} pages of ${k}`);
      }),
      // About a quarter of the generated filters parse: 150 cases left fewer than 30 in one CI run
      // (unseeded, so each run draws anew); 300 keep the count well clear of the floor.
      { numRuns: 300 },
    );
    // Filters that do not parse return early; the property held for enough of the rest.
    assert.ok(paged_ >= 30, `only ${paged_} searches were paged`);
  });

  it('answers unknown routes and unsupported methods with a JSON 4xx', async () => {
    const segment = fc.oneof(
      fc.constantFrom('runs', 'experiments', 'metrics', 'get', 'create', 'lablog', 'mlflow', '2.0', '..', '.', '', 'runs/get/extra'),
      fc.string({ maxLength: 8 }).map(encodeURIComponent),
      fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%2F', '%C0%AF'),
    );
    const base = fc.constantFrom('/api/2.0/mlflow', '/ajax-api/2.0/mlflow', '/api/2.0/lablog', '/api/2.0/lablog/metrics', '/api/2.1/mlflow', '', '/ajax-api');
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
    await fc.assert(
      fc.asyncProperty(base, fc.array(segment, { minLength: 1, maxLength: 4 }), method, async (b, segs, m) => {
        const url = `${b}/${segs.join('/')}`;
        const known = ROUTES.some((r) => (r.path.startsWith('/') ? r.path : PREFIXES.map((p) => `${p}/${r.path}`)).includes(url) && r.method === m);
        fc.pre(!known);
        const res = await exercise({ method: m, url, payload: m === 'GET' ? undefined : '{}', headers: { 'content-type': 'application/json' } });
        // Outside the API, a GET is a client-side UI route when the UI is built: index.html.
        // inject resolves dot segments as a browser would (`/ajax-api/..` arrives as `/`): the path that arrives decides.
        const arrived = new URL(`http://x${url}`).pathname;
        const uiRoute = !/^\/(api|ajax-api)\//.test(arrived) && m === 'GET' && res.status === 200 && /text\/html/.test(String(res.headers['content-type']));
        assert.ok(res.status >= 400 || uiRoute, `${m} ${url} answered ${res.status}`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('fuzz: log-batch is all or nothing', () => {
  let counter = 0;
  const goodMetric = fc.record({
    value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('NaN', 'Infinity', '-Infinity', '2.5')),
    timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant('17')),
    step: fc.integer({ min: -1000, max: 1000 }),
  });
  const bad = fc.oneof(
    fc.record({ where: fc.constant('metrics' as const), entry: fc.constantFrom(...INVALID_KEYS).map((key) => ({ key, value: 1, timestamp: 1, step: 0 })) }),
    fc.record({ where: fc.constant('metrics' as const), entry: wrongValue.filter((v) => (typeof v === 'string' ? !/^\s*[-+]?(\d|\.\d|inf|nan)/i.test(v) : typeof v !== 'number')).map((value) => ({ key: 'mbad', value, timestamp: 1 })) }),
    fc.record({ where: fc.constant('metrics' as const), entry: fc.constantFrom(-1, 1.5, '1e3', 2 ** 53, '-7', null, 'x').map((timestamp) => ({ key: 'mbad', value: 1, timestamp })) }),
    fc.record({ where: fc.constant('metrics' as const), entry: fc.constantFrom(1.5, '9223372036854775807', 'x', {}).map((step) => ({ key: 'mbad', value: 1, timestamp: 1, step })) }),
    fc.record({ where: fc.constant('metrics' as const), entry: fc.constantFrom({ value: 1, timestamp: 1 }, { key: 'mbad', timestamp: 1 }, { key: 'mbad', value: 1 }, 'loss', null, []) }),
    fc.record({ where: fc.constant('params' as const), entry: fc.constantFrom({ key: 'pbad', value: 'v'.repeat(6001) }, { key: 'lr', value: '0.2' }, { key: 7, value: 'x' }, { value: 'x' }, { key: 'pbad', value: 1 }) }),
    fc.record({ where: fc.constant('params' as const), entry: fc.constantFrom(...INVALID_KEYS).map((key) => ({ key, value: 'v' })) }),
    fc.record({ where: fc.constant('params' as const), entry: fc.constant('duplicate') }),
    fc.record({ where: fc.constant('tags' as const), entry: fc.constantFrom({ key: 'tbad', value: 't'.repeat(5001) }, { key: 'tbad', value: { a: 1 } }, { key: '../t', value: 'x' }, { key: 'tbad', value: ['x'] }) }),
    fc.record({ where: fc.constantFrom('run' as const), entry: fc.constantFrom('deleted', 'unknown', 'missing', 'too-many') }),
  );

  it('a batch with one bad entry among good ones writes nothing, and the good entries alone are accepted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(goodMetric, { maxLength: 6 }),
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }),
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }),
        bad,
        fc.nat(),
        async (ms, ps, ts, b, pos) => {
          const uid = `b${++counter}`;
          const metrics: unknown[] = ms.map((m, i) => ({ key: `${uid}_m${i % 3}`, ...m }));
          const params: unknown[] = ps.map((value, i) => ({ key: `${uid}_p${i}`, value }));
          const tags: unknown[] = ts.map((value, i) => ({ key: `${uid}_t${i}`, value }));
          const good = { run_id: seed.runId, metrics: [...metrics], params: [...params], tags: [...tags] };
          const body: Record<string, unknown> = { ...good, metrics, params, tags };
          if (b.where === 'run') {
            if (b.entry === 'deleted') body.run_id = seed.deletedRunId;
            else if (b.entry === 'unknown') body.run_id = 'f'.repeat(32);
            else if (b.entry === 'missing') delete body.run_id;
            else body.metrics = [...metrics, ...Array.from({ length: 1001 - metrics.length }, (_, i) => ({ key: `${uid}_many`, value: i, timestamp: i }))];
          } else {
            const list = body[b.where] as unknown[];
            const entry = b.entry === 'duplicate' ? (params[0] ?? { key: `${uid}_dup`, value: 'a' }) : b.entry;
            if (b.entry === 'duplicate' && params.length === 0) list.push(entry);
            list.splice(pos % (list.length + 1), 0, entry);
          }
          const rejected = await exercise(jsonReq(ROUTES.find((r) => r.path === 'runs/log-batch')!, PREFIXES[pos % 2], body));
          assert.ok(rejected.status === 400 || rejected.status === 404, `bad entry ${JSON.stringify(b).slice(0, 200)} was accepted`);

          assert.equal((await t.post('runs/log-batch', good)).status, 200, 'the good entries alone are accepted');
          const rid = t.db.prepare('SELECT id FROM runs WHERE run_uuid = ?').pluck().get(seed.runId);
          // GLOB, not LIKE: '_' is a wildcard for LIKE, and b1_% would also match b12_p0.
          const rows = (table: string) => t.db.prepare(`SELECT key, value FROM ${table} WHERE run_id = ? AND key GLOB ? ORDER BY key`).raw().all(rid, `${uid}_*`);
          assert.deepEqual(rows('params'), ps.map((v, i) => [`${uid}_p${i}`, v]).sort((a, c) => (a[0] < c[0] ? -1 : 1)));
          assert.deepEqual(rows('tags'), ts.map((v, i) => [`${uid}_t${i}`, v]).sort((a, c) => (a[0] < c[0] ? -1 : 1)));
          const counted = t.db.prepare('SELECT coalesce(sum(count), 0) FROM metric_series WHERE run_id = ? AND key GLOB ?').pluck().get(rid, `${uid}_m*`);
          assert.equal(counted, ms.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a log-batch body over 1,000,000 bytes is refused and writes nothing', async () => {
    const params = [{ key: 'big_ok', value: 'v' }];
    const pad = (n: number) => JSON.stringify({ run_id: seed.runId, params, padding: 'p'.repeat(n) });
    const over = pad(1_000_001 - pad(0).length);
    assert.equal(Buffer.byteLength(over), 1_000_001);
    const res = await exercise({ method: 'POST', url: '/api/2.0/mlflow/runs/log-batch', payload: over, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error_code, 'INVALID_PARAMETER_VALUE');
    assert.equal((await t.post('runs/log-batch', JSON.parse(pad(1_000_000 - pad(0).length)))).status, 200, 'exactly 1,000,000 bytes is accepted');
    assert.equal(t.db.prepare("SELECT value FROM params WHERE key = 'big_ok'").pluck().get(), 'v');
  });
});

describe('fuzz: extreme int64 steps and timestamps', () => {
  it('read back exactly after their series is packed into a chunk', async () => {
    const big = 2 ** 53 - 1;
    const extreme = fc.record({
      at: fc.nat(CHUNK_POINTS - 1),
      step: fc.option(fc.integer({ min: -big, max: big }), { nil: undefined }),
      timestamp: fc.option(fc.integer({ min: 0, max: big }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(extreme, async (x) => {
        // One sealed chunk of ordinary points with one extreme point among them.
        const points = Array.from({ length: CHUNK_POINTS }, (_, i) => ({ key: 'x', value: i, step: i, timestamp: 1_700_000_000_000 + i }));
        points[x.at] = { ...points[x.at], step: x.step ?? x.at, timestamp: x.timestamp ?? points[x.at].timestamp };
        const run = await t.post('runs/create', { experiment_id: seed.expId });
        const runId = run.json.run.info.run_id;
        await logPoints(runId, points);
        const history = await t.get('metrics/get-history', { run_id: runId, metric_key: 'x' });
        const byValue = [...history.json.metrics].sort((a, b) => a.value - b.value).map((m) => ({ key: m.key, value: m.value, step: m.step, timestamp: m.timestamp }));
        const wrong = byValue.filter((m, i) => m.step !== points[i].step || m.timestamp !== points[i].timestamp);
        assert.deepEqual(wrong.slice(0, 3), [], `${wrong.length} of ${CHUNK_POINTS} points read back with another step or timestamp`);
      }),
      { numRuns: 20, examples: [[{ at: 0, step: undefined, timestamp: 0 }], [{ at: 0, step: -big, timestamp: undefined }]] },
    );
  });
});

describe('fuzz: large filters and lists are refused with 400 and the bound they pass, never 500', () => {
  const runSearch = (body: object): Req => ({ method: 'POST', url: '/api/2.0/mlflow/runs/search', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const expSearch = (body: object): Req => ({ method: 'POST', url: '/ajax-api/2.0/mlflow/experiments/search', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const ids = () => [seed.expId];
  const times = (n: number, s: string) => Array(n).fill(s);
  const nested = (n: number) => {
    let f = "params.lr = '0.1'";
    for (let i = 0; i < n; i++) f = `params.opt = 'adam' ${i % 2 ? 'AND' : 'OR'} (${f})`;
    return f;
  };
  const EXP_ORDER = ['name', 'experiment_id', 'creation_time', 'last_update_time'];
  const conditions = new RegExp(`more than ${MAX_CONDITIONS} conditions`);
  const listValues = new RegExp(`more than ${MAX_LIST_VALUES} values in IN lists`);
  const nesting = new RegExp(`parentheses nested more than ${MAX_NESTING} deep`);
  const orderKeys = new RegExp(`clauses given; at most ${MAX_ORDER_KEYS} are supported`);
  const filterLength = new RegExp(`characters given; at most ${MAX_FILTER_LENGTH} are supported`);
  const longValue = "params.lr = ''".length;
  const pattern = new RegExp(`a LIKE pattern of \\d+ characters at position \\d+; at most ${MAX_PATTERN_LENGTH} are supported|${filterLength.source}`);
  // A long list is refused for its length before its values are counted.
  const longList = new RegExp(`${listValues.source}|${filterLength.source}`);
  // [what, largest n tried, largest n answered 200, the refusal's message, the request for n]
  const SIZED: [string, number, number, RegExp, (n: number) => Req][] = [
    ['runs/search: a filter of n conditions joined by OR', 3000, MAX_CONDITIONS, conditions, (n) => runSearch({ experiment_ids: ids(), filter: times(n, "params.lr = '0.1'").join(' OR ') })],
    ['runs/search: a filter of n conditions joined by AND', 3000, MAX_CONDITIONS, conditions, (n) => runSearch({ experiment_ids: ids(), filter: times(n, 'metrics.loss > 0').join(' AND ') })],
    ['runs/search: an IN list of n strings', 40_000, MAX_LIST_VALUES, longList, (n) => runSearch({ experiment_ids: ids(), filter: `tags.team IN (${times(n, "'a'").join(',')})` })],
    ['runs/search: n OR-ed IN lists of 100 strings each', 500, MAX_LIST_VALUES / 100, longList, (n) => runSearch({ experiment_ids: ids(), filter: times(n, `tags.team IN (${times(100, "'a'").join(',')})`).join(' OR ') })],
    ['runs/search: n experiment_ids', 40_000, SEARCH_MAX_EXPERIMENTS, /^SearchRuns request cannot specify more than 10000 experiment_ids\. Received \d+ experiment_ids\.$/, (n) => runSearch({ experiment_ids: Array.from({ length: n }, (_, i) => String(i)) })],
    ['runs/search: a condition inside n parentheses', 20_000, MAX_NESTING, nesting, (n) => runSearch({ experiment_ids: ids(), filter: `${'('.repeat(n)}params.lr = '0.1'${')'.repeat(n)}` })],
    ['runs/search: n alternately nested AND/OR groups', 3000, MAX_NESTING, nesting, (n) => runSearch({ experiment_ids: ids(), filter: nested(n) })],
    ['runs/search: order_by of n param keys', 200, MAX_ORDER_KEYS, orderKeys, (n) => runSearch({ experiment_ids: ids(), order_by: Array.from({ length: n }, (_, i) => `params.p${i}`) })],
    ['runs/search: a filter value of n characters', 300_000, MAX_FILTER_LENGTH - longValue, filterLength, (n) => runSearch({ experiment_ids: ids(), filter: `params.lr = '${'a'.repeat(n)}'` })],
    ['runs/search: a LIKE pattern of n characters', 300_000, MAX_PATTERN_LENGTH - 2, pattern, (n) => runSearch({ experiment_ids: ids(), filter: `params.lr LIKE '%${'a'.repeat(n)}%'` })],
    ['experiments/search: a filter of n conditions joined by OR', 3000, MAX_CONDITIONS, conditions, (n) => expSearch({ filter: times(n, "name = 'x'").join(' OR ') })],
    ['experiments/search: an IN list of n strings', 40_000, MAX_LIST_VALUES, longList, (n) => expSearch({ filter: `tags.owner IN (${times(n, "'me'").join(',')})` })],
    ['experiments/search: a condition inside n parentheses', 20_000, MAX_NESTING, nesting, (n) => expSearch({ filter: `${'('.repeat(n)}name = 'x'${')'.repeat(n)}` })],
    ['experiments/search: order_by of n clauses', 3000, MAX_ORDER_KEYS, orderKeys, (n) => expSearch({ order_by: Array.from({ length: n }, (_, i) => EXP_ORDER[i % EXP_ORDER.length]) })],
    ['get-history-bulk-interval: n run_ids', 300, BULK_MAX_RUNS, /must specify at most 100 run_ids\. Received \d+ run_ids/, (n) => ({ method: 'GET', url: `/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?metric_key=loss&${times(n, `run_ids=${seed.runId}`).join('&')}` })],
    ['lablog sampled: n keys', 3000, SAMPLED_MAX_KEYS, /^'keys' may contain at most 1000 metric keys\. Got \d+\.$/, (n) => ({ method: 'GET', url: `/api/2.0/lablog/metrics/sampled?run_ids=${seed.runId}&${Array.from({ length: n }, (_, i) => `keys=k${i}`).join('&')}` })],
  ];
  for (const [label, max, limit, refusal, build] of SIZED) {
    it(`${label}: 200 up to ${limit}, then 400 naming the bound`, async () => {
      // The largest size and both sides of the bound run first; random sizes fill in between.
      await fc.assert(
        fc.asyncProperty(fc.noBias(fc.integer({ min: 1, max })), async (n) => {
          const res = await exercise(build(n));
          if (n <= limit) {
            assert.equal(res.status, 200, `n=${n}: ${JSON.stringify(res.json)?.slice(0, 300)}`);
          } else {
            assert.equal(res.status, 400, `n=${n}`);
            assert.equal(res.json.error_code, 'INVALID_PARAMETER_VALUE');
            assert.match(res.json.message, refusal);
            assert.ok(res.json.message.length < 1000, `the message does not repeat the whole request (${res.json.message.length} characters)`);
          }
        }),
        { numRuns: 15, examples: [[max], [limit], [limit + 1]] },
      );
    });
  }
});
