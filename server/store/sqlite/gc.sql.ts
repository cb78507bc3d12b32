import type { Db } from '../db.js';
import { LablogError } from '../../errors.js';
import type { GcExperiment, GcRun, LifecycleStage } from '../types.js';
import { experimentKey } from './experiments.sql.js';

export interface GcRunRow {
  run_uuid: string;
  experiment_id: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
  deleted_time: number;
}

export interface GcExperimentRow {
  experiment_id: number;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  last_update_time: number;
}

// Rows deleted before deleted_time was recorded still need an age for --older-than; their end (or
// start) is the best lower bound of how long they have been lying around.
export const GC_RUN_COLUMNS =
  'run_uuid, experiment_id, artifact_uri, lifecycle_stage, COALESCE(deleted_time, end_time, start_time) AS deleted_time';
export const GC_EXPERIMENT_COLUMNS = 'experiment_id, artifact_location, lifecycle_stage, last_update_time';

/** Statements for `lablog gc`: finding what to purge and removing it for good. */
export function createGcStatements(db: Db) {
  const s = {
    deletedRuns: db.prepare<[number | null, number | null], GcRunRow>(
      `SELECT ${GC_RUN_COLUMNS} FROM runs WHERE lifecycle_stage = 'deleted'
       AND (? IS NULL OR COALESCE(deleted_time, end_time, start_time) <= ?) ORDER BY 5, id`,
    ),
    runsByUuid: db.prepare<[string], GcRunRow>(`SELECT ${GC_RUN_COLUMNS} FROM runs WHERE run_uuid IN (SELECT value FROM json_each(?)) ORDER BY id`),
    runsOfExperiments: db.prepare<[string], GcRunRow>(
      `SELECT ${GC_RUN_COLUMNS} FROM runs WHERE experiment_id IN (SELECT value FROM json_each(?)) ORDER BY experiment_id, id`,
    ),
    deletedExperiments: db.prepare<[number | null, number | null], GcExperimentRow>(
      `SELECT ${GC_EXPERIMENT_COLUMNS} FROM experiments WHERE lifecycle_stage = 'deleted' AND (? IS NULL OR last_update_time <= ?) ORDER BY experiment_id`,
    ),
    experimentsById: db.prepare<[string], GcExperimentRow>(
      `SELECT ${GC_EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id IN (SELECT value FROM json_each(?)) ORDER BY experiment_id`,
    ),
    // params, tags, metric_series (and through it metric_tail, metric_chunks), inputs (and input_tags)
    // go with the run by ON DELETE CASCADE. The stage condition makes a restore that raced gc win.
    deleteRun: db.prepare<[string]>("DELETE FROM runs WHERE run_uuid = ? AND lifecycle_stage = 'deleted'"),
    experimentStage: db.prepare<[number], { lifecycle_stage: LifecycleStage }>('SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?'),
    runCount: db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM runs WHERE experiment_id = ?'),
    deleteDatasets: db.prepare<[number]>('DELETE FROM datasets WHERE experiment_id = ?'),
    deleteExperiment: db.prepare<[number]>("DELETE FROM experiments WHERE experiment_id = ? AND lifecycle_stage = 'deleted'"),
  };

  const experimentKeys = (ids: string[]) => JSON.stringify(ids.map(experimentKey).filter((k) => k !== null));

  return {
    listDeletedRuns: (before: number | null) => s.deletedRuns.all(before, before).map(toGcRun),
    getRuns: (runIds: string[]) => s.runsByUuid.all(JSON.stringify(runIds)).map(toGcRun),
    listExperimentRuns: (experimentIds: string[]) => s.runsOfExperiments.all(experimentKeys(experimentIds)).map(toGcRun),
    listDeletedExperiments: (before: number | null) => s.deletedExperiments.all(before, before).map(toGcExperiment),
    getExperiments: (experimentIds: string[]) => s.experimentsById.all(experimentKeys(experimentIds)).map(toGcExperiment),
    hardDeleteRun: db.transaction((runId: string): boolean => s.deleteRun.run(runId).changes > 0),
    hardDeleteExperiment: db.transaction((experimentId: string): boolean => {
      const key = experimentKey(experimentId);
      if (key === null || s.experimentStage.get(key)?.lifecycle_stage !== 'deleted') return false;
      const { n } = s.runCount.get(key)!;
      if (n > 0) throw new LablogError('INVALID_STATE', `Experiment ${experimentId} still has ${n} run(s); remove them first.`);
      // Datasets belong to their experiment; the inputs that pointed at them went with the runs.
      s.deleteDatasets.run(key);
      return s.deleteExperiment.run(key).changes > 0;
    }),
  };
}

export function toGcRun(r: GcRunRow): GcRun {
  return {
    runId: r.run_uuid,
    experimentId: String(r.experiment_id),
    artifactUri: r.artifact_uri,
    lifecycleStage: r.lifecycle_stage,
    deletedTime: r.deleted_time,
  };
}

export function toGcExperiment(r: GcExperimentRow): GcExperiment {
  return {
    experimentId: String(r.experiment_id),
    artifactLocation: r.artifact_location,
    lifecycleStage: r.lifecycle_stage,
    lastUpdateTime: r.last_update_time,
  };
}
