import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helper.js';

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
