// The store's import writes (lablog import-mlflow): runs with their own ids and times, upserts that
// count what was already there, and a metric history replaced whole in the same layout appends leave.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CHUNK_POINTS } from '../../server/store/sqlite/metrics.sql.js';
import type { ImportedRun } from '../../server/store/import-types.js';
import { backends } from '../helper.js';
import { openTarget, type Target } from '../import/import.helpers.js';
import { tailPoints } from '../support/rows.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: Target;
  beforeEach(async () => {
    t = await openTarget(backend);
  });
  afterEach(() => t.close());

  const RUN_ID = 'f'.repeat(32);

  async function importedRun(over: Partial<ImportedRun> = {}): Promise<ImportedRun> {
    const e = await t.store.importExperiment({ name: 'exp', lifecycleStage: 'active', creationTime: 10, lastUpdateTime: 20, tags: [{ key: 'a', value: '1' }] });
    return {
      runUuid: RUN_ID,
      experimentId: e.experimentId,
      userId: 'alice',
      runName: 'r',
      status: 'FINISHED',
      startTime: 100,
      endTime: 200,
      lifecycleStage: 'active',
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'mlflow.runName', value: 'r' }],
      inputs: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset: { name: 'd', digest: 'x', sourceType: 'local', source: 's' } }],
      ...over,
    };
  }

  const count = async (table: string) => (await t.sql<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0].n;

  describe('import store', () => {
    test('a run keeps its id, times and status; a second import updates in place and counts what was present', async () => {
      const first = await t.store.importRun(await importedRun());
      assert.equal(first.created, true);
      assert.deepEqual([first.params, first.tags, first.inputs], [{ created: 1, present: 0 }, { created: 1, present: 0 }, { created: 1, present: 0 }]);
      const second = await t.store.importRun(await importedRun({ status: 'KILLED', params: [{ key: 'lr', value: '0.2' }] }));
      assert.equal(second.created, false);
      assert.deepEqual([second.params, second.tags, second.inputs], [{ created: 1, present: 0 }, { created: 0, present: 1 }, { created: 0, present: 1 }]);
      const run = await t.store.getRun(RUN_ID);
      assert.deepEqual([run.info.status, run.info.startTime, run.info.endTime, run.info.userId], ['KILLED', 100, 200, 'alice']);
      assert.deepEqual(run.data.params, [{ key: 'lr', value: '0.2' }]);
      assert.deepEqual([await count('runs'), await count('datasets'), await count('inputs'), await count('input_tags')], [1, 1, 1, 1]);
      const exp = await t.store.importExperiment({ name: 'exp', lifecycleStage: 'deleted', creationTime: 1, lastUpdateTime: 2, tags: [{ key: 'a', value: '1' }] });
      // Found by name; its stage is not touched by an import.
      assert.deepEqual([exp.created, exp.tags], [false, { created: 0, present: 1 }]);
      assert.equal((await t.store.getExperiment(exp.experimentId)).lifecycleStage, 'active');
      // Imports that found what they looked for used up no id: the next experiment takes the next number.
      const next = await t.store.createExperiment({ name: 'after', artifactLocation: null, tags: [], now: 1 });
      assert.equal(next, String(Number(exp.experimentId) + 1));
      assert.deepEqual(await t.sql('SELECT max(id) AS n FROM runs'), [{ n: 1 }]);
    });

    test('a history is replaced whole, sorted, packed into full chunks plus a tail that later appends continue', async () => {
      await t.store.importRun(await importedRun({ status: 'RUNNING', endTime: null }));
      const n = 2 * CHUNK_POINTS + 452;
      // Reversed order, a NaN, and two points at one step: stored sorted by (step, timestamp, value).
      const steps = Float64Array.from({ length: n }, (_, i) => n - 1 - i);
      const timestamps = Float64Array.from(steps, (s) => 1000 + s);
      const values = Float64Array.from(steps, (s) => (s === 7 ? NaN : s / 10));
      steps[0] = 5;
      timestamps[0] = 1005;
      values[0] = -1;
      await t.store.replaceMetricHistory(RUN_ID, 'loss', { steps, timestamps, values });
      assert.deepEqual([await count('metric_chunks'), (await tailPoints({ backend, sql: t.sql })).length], [2, 452]);
      const { points } = await t.store.getMetricHistory({ runId: RUN_ID, key: 'loss', offset: 0, limit: null });
      assert.equal(points.values.length, n);
      assert.deepEqual([...points.steps.subarray(0, 9)], [0, 1, 2, 3, 4, 5, 5, 6, 7]);
      assert.deepEqual([...points.values.subarray(4, 9)], [0.4, -1, 0.5, 0.6, NaN]);
      assert.deepEqual(await t.store.seriesSummaries(RUN_ID), new Map([['loss', { count: n, step: n - 2, timestamp: 1000 + n - 2, value: (n - 2) / 10 }]]));

      await t.store.logBatch(RUN_ID, { metrics: [{ key: 'loss', value: 9, timestamp: 5000, step: n + 5 }], params: [], tags: [] });
      const after = await t.store.getMetricHistory({ runId: RUN_ID, key: 'loss', offset: n - 1, limit: 5 });
      assert.deepEqual([...after.points.steps], [n - 2, n + 5]);
      const [sampled] = await t.store.sampleMetrics({ runIds: [RUN_ID], keys: ['loss'], x: 'step', start: null, end: null, buckets: 10 });
      assert.equal(sampled.buckets.reduce((s, b) => s + b.count, 0), n + 1);

      await t.store.replaceMetricHistory(RUN_ID, 'loss', { steps: Float64Array.of(1, 2, 3), timestamps: Float64Array.of(1, 2, 3), values: Float64Array.of(3, 2, 1) });
      assert.deepEqual([await count('metric_chunks'), (await tailPoints({ backend, sql: t.sql })).length, await count('metric_series')], [0, 3, 1]);
      assert.equal((await t.store.getRun(RUN_ID)).data.metrics[0].value, 1);
    });
  });
});
