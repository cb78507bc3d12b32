import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTestApp, seedRun, type TestApp } from '../helper.js';

describe('log-batch Idempotency-Key (lablog extension)', () => {
  let t: TestApp;
  let runA = '';
  let runB = '';
  const count = (key: string) =>
    t.db.prepare('SELECT count FROM metric_series WHERE key = ?').pluck().all(key) as number[];

  before(async () => {
    t = await buildTestApp();
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
    assert.deepEqual(count('loss'), [3]);
    const history = await t.get('metrics/get-history', { run_id: runA, metric_key: 'loss' });
    assert.deepEqual(history.json.metrics.map((m: { step: number }) => m.step), [0, 1, 2]);
  });

  test('keys are per run, and requests without a key are never deduplicated', async () => {
    assert.equal((await t.post('runs/log-batch', batch(runB, 'acc'), { 'idempotency-key': 'k-1' })).status, 200);
    assert.deepEqual(count('acc'), [3]);
    await t.post('runs/log-batch', { run_id: runB, metrics: [{ key: 'plain', value: 1, timestamp: 1, step: 0 }] });
    await t.post('runs/log-batch', { run_id: runB, metrics: [{ key: 'plain', value: 1, timestamp: 1, step: 0 }] });
    assert.deepEqual(count('plain'), [2]);
  });

  test('a rejected batch does not consume its key; the corrected retry is written', async () => {
    const bad = batch(runA, 'x');
    bad.metrics[1] = { key: 'bad$key', value: 1, timestamp: 1, step: 0 };
    assert.equal((await t.post('runs/log-batch', bad, { 'idempotency-key': 'k-2' })).status, 400);
    assert.equal(t.db.prepare("SELECT count(*) FROM idempotency_keys WHERE key = 'k-2'").pluck().get(), 0);
    assert.equal((await t.post('runs/log-batch', batch(runA, 'x'), { 'idempotency-key': 'k-2' })).status, 200);
    assert.deepEqual(count('x'), [3]);
  });

  test('a malformed key is refused', async () => {
    const res = await t.post('runs/log-batch', batch(runA, 'y'), { 'idempotency-key': 'has space' });
    assert.equal(res.status, 400);
    assert.equal(res.json.error_code, 'INVALID_PARAMETER_VALUE');
    assert.deepEqual(count('y'), []);
  });
});
