import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WEB_ROOT } from '../../server/http/web.js';
import { ADMIN, backends, buildTestApp, type TestApp } from '../helper.js';
import { basic, rowCounts } from './auth.helpers.js';

// Every route Fastify knows, walked without credentials: a route added later cannot slip through.
// Only /health, the SDK tarball, the login route and the UI's static shell answer, and none of those
// holds data.

const SECRET_NAME = 'secret-experiment-name-7f3a';

/** A concrete URL for a route pattern. */
function urlFor(pattern: string): string {
  return pattern
    .replace(/:uploadId/g, 'upload-1')
    .replace(/:part/g, '1')
    .replace(/:[a-z_]+/gi, '1')
    .replace(/\*$/, '1/abc/artifacts/file.txt');
}

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('with auth on, no route but the public ones answers without credentials', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, auth: {}, webRoot: WEB_ROOT });
      const made = await t.call('POST', 'experiments/create', { name: SECRET_NAME }, basic(ADMIN.username, ADMIN.password));
      assert.equal(made.status, 200, made.body);
    });
    after(() => t.close());

    it('walks the route table', async () => {
      const routes = t.app.routeTable;
      // The table is real: the MLflow API, lablog's own and the UI are all in it.
      for (const u of ['/api/2.0/mlflow/runs/log-batch', '/ajax-api/2.0/mlflow/runs/search', '/api/2.0/lablog/users/create', '/get-artifact', '/api/2.0/mlflow-artifacts/artifacts/*']) {
        assert.ok(routes.some((r) => r.url === u), `route table lacks ${u}`);
      }
      assert.ok(routes.length > 100, `only ${routes.length} routes`);
      const before = await rowCounts(t);
      const publicSeen: string[] = [];
      for (const r of routes) {
        const url = urlFor(r.url);
        const res = await t.app.inject({
          method: r.method as 'GET',
          url,
          headers: r.method === 'GET' || r.method === 'HEAD' ? {} : { 'content-type': 'application/json' },
          payload: r.method === 'GET' || r.method === 'HEAD' ? undefined : '{"name":"x","experiment_id":"1","run_id":"x","username":"admin","password":"wrong-password"}',
        });
        const where = `${r.method} ${r.url}`;
        if (r.url === '/health') {
          assert.equal(res.statusCode, 200, where);
          assert.equal(res.body, r.method === 'HEAD' ? '' : 'OK', where);
          publicSeen.push(where);
          continue;
        }
        if (r.url === '/api/2.0/lablog/auth/config') {
          // What the login page needs (is single sign-on on?): settings, no stored data.
          assert.equal(res.statusCode, 200, where);
          if (r.method !== 'HEAD') assert.deepEqual(res.json(), { auth_enabled: true, oidc_enabled: false });
          publicSeen.push(where);
          continue;
        }
        if (r.public) {
          // The login route: the wrong password is refused, nothing is answered.
          assert.equal(res.statusCode, 401, `${where}: ${res.body}`);
          assert.equal(res.json().error_code, 'UNAUTHENTICATED');
          publicSeen.push(where);
          continue;
        }
        const isData = ['/api/', '/ajax-api/', '/get-artifact', '/model-versions/get-artifact', '/version'].some((p) => r.url.startsWith(p));
        if (!isData) {
          // The UI's static files and the SDK tarball: the same bytes for everyone, no stored data in them.
          assert.ok(res.statusCode === 200 || res.statusCode === 404 || res.statusCode === 304, `${where}: ${res.statusCode}`);
          assert.ok(!res.body.includes(SECRET_NAME), `${where} leaks data`);
          publicSeen.push(where);
          continue;
        }
        assert.equal(res.statusCode, 401, `${where} answered ${res.statusCode} without credentials: ${res.body.slice(0, 200)}`);
        if (r.method !== 'HEAD') {
          assert.equal(res.json().error_code, 'UNAUTHENTICATED', where);
          assert.ok(!res.body.includes(SECRET_NAME), where);
        }
      }
      assert.deepEqual(await rowCounts(t), before, 'a refused request wrote something');
      assert.ok(publicSeen.includes('GET /health'));
      assert.ok(publicSeen.some((p) => p.includes('/auth/login')));
      assert.ok(publicSeen.some((p) => p.startsWith('GET /sdk/')), 'the SDK routes were not walked');
    });

    it('an unknown path under the API answers 401 too, not a hint of what exists', async () => {
      const res = await t.get('/api/2.0/mlflow/no-such-endpoint');
      assert.equal(res.status, 401);
      assert.equal(res.json.error_code, 'UNAUTHENTICATED');
    });

    it('the UI shell is served without credentials (it shows the login page) and holds no data', async () => {
      const res = await t.get('/experiments');
      assert.equal(res.status, 200);
      assert.match(res.body, /<div id="app">/);
      assert.ok(!res.body.includes(SECRET_NAME));
    });
  });
});
