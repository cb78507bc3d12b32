import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { inspectJson, MAX_JSON_DEPTH } from '../../server/http/limits.js';
import { buildTestApp, injectJson, listen, seedRun, type TestApp } from '../helper.js';
import { openRaw } from '../support/raw-http.js';

const nestedArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('JSON nesting cap', () => {
  let t: TestApp;
  let runId: string;
  before(async () => {
    t = await buildTestApp();
    ({ runId } = await seedRun(t));
  });
  after(() => t.close());

  const post = (url: string, payload: string) => injectJson(t.app, { method: 'POST', url: `/api/2.0/mlflow/${url}`, payload, headers: { 'content-type': 'application/json' } });
  const tags = async () => (await t.get('runs/get', { run_id: runId })).json.run.data.tags as { key: string; value: string }[];

  test('counts arrays and objects inside one another, not brackets inside strings', () => {
    const deeper = (text: string, max: number) => inspectJson(JSON.parse(text), max) === 'too-deep';
    assert.equal(deeper(nestedArray(3), 3), false);
    assert.equal(deeper(nestedArray(4), 3), true);
    assert.equal(deeper(nestedObject(3), 3), false);
    assert.equal(deeper(nestedObject(4), 3), true);
    assert.equal(deeper(`[[[1]],[[{"a":[]}]]]`, 3), true, 'a deep branch after a shallow one');
    assert.equal(deeper(`{"v":"${'['.repeat(100)}"}`, 3), false);
    assert.equal(deeper(`{"v":"\\"${'{'.repeat(100)}"}`, 3), false, 'an escaped quote does not end the string');
    assert.equal(deeper(`{"v":"\\\\","w":[[[1]]]}`, 3), true, 'an escaped backslash does');
    assert.equal(deeper('"text"', 0), false);
  });

  test('finds the keys secure-json-parse refuses, at any place, and nothing else', () => {
    const poisoned = (text: string) => inspectJson(JSON.parse(text), MAX_JSON_DEPTH) === 'prototype-key';
    for (const text of ['{"__proto__":{"x":1}}', '{"__proto__":null}', '[1,{"a":[{"__proto__":1}]}]', '{"constructor":{"prototype":{"x":1}}}', '{"a":{"b":{"constructor":{"prototype":null}}}}']) {
      assert.equal(poisoned(text), true, text);
    }
    for (const text of ['{"constructor":{"x":1}}', '{"constructor":"prototype"}', '{"x":"__proto__"}', '{"prototype":{"constructor":1}}', '{"__proto":1,"proto__":2}', '["__proto__"]']) {
      assert.equal(poisoned(text), false, text);
    }
  });

  test('a body with a prototype-poisoning key is refused with 400, as Fastify refuses it, and nothing stored', async () => {
    for (const extra of ['"__proto__":{"polluted":"yes"}', '"constructor":{"prototype":{"polluted":"yes"}}']) {
      const res = await post('runs/set-tag', `{"run_id":"${runId}","key":"poison","value":"v","x":[{${extra}}]}`);
      assert.equal(res.status, 400, res.body);
      // The answer the previous parser (secure-json-parse's scans) gave, word for word.
      assert.deepEqual(res.json, { error_code: 'INVALID_PARAMETER_VALUE', message: "Malformed JSON in request body: Body is not valid JSON but content-type is set to 'application/json'" });
    }
    assert.deepEqual((await tags()).filter((x) => x.key === 'poison'), []);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  for (const [shape, build] of [['arrays', nestedArray], ['objects', nestedObject]] as const) {
    test(`${shape} nested ${MAX_JSON_DEPTH + 1} deep, or 100,000 deep, are refused with 400 and nothing stored`, async () => {
      for (const depth of [MAX_JSON_DEPTH + 1, 100_000]) {
        for (const [url, body] of [
          ['runs/set-tag', `{"run_id":${build(depth)},"key":"k","value":"v"}`],
          ['runs/set-tag', `{"run_id":"${runId}","key":"deep","value":"v","extra":${build(depth)}}`],
          ['runs/log-batch', `{"run_id":"${runId}","metrics":${build(depth)}}`],
          ['experiments/create', `{"name":"deep","tags":[${build(depth - 1)}]}`],
        ] as const) {
          const res = await post(url, body);
          assert.equal(res.status, 400, `${url} at depth ${depth}: ${res.body.slice(0, 200)}`);
          assert.deepEqual(res.json, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Malformed JSON in request body: nested deeper than ${MAX_JSON_DEPTH} levels, the most lablog accepts`,
          });
        }
      }
      assert.deepEqual((await tags()).filter((x) => x.key === 'deep' || x.key === 'k'), []);
      assert.equal((await t.get('experiments/get-by-name', { experiment_name: 'deep' })).status, 404);
    });
  }

  test(`${MAX_JSON_DEPTH} levels are accepted, and a wrongly typed value that deep is worded as a 400`, async () => {
    const accepted = await post('runs/set-tag', `{"run_id":"${runId}","key":"at-cap","value":"v","extra":${nestedArray(MAX_JSON_DEPTH - 1)}}`);
    assert.equal(accepted.status, 200, accepted.body);
    assert.ok((await tags()).some((x) => x.key === 'at-cap' && x.value === 'v'));
    const wrong = await post('runs/set-tag', `{"run_id":${nestedArray(MAX_JSON_DEPTH - 1)},"key":"k","value":"v"}`);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error_code, 'INVALID_PARAMETER_VALUE');
    assert.match(wrong.json.message, /parameter 'run_id'/);
  });

  test('brackets inside a string value do not count and are stored as sent', async () => {
    const value = '[{'.repeat(2000);
    const res = await post('runs/set-tag', JSON.stringify({ run_id: runId, key: 'brackets', value }));
    assert.equal(res.status, 200, res.body);
    assert.equal((await tags()).find((x) => x.key === 'brackets')?.value, value);
  });
});

// Node's own defaults (60 s for headers, none for bodies) would let these tests hang past the timeout.
describe('slow clients: header, body and idle timeouts', { timeout: 20_000 }, () => {
  let t: TestApp;
  let port: number;
  let runId: string;
  before(async () => {
    t = await buildTestApp({ limits: { headersTimeout: 0.3, bodyTimeout: 0.3, idleTimeout: 30 } });
    port = await listen(t);
    ({ runId } = await seedRun(t));
  });
  after(() => t.close());

  test('headers that never finish: 408 and the connection closed, while other clients are answered', async () => {
    const slow = openRaw(port);
    await slow.connected;
    slow.socket.write('GET /health HTTP/1.1\r\nHost: lablog.test\r\n');
    const meanwhile = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(meanwhile.status, 200);
    const { responses } = await slow.closed;
    assert.equal(responses.length, 1);
    assert.equal(responses[0].status, 408);
  });

  test('a JSON body that stops arriving: 408 in the MLflow error shape, the connection closed, nothing stored', async () => {
    const body = JSON.stringify({ run_id: runId, key: 'trickled', value: 'v' });
    const slow = openRaw(port);
    await slow.connected;
    slow.socket.write(`POST /api/2.0/mlflow/runs/set-tag HTTP/1.1\r\nHost: lablog.test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
    const { responses } = await slow.closed;
    assert.equal(responses.length, 1);
    assert.equal(responses[0].status, 408);
    assert.deepEqual(JSON.parse(responses[0].body), {
      error_code: 'BAD_REQUEST',
      message: 'Request body not received within 0.3 s (LABLOG_BODY_TIMEOUT); the connection is closed.',
    });
    const tags = (await t.get('runs/get', { run_id: runId })).json.run.data.tags as { key: string }[];
    assert.equal(tags.some((x) => x.key === 'trickled'), false);
  });

  test('an artifact upload may pause longer than the body timeout: only the idle timeout bounds it', async () => {
    const content = Buffer.alloc(200_000, 3);
    const url = `/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/paused.bin`;
    const upload = openRaw(port);
    await upload.connected;
    upload.socket.write(`PUT ${url} HTTP/1.1\r\nHost: lablog.test\r\nContent-Type: application/octet-stream\r\nContent-Length: ${content.length}\r\nConnection: close\r\n\r\n`);
    upload.socket.write(content.subarray(0, 100_000));
    // Several body timeouts long: a deadline wrongly applied to uploads would fire during it.
    await sleep(1200);
    upload.socket.write(content.subarray(100_000));
    const { responses } = await upload.closed;
    assert.equal(responses[0]?.status, 200, responses[0]?.body);
    const stored = await t.app.inject({ method: 'GET', url });
    assert.equal(stored.statusCode, 200);
    assert.ok(stored.rawPayload.equals(content));
  });
});

describe('idle connections and the connection cap', { timeout: 20_000 }, () => {
  test('a connection silent both ways is closed after the idle timeout', async () => {
    const t = await buildTestApp({ limits: { idleTimeout: 0.3 } });
    try {
      const port = await listen(t);
      const idle = openRaw(port);
      await idle.connected;
      const { bytes, error } = await idle.closed;
      assert.equal(bytes, 0);
      assert.equal(error, undefined);
    } finally {
      await t.close();
    }
  });

  test('past LABLOG_MAX_CONNECTIONS a new connection is dropped; once one closes, the next is served', async () => {
    const t = await buildTestApp({ limits: { maxConnections: 2 } });
    const connections = () => new Promise<number>((resolve, reject) => t.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    try {
      const port = await listen(t);
      const held = [openRaw(port), openRaw(port)];
      await Promise.all(held.map((h) => h.connected));
      while ((await connections()) < 2) await sleep(10);
      const third = openRaw(port);
      third.socket.write('GET /health HTTP/1.1\r\nHost: lablog.test\r\n\r\n');
      const dropped = await third.closed;
      assert.equal(dropped.responses.length, 0, 'no answer over the cap');
      held[0].socket.end();
      await held[0].closed;
      while ((await connections()) >= 2) await sleep(10);
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(res.status, 200);
      held[1].socket.end();
    } finally {
      await t.close();
    }
  });
});
