import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, byKey, manualClock, oneRowOf, rowsOf, runPkOf, tableCountsOf } from './api.helpers.js';
import { tailPoints } from '../support/rows.js';

// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  interface Metric {
    key: string;
    value: number | string;
    timestamp: number;
    step: number;
  }

  let t: TestApp;
  let runId: string;

  beforeEach(async () => {
    t = await buildTestApp({ backend, now: manualClock().now });
    const res = await t.post('runs/create', { experiment_id: '0', run_name: 'batch' });
    assert.equal(res.status, 200, res.body);
    runId = res.json.run.info.run_id;
  });
  afterEach(() => t.close());

  const batch = (body: Record<string, unknown>) => t.post('runs/log-batch', { run_id: runId, ...body });
  const metrics = (n: number, key = 'm', from = 0): Metric[] =>
    Array.from({ length: n }, (_, i) => ({ key, value: (from + i) / 10, timestamp: 1000 + from + i, step: from + i }));
  const kvs = (n: number, prefix: string, value = (i: number) => `v${i}`) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: value(i) }));

  async function fullHistory(key: string): Promise<Metric[]> {
    const res = await t.get('metrics/get-history', { run_id: runId, metric_key: key });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.next_page_token, undefined);
    return res.json.metrics;
  }

  describe('runs/log-batch', () => {
    it('logs metrics, params and tags in one request', async () => {
      const res = await batch({
        metrics: [
          { key: 'loss', value: 0.9, timestamp: 100, step: 0 },
          { key: 'acc', value: 0.1, timestamp: 100, step: 0 },
          { key: 'loss', value: 0.5, timestamp: 200, step: 1 },
        ],
        params: [{ key: 'lr', value: '0.01' }, { key: 'opt', value: 'adam' }],
        tags: [{ key: 'stage', value: 'dev' }, { key: 'owner', value: 'ann' }],
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      const data = (await t.get('runs/get', { run_id: runId })).json.run.data;
      assert.deepEqual(byKey(data.metrics), [
        { key: 'acc', value: 0.1, timestamp: 100, step: 0 },
        { key: 'loss', value: 0.5, timestamp: 200, step: 1 },
      ]);
      assert.deepEqual(byKey(data.params), [{ key: 'lr', value: '0.01' }, { key: 'opt', value: 'adam' }]);
      assert.deepEqual(byKey(data.tags), [{ key: 'mlflow.runName', value: 'batch' }, { key: 'owner', value: 'ann' }, { key: 'stage', value: 'dev' }]);
      const pk = await runPkOf(t, runId);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM params WHERE run_id = ? ORDER BY key', pk), [{ key: 'lr', value: '0.01' }, { key: 'opt', value: 'adam' }]);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value, step, timestamp, count FROM metric_series WHERE run_id = ? ORDER BY key', pk), [
        { key: 'acc', value: 0.1, step: 0, timestamp: 100, count: 1 },
        { key: 'loss', value: 0.5, step: 1, timestamp: 200, count: 2 },
      ]);
      assert.deepEqual(await fullHistory('loss'), [
        { key: 'loss', value: 0.9, timestamp: 100, step: 0 },
        { key: 'loss', value: 0.5, timestamp: 200, step: 1 },
      ]);
    });

    it('accepts an empty batch and refuses a missing or unknown run', async () => {
      assert.equal((await batch({})).status, 200);
      assertError(await t.post('runs/log-batch', { metrics: metrics(1) }), 400, 'INVALID_PARAMETER_VALUE', /run_id/);
      assertError(await t.post('runs/log-batch', { run_id: 'e'.repeat(32), metrics: metrics(1) }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe('log-batch limits', () => {
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['1001 metrics', { metrics: metrics(1001) }, /at most 1000 metrics/],
      ['101 params', { params: kvs(101, 'p') }, /at most 100 params/],
      ['101 tags', { tags: kvs(101, 't') }, /at most 100 tags/],
      ['1001 entities in total', { metrics: metrics(900), params: kvs(100, 'p'), tags: kvs(1, 't') }, /1000/],
    ];
    for (const [what, body, message] of refused) {
      it(`refuses ${what} and writes nothing`, async () => {
        const before = await tableCountsOf(t);
        assertError(await batch(body), 400, 'INVALID_PARAMETER_VALUE', message);
        assert.deepEqual(await tableCountsOf(t), before);
      });
    }

    it('accepts exactly 1000 metrics, and 800 metrics + 100 params + 100 tags', async () => {
      assert.equal((await batch({ metrics: metrics(1000) })).status, 200);
      assert.equal((await batch({ metrics: metrics(800, 'n'), params: kvs(100, 'p'), tags: kvs(100, 't') })).status, 200);
      assert.equal((await oneRowOf<{ n: number }>(t, "SELECT count AS n FROM metric_series WHERE key = 'm'"))?.n, 1000);
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM params'))?.n, 100);
      assert.equal((await oneRowOf<{ n: number }>(t, "SELECT COUNT(*) AS n FROM tags WHERE key LIKE 't%'"))?.n, 100);
    });

    it('refuses a body over 1,000,000 bytes (each value within its own limit) and writes nothing', async () => {
      const body = { run_id: runId, params: kvs(100, 'p', () => 'x'.repeat(6000)), tags: kvs(100, 't', () => 'y'.repeat(5000)) };
      assert.ok(JSON.stringify(body).length > 1_000_000);
      const before = await tableCountsOf(t);
      assertError(await t.post('runs/log-batch', body), 400, 'INVALID_PARAMETER_VALUE', /too large|1,?000,?000/i);
      assert.deepEqual(await tableCountsOf(t), before);
    });

    it('accepts a body just under 1,000,000 bytes', async () => {
      const body = { run_id: runId, params: kvs(100, 'p', () => 'x'.repeat(6000)), tags: kvs(70, 't', () => 'y'.repeat(5000)) };
      const size = Buffer.byteLength(JSON.stringify(body));
      assert.ok(size > 900_000 && size < 1_000_000, `size ${size}`);
      assert.equal((await t.post('runs/log-batch', body)).status, 200);
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM params'))?.n, 100);
    });

    it('refuses duplicate param keys in one batch, even with equal values', async () => {
      const before = await tableCountsOf(t);
      assertError(await batch({ params: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'a', value: '1' }] }), 400, 'INVALID_PARAMETER_VALUE', /Duplicate/i);
      assertError(await batch({ params: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] }), 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await tableCountsOf(t), before);
    });
  });

  describe('log-batch atomicity: one bad entity, nothing written anywhere', () => {
    const good = () => ({ metrics: metrics(500), params: kvs(20, 'p'), tags: kvs(20, 't') });

    it('a metric with a bad key among 500 good ones', async () => {
      const before = await tableCountsOf(t);
      const b = good();
      b.metrics.splice(250, 0, { key: 'bad$key', value: 1, timestamp: 1, step: 0 });
      assertError(await batch(b), 400, 'INVALID_PARAMETER_VALUE', /bad\$key/);
      assert.deepEqual(await tableCountsOf(t), before);
    });

    it('a metric with a non-numeric value at the end of 500 good ones', async () => {
      const before = await tableCountsOf(t);
      const b = good();
      b.metrics.push({ key: 'm', value: 'not-a-number', timestamp: 1, step: 0 });
      assertError(await batch(b), 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await tableCountsOf(t), before);
    });

    // A fuzz seed found these: the names of Object.prototype's members once reached it through the
    // table of special double names, and the server answered 500.
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      it(`a metric whose value is the string '${name}' is refused, not a 500`, async () => {
        const before = await tableCountsOf(t);
        const b = good();
        b.metrics.push({ key: 'm', value: name as unknown as number, timestamp: 1, step: 0 });
        assertError(await batch(b), 400, 'INVALID_PARAMETER_VALUE', new RegExp(`^Invalid value ${name} for parameter 'metrics\\[500\\]\\.value' supplied\\. Hint: Value was of type 'str'\\.`));
        assert.deepEqual(await tableCountsOf(t), before);
      });
    }

    it('a param conflicting with a stored value, after new params and with 500 metrics', async () => {
      assert.equal((await t.post('runs/log-parameter', { run_id: runId, key: 'fixed', value: '1' })).status, 200);
      const before = await tableCountsOf(t);
      const b = good();
      b.params.push({ key: 'fixed', value: '2' });
      assertError(await batch(b), 400, 'INVALID_PARAMETER_VALUE', /Changing param values is not allowed/);
      assert.deepEqual(await tableCountsOf(t), before);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM params'), [{ key: 'fixed', value: '1' }]);
    });

    it('a tag with a bad key among good tags and 500 metrics', async () => {
      const before = await tableCountsOf(t);
      const b = good();
      b.tags.push({ key: '../escape', value: 'v' });
      assertError(await batch(b), 400, 'INVALID_PARAMETER_VALUE', /escape/);
      assert.deepEqual(await tableCountsOf(t), before);
    });
  });

  describe('log-batch ordering', () => {
    it('keeps the logged order of each key in get-history, ties included', async () => {
      const res = await batch({
        metrics: [
          { key: 'a', value: 3, timestamp: 10, step: 0 },
          { key: 'b', value: 30, timestamp: 10, step: 0 },
          { key: 'a', value: 1, timestamp: 10, step: 0 },
          { key: 'a', value: 2, timestamp: 10, step: 0 },
          { key: 'b', value: 20, timestamp: 11, step: 0 },
          { key: 'a', value: 9, timestamp: 12, step: 1 },
          { key: 'b', value: 10, timestamp: 12, step: 1 },
        ],
      });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(await fullHistory('a'), [
        { key: 'a', value: 3, timestamp: 10, step: 0 },
        { key: 'a', value: 1, timestamp: 10, step: 0 },
        { key: 'a', value: 2, timestamp: 10, step: 0 },
        { key: 'a', value: 9, timestamp: 12, step: 1 },
      ]);
      assert.deepEqual(await fullHistory('b'), [
        { key: 'b', value: 30, timestamp: 10, step: 0 },
        { key: 'b', value: 20, timestamp: 11, step: 0 },
        { key: 'b', value: 10, timestamp: 12, step: 1 },
      ]);
    });

    it('lets the last value of a tag win within one batch', async () => {
      assert.equal((await batch({ tags: [{ key: 'x', value: '1' }, { key: 'y', value: 'keep' }, { key: 'x', value: '2' }, { key: 'x', value: '3' }] })).status, 200);
      assert.deepEqual(await rowsOf(t, "SELECT key, value FROM tags WHERE key IN ('x', 'y') ORDER BY key"), [{ key: 'x', value: '3' }, { key: 'y', value: 'keep' }]);
      const tags = byKey((await t.get('runs/get', { run_id: runId })).json.run.data.tags);
      assert.deepEqual(tags, [{ key: 'mlflow.runName', value: 'batch' }, { key: 'x', value: '3' }, { key: 'y', value: 'keep' }]);
    });

    it('reads 1,500 points of one key back exactly across the 1024-point chunk boundary', async () => {
      const points: Metric[] = Array.from({ length: 1500 }, (_, i) => ({
        key: 'long',
        value: i % 97 === 0 ? 'NaN' : Math.sin(i) * 1e6 + i / 3,
        timestamp: 1_700_000_000_000 + i * 37 + (i % 5),
        step: i,
      }));
      assert.equal((await batch({ metrics: points.slice(0, 1000) })).status, 200);
      assert.equal((await batch({ metrics: points.slice(1000) })).status, 200);
      const seriesId = (await oneRowOf<{ id: number }>(t, "SELECT id FROM metric_series WHERE key = 'long'"))!.id;
      assert.deepEqual(await rowsOf(t, 'SELECT n, min_step, max_step FROM metric_chunks WHERE series_id = ?', seriesId), [{ n: 1024, min_step: 0, max_step: 1023 }]);
      assert.deepEqual(await tailPoints(t, seriesId), points.slice(1024).map((p) => ({ step: p.step, timestamp: p.timestamp, value: p.value === 'NaN' ? null : p.value })));
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT count AS n FROM metric_series WHERE id = ?', seriesId))?.n, 1500);

      assert.deepEqual(await fullHistory('long'), points);
      // Paged reads cross the boundary too.
      const first = await t.get('metrics/get-history', { run_id: runId, metric_key: 'long', max_results: '1000' });
      assert.equal(first.json.metrics.length, 1000);
      const rest = await t.get('metrics/get-history', { run_id: runId, metric_key: 'long', max_results: '1000', page_token: first.json.next_page_token });
      assert.equal(rest.json.next_page_token, undefined);
      assert.deepEqual([...first.json.metrics, ...rest.json.metrics], points);
      const last = points[1499];
      assert.deepEqual((await t.get('runs/get', { run_id: runId })).json.run.data.metrics, [last]);
    });
  });

  describe('log-batch request encoding', () => {
    const body = () => ({ run_id: runId, params: [{ key: 'enc', value: 'ok' }], metrics: [{ key: 'm', value: 1, timestamp: 5, step: 0 }] });

    it('accepts a double-encoded JSON body (a JSON string holding the JSON), as old clients send', async () => {
      const res = await t.post('runs/log-batch', JSON.stringify(JSON.stringify(body())), { 'content-type': 'application/json' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json, {});
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM params'), [{ key: 'enc', value: 'ok' }]);
      assert.deepEqual(await tailPoints(t), [{ step: 0, timestamp: 5, value: 1 }]);
    });

    it('accepts application/json with a charset', async () => {
      const res = await t.post('runs/log-batch', JSON.stringify(body()), { 'content-type': 'application/json; charset=utf-8' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM params'), [{ key: 'enc', value: 'ok' }]);
    });

    it('refuses a text/plain body with 400 INVALID_PARAMETER_VALUE and writes nothing', async () => {
      const before = await tableCountsOf(t);
      assertError(await t.post('runs/log-batch', JSON.stringify(body()), { 'content-type': 'text/plain' }), 400, 'INVALID_PARAMETER_VALUE', /Content-Type/i);
      assert.deepEqual(await tableCountsOf(t), before);
    });

    it('refuses malformed JSON with 400 and writes nothing', async () => {
      const before = await tableCountsOf(t);
      const text = JSON.stringify(body()).slice(0, -3);
      assertError(await t.post('runs/log-batch', text, { 'content-type': 'application/json' }), 400, 'INVALID_PARAMETER_VALUE');
      assertError(await t.post('runs/log-batch', '"{not json"', { 'content-type': 'application/json' }), 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await tableCountsOf(t), before);
    });
  });
});
