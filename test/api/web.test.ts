import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTestApp, type TestApp } from '../helper.js';

describe('the UI is served at / from the same server', () => {
  let t: TestApp;
  let root: string;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'lablog-web-'));
    mkdirSync(path.join(root, 'assets'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><div id="app"></div>');
    writeFileSync(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    t = await buildTestApp({ webRoot: root });
  });
  after(async () => {
    await t.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('/ and client-side routes get index.html; assets are cached for good', async () => {
    for (const url of ['/', '/runs?experiments=1', '/run/abc', '/compare?runs=a,b']) {
      const res = await t.get(url);
      assert.equal(res.status, 200, url);
      assert.match(String(res.headers['content-type']), /text\/html/, url);
      assert.equal(res.body, '<!doctype html><div id="app"></div>', url);
    }
    const asset = await t.get('/assets/index-abc123.js');
    assert.equal(asset.status, 200);
    assert.equal(asset.body, 'console.log(1)');
    assert.match(String(asset.headers['cache-control']), /immutable/);
    assert.equal(asset.headers['x-content-type-options'], 'nosniff');
  });

  test('API paths and missing assets keep their JSON 404', async () => {
    for (const url of ['/api/2.0/mlflow/nope', '/ajax-api/2.0/mlflow/x', '/api/2.0/lablog/y', '/assets/missing.js']) {
      const res = await t.get(url);
      assert.equal(res.status, 404, url);
      assert.equal(res.json.error_code, 'ENDPOINT_NOT_FOUND', url);
    }
    const post = await t.post('/runs', {});
    assert.equal(post.status, 404);
    assert.equal(post.json.error_code, 'ENDPOINT_NOT_FOUND', 'a POST to a UI route is no page');
  });

  test('without a built UI the root is a plain JSON 404', async () => {
    const bare = await buildTestApp({ webRoot: path.join(root, 'does-not-exist') });
    try {
      const res = await bare.get('/');
      assert.equal(res.status, 404);
      assert.equal(res.json.error_code, 'ENDPOINT_NOT_FOUND');
    } finally {
      await bare.close();
    }
  });
});
