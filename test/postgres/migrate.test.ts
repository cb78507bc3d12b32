/**
 * The PostgreSQL migrator: several servers starting at once on one empty database must all come up,
 * with each migration applied exactly once (the advisory lock), and a later start applying nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createPool, migratePostgres, PG_MIGRATIONS_DIR } from '../../server/store/postgres/db.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';

const skip = postgresSkip();
const journal = JSON.parse(readFileSync(path.join(PG_MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };

describe('PostgreSQL migrations', { skip: skip ?? false }, () => {
  const urls: string[] = [];
  after(async () => {
    for (const url of urls) await dropDatabase(url);
  });

  it('eight migrators starting at once on an empty database all succeed and apply each migration once', async () => {
    const url = await createDatabase();
    urls.push(url);
    const pools = Array.from({ length: 8 }, () => createPool(url, 2));
    try {
      const applied = await Promise.all(pools.map((p) => migratePostgres(p)));
      // Exactly one of them did the work; the rest found it done.
      assert.equal(applied.reduce((a, b) => a + b, 0), journal.entries.length);
      assert.equal(applied.filter((n) => n > 0).length, 1);
      const rows = await pools[0].query('SELECT idx, tag FROM lablog_migrations ORDER BY idx');
      assert.deepEqual(rows.rows.map((r) => r.tag), journal.entries.map((e) => e.tag));
      // The seed ran once: one Default experiment at id 0, and the next id is 1.
      const exps = await pools[0].query('SELECT experiment_id, name, artifact_location, lifecycle_stage FROM experiments');
      assert.deepEqual(exps.rows, [{ experiment_id: 0, name: 'Default', artifact_location: 'mlflow-artifacts:/0', lifecycle_stage: 'active' }]);
      const next = await pools[0].query("INSERT INTO experiments (name, artifact_location, creation_time, last_update_time) VALUES ('x', '', 1, 1) RETURNING experiment_id");
      assert.equal(next.rows[0].experiment_id, 1);
      // A server starting later applies nothing.
      assert.equal(await migratePostgres(pools[0]), 0);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('creates every table of the SQLite schema, with bytea chunks and bigint times', async () => {
    const url = await createDatabase();
    urls.push(url);
    const pool = createPool(url, 1);
    try {
      await migratePostgres(pool);
      const cols = await pool.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN ('metric_chunks', 'runs')",
      );
      const type = (t: string, c: string) => cols.rows.find((r) => r.table_name === t && r.column_name === c)?.data_type;
      assert.equal(type('metric_chunks', 'data'), 'bytea');
      assert.equal(type('runs', 'start_time'), 'bigint');
      const tables = (await pool.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows.map((r) => r.tablename).sort();
      for (const t of ['experiments', 'experiment_tags', 'runs', 'params', 'tags', 'metric_series', 'metric_tail', 'metric_chunks', 'idempotency_keys', 'datasets', 'inputs', 'input_tags', 'sweeps', 'sweep_trials', 'users', 'registered_models']) {
        assert.ok(tables.includes(t), `table ${t}`);
      }
    } finally {
      await pool.end();
    }
  });
});
