// Issue 3, item 2 (multipart): mpu/create -> PUT each part to its credential URL -> mpu/complete
// reassembles byte-exact; wrong etags, aborts and unknown uploads leave no file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { artifactBackends, type TestApp } from '../helper.js';
import { assertError, downloadSha256, MiB, prngBytes, request, type Run, servedRun, sha256 } from './artifacts.helpers.js';

for (const backend of artifactBackends()) {
describe(`artifacts on the ${backend} artifact store`, () => {
  let t: TestApp;
  let port: number;
  afterEach(() => t.close());

  const JSON_HEADERS = { 'content-type': 'application/json' };
  const post = (url: string, body: unknown) => request(port, 'POST', url, { body: JSON.stringify(body), headers: JSON_HEADERS });

  async function setup(opts: { maxArtifactBytes?: number } = {}): Promise<Run> {
    let run: Run;
    ({ t, port, run } = await servedRun({ ...opts, artifacts: backend }));
    return run;
  }

  /** mpu/create for `rel` (artifact-root relative); asserts the answer's shape. */
  async function create(rel: string, numParts: number, prefix = '/api/2.0/mlflow-artifacts') {
    const res = await post(`${prefix}/mpu/create/${rel}`, { path: rel, num_parts: numParts });
    assert.equal(res.status, 200, res.text);
    const { upload_id, credentials } = res.json;
    assert.equal(typeof upload_id, 'string');
    assert.ok(upload_id.length > 0);
    assert.equal(credentials.length, numParts);
    credentials.forEach((c: any, i: number) => {
      assert.equal(c.part_number, i + 1);
      const u = new URL(c.url);
      assert.equal(u.origin, `http://127.0.0.1:${port}`, `absolute url: ${c.url}`);
      assert.ok(u.pathname.startsWith(prefix), c.url);
    });
    return { uploadId: upload_id as string, credentials: credentials as { url: string; part_number: number; headers?: Record<string, string> }[] };
  }

  /** PUT of one part's bytes to its credential URL; returns the ETag header (the part's quoted MD5, as S3 gives). */
  async function putPart(cred: { url: string; headers?: Record<string, string> }, body: Buffer): Promise<string> {
    const u = new URL(cred.url);
    const res = await request(port, 'PUT', u.pathname + u.search, { body, headers: { ...(cred.headers ?? {}) } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {});
    const etag = res.headers.etag;
    assert.equal(etag, `"${createHash('md5').update(body).digest('hex')}"`);
    return etag!;
  }

  const PARTS = [prngBytes('part 1', MiB + 1), prngBytes('part 2', 777_777), prngBytes('part 3', 12_345)];

  async function uploadAll(rel: string, prefix?: string) {
    const up = await create(rel, 3, prefix);
    const etags: string[] = [];
    for (let i = 0; i < 3; i++) etags.push(await putPart(up.credentials[i], PARTS[i]));
    const parts = up.credentials.map((c, i) => ({ part_number: c.part_number, etag: etags[i], url: c.url }));
    return { ...up, etags, parts };
  }

  describe('multipart upload', () => {
    it('create -> parts -> complete gives the byte-exact concatenation, even with the parts listed out of order', async () => {
      const { rootRel, runId } = await setup();
      const rel = `${rootRel}/ckpt/model.safetensors`;
      const up = await uploadAll(rel);
      assert.equal(new Set(up.etags).size, 3, 'each part has its own ETag');
      assert.equal(await t.stored.exists(`${rootRel}/ckpt/model.safetensors`), false, 'nothing at the target before complete');
      assertError(await request(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts/${rel}`), 404, 'RESOURCE_DOES_NOT_EXIST');

      const done = await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: [up.parts[2], up.parts[0], up.parts[1]] });
      assert.equal(done.status, 200, done.text);
      assert.deepEqual(done.json, {});

      const expected = Buffer.concat(PARTS);
      const onDisk = (await t.stored.read(`${rootRel}/ckpt/model.safetensors`))!;
      assert.equal(onDisk.length, expected.length);
      assert.equal(sha256(onDisk), sha256(expected));
      const got = await downloadSha256(port, `/api/2.0/mlflow-artifacts/artifacts/${rel}`);
      assert.equal(got.sha256, sha256(expected));
      assert.equal(got.headers['content-length'], String(expected.length));
      const list = await t.get('artifacts/list', { run_id: runId, path: 'ckpt' });
      assert.deepEqual(list.json.files, [{ path: 'ckpt/model.safetensors', is_dir: false, file_size: expected.length }]);
      assert.deepEqual((await t.stored.uploads()), [], 'the upload is gone once completed');
      assert.deepEqual((await t.stored.leftovers()), []);
    });

    it('works the same under /ajax-api/2.0 (credential URLs keep that prefix)', async () => {
      const { rootRel } = await setup();
      const prefix = '/ajax-api/2.0/mlflow-artifacts';
      const rel = `${rootRel}/ajax.bin`;
      const up = await uploadAll(rel, prefix);
      const done = await post(`${prefix}/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: up.parts });
      assert.equal(done.status, 200, done.text);
      assert.equal(sha256((await t.stored.read(`${rootRel}/ajax.bin`))!), sha256(Buffer.concat(PARTS)));
    });

    it('a wrong etag answers 400 and writes nothing; the upload can still be completed correctly', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/w.bin`;
      const up = await uploadAll(rel);
      const bad = up.parts.map((p, i) => (i === 1 ? { ...p, etag: '"0123456789abcdef0123456789abcdef"' } : p));
      assertError(await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: bad }), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal(await t.stored.exists(`${rootRel}/w.bin`), false);
      assert.deepEqual((await t.stored.leftovers()).filter((e) => !e.startsWith('mpu/')), []);

      const done = await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: up.parts });
      assert.equal(done.status, 200, done.text);
      assert.equal(sha256((await t.stored.read(`${rootRel}/w.bin`))!), sha256(Buffer.concat(PARTS)));
    });

    it('a part listed but never uploaded answers 400 and writes nothing', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/missing-part.bin`;
      const up = await create(rel, 3);
      const e1 = await putPart(up.credentials[0], PARTS[0]);
      const e3 = await putPart(up.credentials[2], PARTS[2]);
      const res = await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, {
        path: rel,
        upload_id: up.uploadId,
        parts: [{ part_number: 1, etag: e1 }, { part_number: 2, etag: e1 }, { part_number: 3, etag: e3 }],
      });
      assertError(res, 400, 'INVALID_PARAMETER_VALUE');
      assert.equal(await t.stored.exists(`${rootRel}/missing-part.bin`), false);
    });

    it('a part number listed twice is refused (400) rather than assembled twice', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/dup.bin`;
      const up = await uploadAll(rel);
      const res = await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, {
        path: rel,
        upload_id: up.uploadId,
        parts: [up.parts[0], up.parts[0], up.parts[1], up.parts[2]],
      });
      assertError(res, 400, 'INVALID_PARAMETER_VALUE');
      assert.equal(await t.stored.exists(`${rootRel}/dup.bin`), false);
    });

    it('a re-uploaded part replaces the earlier one: its old etag no longer completes', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/redo.bin`;
      const up = await create(rel, 2);
      const old = await putPart(up.credentials[0], Buffer.from('first try'));
      const fresh = await putPart(up.credentials[0], Buffer.from('second try'));
      const e2 = await putPart(up.credentials[1], Buffer.from('|tail'));
      const stale = await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: [{ part_number: 1, etag: old }, { part_number: 2, etag: e2 }] });
      assertError(stale, 400, 'INVALID_PARAMETER_VALUE');
      const ok = await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: [{ part_number: 1, etag: fresh }, { part_number: 2, etag: e2 }] });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await t.stored.read(`${rootRel}/redo.bin`))?.toString('utf8'), 'second try|tail');
    });

    it('complete for another path than the upload was created for answers 400 and writes nothing', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/a.bin`;
      const up = await uploadAll(rel);
      const other = `${rootRel}/b.bin`;
      assertError(await post(`/api/2.0/mlflow-artifacts/mpu/complete/${other}`, { path: other, upload_id: up.uploadId, parts: up.parts }), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal(await t.stored.exists(`${rootRel}/a.bin`), false);
      assert.equal(await t.stored.exists(`${rootRel}/b.bin`), false);
    });

    it('abort removes the upload: no file, and a later complete or part upload answers 404', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/aborted.bin`;
      const up = await uploadAll(rel);
      assert.deepEqual((await t.stored.uploads()).length, 1);
      const abort = await post(`/api/2.0/mlflow-artifacts/mpu/abort/${rel}`, { path: rel, upload_id: up.uploadId });
      assert.equal(abort.status, 200, abort.text);
      assert.deepEqual(abort.json, {});
      assert.deepEqual((await t.stored.uploads()), [], 'parts removed');
      assertError(await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts: up.parts }), 404, 'RESOURCE_DOES_NOT_EXIST');
      const u = new URL(up.credentials[0].url);
      assertError(await request(port, 'PUT', u.pathname, { body: 'late part' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await post(`/api/2.0/mlflow-artifacts/mpu/abort/${rel}`, { path: rel, upload_id: up.uploadId }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(await t.stored.exists(`${rootRel}/aborted.bin`), false);
      assert.deepEqual((await t.stored.leftovers()), []);
    });

    it('unknown or malformed upload ids answer 404 and touch nothing', async () => {
      const { rootRel } = await setup();
      const rel = `${rootRel}/x.bin`;
      const before = await t.stored.tree();
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-an-id', '../../artifacts', '../mpu', '']) {
        const parts = [{ part_number: 1, etag: '"abc"' }];
        assertError(await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: id, parts }), 404, 'RESOURCE_DOES_NOT_EXIST', `complete ${id}`);
        assertError(await post(`/api/2.0/mlflow-artifacts/mpu/abort/${rel}`, { path: rel, upload_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST', `abort ${id}`);
      }
      assertError(await request(port, 'PUT', '/api/2.0/mlflow-artifacts/mpu/upload/00000000-0000-4000-8000-000000000000/1', { body: 'p' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.deepEqual(await t.stored.tree(), before);
    assert.deepEqual(await t.stored.uploads(), []);
      assert.deepEqual((await t.stored.leftovers()), []);
    });

    it('the size limit applies to the assembled file (413, nothing written) and to each part', async () => {
      const { rootRel } = await setup({ maxArtifactBytes: 1000 });
      const rel = `${rootRel}/too-big.bin`;
      const up = await create(rel, 2);
      const parts = [
        { part_number: 1, etag: await putPart(up.credentials[0], Buffer.alloc(600, 1)) },
        { part_number: 2, etag: await putPart(up.credentials[1], Buffer.alloc(600, 2)) },
      ];
      assertError(await post(`/api/2.0/mlflow-artifacts/mpu/complete/${rel}`, { path: rel, upload_id: up.uploadId, parts }), 413, 'REQUEST_LIMIT_EXCEEDED');
      assert.equal(await t.stored.exists(`${rootRel}/too-big.bin`), false);
      const u = new URL(up.credentials[0].url);
      assertError(await request(port, 'PUT', u.pathname, { body: Buffer.alloc(1001) }), 413, 'REQUEST_LIMIT_EXCEEDED');
      assert.deepEqual((await t.stored.leftovers()).filter((e) => !e.startsWith('mpu/')), []);
    });
  });
});
}
