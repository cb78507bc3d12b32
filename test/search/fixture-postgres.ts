/**
 * fixture.ts's search database on PostgreSQL: the same experiments, runs, params, tags, latest
 * metrics (NaN as NULL) and dataset inputs, with the same internal ids, written with plain INSERTs.
 */
import type pg from 'pg';
import { DATASETS, EXPERIMENTS, RUNS } from './fixture.js';

const ARTIFACT_ROOT: Record<number, string> = { 1: 's3://ml/1/', 2: 'file:///data/2/', 3: 'gs://v/3/' };

export async function seedPostgres(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  const q = (sql: string, ...params: unknown[]) => c.query(sql, params);
  try {
    await q('BEGIN');
    for (const e of EXPERIMENTS) {
      await q(
        `INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (experiment_id) DO UPDATE SET name = excluded.name, artifact_location = excluded.artifact_location, lifecycle_stage = excluded.lifecycle_stage,
           creation_time = excluded.creation_time, last_update_time = excluded.last_update_time`,
        e.id, e.name, `file:///exp/${e.id}`, e.deleted ? 'deleted' : 'active', e.created, e.updated,
      );
      for (const [k, v] of Object.entries(e.tags)) await q('INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)', e.id, k, v);
    }
    for (const [i, d] of DATASETS.entries()) {
      await q("INSERT INTO datasets (id, dataset_uuid, experiment_id, name, digest, source_type, source) VALUES ($1, $2, $3, $4, $5, 'local', 'file:///x')", i + 1, `ds-${i + 1}`, d.exp, d.name, d.digest);
    }
    for (const [i, r] of RUNS.entries()) {
      const id = i + 1;
      await q(
        'INSERT INTO runs (id, run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        id, r.uuid, r.name, r.exp, r.user, r.status, r.start, r.end, r.deleted ? 'deleted' : 'active', ARTIFACT_ROOT[r.exp] + r.uuid,
      );
      for (const [k, v] of Object.entries(r.params ?? {})) await q('INSERT INTO params (run_id, key, value) VALUES ($1, $2, $3)', id, k, v);
      for (const [k, v] of Object.entries(r.tags ?? {})) await q('INSERT INTO tags (run_id, key, value) VALUES ($1, $2, $3)', id, k, v);
      for (const [k, v] of Object.entries(r.metrics ?? {})) {
        await q('INSERT INTO metric_series (run_id, key, value, step, timestamp, count) VALUES ($1, $2, $3, 0, 0, 1)', id, k, Number.isNaN(v) ? null : v);
      }
      for (const [dsName, context] of r.inputs ?? []) {
        const dsId = DATASETS.findIndex((d) => d.name === dsName) + 1;
        const input = await q('INSERT INTO inputs (dataset_id, run_id) VALUES ($1, $2) RETURNING id', dsId, id);
        if (context !== null) await q("INSERT INTO input_tags (input_id, key, value) VALUES ($1, 'mlflow.data.context', $2)", input.rows[0].id, context);
      }
    }
    await q('COMMIT');
  } finally {
    c.release();
  }
}
