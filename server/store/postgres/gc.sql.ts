import type pg from 'pg';
import { LablogError } from '../../errors.js';
import { experimentKey } from '../sqlite/experiments.sql.js';
import { GC_EXPERIMENT_COLUMNS, GC_RUN_COLUMNS, toGcExperiment, toGcRun, type GcExperimentRow, type GcRunRow } from '../sqlite/gc.sql.js';
import type { TrackingStore } from '../types.js';
import { transaction } from './db.js';

type GcMethods = Pick<
  TrackingStore,
  'gcListDeletedRuns' | 'gcGetRuns' | 'gcListExperimentRuns' | 'gcListDeletedExperiments' | 'gcGetExperiments' | 'hardDeleteRun' | 'hardDeleteExperiment'
>;

/** `lablog gc` on PostgreSQL: the selections and removals of store/sqlite/gc.sql.ts. */
export function createPgGc(pool: pg.Pool): GcMethods {
  const runs = async (where: string, order: string, params: unknown[]) =>
    (await pool.query<GcRunRow>(`SELECT ${GC_RUN_COLUMNS} FROM runs WHERE ${where} ORDER BY ${order}`, params)).rows.map(toGcRun);
  const experiments = async (where: string, params: unknown[]) =>
    (await pool.query<GcExperimentRow>(`SELECT ${GC_EXPERIMENT_COLUMNS} FROM experiments WHERE ${where} ORDER BY experiment_id`, params)).rows.map(toGcExperiment);
  const keys = (ids: string[]) => ids.map(experimentKey).filter((k) => k !== null);

  return {
    gcListDeletedRuns: (before) =>
      runs("lifecycle_stage = 'deleted' AND ($1::bigint IS NULL OR COALESCE(deleted_time, end_time, start_time) <= $1::bigint)", '5, id', [before]),
    gcGetRuns: (ids) => runs('run_uuid = ANY($1::text[])', 'id', [ids]),
    gcListExperimentRuns: (ids) => runs('experiment_id = ANY($1::bigint[])', 'experiment_id, id', [keys(ids)]),
    gcListDeletedExperiments: (before) => experiments("lifecycle_stage = 'deleted' AND ($1::bigint IS NULL OR last_update_time <= $1::bigint)", [before]),
    gcGetExperiments: (ids) => experiments('experiment_id = ANY($1::bigint[])', [keys(ids)]),
    // params, tags, metric_series (and through it metric_tail, metric_chunks), inputs (and input_tags)
    // go with the run by ON DELETE CASCADE. The stage condition makes a restore that raced gc win:
    // the restore holds the run's row lock, and the DELETE re-checks the stage once it gets it.
    hardDeleteRun: async (runId) => ((await pool.query("DELETE FROM runs WHERE run_uuid = $1 AND lifecycle_stage = 'deleted'", [runId])).rowCount ?? 0) > 0,
    hardDeleteExperiment: (experimentId) =>
      transaction(pool, async (c) => {
        const key = experimentKey(experimentId);
        if (key === null) return false;
        // The row lock keeps a restore (or a run created in it after one) out until the experiment is gone.
        const exp = (await c.query<{ lifecycle_stage: string }>('SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1 FOR UPDATE', [key])).rows[0];
        if (exp?.lifecycle_stage !== 'deleted') return false;
        const n = (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM runs WHERE experiment_id = $1', [key])).rows[0].n;
        if (n > 0) throw new LablogError('INVALID_STATE', `Experiment ${experimentId} still has ${n} run(s); remove them first.`);
        // Datasets belong to their experiment; the inputs that pointed at them went with the runs.
        await c.query('DELETE FROM datasets WHERE experiment_id = $1', [key]);
        return ((await c.query("DELETE FROM experiments WHERE experiment_id = $1 AND lifecycle_stage = 'deleted'", [key])).rowCount ?? 0) > 0;
      }),
  };
}
