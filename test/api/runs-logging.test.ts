// runs/log-metric, the latest-metric rule of runs/get, and key validation (split from runs.test.ts).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, manualClock, oneRowOf, rowsOf, runPkOf, tableCountsOf } from './api.helpers.js';
import { tailPoints } from '../support/rows.js';

const DBL_MAX = 1.7976931348623157e308;

// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  let clock: ReturnType<typeof manualClock>;
  let runId: string;

  beforeEach(async () => {
    clock = manualClock();
    t = await buildTestApp({ backend, now: clock.now });
    const res = await t.post('runs/create', { experiment_id: '0', run_name: 'logging' });
    assert.equal(res.status, 200, res.body);
    runId = res.json.run.info.run_id;
  });
  afterEach(() => t.close());

  interface SeriesRow {
    key: string;
    value: number | null;
    step: number;
    timestamp: number;
    count: number;
  }
  const series = async (key: string) =>
    oneRowOf<SeriesRow>(t, 'SELECT key, value, step, timestamp, count FROM metric_series WHERE run_id = ? AND key = ?', await runPkOf(t, runId), key);
  const runMetrics = async () => (await t.get('runs/get', { run_id: runId })).json.run.data.metrics;
  const history = async (key: string) => {
    const res = await t.get('metrics/get-history', { run_id: runId, metric_key: key });
    assert.equal(res.status, 200, res.body);
    return res.json.metrics;
  };
  const logMetric = (body: Record<string, unknown>) => t.post('runs/log-metric', { run_id: runId, ...body });

  describe('runs/log-metric', () => {
    it('logs a point: runs/get, get-history and the stored series agree', async () => {
      const res = await logMetric({ key: 'loss', value: 0.25, timestamp: 1000, step: 3 });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      assert.deepEqual(await runMetrics(), [{ key: 'loss', value: 0.25, timestamp: 1000, step: 3 }]);
      assert.deepEqual(await history('loss'), [{ key: 'loss', value: 0.25, timestamp: 1000, step: 3 }]);
      assert.deepEqual(await series('loss'), { key: 'loss', value: 0.25, step: 3, timestamp: 1000, count: 1 });
      assert.deepEqual(await tailPoints(t), [{ step: 3, timestamp: 1000, value: 0.25 }]);
    });

    it('defaults step to 0, accepts run_uuid and numeric strings for value, timestamp and step', async () => {
      assert.equal((await logMetric({ key: 'a', value: 1, timestamp: 10 })).status, 200);
      assert.equal((await t.post('runs/log-metric', { run_uuid: runId, key: 'b', value: '2.5', timestamp: '1700000000000', step: '7' })).status, 200);
      assert.deepEqual(await history('a'), [{ key: 'a', value: 1, timestamp: 10, step: 0 }]);
      assert.deepEqual(await history('b'), [{ key: 'b', value: 2.5, timestamp: 1_700_000_000_000, step: 7 }]);
      assert.deepEqual(await series('b'), { key: 'b', value: 2.5, step: 7, timestamp: 1_700_000_000_000, count: 1 });
    });

    it('requires timestamp, with MLflow\'s message', async () => {
      assertError(await logMetric({ key: 'm', value: 1 }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'timestamp'\. See the API docs/);
      assertError(await logMetric({ value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /key/);
      assertError(await logMetric({ key: 'm', timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /value/);
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM metric_series'))?.n, 0);
    });

    it('refuses a boolean or non-numeric value, a negative or fractional timestamp and a fractional step', async () => {
      const before = await tableCountsOf(t);
      for (const bad of [
        { key: 'm', value: true, timestamp: 1 },
        { key: 'm', value: 'abc', timestamp: 1 },
        { key: 'm', value: 1, timestamp: -1 },
        { key: 'm', value: 1, timestamp: 1.5 },
        { key: 'm', value: 1, timestamp: 1, step: 0.5 },
        { key: 'm', value: 1, timestamp: 'soon' },
      ]) {
        assertError(await logMetric(bad), 400, 'INVALID_PARAMETER_VALUE', undefined);
      }
      assert.deepEqual(await tableCountsOf(t), before);
    });

    it('stores NaN and ±Infinity and answers them as MLflow does ("NaN", ±1.7976931348623157e308)', async () => {
      for (const [key, value] of [['nan', 'NaN'], ['inf', 'Infinity'], ['ninf', '-Infinity']]) {
        assert.equal((await logMetric({ key, value, timestamp: 5, step: 1 })).status, 200);
      }
      assert.deepEqual(await runMetrics(), [
        { key: 'inf', value: DBL_MAX, timestamp: 5, step: 1 },
        { key: 'nan', value: 'NaN', timestamp: 5, step: 1 },
        { key: 'ninf', value: -DBL_MAX, timestamp: 5, step: 1 },
      ]);
      assert.deepEqual(await history('nan'), [{ key: 'nan', value: 'NaN', timestamp: 5, step: 1 }]);
      assert.deepEqual(await history('inf'), [{ key: 'inf', value: DBL_MAX, timestamp: 5, step: 1 }]);
      assert.deepEqual(await history('ninf'), [{ key: 'ninf', value: -DBL_MAX, timestamp: 5, step: 1 }]);
      const raw = (await t.get('metrics/get-history', { run_id: runId, metric_key: 'inf' })).body;
      assert.match(raw, /"value":1\.7976931348623157e\+308/);
      assert.equal((await series('nan'))?.value, null, 'NaN is stored as NULL');
      assert.ok([Infinity, DBL_MAX].includes((await series('inf'))!.value!));
      assert.ok([-Infinity, -DBL_MAX].includes((await series('ninf'))!.value!));
    });

    it('answers 404 for an unknown run', async () => {
      assertError(await t.post('runs/log-metric', { run_id: 'd'.repeat(32), key: 'm', value: 1, timestamp: 1 }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe('latest metric in runs/get: highest step, then timestamp, then value', () => {
    async function logAll(key: string, points: [step: number, timestamp: number, value: number][]) {
      for (const [step, timestamp, value] of points) {
        assert.equal((await logMetric({ key, value, timestamp, step })).status, 200);
      }
    }
    const latest = async (key: string) => (await runMetrics()).find((m: { key: string }) => m.key === key);

    it('prefers the highest step over a later timestamp or larger value', async () => {
      await logAll('s', [[2, 100, 1], [1, 999, 9], [0, 5000, 100]]);
      assert.deepEqual(await latest('s'), { key: 's', value: 1, timestamp: 100, step: 2 });
      assert.deepEqual(await series('s'), { key: 's', value: 1, step: 2, timestamp: 100, count: 3 });
    });

    it('on equal steps prefers the later timestamp, whatever the logging order', async () => {
      await logAll('ts', [[5, 200, 1], [5, 100, 9]]);
      await logAll('ts2', [[5, 100, 9], [5, 200, 1]]);
      assert.deepEqual(await latest('ts'), { key: 'ts', value: 1, timestamp: 200, step: 5 });
      assert.deepEqual(await latest('ts2'), { key: 'ts2', value: 1, timestamp: 200, step: 5 });
      assert.deepEqual(await series('ts'), { key: 'ts', value: 1, step: 5, timestamp: 200, count: 2 });
    });

    it('on equal step and timestamp prefers the larger value', async () => {
      await logAll('v', [[5, 200, 3], [5, 200, 7], [5, 200, 4]]);
      await logAll('neg', [[0, 1, -5], [0, 1, -2], [0, 1, -9]]);
      assert.deepEqual(await latest('v'), { key: 'v', value: 7, timestamp: 200, step: 5 });
      assert.deepEqual(await latest('neg'), { key: 'neg', value: -2, timestamp: 1, step: 0 });
      assert.deepEqual(await series('v'), { key: 'v', value: 7, step: 5, timestamp: 200, count: 3 });
      // get-history keeps every point.
      assert.deepEqual((await history('v')).map((m: { value: number }) => m.value), [3, 7, 4]);
    });

    it('applies the rule within one log-batch as across requests', async () => {
      const res = await t.post('runs/log-batch', {
        run_id: runId,
        metrics: [
          { key: 'b', value: 1, timestamp: 10, step: 1 },
          { key: 'b', value: 2, timestamp: 5, step: 3 },
          { key: 'b', value: 8, timestamp: 50, step: 3 },
          { key: 'b', value: 6, timestamp: 50, step: 3 },
          { key: 'b', value: 9, timestamp: 99, step: 2 },
        ],
      });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(await latest('b'), { key: 'b', value: 8, timestamp: 50, step: 3 });
      assert.deepEqual(await series('b'), { key: 'b', value: 8, step: 3, timestamp: 50, count: 5 });
    });
  });

  describe('metric, param and tag keys', () => {
    const kinds = {
      metric: (key: string) => logMetric({ key, value: 1, timestamp: 1 }),
      param: (key: string) => t.post('runs/log-parameter', { run_id: runId, key, value: 'v' }),
      tag: (key: string) => t.post('runs/set-tag', { run_id: runId, key, value: 'v' }),
    };
    const stored = {
      metric: async () => (await rowsOf<{ key: string }>(t, 'SELECT key FROM metric_series ORDER BY key')).map((r) => r.key),
      param: async () => (await rowsOf<{ key: string }>(t, 'SELECT key FROM params ORDER BY key')).map((r) => r.key),
      tag: async () => (await rowsOf<{ key: string }>(t, "SELECT key FROM tags WHERE key <> 'mlflow.runName' ORDER BY key")).map((r) => r.key),
    };

    for (const kind of ['metric', 'param', 'tag'] as const) {
      it(`${kind}: accepts a/b, a-b.c d, a..b and 250 characters`, async () => {
        const good = ['a/b', 'a-b.c d', 'a..b', 'k'.repeat(250)];
        for (const key of good) assert.equal((await kinds[kind](key)).status, 200, `${kind} key ${key}`);
        assert.deepEqual(await stored[kind](), [...good].sort());
      });

      it(`${kind}: refuses ../x, /abs, bad$char, a//b, an empty key and 251 characters`, async () => {
        for (const key of ['../x', '/abs', 'bad$char', 'a//b', '', 'k'.repeat(251)]) {
          const msg = assertError(await kinds[kind](key), 400, 'INVALID_PARAMETER_VALUE', undefined);
          if (key.length === 251) assert.match(msg, /250/);
        }
        assert.deepEqual(await stored[kind](), []);
      });
    }
  });
});
