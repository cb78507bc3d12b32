import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { rowsOf } from './api.helpers.js';

// The Python client serialises requests with protobuf's MessageToJson: int64 fields become strings,
// NaN becomes "NaN", and a fluent `with mlflow.start_run()` session sends the sequence below.
// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('a stock mlflow client session', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend });
    });
    after(() => t.close());

    test('set_experiment, start_run, log_*, end_run, search_runs', async () => {
      const missing = await t.get('experiments/get-by-name', { experiment_name: 'mnist-cnn' });
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
      const created = await t.post('experiments/create', { name: 'mnist-cnn' });
      const experimentId = created.json.experiment_id;
      assert.equal(typeof experimentId, 'string');

      const run = await t.post('runs/create', {
        experiment_id: experimentId,
        user_id: 'alice',
        start_time: '1700000000000',
        tags: [
          { key: 'mlflow.user', value: 'alice' },
          { key: 'mlflow.source.name', value: 'train.py' },
          { key: 'mlflow.source.type', value: 'LOCAL' },
          { key: 'mlflow.runName', value: 'baseline' },
        ],
        run_name: 'baseline',
      });
      assert.equal(run.status, 200);
      const info = run.json.run.info;
      assert.deepEqual(
        { name: info.run_name, user: info.user_id, start: info.start_time, status: info.status, same: info.run_id === info.run_uuid },
        { name: 'baseline', user: 'alice', start: 1700000000000, status: 'RUNNING', same: true },
      );
      const runId = info.run_id;

      assert.equal((await t.post('runs/log-parameter', { run_id: runId, run_uuid: runId, key: 'lr', value: '0.01' })).status, 200);
      const batch = await t.post('runs/log-batch', {
        run_id: runId,
        metrics: [
          { key: 'loss', value: 0.9, timestamp: '1700000000100', step: '0' },
          { key: 'loss', value: 'NaN', timestamp: '1700000000200', step: '1' },
          { key: 'loss', value: 0.5, timestamp: '1700000000300', step: '2' },
        ],
        params: [{ key: 'optimizer', value: 'adam' }],
        tags: [{ key: 'mlflow.note.content', value: 'first try' }],
      });
      assert.equal(batch.status, 200);
      assert.deepEqual(batch.json, {});
      const metric = await t.post('runs/log-metric', { run_id: runId, run_uuid: runId, key: 'acc', value: 0.75, timestamp: '1700000000400', step: '2' });
      assert.deepEqual(metric.json, {});

      const ended = await t.post('runs/update', { run_id: runId, run_uuid: runId, status: 'FINISHED', end_time: '1700000001000' });
      assert.equal(ended.json.run_info.status, 'FINISHED');
      assert.equal(ended.json.run_info.end_time, 1700000001000);

      const search = await t.post('runs/search', {
        experiment_ids: [experimentId],
        filter: "params.optimizer = 'adam' and metrics.loss < 0.6",
        run_view_type: 'ACTIVE_ONLY',
        max_results: '1000',
        order_by: ['metrics.acc DESC'],
      });
      assert.equal(search.status, 200);
      assert.equal(search.json.runs.length, 1);
      const got = search.json.runs[0];
      assert.deepEqual(
        got.data.metrics.map((m: { key: string; value: number; step: number }) => [m.key, m.value, m.step]),
        [
          ['acc', 0.75, 2],
          ['loss', 0.5, 2],
        ],
      );
      assert.deepEqual(got.data.params, [
        { key: 'lr', value: '0.01' },
        { key: 'optimizer', value: 'adam' },
      ]);
      assert.ok(got.data.tags.some((x: { key: string; value: string }) => x.key === 'mlflow.note.content' && x.value === 'first try'));

      const history = await t.get('metrics/get-history', { run_uuid: runId, run_id: runId, metric_key: 'loss' });
      assert.deepEqual(history.json.metrics, [
        { key: 'loss', value: 0.9, timestamp: 1700000000100, step: 0 },
        { key: 'loss', value: 'NaN', timestamp: 1700000000200, step: 1 },
        { key: 'loss', value: 0.5, timestamp: 1700000000300, step: 2 },
      ]);
    });

    test('an old client sends experiment ids as numbers and the body as a JSON-encoded string', async () => {
      const run = await t.post('runs/create', { experiment_id: 0, start_time: 5 });
      assert.equal(run.status, 200);
      assert.equal(run.json.run.info.experiment_id, '0');
      const body = JSON.stringify(JSON.stringify({ run_id: run.json.run.info.run_id, key: 'k', value: 'v' }));
      const res = await t.post('runs/set-tag', body, { 'content-type': 'application/json' });
      assert.equal(res.status, 200);
      const tags = (await rowsOf<{ value: string }>(t, "SELECT value FROM tags WHERE key = 'k'")).map((r) => r.value);
      assert.deepEqual(tags, ['v']);
      const list = await t.get('experiments/list');
      assert.deepEqual(
        list.json.experiments.map((e: { name: string }) => e.name).sort(),
        ['Default', 'mnist-cnn'],
      );
    });
  });
});
