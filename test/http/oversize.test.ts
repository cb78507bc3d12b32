import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DRAIN_MAX_BYTES } from '../../server/http/drain.js';
import { LIMITS } from '../../server/tracking/validation.js';
import { basic } from '../auth/auth.helpers.js';
import { ADMIN, buildTestApp, injectJson, listen, seedRun, type TestApp } from '../helper.js';
import { sendRaw } from '../support/raw-http.js';

const GET_HEALTH_AND_CLOSE = 'GET /health HTTP/1.1\r\nHost: lablog.test\r\nConnection: close\r\n\r\n';

/** A log-batch body of `n` metrics: 100,000 of them are about 5.5 MB, over five times the endpoint's limit. */
function logBatch(runId: string, n: number): Buffer {
  const metrics = Array.from({ length: n }, (_, i) => ({ key: 'loss', value: i / 7, timestamp: 1_700_000_000_000 + i, step: i }));
  return Buffer.from(JSON.stringify({ run_id: runId, metrics }));
}

describe('an oversized body gets its answer, not a reset', () => {
  let t: TestApp;
  let port: number;
  let runId: string;
  before(async () => {
    t = await buildTestApp({ maxArtifactBytes: 1024 * 1024 });
    port = await listen(t);
    ({ runId } = await seedRun(t));
  });
  after(() => t.close());

  const storedMetrics = async () => {
    const res = await injectJson(t.app, { method: 'GET', url: `/api/2.0/mlflow/runs/get?run_id=${runId}` });
    assert.equal(res.status, 200);
    return res.json.run.data.metrics ?? [];
  };

  for (const chunked of [false, true]) {
    test(`a log-batch of 100,000 metrics (${chunked ? 'chunked' : 'content-length'}) is read to its end and refused naming the limit`, async () => {
      const body = logBatch(runId, 100_000);
      assert.ok(body.length > 5 * LIMITS.batchBytes);
      const answer = await sendRaw(port, 'POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nContent-Type: application/json', body, { chunked, after: GET_HEALTH_AND_CLOSE });
      assert.equal(answer.error, undefined, 'no broken pipe or reset while the client sends');
      assert.equal(answer.sent, body.length, 'the whole body went out');
      assert.equal(answer.responses.length, 2, 'the refusal, then the pipelined /health on the same connection');
      const [refusal, health] = answer.responses;
      assert.equal(refusal.status, 400);
      assert.deepEqual(JSON.parse(refusal.body), {
        error_code: 'INVALID_PARAMETER_VALUE',
        message: `Request body too large: at most ${LIMITS.batchBytes} bytes are accepted on this endpoint.`,
      });
      assert.equal(health.status, 200);
      assert.deepEqual(await storedMetrics(), [], 'nothing of the refused batch is stored');
    });
  }

  test('any other JSON body over LABLOG_BODY_LIMIT (8 MiB here) is drained and refused naming that limit', async () => {
    const body = Buffer.from(JSON.stringify({ name: 'huge', tags: [{ key: 'k', value: 'v'.repeat(9 * 1024 * 1024) }] }));
    const answer = await sendRaw(port, 'POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nContent-Type: application/json', body, { after: GET_HEALTH_AND_CLOSE });
    assert.equal(answer.error, undefined);
    assert.equal(answer.responses.length, 2);
    assert.deepEqual(JSON.parse(answer.responses[0].body), {
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Request body too large: at most ${8 * 1024 * 1024} bytes are accepted on this endpoint.`,
    });
    assert.equal((await injectJson(t.app, { method: 'GET', url: '/api/2.0/mlflow/experiments/get-by-name?experiment_name=huge' })).status, 404);
  });

  test('a large body with a content type MLflow does not accept is drained and refused', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'x');
    const answer = await sendRaw(port, 'POST /api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nContent-Type: text/plain', body, { after: GET_HEALTH_AND_CLOSE });
    assert.equal(answer.error, undefined);
    assert.equal(answer.sent, body.length);
    assert.equal(answer.responses.length, 2);
    const refusal = answer.responses[0];
    assert.ok(refusal.status >= 400 && refusal.status < 500, `status ${refusal.status}`);
    assert.equal(typeof JSON.parse(refusal.body).error_code, 'string');
    assert.equal(answer.responses[1].status, 200);
    assert.deepEqual(await storedMetrics(), []);
  });

  test('an artifact upload over the size limit is drained, refused, and leaves no file behind', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const url = `/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/big.bin`;
    const answer = await sendRaw(port, `PUT ${url} HTTP/1.1\r\nContent-Type: application/octet-stream`, body, { after: GET_HEALTH_AND_CLOSE });
    assert.equal(answer.error, undefined);
    assert.equal(answer.sent, body.length);
    assert.ok(answer.responses[0].status >= 400 && answer.responses[0].status < 500, `status ${answer.responses[0].status}`);
    assert.match(JSON.parse(answer.responses[0].body).message, /1048576|1 MiB|1\.0 MiB/);
    assert.equal((await t.app.inject({ method: 'GET', url })).statusCode, 404, 'no truncated artifact');
  });

  test('a body past the drain bound is cut off, and the server keeps answering', async () => {
    const body = Buffer.alloc(DRAIN_MAX_BYTES + 8 * 1024 * 1024, ' ');
    const answer = await sendRaw(port, 'POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nContent-Type: application/json', body);
    assert.ok(answer.sent < body.length, 'the server stopped reading before the end');
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await storedMetrics(), []);
  });
});

describe('with auth on, an unauthenticated upload is drained and refused with 401', () => {
  let t: TestApp;
  let port: number;
  let runId: string;
  before(async () => {
    t = await buildTestApp({ auth: {} });
    port = await listen(t);
    const created = await t.post('runs/create', { experiment_id: '0' }, basic(ADMIN.username, ADMIN.password));
    runId = created.json.run.info.run_id;
  });
  after(() => t.close());

  test('5 MB sent without credentials: 401 after the body, nothing stored', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 1);
    const url = `/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/intruder.bin`;
    const answer = await sendRaw(port, `PUT ${url} HTTP/1.1\r\nContent-Type: application/octet-stream`, body, { after: GET_HEALTH_AND_CLOSE });
    assert.equal(answer.error, undefined);
    assert.equal(answer.sent, body.length);
    assert.equal(answer.responses[0].status, 401);
    assert.equal(JSON.parse(answer.responses[0].body).error_code, 'UNAUTHENTICATED');
    assert.equal(answer.responses[1].status, 200);
    const stored = await t.app.inject({ method: 'GET', url, headers: basic(ADMIN.username, ADMIN.password) });
    assert.equal(stored.statusCode, 404);
  });
});
