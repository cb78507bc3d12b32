import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, buildTestApp, seedRun, type TestApp } from '../helper.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('metric reads', () => {
    let t: TestApp;
    let a = '';
    let b = '';

    before(async () => {
      t = await buildTestApp({ backend });
      a = (await seedRun(t, { experiment: 'm', runName: 'a' })).runId;
      b = (await seedRun(t, { experiment: 'm', runName: 'b' })).runId;
      // run a: steps 0..2999 of "loss"; run b: every 10th step 0..5000 plus a NaN and an Infinity.
      for (let i = 0; i < 3000; i += 1000) {
        const metrics = Array.from({ length: 1000 }, (_, k) => ({ key: 'loss', value: 1 / (i + k + 1), timestamp: 1000 + i + k, step: i + k }));
        assert.equal((await t.post('runs/log-batch', { run_id: a, metrics })).status, 200);
      }
      const metrics = Array.from({ length: 501 }, (_, k) => ({ key: 'loss', value: k === 7 ? 'NaN' : k === 8 ? 'Infinity' : k, timestamp: 10 * k, step: 10 * k }));
      assert.equal((await t.post('runs/log-batch', { run_id: b, metrics })).status, 200);
    });
    after(() => t.close());

    test('get-history pages with max_results and page_token until the end', async () => {
      const seen: number[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const q: Record<string, string> = { run_id: a, metric_key: 'loss', max_results: '700' };
        if (token) q.page_token = token;
        const res = await t.get('metrics/get-history', q);
        assert.equal(res.status, 200);
        for (const m of res.json.metrics) {
          assert.equal(m.key, 'loss');
          assert.equal(m.value, 1 / (m.step + 1));
          assert.equal(m.timestamp, 1000 + m.step);
          seen.push(m.step);
        }
        token = res.json.next_page_token;
        pages++;
      } while (token);
      assert.equal(pages, 5);
      assert.deepEqual(seen, Array.from({ length: 3000 }, (_, i) => i));
    });

    test('get-history without max_results returns everything; run_uuid works; NaN and Infinity as MLflow writes them', async () => {
      const res = await t.get('metrics/get-history', { run_uuid: b, metric_key: 'loss' });
      assert.equal(res.status, 200);
      assert.equal(res.json.metrics.length, 501);
      assert.equal(res.json.next_page_token, undefined);
      assert.deepEqual(res.json.metrics[7], { key: 'loss', value: 'NaN', timestamp: 70, step: 70 });
      assert.deepEqual(res.json.metrics[8], { key: 'loss', value: 1.7976931348623157e308, timestamp: 80, step: 80 });
      const missing = await t.get('metrics/get-history', { run_id: b, metric_key: 'nope' });
      assert.deepEqual(missing.json, {}, 'empty lists are omitted, as MLflow does');
    });

    test('a long history is streamed in pieces and reads back exactly, with and without a page token', async () => {
      const { runId } = await seedRun(t, { experiment: 'm', runName: 'long' });
      const n = 12_345;
      for (let i = 0; i < n; i += 1000) {
        const metrics = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ key: 'x', value: k % 7 === 0 ? 'NaN' : (i + k) / 3, timestamp: i + k, step: i + k }));
        assert.equal((await t.post('runs/log-batch', { run_id: runId, metrics })).status, 200);
      }
      const whole = await t.get('metrics/get-history', { run_id: runId, metric_key: 'x' });
      assert.equal(whole.status, 200);
      assert.match(String(whole.headers['content-type']), /application\/json/);
      assert.equal(whole.json.metrics.length, n);
      assert.equal(whole.json.next_page_token, undefined);
      whole.json.metrics.forEach((m: { value: number | string; step: number; timestamp: number }, i: number) => {
        assert.equal(m.step, i);
        assert.equal(m.timestamp, i);
        assert.equal(m.value, (i % 1000) % 7 === 0 ? 'NaN' : i / 3);
      });
      const first = await t.get('metrics/get-history', { run_id: runId, metric_key: 'x', max_results: '11000' });
      assert.equal(first.json.metrics.length, 11_000);
      const rest = await t.get('metrics/get-history', { run_id: runId, metric_key: 'x', page_token: first.json.next_page_token });
      assert.deepEqual([...first.json.metrics, ...rest.json.metrics], whole.json.metrics);
    });

    test('get-history-bulk: every point of each run with its run_id, by timestamp, capped by max_results', async () => {
      const res = await t.get('/ajax-api/2.0/mlflow/metrics/get-history-bulk', { run_id: [b, a], metric_key: 'loss', max_results: '3' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.metrics, [
        { key: 'loss', value: 0, timestamp: 0, step: 0, run_id: b },
        { key: 'loss', value: 1, timestamp: 10, step: 10, run_id: b },
        { key: 'loss', value: 2, timestamp: 20, step: 20, run_id: b },
        { key: 'loss', value: 1, timestamp: 1000, step: 0, run_id: a },
        { key: 'loss', value: 0.5, timestamp: 1001, step: 1, run_id: a },
        { key: 'loss', value: 1 / 3, timestamp: 1002, step: 2, run_id: a },
      ]);
      const none = await t.get('/ajax-api/2.0/mlflow/metrics/get-history-bulk', { run_id: a, metric_key: 'nope' });
      assert.equal(none.status, 200);
      assert.deepEqual(none.json, {});
    });

    test('get-history errors: unknown run 404, missing key 400, bad token 400', async () => {
      const unknown = await t.get('metrics/get-history', { run_id: 'f'.repeat(32), metric_key: 'loss' });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
      const noKey = await t.get('metrics/get-history', { run_id: a });
      assert.equal(noKey.status, 400);
      assert.match(noKey.json.message, /Missing value for required parameter 'metric_key'/);
      const badToken = await t.get('metrics/get-history', { run_id: a, metric_key: 'loss', page_token: '!!notbase64' });
      assert.equal(badToken.status, 400);
      assert.equal(badToken.json.error_code, 'INVALID_PARAMETER_VALUE');
    });

    test('get-history-bulk-interval samples the same steps across runs and keeps first and last', async () => {
      const res = await t.get('/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval', { run_ids: [a, b], metric_key: 'loss', max_results: '50' });
      assert.equal(res.status, 200);
      const byRun = new Map<string, number[]>();
      for (const m of res.json.metrics) byRun.set(m.run_id, [...(byRun.get(m.run_id) ?? []), m.step]);
      const stepsA = byRun.get(a)!;
      const stepsB = byRun.get(b)!;
      assert.ok(stepsA.length <= 50 && stepsA.length >= 10, `${stepsA.length} points for a`);
      assert.equal(stepsA[0], 0);
      assert.equal(stepsA[stepsA.length - 1], 2999, "run a's last step kept");
      assert.equal(stepsB[stepsB.length - 1], 5000, "run b's last step kept");
      assert.deepEqual([...stepsA].sort((x, y) => x - y), stepsA, 'sorted by step');
      // The same steps across runs: a step sampled for one run is sampled for the other wherever the
      // other has it (a has every step to 2999, b every 10th to 5000), so the curves line up.
      const hasA = (s: number) => s >= 0 && s <= 2999;
      const hasB = (s: number) => s % 10 === 0 && s <= 5000;
      assert.deepEqual(stepsB.filter(hasA), stepsA.filter(hasB), 'the steps both runs have are sampled for both');
      assert.ok(stepsB.filter(hasA).length >= 5, `${stepsB.filter(hasA).length} shared steps`);
      // Runs come in run id order.
      const order = [...new Set(res.json.metrics.map((m: { run_id: string }) => m.run_id))];
      assert.deepEqual(order, [a, b].sort());

      const ranged = await t.get('metrics/get-history-bulk-interval', { run_ids: a, metric_key: 'loss', start_step: '100', end_step: '110', max_results: '2500' });
      assert.deepEqual(ranged.json.metrics.map((m: { step: number }) => m.step), Array.from({ length: 11 }, (_, i) => 100 + i));
      const half = await t.get('metrics/get-history-bulk-interval', { run_ids: a, metric_key: 'loss', start_step: '5' });
      assert.equal(half.status, 400);
      assert.match(half.json.message, /both must be specified/);
      const tooMany = await t.get('metrics/get-history-bulk-interval', { run_ids: a, metric_key: 'loss', max_results: '2501' });
      assert.equal(tooMany.status, 400);
    });

    test('lablog sampled read: columnar buckets with min, max and last, full resolution when small', async () => {
      const res = await t.get('/api/2.0/lablog/metrics/sampled', { run_ids: [a, b], keys: 'loss', buckets: '10' });
      assert.equal(res.status, 200);
      assert.equal(res.json.x, 'step');
      const [sa, sb] = res.json.series;
      assert.equal(sa.run_id, a);
      assert.equal(sa.key, 'loss');
      assert.equal(sa.min.length, 10);
      assert.equal(sa.count.reduce((x: number, y: number) => x + y, 0), 3000);
      assert.equal(sa.max[0], 1);
      assert.equal(sa.max_x[0], 0);
      assert.equal(sa.last_x[9], 2999);
      assert.equal(sb.max.includes(1.7976931348623157e308), true, 'Infinity is the maximum of its bucket');

      const zoom = await t.get('/api/2.0/lablog/metrics/sampled', { run_ids: b, keys: 'loss', start: '60', end: '90', buckets: '100' });
      assert.deepEqual(zoom.json.series[0].last_x, [60, 70, 80, 90]);
      assert.deepEqual(zoom.json.series[0].last, [6, 'NaN', 1.7976931348623157e308, 9]);

      const time = await t.get('/api/2.0/lablog/metrics/sampled', { run_ids: b, keys: 'loss', x: 'time', start: '0', end: '20' });
      assert.deepEqual(time.json.series[0].last_x, [0, 10, 20]);
    });

    test('lablog sampled read rejects bad input with MLflow-shaped errors', async () => {
      const cases: Record<string, string>[] = [
        { run_ids: a, keys: 'loss', buckets: '0' },
        { run_ids: a, keys: 'loss', x: 'wall' },
        { run_ids: a },
        { keys: 'loss' },
        { run_ids: a, keys: 'loss', start: '10', end: '5' },
        { run_ids: a, keys: '../x' },
      ];
      for (const q of cases) {
        const res = await t.get('/api/2.0/lablog/metrics/sampled', q);
        assert.equal(res.status, 400, JSON.stringify(q));
        assert.equal(res.json.error_code, 'INVALID_PARAMETER_VALUE');
        assert.equal(typeof res.json.message, 'string');
      }
      const unknown = await t.get('/api/2.0/lablog/metrics/sampled', { run_ids: 'nope', keys: 'loss' });
      assert.equal(unknown.status, 404);
    });
  });
});
