import type pg from 'pg';
import type { ImportedExperiment, ImportedRun, ImportedRunResult, SeriesSummary, UpsertCounts } from '../import-types.js';
import { replacementLayout } from '../series.js';
import type { KeyValue, Series, TrackingStore } from '../types.js';
import { transaction, type Queryable } from './db.js';
import type { PgExperiments } from './experiments.sql.js';
import type { PgMetrics } from './metrics.sql.js';
import { linkDataset, type PgRuns } from './runs.sql.js';

type ImportMethods = Pick<TrackingStore, 'importExperiment' | 'importRun' | 'seriesSummaries' | 'replaceMetricHistory'>;

/** The key/value tables an import upserts, with the column naming their owner. */
const OWNERS = { experiment_tags: 'experiment_id', params: 'run_id', tags: 'run_id', input_tags: 'input_id' } as const;

/**
 * Upserts key/value rows of one owner, counting those that already held the value (as the SQLite
 * store does, one key after another: a key given twice counts twice and keeps its last value). One
 * read and one write per list, not per key.
 */
async function upsertKv(q: Queryable, table: keyof typeof OWNERS, ownerId: number, list: KeyValue[]): Promise<UpsertCounts> {
  const counts = { created: 0, present: 0 };
  if (list.length === 0) return counts;
  const owner = OWNERS[table];
  const known = new Map<string, string>();
  const stored = await q.query<KeyValue>(`SELECT key, value FROM ${table} WHERE ${owner} = $1 AND key = ANY($2::text[])`, [ownerId, list.map((kv) => kv.key)]);
  for (const kv of stored.rows) known.set(kv.key, kv.value);
  const writes = new Map<string, string>();
  for (const kv of list) {
    if (known.get(kv.key) === kv.value) counts.present++;
    else {
      known.set(kv.key, kv.value);
      writes.set(kv.key, kv.value);
      counts.created++;
    }
  }
  if (writes.size > 0) {
    await q.query(
      `INSERT INTO ${table} (${owner}, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT (${owner}, key) DO UPDATE SET value = excluded.value`,
      [ownerId, [...writes.keys()], [...writes.values()]],
    );
  }
  return counts;
}

/**
 * `lablog import-mlflow`'s writes on PostgreSQL, as store/sqlite/import.sql.ts: keyed by the source's
 * identities, one transaction each, so an import killed at any moment leaves each experiment, run and
 * series as it was or complete. A run's writes hold its row lock, as every other run write does, so an
 * import next to running servers never interleaves with a log-batch to the same run.
 */
export function createPgImport(pool: pg.Pool, experiments: PgExperiments, runs: PgRuns, metrics: PgMetrics): ImportMethods {
  return {
    importExperiment: (e: ImportedExperiment) =>
      transaction(pool, async (c) => {
        // Looked up before inserting: an insert that meets the name would still use up an id.
        const byName = async () => (await c.query<{ experiment_id: number }>('SELECT experiment_id FROM experiments WHERE name = $1', [e.name])).rows[0]?.experiment_id;
        let id = await byName();
        let created = false;
        if (id === undefined) {
          const inserted = await c.query<{ experiment_id: number }>(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES ($1, '', $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING experiment_id",
            [e.name, e.lifecycleStage, e.creationTime, e.lastUpdateTime],
          );
          created = inserted.rows.length > 0;
          // Not created: another server made the same name a moment ago.
          id = created ? inserted.rows[0].experiment_id : (await byName())!;
          if (created) await c.query('UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2', [`mlflow-artifacts:/${id}`, id]);
        }
        // An experiment already in lablog keeps its stage: an import never deletes (or restores) what
        // may be someone's live experiment of the same name; --verify reports the difference.
        return { experimentId: String(id), created, tags: await upsertKv(c, 'experiment_tags', id, e.tags) };
      }),

    importRun: (r: ImportedRun) =>
      transaction(pool, async (c): Promise<ImportedRunResult> => {
        const exp = await experiments.row(c, r.experimentId);
        // Deleted together with its (deleted) experiment: restoring the experiment brings the run back.
        const withExperiment = r.lifecycleStage === 'deleted' && exp.lifecycle_stage === 'deleted';
        const info = [r.runName, r.userId, r.status, r.startTime, r.endTime, r.lifecycleStage, withExperiment];
        const artifactUri = `${exp.artifact_location.replace(/\/+$/, '')}/${r.runUuid}/artifacts`;
        const existing = (await c.query<{ id: number }>('SELECT id FROM runs WHERE run_uuid = $1 FOR UPDATE', [r.runUuid])).rows[0];
        const inserted = existing
          ? null
          : await c.query<{ id: number }>(
              `INSERT INTO runs (run_uuid, experiment_id, artifact_uri, name, user_id, status, start_time, end_time, lifecycle_stage, deleted_with_experiment)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (run_uuid) DO NOTHING RETURNING id`,
              [r.runUuid, exp.experiment_id, artifactUri, ...info],
            );
        const created = (inserted?.rows.length ?? 0) > 0;
        const row = await runs.row(c, r.runUuid, true);
        if (!created) {
          await c.query(
            'UPDATE runs SET name = $1, user_id = $2, status = $3, start_time = $4, end_time = $5, lifecycle_stage = $6, deleted_with_experiment = $7 WHERE id = $8',
            [...info, row.id],
          );
        }
        const params = await upsertKv(c, 'params', row.id, r.params);
        const tags = await upsertKv(c, 'tags', row.id, r.tags);
        const inputs = { created: 0, present: 0 };
        for (const di of r.inputs) {
          const { inputId, fresh } = await linkDataset(c, row, di.dataset);
          const t = await upsertKv(c, 'input_tags', inputId, di.tags);
          if (fresh || t.created > 0) inputs.created++;
          else inputs.present++;
        }
        return { created, artifactUri: row.artifact_uri, params, tags, inputs };
      }),

    seriesSummaries: async (runUuid: string) => {
      const run = await runs.row(pool, runUuid);
      const rows = await pool.query<{ key: string; count: number; value: number | null; step: number; timestamp: number }>(
        'SELECT key, count, value, step, timestamp FROM metric_series WHERE run_id = $1',
        [run.id],
      );
      return new Map<string, SeriesSummary>(rows.rows.map((m) => [m.key, { count: m.count, step: m.step, timestamp: m.timestamp, value: m.value ?? NaN }]));
    },

    replaceMetricHistory: (runUuid: string, key: string, points: Series) =>
      transaction(pool, async (c) => {
        const run = await runs.row(c, runUuid, true);
        // The tail and chunks go with the series row (ON DELETE CASCADE).
        await c.query('DELETE FROM metric_series WHERE run_id = $1 AND key = $2', [run.id, key]);
        const n = points.values.length;
        if (n === 0) return;
        const { sorted: p, latest, chunks, tail } = replacementLayout(key, points);
        const v = p.values[latest];
        const seriesId = (
          await c.query<{ id: number }>(
            'INSERT INTO metric_series (run_id, key, value, step, timestamp, count, tail_count) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
            [run.id, key, Number.isNaN(v) ? null : v, p.steps[latest], p.timestamps[latest], n, tail.values.length],
          )
        ).rows[0].id;
        for (const chunk of chunks) await metrics.insertChunk(c, seriesId, chunk);
        await metrics.insertPieces(c, [{ seriesId, points: tail }]);
      }),
  };
}
