// The MLflow UI's POST /ajax-api/2.0/mlflow/upload-artifact: the file lands byte-exact at <path> under
// the run's artifact root, MLflow's refusals in MLflow's order, and a viewer is refused with nothing stored.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { ADMIN, artifactBackends, buildTestApp, injectJson, type TestApp } from '../helper.js';
import { assertError } from '../api/api.helpers.js';
import { basic, createUser } from '../auth/auth.helpers.js';
import { newRun, prngBytes } from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  const URL = '/ajax-api/2.0/mlflow/upload-artifact';
  const MAX = 10 * 1024 * 1024;

  let t: TestApp;
  afterEach(() => t.close());

  function upload(query: Record<string, string>, payload?: Buffer | string | Readable, headers: Record<string, string> = {}) {
    return injectJson(t.app, { method: 'POST', url: URL, query, payload, headers: { 'content-type': 'application/octet-stream', ...headers } });
  }

  describe('upload-artifact', () => {
    it('lands byte-exact at <path> under the run root, seen by get-artifact and artifacts/list', async () => {
      t = await buildTestApp({ artifacts: backend });
      const run = await newRun(t);
      const data = prngBytes('ui-upload', 300_000);
      const res = await upload({ run_uuid: run.runId, path: 'sub/dir/data.bin' }, data);
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json, {});
      assert.ok((await t.stored.read(`${run.rootRel}/sub/dir/data.bin`))!.equals(data));
      const got = await t.app.inject({ method: 'GET', url: '/get-artifact', query: { run_uuid: run.runId, path: 'sub/dir/data.bin' } });
      assert.equal(got.statusCode, 200);
      assert.ok(got.rawPayload.equals(data));
      const list = await t.get('artifacts/list', { run_id: run.runId, path: 'sub/dir' });
      assert.equal(list.status, 200, list.body);
      assert.deepEqual(list.json.files, [{ path: 'sub/dir/data.bin', is_dir: false, file_size: data.length }]);
    });

    it('takes any content type (JSON and form bodies are stored as sent) and a file at the top level', async () => {
      t = await buildTestApp({ artifacts: backend });
      const run = await newRun(t);
      const json = '{"a": [1, 2]}';
      assert.equal((await upload({ run_uuid: run.runId, path: 'x.json' }, json, { 'content-type': 'application/json' })).status, 200);
      assert.equal((await t.stored.read(`${run.rootRel}/x.json`))?.toString('utf8'), json);
      assert.equal((await upload({ run_uuid: run.runId, path: 'f.txt' }, 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' })).status, 200);
      assert.equal((await t.stored.read(`${run.rootRel}/f.txt`))?.toString('utf8'), 'a=1&b=2');
      const res = await injectJson(t.app, { method: 'POST', url: URL, query: { run_uuid: run.runId, path: 'plain' }, payload: 'no type', headers: {} });
      assert.equal(res.status, 200, res.body);
      assert.equal((await t.stored.read(`${run.rootRel}/plain`))?.toString('utf8'), 'no type');
    });

    it('accepts exactly 10 MB, refuses one byte more (declared or streamed) and stores nothing', async () => {
      t = await buildTestApp({ artifacts: backend });
      const run = await newRun(t);
      assert.equal((await upload({ run_uuid: run.runId, path: 'max.bin' }, Buffer.alloc(MAX, 7))).status, 200);
      const tooBig = 'Artifact size is too large. Max size is 10MB.';
      assertError(await upload({ run_uuid: run.runId, path: 'big.bin' }, Buffer.alloc(MAX + 1, 7)), 400, 'INVALID_PARAMETER_VALUE', tooBig);
      const chunks = [Buffer.alloc(MAX, 1), Buffer.alloc(1, 2)];
      assertError(await upload({ run_uuid: run.runId, path: 'big2.bin' }, Readable.from(chunks)), 400, 'INVALID_PARAMETER_VALUE', tooBig);
      assert.equal(await t.stored.exists(`${run.rootRel}/big.bin`), false);
      assert.equal(await t.stored.exists(`${run.rootRel}/big2.bin`), false);
    });

    it("refuses in MLflow's order: run_uuid, path, path safety, size, data", async () => {
      t = await buildTestApp({ artifacts: backend });
      const run = await newRun(t);
      const before = await t.stored.tree();
      const bad = (res: Awaited<ReturnType<typeof upload>>, message: string) => assertError(res, 400, 'INVALID_PARAMETER_VALUE', message);
      const big = Buffer.alloc(MAX + 1);
      bad(await upload({}, big), 'Request must specify run_uuid.');
      bad(await upload({ run_uuid: '', path: '../x' }, big), 'Request must specify run_uuid.');
      bad(await upload({ run_uuid: run.runId }, big), 'Request must specify path.');
      bad(await upload({ run_uuid: run.runId, path: '' }, big), 'Request must specify path.');
      for (const p of ['../escape', 'a/../../b', '/abs/file', 'a#b', 'a\\b', '.', 'C:/x']) {
        bad(await upload({ run_uuid: run.runId, path: p }, big), 'Invalid path');
      }
      bad(await upload({ run_uuid: run.runId, path: 'ok.bin' }, big), 'Artifact size is too large. Max size is 10MB.');
      bad(await upload({ run_uuid: run.runId, path: 'ok.bin' }), 'Request must specify data.');
      bad(await upload({ run_uuid: run.runId, path: 'ok.bin' }, ''), 'Request must specify data.');
      assert.deepEqual(await t.stored.tree(), before);
      assertError(await upload({ run_uuid: 'f'.repeat(32), path: 'ok.bin' }, 'data'), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('is served under ajax-api only, as in MLflow', async () => {
      t = await buildTestApp({ artifacts: backend });
      const run = await newRun(t);
      const res = await injectJson(t.app, { method: 'POST', url: '/api/2.0/mlflow/upload-artifact', query: { run_uuid: run.runId, path: 'a' }, payload: 'x' });
      assert.equal(res.status, 404, res.body);
    });

    it('with auth on: a viewer gets 403 and nothing is stored; no credentials get 401; the admin may upload', async () => {
      t = await buildTestApp({ artifacts: backend, auth: {} });
      const admin = basic(ADMIN.username, ADMIN.password);
      const exp = await t.call('POST', 'experiments/create', { name: 'uploads' }, admin);
      assert.equal(exp.status, 200, exp.body);
      const created = await t.call('POST', 'runs/create', { experiment_id: exp.json.experiment_id }, admin);
      const runId = created.json.run.info.run_id;
      await createUser(t, admin, 'vera', 'viewer-password-1', 'viewer');
      const before = await t.stored.tree();
      const res = await upload({ run_uuid: runId, path: 'v.txt' }, 'viewer data', basic('vera', 'viewer-password-1'));
      assertError(res, 403, 'PERMISSION_DENIED');
      assert.deepEqual(await t.stored.tree(), before);
      const anon = await upload({ run_uuid: runId, path: 'v.txt' }, 'anon data');
      assertError(anon, 401, 'UNAUTHENTICATED');
      const ok = await upload({ run_uuid: runId, path: 'a.txt' }, 'admin data', admin);
      assert.equal(ok.status, 200, ok.body);
      assert.equal((await t.stored.read(`${exp.json.experiment_id}/${runId}/artifacts/a.txt`))?.toString('utf8'), 'admin data');
    });
  });
});
}
