import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends, buildTestApp, seedRun, type TestApp } from '../helper.js';

// The API reference: every API route Fastify knows is in the OpenAPI document, with its request schema.

const DOCS = ['/api/openapi.json', '/api/docs', '/api/docs/docs.js', '/api/docs/docs.css'];

/** A Fastify route pattern in OpenAPI form, as @fastify/swagger writes it (`:id` → `{id}`, `*` → `{*}`). */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{*}');
}

describe('the OpenAPI document and the reference page', () => {
  let t: TestApp;
  let doc: any;
  before(async () => {
    t = await buildTestApp();
    const res = await t.get('/api/openapi.json');
    assert.equal(res.status, 200, res.body.slice(0, 300));
    doc = res.json;
  });
  after(() => t.close());

  it('is OpenAPI 3.1 with lablog info, tags and security schemes', () => {
    assert.match(doc.openapi, /^3\.1\./);
    assert.equal(doc.info.title, 'lablog');
    assert.match(doc.info.version, /^\d+\.\d+\.\d+/);
    const tags = doc.tags.map((x: { name: string }) => x.name);
    for (const tag of ['experiments', 'runs', 'metrics', 'artifacts', 'sweeps', 'auth', 'users', 'tokens', 'permissions', 'audit']) assert.ok(tags.includes(tag), tag);
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['basic', 'bearer']);
  });

  it('lists every API route with its method', () => {
    const api = t.app.routeTable.filter(
      (r) => (r.url.startsWith('/api/') || r.url.startsWith('/ajax-api/')) && r.method !== 'HEAD' && !DOCS.includes(r.url),
    );
    assert.ok(api.length > 100, `only ${api.length} API routes`);
    const missing = api.filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(missing, []);
    for (const d of DOCS) assert.equal(doc.paths[d], undefined, `${d} documents itself`);
    // Every operation has a tag the document declares, and a summary.
    const declared = new Set(doc.tags.map((x: { name: string }) => x.name));
    for (const [p, ops] of Object.entries<Record<string, { tags: string[]; summary: string }>>(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        assert.ok(op.tags?.every((tag) => declared.has(tag)), `${m} ${p}: tags ${op.tags}`);
        assert.ok(op.summary, `${m} ${p}: no summary`);
      }
    }
  });

  it('carries the request schemas (runs/log-batch)', () => {
    const op = doc.paths['/api/2.0/mlflow/runs/log-batch'].post;
    assert.deepEqual(op.tags, ['runs']);
    const body = op.requestBody.content['application/json'].schema;
    assert.ok(body.properties.run_id, JSON.stringify(body));
    const metric = body.properties.metrics.items ?? body.properties.metrics.anyOf?.find((s: { items?: unknown }) => s.items)?.items;
    assert.ok(metric, JSON.stringify(body.properties.metrics));
    for (const k of ['key', 'value', 'timestamp', 'step']) assert.ok(metric.properties[k], `metric item lacks ${k}`);
    // A GET's querystring becomes parameters.
    const get = doc.paths['/api/2.0/mlflow/experiments/get'].get;
    assert.ok(get.parameters.some((p: { in: string; name: string }) => p.in === 'query' && p.name === 'experiment_id'));
  });

  it('/api/docs is an HTML page whose script and stylesheet are same-origin files', async () => {
    const page = await t.get('/api/docs');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<script type="module" src="\/api\/docs\/docs\.js"><\/script>/);
    assert.doesNotMatch(page.body.replace(/<script [^>]*src="[^"]+"><\/script>/g, ''), /<script/);
    const js = await t.get('/api/docs/docs.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.match(js.body, /openapi\.json/);
    assert.equal((await t.get('/api/docs/docs.css')).status, 200);
  });
});

describe('with auth on, the reference needs credentials', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ auth: {} });
  });
  after(() => t.close());

  it('answers 401 without credentials', async () => {
    for (const url of ['/api/openapi.json', '/api/docs', '/api/docs/docs.js']) {
      const res = await t.get(url);
      assert.equal(res.status, 401, url);
      assert.equal(res.json.error_code, 'UNAUTHENTICATED', url);
    }
  });
});

// Request examples. The rule: every API route whose request has a zod `body` or `querystring` schema
// documents at least one example, written next to that schema with `withExamples(schema, ...)`
// (server/api/schemas.ts), so a route added later (the Model Registry's, say) fails here until it has
// one. Each documented example must parse with the route's own schema, and, sent to the route (its
// ids swapped for a real run and experiment), must get past validation: no 5xx, and no schema failure;
// its answer must be described by the documented response (the 200 schemas of server/http/openapi-responses.ts,
// MLflow's error shape for 4XX/5XX), field by field.

const SCHEMA_FAILURE = /^Missing value for required parameter|Hint: Value was of type/;
const EX_RUN = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

interface Documented {
  method: string;
  url: string;
  part: 'body' | 'querystring';
  zod: { safeParse(v: unknown): { success: boolean; error?: unknown } };
  examples: unknown[];
}

/** The examples the document shows for a route: the body's media examples, or one query object built from its parameters' `example`s. */
function documentedExamples(doc: any, method: string, url: string, part: 'body' | 'querystring'): unknown[] {
  const op = doc.paths[openApiPath(url)]?.[method.toLowerCase()];
  if (!op) return [];
  if (part === 'body') {
    const media = op.requestBody?.content?.['application/json'];
    if (!media) return [];
    if (media.example !== undefined) return [media.example];
    return Object.values<{ value: unknown }>(media.examples ?? {}).map((e) => e.value);
  }
  const query = Object.fromEntries(
    (op.parameters ?? []).filter((p: any) => p.in === 'query' && p.example !== undefined).map((p: any) => [p.name, p.example]),
  );
  return Object.keys(query).length ? [query] : [];
}

/** Paths in a JSON value that its JSON Schema does not list (objects with `properties`, arrays with `items`). */
function undocumented(value: unknown, schema: any, at = '$'): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return options.some((o: unknown) => undocumented(value, o, at).length === 0) ? [] : undocumented(value, options[0], at);
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => undocumented(v, schema.items, `${at}[${i}]`)) : [];
  if (value !== null && typeof value === 'object' && schema.properties) {
    return Object.entries(value).flatMap(([k, v]) => (k in schema.properties ? undocumented(v, schema.properties[k], `${at}.${k}`) : [`${at}.${k}`]));
  }
  return [];
}

// On each backend: an example that passes validation must get a non-5xx answer from either store.
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('documented request examples', () => {
    let t: TestApp;
    let doc: any;
    let routes: Documented[];
    before(async () => {
      t = await buildTestApp({ backend });
      doc = (await t.get('/api/openapi.json')).json;
      routes = t.app.routeTable
        .filter((r) => (r.url.startsWith('/api/') || r.url.startsWith('/ajax-api/')) && r.method !== 'HEAD' && !DOCS.includes(r.url))
        .flatMap((r) =>
          (['body', 'querystring'] as const)
            .filter((part) => r.schema?.[part])
            .map((part) => ({ method: r.method, url: r.url, part, zod: r.schema![part] as Documented['zod'], examples: documentedExamples(doc, r.method, r.url, part) })),
        );
    });
    after(() => t.close());

    it('every route that takes a body or a query documents an example', () => {
      assert.ok(routes.length > 80, `only ${routes.length} routes with a request schema`);
      const missing = routes.filter((r) => r.examples.length === 0).map((r) => `${r.method} ${r.url} (${r.part}): wrap its schema in withExamples()`);
      assert.deepEqual(missing, []);
    });

    it('each example parses with the schema its route validates with', () => {
      for (const r of routes) {
        for (const ex of r.examples) {
          const parsed = r.zod.safeParse(ex);
          assert.ok(parsed.success, `${r.method} ${r.url} ${JSON.stringify(ex)}: ${String(parsed.error)}`);
        }
      }
    });

    it('each example, sent to its route, gets past validation', async () => {
      const { runId, experimentId } = await seedRun(t, { experiment: 'examples' });
      const swap = (v: unknown): unknown =>
        typeof v === 'string'
          ? v === '1' ? experimentId : v.replaceAll(EX_RUN, runId)
          : Array.isArray(v) ? v.map(swap) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'experiment_id' && x === '1' ? experimentId : swap(x)])) : v;
      let sent = 0;
      let described = 0;
      for (const r of routes) {
        const url = r.url.replace(/:[A-Za-z_]+/g, '1').replace('*', `${experimentId}/${runId}/artifacts/model.pkl`);
        for (const ex of r.examples) {
          const payload = swap(ex);
          const res = await t.call(r.method as 'GET' | 'POST' | 'PUT' | 'DELETE', url, payload as Record<string, string>);
          sent++;
          assert.ok(res.status < 500, `${r.method} ${url}: ${res.status} ${res.body.slice(0, 200)}`);
          assert.doesNotMatch(String(res.json?.message ?? ''), SCHEMA_FAILURE, `${r.method} ${url} ${JSON.stringify(payload)}`);
          // The documented response describes every field of the real one (200, or the error shape).
          const responses = doc.paths[openApiPath(r.url)][r.method.toLowerCase()].responses;
          const documented = responses[String(res.status)] ?? responses[`${String(res.status)[0]}XX`];
          const schema = documented?.content?.['application/json']?.schema;
          if (schema && res.json !== undefined) {
            assert.deepEqual(undocumented(res.json, schema), [], `${r.method} ${url} answered ${res.status} ${res.body.slice(0, 300)}`);
            if (res.status === 200) described++;
          }
        }
      }
      assert.ok(sent > 80, `only ${sent} examples sent`);
      assert.ok(described >= 20, `only ${described} successful answers checked against a documented 200 schema`);
      // A few examples did their work on the real run.
      const run = (await t.get('runs/get', { run_id: runId })).json.run;
      assert.ok(run.data.params?.some((p: { key: string }) => p.key === 'lr' || p.key === 'batch_size'), JSON.stringify(run.data));
    });
  });
});
