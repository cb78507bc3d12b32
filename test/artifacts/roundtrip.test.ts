// Issue 3, items 1-2: artifact URIs of runs and experiments, and byte-exact round trips through the
// proxied artifact API (PUT then GET) over a real socket, including a 200 MB file streamed both ways.
import assert from 'node:assert/strict';
import { linkSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { artifactBackends, buildTestApp, type TestApp } from '../helper.js';
import {
  artUrl,
  downloadSha256,
  hashing,
  inject,
  listen,
  MiB,
  newRun,
  prngBytes,
  prngStream,
  request,
  sha256File,
  stagingLeftovers,
} from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  let t: TestApp;
  let port: number;

  beforeEach(async () => {
    t = await buildTestApp({ artifacts: backend });
    port = await listen(t);
  });
  afterEach(() => t.close());

  /** The artifact-root-relative dir of a run, taken from its artifact_uri the way MLflow clients do. */
  function proxiedPath(artifactUri: string): string {
    const m = /^mlflow-artifacts:\/(.*)$/.exec(artifactUri);
    assert.ok(m, `not a proxied URI: ${artifactUri}`);
    return m[1];
  }

  describe('artifact URIs', () => {
    it('runs in the Default experiment get mlflow-artifacts:/0/<run_id>/artifacts', async () => {
      const res = await t.post('runs/create', { experiment_id: '0' });
      assert.equal(res.status, 200, res.body);
      const runId = res.json.run.info.run_id;
      assert.equal(res.json.run.info.artifact_uri, `mlflow-artifacts:/0/${runId}/artifacts`);
      const got = await t.get('runs/get', { run_id: runId });
      assert.equal(got.json.run.info.artifact_uri, `mlflow-artifacts:/0/${runId}/artifacts`);
      const exp = await t.get('experiments/get', { experiment_id: '0' });
      assert.equal(exp.json.experiment.artifact_location, 'mlflow-artifacts:/0');
    });

    it('experiments get mlflow-artifacts:/<id> and their runs mlflow-artifacts:/<id>/<run_id>/artifacts', async () => {
      const created = await t.post('experiments/create', { name: 'plots' });
      assert.equal(created.status, 200, created.body);
      const id = created.json.experiment_id;
      assert.notEqual(id, '0');
      const exp = await t.get('experiments/get', { experiment_id: id });
      assert.equal(exp.json.experiment.artifact_location, `mlflow-artifacts:/${id}`);
      const run = await t.post('runs/create', { experiment_id: id });
      const runId = run.json.run.info.run_id;
      assert.equal(run.json.run.info.artifact_uri, `mlflow-artifacts:/${id}/${runId}/artifacts`);
      const list = await t.get('artifacts/list', { run_id: runId });
      assert.equal(list.status, 200, list.body);
      assert.deepEqual(list.json, { root_uri: `mlflow-artifacts:/${id}/${runId}/artifacts` });
    });

    it('a file PUT under the path of the artifact_uri is the run artifact the run listing shows', async () => {
      const run = await t.post('runs/create', { experiment_id: '0' });
      const info = run.json.run.info;
      const put = await request(port, 'PUT', artUrl(`${proxiedPath(info.artifact_uri)}/model/weights.bin`), { body: 'w' });
      assert.equal(put.status, 200, put.text);
      const list = await t.get('artifacts/list', { run_id: info.run_id, path: 'model' });
      assert.deepEqual(list.json, { root_uri: info.artifact_uri, files: [{ path: 'model/weights.bin', is_dir: false, file_size: 1 }] });
      assert.equal((await t.stored.read(`0/${info.run_id}/artifacts/model/weights.bin`))?.toString('utf8'), 'w');
    });
  });

  describe('round trips over a real socket', () => {
    async function roundTrip(rel: string, body: Buffer, headers: Record<string, string | number> = {}, prefix = '/api/2.0') {
      const put = await request(port, 'PUT', artUrl(rel, prefix), { body, headers: { 'content-length': body.length, ...headers } });
      assert.equal(put.status, 200, `PUT ${rel}: ${put.text}`);
      assert.deepEqual(put.json, {});
      const get = await request(port, 'GET', artUrl(rel, prefix));
      assert.equal(get.status, 200, get.text);
      assert.equal(get.headers['content-length'], String(body.length));
      assert.ok(get.body.equals(body), `GET ${rel} returned other bytes`);
      assert.ok((await t.stored.read(rel))?.equals(body), `file stored for ${rel}`);
    }

    it('an empty file', async () => {
      const { rootRel } = await newRun(t);
      await roundTrip(`${rootRel}/empty.txt`, Buffer.alloc(0));
      assert.equal((await t.stored.read(`${rootRel}/empty.txt`))?.length, 0);
    });

    it('a small text file, whatever Content-Type the client sends (none, JSON, text/plain)', async () => {
      const { rootRel } = await newRun(t);
      await roundTrip(`${rootRel}/notes.txt`, Buffer.from('loss went down\nthen up\n'));
      await roundTrip(`${rootRel}/metrics.json`, Buffer.from('{"not": "parsed",'), { 'content-type': 'application/json' });
      await roundTrip(`${rootRel}/plain.txt`, Buffer.from('plain text body'), { 'content-type': 'text/plain' });
      await roundTrip(`${rootRel}/form.txt`, Buffer.from('a=1&b=2'), { 'content-type': 'application/x-www-form-urlencoded' });
    });

    it('a binary file holding every byte value', async () => {
      const { rootRel } = await newRun(t);
      const body = Buffer.alloc(256 * 4);
      for (let i = 0; i < body.length; i++) body[i] = (i * 167 + (i >> 8)) & 0xff;
      assert.equal(new Set(body).size, 256);
      await roundTrip(`${rootRel}/bytes.bin`, body, { 'content-type': 'application/octet-stream' });
    });

    it('nested folders, spaces and non-ASCII names', async () => {
      const { rootRel } = await newRun(t);
      await roundTrip(`${rootRel}/plots/epoch 1/résumé.txt`, Buffer.from('é'));
      await roundTrip(`${rootRel}/日本/データ.csv`, Buffer.from('a,b\n1,2\n'));
      const list = await request(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${rootRel}/plots/epoch 1`)}`);
      assert.deepEqual(list.json, { files: [{ path: 'résumé.txt', is_dir: false, file_size: 2 }] });
    });

    it('the same API under /ajax-api/2.0', async () => {
      const { rootRel } = await newRun(t);
      await roundTrip(`${rootRel}/ajax.txt`, Buffer.from('via ajax'), {}, '/ajax-api/2.0');
      const viaApi = await request(port, 'GET', artUrl(`${rootRel}/ajax.txt`));
      assert.equal(viaApi.text, 'via ajax');
      const list = await request(port, 'GET', `/ajax-api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(rootRel)}`);
      assert.deepEqual(list.json, { files: [{ path: 'ajax.txt', is_dir: false, file_size: 8 }] });
      const del = await request(port, 'DELETE', artUrl(`${rootRel}/ajax.txt`, '/ajax-api/2.0'));
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.json, {});
      assert.equal(await t.stored.exists(`${rootRel}/ajax.txt`), false);
    });

    it('an overwrite replaces the whole file and its ETag, leaving nothing in staging', async () => {
      const { rootRel } = await newRun(t);
      const rel = `${rootRel}/model.ckpt`;
      await roundTrip(rel, Buffer.alloc(5000, 0x41));
      const etag1 = (await request(port, 'HEAD', artUrl(rel))).headers.etag;
      await roundTrip(rel, Buffer.from('short v2'));
      const etag2 = (await request(port, 'HEAD', artUrl(rel))).headers.etag;
      assert.ok(etag1 && etag2 && etag1 !== etag2, `etag changed: ${etag1} -> ${etag2}`);
      assert.deepEqual(await t.stored.leftovers(), []);
    });

    it('a local overwrite is a rename (a hard link to the old file keeps the old bytes)', { skip: backend !== 'local' && 'files on disk only' }, async () => {
      const { rootRel } = await newRun(t);
      const rel = `${rootRel}/model.ckpt`;
      const v1 = Buffer.alloc(5000, 0x41);
      await roundTrip(rel, v1);
      const onDisk = path.join(t.artifactsDir, rel);
      const before = statSync(onDisk);
      const etag1 = (await request(port, 'HEAD', artUrl(rel))).headers.etag;
      const oldLink = path.join(t.dir, 'old-version-link');
      linkSync(onDisk, oldLink);

      const v2 = Buffer.from('short v2');
      await roundTrip(rel, v2);
      assert.notEqual(statSync(onDisk).ino, before.ino, 'a new file was renamed into place');
      assert.ok(readFileSync(oldLink).equals(v1), 'the old file was not written in place');
      const etag2 = (await request(port, 'HEAD', artUrl(rel))).headers.etag;
      assert.ok(etag1 && etag2 && etag1 !== etag2, `etag changed: ${etag1} -> ${etag2}`);
      assert.deepEqual(stagingLeftovers(t), []);
    });
  });

  describe('a 200 MB file streamed both ways', () => {
    it('uploads and downloads byte-exact (sha256 of the sent and received streams)', async () => {
      const SIZE = 200 * MiB;
      const { rootRel } = await newRun(t);
      const rel = `${rootRel}/checkpoints/big.pt`;
      const sent = hashing(prngStream('200MB round trip', SIZE));
      const put = await request(port, 'PUT', artUrl(rel), {
        headers: { 'content-length': SIZE, 'content-type': 'application/octet-stream' },
        body: sent.stream,
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.json, {});
      const { sha256: sentSha, size: sentSize } = sent.digest();
      assert.equal(sentSize, SIZE);

      if (backend === 'local') {
        // Hashed from disk as it streams: the stored file is never read into memory whole.
        const onDisk = path.join(t.artifactsDir, rel);
        assert.equal(statSync(onDisk).size, SIZE);
        assert.equal(await sha256File(onDisk), sentSha);
      }
      assert.deepEqual(await t.stored.leftovers(), []);

      const got = await downloadSha256(port, artUrl(rel));
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-length'], String(SIZE));
      assert.equal(got.headers['content-type'], 'application/octet-stream');
      assert.equal(got.size, SIZE);
      assert.equal(got.sha256, sentSha);

      const list = await t.get('artifacts/list', { run_id: rootRel.split('/')[1], path: 'checkpoints' });
      assert.deepEqual(list.json.files, [{ path: 'checkpoints/big.pt', is_dir: false, file_size: SIZE }]);
    });

    it('the generator is deterministic and streams the same bytes it makes in memory', async () => {
      const chunks: Buffer[] = [];
      for await (const c of prngStream('seed', 3 * 65536 + 7, 65536)) chunks.push(c as Buffer);
      const streamed = Buffer.concat(chunks);
      assert.ok(streamed.equals(prngBytes('seed', 3 * 65536 + 7)));
      assert.ok(!streamed.equals(prngBytes('other seed', 3 * 65536 + 7)));
      assert.ok(new Set(streamed).size > 250);
    });
  });
});
}
