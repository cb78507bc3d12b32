/**
 * A log-batch's point write is the last statement of its transaction and goes out with the COMMIT
 * behind it (store/postgres/db.ts sendLast). When that write fails, PostgreSQL answers the COMMIT with
 * a rollback, not an error: the batch must still fail with the write's error and leave nothing behind,
 * and the connection must serve the next batch.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { openPostgresStore } from '../../server/store/postgres/index.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';

describe('PostgreSQL log-batch whose point write fails', { skip: postgresSkip() ?? false }, () => {
  const urls: string[] = [];
  after(async () => {
    for (const url of urls) await dropDatabase(url);
  });

  it('fails with the write error, stores none of the batch, and the next batch on the same connection is stored', async () => {
    const url = await createDatabase();
    urls.push(url);
    // One connection: the failed transaction and the next one share it.
    const store = await openPostgresStore(url, { poolSize: 1 });
    try {
      const experimentId = await store.createExperiment({ name: 'e', artifactLocation: null, tags: [], now: 1 });
      const runId = randomUUID().replaceAll('-', '');
      await store.createRun({ runUuid: runId, experimentId, userId: '', runName: 'r', startTime: 1, tags: [], artifactUri: () => '/a' });
      const points = (from: number) => Array.from({ length: 20 }, (_, i) => ({ key: 'loss', value: i, timestamp: 1000 + from + i, step: from + i }));
      await store.logBatch(runId, { metrics: points(0), params: [], tags: [] });

      await store.pool.query(`CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$ LANGUAGE plpgsql`);
      await store.pool.query('CREATE TRIGGER refuse BEFORE INSERT ON metric_tail FOR EACH ROW EXECUTE FUNCTION refuse()');
      await assert.rejects(store.logBatch(runId, { metrics: points(20), params: [{ key: 'lr', value: '0.1' }], tags: [{ key: 't', value: '1' }] }), /disk on fire/);
      const run = await store.getRun(runId);
      assert.deepEqual([run.data.params, run.data.tags.filter((t) => t.key === 't'), run.data.metrics], [[], [], [{ key: 'loss', value: 19, timestamp: 1019, step: 19 }]]);
      assert.equal((await store.getMetricHistory({ runId, key: 'loss', offset: 0, limit: null })).points.values.length, 20);

      await store.pool.query('DROP TRIGGER refuse ON metric_tail');
      await store.logBatch(runId, { metrics: points(20), params: [{ key: 'lr', value: '0.1' }], tags: [] });
      const history = await store.getMetricHistory({ runId, key: 'loss', offset: 0, limit: null });
      assert.deepEqual([...history.points.steps], Array.from({ length: 40 }, (_, i) => i));
      assert.deepEqual((await store.getRun(runId)).data.params, [{ key: 'lr', value: '0.1' }]);
    } finally {
      await store.close();
    }
  });
});
