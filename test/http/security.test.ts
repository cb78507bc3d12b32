import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../server/config.js';
import { basic, bearer } from '../auth/auth.helpers.js';
import { ADMIN, buildTestApp, seedRun, type TestApp } from '../helper.js';

/** A stand-in for the built UI, so these tests do not depend on `npm run build -w web`. */
function fakeWebRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lablog-web-'));
  mkdirSync(path.join(root, 'assets'));
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc.js"></script><div id="app"></div>');
  writeFileSync(path.join(root, 'assets', 'index-abc.js'), 'console.log(1)');
  return root;
}

/** The directives of a Content-Security-Policy header, by name. */
function csp(header: unknown): Record<string, string[]> {
  assert.equal(typeof header, 'string', 'a Content-Security-Policy header');
  return Object.fromEntries(
    (header as string)
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name, values]),
  );
}

const preflight = (t: TestApp, origin: string, url = '/api/2.0/mlflow/runs/log-batch') =>
  t.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });

describe('security headers', () => {
  let t: TestApp;
  let root: string;
  before(async () => {
    root = fakeWebRoot();
    t = await buildTestApp({ webRoot: root });
  });
  after(async () => {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('the UI gets a strict Content-Security-Policy: same-origin scripts, styles, images and requests only', async () => {
    for (const url of ['/', '/runs?experiments=1', '/run/abc']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      const d = csp(res.headers['content-security-policy']);
      assert.deepEqual(d['default-src'], ["'self'"]);
      assert.deepEqual(d['script-src'], ["'self'"]);
      assert.deepEqual(d['style-src'], ["'self'"]);
      assert.deepEqual(d['connect-src'], ["'self'"]);
      assert.deepEqual(d['object-src'], ["'none'"]);
      assert.ok(d['img-src'].includes("'self'"));
      assert.ok(!('upgrade-insecure-requests' in d), 'no upgrade-insecure-requests: the server is often reached over plain http');
      for (const values of Object.values(d)) assert.ok(!values.includes("'unsafe-inline'") && !values.includes("'unsafe-eval'"), url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin');
      assert.equal(res.headers['strict-transport-security'], undefined, 'HSTS is left to whatever terminates TLS');
      assert.equal(res.headers['x-powered-by'], undefined);
    }
  });

  test('the API answers carry the headers too; without configured origins there is no CORS at all', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/2.0/mlflow/experiments/search?max_results=10', headers: { origin: 'https://elsewhere.example' } });
    assert.equal(res.statusCode, 200);
    assert.ok(res.headers['content-security-policy']);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const pre = await preflight(t, 'https://elsewhere.example');
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    assert.notEqual(pre.statusCode, 204);
  });

  test('artifact downloads keep their own headers: nosniff, attachment, and a sandbox CSP for scriptable files', async () => {
    const { experimentId, runId } = await seedRun(t);
    const put = (name: string, body: string) =>
      t.app.inject({ method: 'PUT', url: `/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/${name}`, payload: body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal((await put('page.html', '<script>alert(1)</script>')).statusCode, 200);
    assert.equal((await put('notes.txt', 'hello')).statusCode, 200);

    for (const url of [`/get-artifact?run_id=${runId}&path=page.html`, `/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/page.html`]) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-security-policy'], 'sandbox', url);
      assert.equal(res.headers['content-type'], 'application/octet-stream', url);
      assert.match(String(res.headers['content-disposition']), /^attachment; filename\*=UTF-8''page\.html$/, url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    }
    const txt = await t.app.inject({ method: 'GET', url: `/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/notes.txt` });
    assert.equal(txt.statusCode, 200);
    assert.equal(txt.body, 'hello');
    assert.equal(txt.headers['x-content-type-options'], 'nosniff');
    const download = await t.app.inject({ method: 'GET', url: `/get-artifact?run_id=${runId}&path=notes.txt` });
    assert.equal(download.statusCode, 200);
    assert.match(String(download.headers['content-disposition']), /^attachment; filename\*=UTF-8''notes\.txt$/);
    assert.equal(download.headers['x-content-type-options'], 'nosniff');
  });

  test('the SDK tarball is served with the headers as well, and without credentials', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/sdk/lablog-client.tgz' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });
});

describe('CORS with LABLOG_CORS_ORIGINS', () => {
  test('the setting is a comma-separated list, empty by default', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-cors-config-'));
    try {
      assert.deepEqual(loadConfig(['--data-dir', dir], {}).corsOrigins, []);
      assert.deepEqual(loadConfig(['--data-dir', dir], { LABLOG_CORS_ORIGINS: 'https://a.example, https://b.example:8443' }).corsOrigins, ['https://a.example', 'https://b.example:8443']);
      assert.deepEqual(loadConfig(['--data-dir', dir], { LABLOG_CORS_ORIGINS: '*' }).corsOrigins, ['*']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a list of origins', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ corsOrigins: ['https://notebook.example', 'http://localhost:8888'] });
    });
    after(async () => t?.close());

    test('a preflight from an allowed origin is answered: that origin, the methods and the Authorization header', async () => {
      for (const origin of ['https://notebook.example', 'http://localhost:8888']) {
        const res = await preflight(t, origin);
        assert.equal(res.statusCode, 204, origin);
        assert.equal(res.headers['access-control-allow-origin'], origin);
        assert.match(String(res.headers['access-control-allow-methods']), /POST/);
        assert.match(String(res.headers['access-control-allow-methods']), /PUT/);
        assert.match(String(res.headers['access-control-allow-headers']).toLowerCase(), /authorization/);
        assert.match(String(res.headers.vary), /Origin/);
      }
    });

    test('a preflight from any other origin is not allowed', async () => {
      for (const origin of ['https://evil.example', 'https://notebook.example.evil.example', 'null']) {
        const res = await preflight(t, origin);
        assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
      }
    });

    test('an actual request from an allowed origin gets the CORS answer and exposed headers; another origin does not', async () => {
      const ok = await t.app.inject({ method: 'GET', url: '/api/2.0/mlflow/experiments/search?max_results=10', headers: { origin: 'https://notebook.example' } });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.headers['access-control-allow-origin'], 'https://notebook.example');
      assert.match(String(ok.headers['access-control-expose-headers']), /ETag/);
      assert.equal(ok.headers['cross-origin-resource-policy'], 'cross-origin');
      const other = await t.app.inject({ method: 'GET', url: '/api/2.0/mlflow/experiments/search?max_results=10', headers: { origin: 'https://evil.example' } });
      assert.equal(other.headers['access-control-allow-origin'], undefined);
    });
  });

  describe('with auth on', () => {
    let t: TestApp;
    let token: string;
    before(async () => {
      t = await buildTestApp({ auth: {}, corsOrigins: ['https://notebook.example'] });
      const made = await t.call('POST', '/api/2.0/lablog/tokens/create', { name: 'notebook' }, basic(ADMIN.username, ADMIN.password));
      assert.equal(made.status, 200, made.body);
      token = made.json.token.value;
    });
    after(async () => t?.close());

    test('a preflight needs no credentials (a browser never sends them on one); the request itself does', async () => {
      const pre = await preflight(t, 'https://notebook.example');
      assert.equal(pre.statusCode, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://notebook.example');
      const other = await preflight(t, 'https://evil.example');
      assert.equal(other.headers['access-control-allow-origin'], undefined);

      const url = '/api/2.0/mlflow/experiments/search?max_results=10';
      const refused = await t.app.inject({ method: 'GET', url, headers: { origin: 'https://notebook.example' } });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.headers['access-control-allow-origin'], 'https://notebook.example', 'the page can read why it was refused');
      const ok = await t.app.inject({ method: 'GET', url, headers: { origin: 'https://notebook.example', ...bearer(token) } });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.headers['access-control-allow-origin'], 'https://notebook.example');
    });
  });

  describe('*', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ corsOrigins: ['*'] });
    });
    after(async () => t?.close());

    test('any origin is allowed', async () => {
      const res = await preflight(t, 'https://anywhere.example');
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], '*');
    });
  });
});
