import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DRAIN_MAX_BYTES } from '../../server/http/drain.js';
import { LIMITS } from '../../server/tracking/validation.js';
import { basic } from '../auth/auth.helpers.js';
import { ADMIN, buildTestApp, injectJson, listen, seedRun, type TestApp } from '../helper.js';

interface RawAnswer {
  /** Statuses and bodies of every response read on the connection, in order. */
  responses: { status: number; headers: Record<string, string>; body: string }[];
  /** A socket error while sending or reading (EPIPE, ECONNRESET), if any. */
  error?: string;
  /** How many body bytes the client managed to write before the socket ended. */
  sent: number;
}

/** Splits what came back on one connection into HTTP/1.1 responses (content-length bodies only). */
function parseResponses(raw: Buffer): RawAnswer['responses'] {
  const out: RawAnswer['responses'] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
    rest = rest.subarray(end + 4 + length);
  }
}

/**
 * Sends one request the way Python's http.client does: the whole body first, honouring backpressure,
 * and only then reads. `after` is written on the same connection once the body is out (a second,
 * pipelined request), to see whether the connection survives the refusal.
 */
function sendRaw(port: number, head: string, body: Buffer, opts: { chunked?: boolean; after?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let error: string | undefined;
    let sent = 0;
    socket.on('data', (d) => received.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => resolve({ responses: parseResponses(Buffer.concat(received)), error, sent }));
    const framing = opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
    socket.write(`${head}\r\nHost: lablog.test\r\n${framing}\r\n\r\n`);
    const piece = 64 * 1024;
    let off = 0;
    const pump = () => {
      while (off < body.length && !socket.destroyed) {
        const chunk = body.subarray(off, off + piece);
        off += chunk.length;
        const framed = opts.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
        const more = socket.write(framed, (err) => {
          if (!err) sent += chunk.length;
        });
        if (!more) return void socket.once('drain', pump);
      }
      if (socket.destroyed) return;
      if (opts.chunked) socket.write('0\r\n\r\n');
      // The last request asks the server to close, so 'close' marks the end of the answers.
      socket.write(opts.after ?? '', () => socket.end());
    };
    pump();
  });
}

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
