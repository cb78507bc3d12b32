/**
 * PostgreSQL migration 0004: a database whose metric_tail holds a row per point (as written before)
 * gets them packed, a piece per series in arrival order, byte for byte what the store's own encoder
 * writes; reads, appends and seals then carry on as if the points had been logged afterwards.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { encodeChunk } from '../../server/store/chunk-codec.js';
import { createPool, migratePostgres, PG_MIGRATIONS_DIR } from '../../server/store/postgres/db.js';
import { openPostgresStore } from '../../server/store/postgres/index.js';
import { migrationsUpTo } from '../support/migrations.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';

const RUN = 'a'.repeat(32);
const BIG = 2 ** 52 + 3; // a step whose delta takes the codec's wide path

describe('PostgreSQL migration 0004: tail rows packed into pieces', { skip: postgresSkip() ?? false }, () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('packs each series tail in arrival order; history, appends and seals read it as before', async () => {
    // Up to 0003 before, up to 0004 after: the upgrade under test applies the tail migration alone,
    // whatever migrations come after it.
    const old = migrationsUpTo(PG_MIGRATIONS_DIR, 3);
    const withTail = migrationsUpTo(PG_MIGRATIONS_DIR, 4);
    cleanup.push(() => rmSync(old, { recursive: true, force: true }), () => rmSync(withTail, { recursive: true, force: true }));
    const url = await createDatabase();
    cleanup.push(() => dropDatabase(url));
    const pool = createPool(url, 1);
    try {
      await migratePostgres(pool, old);
      await pool.query("INSERT INTO runs (id, run_uuid, experiment_id, start_time, artifact_uri) VALUES (1, $1, 0, 1, '/a')", [RUN]);
      // 'loss': a tail of 6 in arrival order: 7 before 3, two at step 5 with one time (arrival decides),
      // a NaN (NULL), a negative step and a step past 2^52. 'acc': one point. 'lr': no tail at all.
      const loss: [number, number, number | null][] = [
        [7, 1_700_000_000_070, 0.5],
        [3, 1_700_000_000_030, null],
        [5, 1_700_000_000_050, 2],
        [5, 1_700_000_000_050, 1],
        [-4, 1_700_000_000_000, -Infinity],
        [BIG, 1_700_000_000_999, 1e300],
      ];
      await pool.query(
        `INSERT INTO metric_series (id, run_id, key, value, step, timestamp, count, tail_count) VALUES
         (1, 1, 'loss', 1e300, ${BIG}, 1700000000999, 6, 6), (2, 1, 'acc', 0.9, 1, 10, 1, 1), (3, 1, 'lr', 0.1, 0, 0, 0, 0)`,
      );
      for (const [step, ts, v] of loss) await pool.query('INSERT INTO metric_tail (series_id, step, timestamp, value) VALUES (1, $1, $2, $3)', [step, ts, v]);
      await pool.query('INSERT INTO metric_tail (series_id, step, timestamp, value) VALUES (2, 1, 10, 0.9)');

      assert.equal(await migratePostgres(pool, withTail), 1);
      const pieces = (await pool.query<{ series_id: number; n: number; min_step: number; max_step: number; data: Buffer }>('SELECT series_id, n, min_step, max_step, data FROM metric_tail ORDER BY series_id')).rows;
      const nan = (v: number | null) => (v === null ? NaN : v);
      assert.deepEqual(pieces, [
        { series_id: 1, n: 6, min_step: -4, max_step: BIG, data: encodeChunk(loss.map((r) => r[0]), loss.map((r) => r[1]), loss.map((r) => nan(r[2]))) },
        { series_id: 2, n: 1, min_step: 1, max_step: 1, data: encodeChunk([1], [10], [0.9]) },
      ]);
      const columns = (await pool.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'metric_tail' ORDER BY ordinal_position")).rows.map((r) => r.column_name);
      assert.deepEqual(columns, ['seq', 'series_id', 'n', 'min_step', 'max_step', 'data']);
      const key = await pool.query("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'metric_tail'::regclass AND contype = 'p'");
      assert.deepEqual(key.rows, [{ def: 'PRIMARY KEY (series_id, seq)' }]);
      // New pieces are numbered after the packed ones.
      const next = await pool.query("SELECT nextval(pg_get_serial_sequence('metric_tail', 'seq')) > max(seq) AS after FROM metric_tail");
      assert.equal(next.rows[0].after, true);
    } finally {
      await pool.end();
    }

    const store = await openPostgresStore(url, { poolSize: 2 });
    try {
      const history = async (key: string) => {
        const { points } = await store.getMetricHistory({ runId: RUN, key, offset: 0, limit: null });
        return Array.from(points.values, (v, i) => [points.steps[i], points.timestamps[i], v]);
      };
      // Sorted by (step, timestamp); the two equal points in the order they arrived.
      assert.deepEqual(await history('loss'), [
        [-4, 1_700_000_000_000, -Infinity],
        [3, 1_700_000_000_030, NaN],
        [5, 1_700_000_000_050, 2],
        [5, 1_700_000_000_050, 1],
        [7, 1_700_000_000_070, 0.5],
        [BIG, 1_700_000_000_999, 1e300],
      ]);
      assert.deepEqual(await history('acc'), [[1, 10, 0.9]]);
      // A step range reads only the tail's points inside it.
      const ranged = (await store.getMetricRange({ runIds: [RUN], key: 'loss', startStep: 0, endStep: 6 })).get(RUN)!;
      assert.deepEqual([...ranged.steps], [3, 5, 5]);
      assert.deepEqual([...ranged.values], [NaN, 2, 1]);

      // 1,018 more points fill 'loss' to a chunk: the migrated piece comes first in it.
      const more = Array.from({ length: 1020 }, (_, i) => ({ key: 'loss', value: i, timestamp: 1_800_000_000_000 + i, step: 10 + i }));
      await store.logBatch(RUN, { metrics: more, params: [], tags: [] }, undefined);
      const all = await history('loss');
      assert.equal(all.length, 1026);
      assert.deepEqual(all.slice(0, 4).map((p) => p[0]), [-4, 3, 5, 5]);
      assert.deepEqual(all.slice(2, 4).map((p) => p[2]), [2, 1]);
      assert.deepEqual(all[1025], [BIG, 1_700_000_000_999, 1e300]);
      const chunks = (await store.pool.query('SELECT n, min_step, max_step FROM metric_chunks')).rows;
      assert.deepEqual(chunks, [{ n: 1024, min_step: -4, max_step: BIG }]);
      const tail = (await store.pool.query('SELECT n, min_step, max_step FROM metric_tail WHERE series_id = 1')).rows;
      assert.deepEqual(tail, [{ n: 2, min_step: 1028, max_step: 1029 }]);
    } finally {
      await store.close();
    }
  });
});
