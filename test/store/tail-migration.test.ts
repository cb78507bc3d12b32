import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeChunk, encodeChunk } from '../../server/store/chunk-codec.js';
import { MIGRATIONS_DIR } from '../../server/store/db.js';
import { migrate } from '../../server/store/migrate.js';
import { DB_FILE, openSqliteStore } from '../../server/store/sqlite/index.js';
import { migrationsUpTo } from '../support/migrations.js';

describe('migrations 0010, 0015 and 0016: metric_tail clustered by series, then a piece per write, then a rowid table', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('tail rows keep their arrival order after the chunked points, as one piece per series, and appending and sealing carry on', async () => {
    const old = migrationsUpTo(MIGRATIONS_DIR, 9);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lablog-tail-'));
    dirs.push(old, dataDir);
    const db = new Database(path.join(dataDir, DB_FILE));
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    migrate(db, old);
    db.prepare("INSERT INTO runs (id, run_uuid, experiment_id, start_time, artifact_uri) VALUES (1, 'r1', 0, 1, '/a')").run();
    // 'loss': one chunk of steps 0..1023, then a tail of 5 (two at step 1025 with the same time, 7 before 3).
    db.prepare('INSERT INTO metric_series (id, run_id, key, value, step, timestamp, count, tail_count) VALUES (1, 1, ?, 0, 1027, 1027, 1029, 5)').run('loss');
    const steps = Array.from({ length: 1024 }, (_, i) => i);
    db.prepare('INSERT INTO metric_chunks (series_id, n, min_step, max_step, min_ts, max_ts, data) VALUES (1, 1024, 0, 1023, 0, 1023, ?)').run(encodeChunk(steps, steps, steps));
    const tail = db.prepare('INSERT INTO metric_tail (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)');
    // 'acc': three points at one step and time, in arrival order 1, 2, 3, interleaved with the other series.
    db.prepare('INSERT INTO metric_series (id, run_id, key, value, step, timestamp, count, tail_count) VALUES (2, 1, ?, 3, 9, 9, 3, 3)').run('acc');
    for (const [series, step, value] of [[1, 1024, 1024], [2, 9, 1], [1, 1025, 7], [2, 9, 2], [1, 1025, 3], [1, 1026, 1026], [2, 9, 3], [1, 1027, 1027]]) tail.run(series, step, step === 9 ? 9 : step, value);
    // 'nan': a point whose value SQLite kept as NULL (NaN).
    db.prepare('INSERT INTO metric_series (id, run_id, key, value, step, timestamp, count, tail_count) VALUES (3, 1, ?, NULL, 0, 5, 1, 1)').run('nan');
    tail.run(3, 0, 5, null);
    db.close();

    const store = openSqliteStore(dataDir);
    try {
      const ddl = store.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'metric_tail'").pluck().get() as string;
      // 0016: a rowid table (pieces appended at its end), the key an index of its own.
      assert.doesNotMatch(ddl, /WITHOUT ROWID/);
      assert.match(ddl, /PRIMARY KEY\(`series_id`, `seq`\)/);
      // 0010 numbered the rows by arrival after the chunked points; 0015 packed each series' rows, in
      // that order, into one piece whose seq is its first point's.
      const pieces = store.db.prepare('SELECT series_id, seq, n, min_step, max_step, data FROM metric_tail ORDER BY series_id, seq').raw().all() as [number, number, number, number, number, Buffer][];
      assert.deepEqual(pieces.map((p) => p.slice(0, 5)), [[1, 1024, 5, 1024, 1027], [2, 0, 3, 9, 9], [3, 0, 1, 0, 0]]);
      const unpacked = pieces.map((p) => decodeChunk(p[5])).map((c) => [[...c.steps], [...c.timestamps], [...c.values]]);
      assert.deepEqual(unpacked, [
        [[1024, 1025, 1025, 1026, 1027], [1024, 1025, 1025, 1026, 1027], [1024, 7, 3, 1026, 1027]],
        [[9, 9, 9], [9, 9, 9], [1, 2, 3]],
        [[0], [5], [NaN]],
      ]);

      const loss = (await store.getMetricHistory({ runId: 'r1', key: 'loss', offset: 0, limit: null })).points;
      assert.deepEqual([...loss.values.slice(1023)], [1023, 1024, 7, 3, 1026, 1027]);
      const acc = (await store.getMetricHistory({ runId: 'r1', key: 'acc', offset: 0, limit: null })).points;
      assert.deepEqual([...acc.values], [1, 2, 3]);

      // 1019 more points fill the tail to 1024 and seal it; two more 'acc' points keep coming after the old ones.
      const more = Array.from({ length: 1019 }, (_, i) => ({ key: 'loss', value: 1028 + i, timestamp: 1028 + i, step: 1028 + i }));
      await store.logBatch('r1', { metrics: [...more, { key: 'acc', value: 4, timestamp: 9, step: 9 }, { key: 'acc', value: 5, timestamp: 9, step: 9 }], params: [], tags: [] });
      assert.deepEqual(store.db.prepare('SELECT n, min_step, max_step FROM metric_chunks WHERE series_id = 1 ORDER BY id').raw().all(), [[1024, 0, 1023], [1024, 1024, 2046]]);
      assert.equal(store.db.prepare('SELECT count(*) FROM metric_tail WHERE series_id = 1').pluck().get(), 0);
      const after = (await store.getMetricHistory({ runId: 'r1', key: 'loss', offset: 0, limit: null })).points;
      assert.equal(after.values.length, 2048);
      assert.deepEqual([...after.values.slice(1024, 1028)], [1024, 7, 3, 1026]);
      assert.deepEqual([...(await store.getMetricHistory({ runId: 'r1', key: 'acc', offset: 0, limit: null })).points.values], [1, 2, 3, 4, 5]);
    } finally {
      await store.close();
    }
  });
});
