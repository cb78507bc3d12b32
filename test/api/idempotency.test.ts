import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, buildTestApp, seedRun, type TestApp } from '../helper.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('log-batch Idempotency-Key (lablog extension)', () => {
    let t: TestApp;
    let runA = '';
    let runB = '';
    const count = async (key: string) => (await t.sql<{ count: number }>('SELECT count FROM metric_series WHERE key = ?', key)).map((r) => r.count);

    before(async () => {
      t = await buildTestApp({ backend });
      runA = (await seedRun(t, { runName: 'a' })).runId;
      runB = (await seedRun(t, { runName: 'b' })).runId;
    });
    after(() => t.close());

    const batch = (runId: string, key: string, n = 3) => ({
      run_id: runId,
      metrics: Array.from({ length: n }, (_, i) => ({ key, value: i, timestamp: 1000 + i, step: i })),
      params: [{ key: `p-${key}`, value: '1' }],
    });

    test('a repeated key is answered 200 without writing again', async () => {
      const first = await t.post('runs/log-batch', batch(runA, 'loss'), { 'idempotency-key': 'k-1' });
      assert.equal(first.status, 200);
      assert.equal(first.headers['idempotent-replayed'], undefined);
      const again = await t.post('runs/log-batch', batch(runA, 'loss'), { 'idempotency-key': 'k-1' });
      assert.equal(again.status, 200);
      assert.deepEqual(again.json, {});
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(await count('loss'), [3]);
      const history = await t.get('metrics/get-history', { run_id: runA, metric_key: 'loss' });
      assert.deepEqual(history.json.metrics.map((m: { step: number }) => m.step), [0, 1, 2]);
    });

    test('keys are per run, and requests without a key are never deduplicated', async () => {
      assert.equal((await t.post('runs/log-batch', batch(runB, 'acc'), { 'idempotency-key': 'k-1' })).status, 200);
      assert.deepEqual(await count('acc'), [3]);
      await t.post('runs/log-batch', { run_id: runB, metrics: [{ key: 'plain', value: 1, timestamp: 1, step: 0 }] });
      await t.post('runs/log-batch', { run_id: runB, metrics: [{ key: 'plain', value: 1, timestamp: 1, step: 0 }] });
      assert.deepEqual(await count('plain'), [2]);
    });

    test('a rejected batch does not consume its key; the corrected retry is written', async () => {
      const bad = batch(runA, 'x');
      bad.metrics[1] = { key: 'bad$key', value: 1, timestamp: 1, step: 0 };
      assert.equal((await t.post('runs/log-batch', bad, { 'idempotency-key': 'k-2' })).status, 400);
      assert.deepEqual(await t.sql("SELECT count(*) AS n FROM idempotency_keys WHERE key = 'k-2'"), [{ n: 0 }]);
      assert.equal((await t.post('runs/log-batch', batch(runA, 'x'), { 'idempotency-key': 'k-2' })).status, 200);
      assert.deepEqual(await count('x'), [3]);
    });

    test('a malformed key is refused', async () => {
      const res = await t.post('runs/log-batch', batch(runA, 'y'), { 'idempotency-key': 'has space' });
      assert.equal(res.status, 400);
      assert.equal(res.json.error_code, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await count('y'), []);
    });
  });
});
