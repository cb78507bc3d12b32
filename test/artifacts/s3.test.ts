// What only the S3 store has to get right (the shared artifact suites run on it too): Range reads
// across S3's multipart boundaries, listings and deletes past S3's 1,000-key pages, deletes that stay
// inside their prefix, a bucket used from its root, and a bucket that cannot be reached.
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helper.js';
import { freshBucket, startS3rver } from '../support/s3.js';
import { bucketKeys } from '../support/stored-artifacts.js';
import { artUrl, assertError, inject, listen, MiB, newRun, prngBytes, prngStream, putOk, request } from './artifacts.helpers.js';

let t: TestApp;
afterEach(() => t?.close());


describe('Range reads from S3', () => {
  it('serve the exact bytes of any range, also across the parts S3 stored the object in', async () => {
    const loc = await freshBucket();
    t = await buildTestApp({ artifacts: loc });
    const port = await listen(t);
    const { rootRel } = await newRun(t);
    // 20 MiB + 5: lib-storage sends it as a multipart upload of 5 MiB parts.
    const SIZE = 20 * MiB + 5;
    const rel = `${rootRel}/ckpt/model.bin`;
    const put = await request(port, 'PUT', artUrl(rel), { body: prngStream('ranges', SIZE), headers: { 'content-length': SIZE } });
    assert.equal(put.status, 200, put.text);
    const all = prngBytes('ranges', SIZE);
    assert.ok((await t.stored.read(rel))?.equals(all), 'the object holds the bytes sent');

    const etag = (await request(port, 'HEAD', artUrl(rel))).headers.etag!;
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=0-99', 0, 99],
      [`bytes=${5 * MiB - 10}-${5 * MiB + 9}`, 5 * MiB - 10, 5 * MiB + 9],
      [`bytes=${16 * MiB}-${16 * MiB}`, 16 * MiB, 16 * MiB],
      ['bytes=-7', SIZE - 7, SIZE - 1],
      [`bytes=${SIZE - 3}-`, SIZE - 3, SIZE - 1],
      [`bytes=${SIZE - 2}-${SIZE + 1000}`, SIZE - 2, SIZE - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await request(port, 'GET', artUrl(rel), { headers: { range } });
      assert.equal(res.status, 206, `${range}: ${res.text.slice(0, 200)}`);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${SIZE}`, range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
      assert.ok(res.body.equals(all.subarray(start, end + 1)), `${range}: other bytes`);
    }
    const ifRange = await request(port, 'GET', artUrl(rel), { headers: { range: 'bytes=5-9', 'if-range': etag } });
    assert.equal(ifRange.status, 206);
    assert.ok(ifRange.body.equals(all.subarray(5, 10)));
    const stale = await request(port, 'GET', artUrl(rel), { headers: { range: 'bytes=5-9', 'if-range': '"not-the-etag"' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, SIZE);
    const outside = await request(port, 'GET', artUrl(rel), { headers: { range: `bytes=${SIZE}-` } });
    assertError(outside, 416, 'INVALID_PARAMETER_VALUE');
    assert.equal(outside.headers['content-range'], `bytes */${SIZE}`);
  });
});

describe('more keys than one S3 page', () => {
  it('1,500 files in one folder are listed whole and in order, paged by the run listing, and deleted whole', async () => {
    const loc = await freshBucket();
    t = await buildTestApp({ artifacts: loc });
    const { runId, rootRel } = await newRun(t);
    const N = 1500;
    const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(4, '0')}.txt`);
    // Written straight to the bucket (as any S3 tool would): the listing is under test here, not PUT.
    for (let i = 0; i < N; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((n, j) => loc.client.send(new PutObjectCommand({ Bucket: loc.bucket, Key: `${loc.prefix}/${rootRel}/many/${n}`, Body: 'x'.repeat((i + j) % 7) }))),
      );
    }
    await putOk(t, `${rootRel}/many/zz/inner.txt`, 'inner');
    await putOk(t, `${rootRel}/many.txt`, 'beside the folder');

    const listed = await inject(t, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${rootRel}/many`)}`);
    assert.equal(listed.status, 200, listed.text.slice(0, 300));
    const expected = [...names.map((n, i) => ({ path: n, is_dir: false, file_size: i % 7 })), { path: 'zz', is_dir: true }];
    assert.deepEqual(listed.json.files, expected);

    const paged: { path: string }[] = [];
    let token: string | undefined;
    do {
      const res = await t.get('artifacts/list', token ? { run_id: runId, path: 'many', page_token: token } : { run_id: runId, path: 'many' });
      assert.equal(res.status, 200, res.body.slice(0, 300));
      paged.push(...res.json.files);
      token = res.json.next_page_token;
    } while (token);
    assert.deepEqual(paged.map((f) => f.path), expected.map((f) => `many/${f.path}`));

    const del = await inject(t, 'DELETE', artUrl(`${rootRel}/many`));
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(await bucketKeys(loc, `${loc.prefix}/${rootRel}/`), [`${loc.prefix}/${rootRel}/many.txt`]);
    assert.deepEqual((await inject(t, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${rootRel}/many`)}`)).json, {});
  });
});

describe('deleting a folder', () => {
  it('removes the keys under that folder only, not those that merely start with its name', async () => {
    t = await buildTestApp({ artifacts: 's3' });
    const { rootRel } = await newRun(t);
    for (const rel of ['d/a.txt', 'd/sub/b.txt', 'd-other/c.txt', 'd.txt', 'dd/e.txt', 'd2']) await putOk(t, `${rootRel}/${rel}`, rel);
    const before = await t.stored.tree(rootRel);
    const del = await inject(t, 'DELETE', artUrl(`${rootRel}/d`));
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(
      await t.stored.tree(rootRel),
      before.filter((l) => !l.startsWith('d/')),
    );
    assert.deepEqual((await t.stored.tree(rootRel)).map((l) => l.split(' ')[0]), ['d-other/', 'd-other/c.txt', 'd.txt', 'd2', 'dd/', 'dd/e.txt']);
    assertError(await inject(t, 'DELETE', artUrl(`${rootRel}/d`)), 404, 'RESOURCE_DOES_NOT_EXIST');
  });
});

describe('a bucket used from its root (s3://bucket, no prefix)', () => {
  it('keeps uploads in progress out of listings and out of reach of artifact paths', async () => {
    const loc = await freshBucket('');
    t = await buildTestApp({ artifacts: loc });
    const port = await listen(t);
    const { rootRel, experimentId } = await newRun(t);
    await putOk(t, `${rootRel}/a.txt`, 'a');
    const mpu = await request(port, 'POST', `/api/2.0/mlflow-artifacts/mpu/create/${rootRel}/big.bin`, {
      body: JSON.stringify({ path: `${rootRel}/big.bin`, num_parts: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(mpu.status, 200, mpu.text);
    assert.ok((await bucketKeys(loc, '.lablog-staging/')).length > 0, 'the upload waits in the staging folder');

    const root = await inject(t, 'GET', '/api/2.0/mlflow-artifacts/artifacts');
    assert.deepEqual(root.json, { files: [{ path: experimentId, is_dir: true }] });
    for (const rel of ['.lablog-staging', `.lablog-staging/mpu/${mpu.json.upload_id}/target`]) {
      assertError(await inject(t, 'GET', artUrl(rel)), 400, 'INVALID_PARAMETER_VALUE', `GET ${rel}`);
      assertError(await inject(t, 'PUT', artUrl(rel), { body: 'x' }), 400, 'INVALID_PARAMETER_VALUE', `PUT ${rel}`);
      assertError(await inject(t, 'DELETE', artUrl(rel)), 400, 'INVALID_PARAMETER_VALUE', `DELETE ${rel}`);
    }
    assert.ok((await bucketKeys(loc, '.lablog-staging/')).length > 0, 'the upload is still there');
  });
});

describe('a bucket that cannot be reached', () => {
  it('answers 503 TEMPORARILY_UNAVAILABLE to writes and reads, never 500', async () => {
    const server = await startS3rver();
    try {
      const loc = await freshBucket('artifacts', server);
      t = await buildTestApp({ artifacts: loc });
      const { rootRel } = await newRun(t);
      await putOk(t, `${rootRel}/before.txt`, 'stored while it was up');
      await server.stop();
      const put = await inject(t, 'PUT', artUrl(`${rootRel}/after.txt`), { body: 'x' });
      assertError(put, 503, 'TEMPORARILY_UNAVAILABLE', 'PUT');
      assert.match(put.json.message, /artifact bucket '.*' cannot be reached \(ECONNREFUSED\)/);
      assertError(await inject(t, 'GET', artUrl(`${rootRel}/before.txt`)), 503, 'TEMPORARILY_UNAVAILABLE', 'GET');
      assertError(await inject(t, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=${rootRel}`), 503, 'TEMPORARILY_UNAVAILABLE', 'list');
      assertError(await inject(t, 'DELETE', artUrl(`${rootRel}/before.txt`)), 503, 'TEMPORARILY_UNAVAILABLE', 'DELETE');
    } finally {
      await server.stop();
    }
  });
});
