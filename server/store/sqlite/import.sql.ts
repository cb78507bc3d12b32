import { randomUUID } from 'node:crypto';
import type { Db } from '../db.js';
import { notFound } from '../../errors.js';
import type { ImportedExperiment, ImportedRun, ImportedRunResult, SeriesSummary, UpsertCounts } from '../import-types.js';
import type { KeyValue, LifecycleStage, RunStatus, Series } from '../types.js';
import type { ExperimentStatements } from './experiments.sql.js';
import type { MetricStatements } from './metrics.sql.js';

/**
 * The writes of `lablog import-mlflow`. Every method is keyed by the source's identity (experiment
 * name, run id, metric key) and is one transaction, so an import killed at any moment leaves each
 * experiment, run and series either as it was or complete, and the next import picks up from there.
 */
export function createImportStatements(db: Db, experiments: ExperimentStatements, metrics: MetricStatements) {
  const s = {
    expByName: db.prepare<[string], { experiment_id: number; lifecycle_stage: LifecycleStage }>(
      'SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?',
    ),
    insertExp: db.prepare<[string, LifecycleStage, number, number]>(
      "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', ?, ?, ?)",
    ),
    setExpLocation: db.prepare<[string, number]>('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?'),
    expTag: db.prepare<[number, string], { value: string }>('SELECT value FROM experiment_tags WHERE experiment_id = ? AND key = ?'),
    upsertExpTag: db.prepare<[number, string, string]>(
      'INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value',
    ),
    run: db.prepare<[string], { id: number; experiment_id: number; artifact_uri: string }>('SELECT id, experiment_id, artifact_uri FROM runs WHERE run_uuid = ?'),
    insertRun: db.prepare<[string, string, number, string, RunStatus, number, number | null, LifecycleStage, string, number]>(
      `INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_with_experiment)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateRun: db.prepare<[string, string, RunStatus, number, number | null, LifecycleStage, number, number]>(
      'UPDATE runs SET name = ?, user_id = ?, status = ?, start_time = ?, end_time = ?, lifecycle_stage = ?, deleted_with_experiment = ? WHERE id = ?',
    ),
    expStage: db.prepare<[number], { lifecycle_stage: LifecycleStage }>('SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?'),
    param: db.prepare<[number, string], { value: string }>('SELECT value FROM params WHERE run_id = ? AND key = ?'),
    upsertParam: db.prepare<[number, string, string]>(
      'INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value',
    ),
    tag: db.prepare<[number, string], { value: string }>('SELECT value FROM tags WHERE run_id = ? AND key = ?'),
    upsertTag: db.prepare<[number, string, string]>(
      'INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value',
    ),
    dataset: db.prepare<[number, string, string], { id: number }>('SELECT id FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?'),
    insertDataset: db.prepare<[string, number, string, string, string, string, string | null, string | null]>(
      'INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    input: db.prepare<[number, number], { id: number }>('SELECT id FROM inputs WHERE run_id = ? AND dataset_id = ?'),
    insertInput: db.prepare<[number, number]>('INSERT INTO inputs (dataset_id, run_id) VALUES (?, ?)'),
    inputTag: db.prepare<[number, string], { value: string }>('SELECT value FROM input_tags WHERE input_id = ? AND key = ?'),
    upsertInputTag: db.prepare<[number, string, string]>(
      'INSERT INTO input_tags (input_id, key, value) VALUES (?, ?, ?) ON CONFLICT (input_id, key) DO UPDATE SET value = excluded.value',
    ),
  };

  /**
   * Upserts key/value rows, counting those that already held the value. `fresh`: the owner was created
   * in this transaction, so there is nothing to read first (half the statements of a new run's import).
   */
  function upsert(list: KeyValue[], read: (key: string) => { value: string } | undefined, write: (kv: KeyValue) => void, fresh = false): UpsertCounts {
    const counts = { created: 0, present: 0 };
    for (const kv of list) {
      if (!fresh && read(kv.key)?.value === kv.value) counts.present++;
      else {
        write(kv);
        counts.created++;
      }
    }
    return counts;
  }

  function runRow(runUuid: string) {
    const r = s.run.get(runUuid);
    if (!r) throw notFound(`Run with id=${runUuid} not found`);
    return r;
  }

  return {
    importExperiment: db.transaction((e: ImportedExperiment) => {
      let row = s.expByName.get(e.name);
      const created = row === undefined;
      if (!row) {
        const id = Number(s.insertExp.run(e.name, e.lifecycleStage, e.creationTime, e.lastUpdateTime).lastInsertRowid);
        s.setExpLocation.run(`mlflow-artifacts:/${id}`, id);
        row = { experiment_id: id, lifecycle_stage: e.lifecycleStage };
      }
      // An experiment already in lablog keeps its stage: an import never deletes (or restores) what
      // may be someone's live experiment of the same name; --verify reports the difference.
      const id = row.experiment_id;
      const tags = upsert(e.tags, (k) => s.expTag.get(id, k), (t) => s.upsertExpTag.run(id, t.key, t.value));
      return { experimentId: String(id), created, tags };
    }),

    importRun: db.transaction((r: ImportedRun): ImportedRunResult => {
      const exp = experiments.row(r.experimentId);
      // Deleted together with its (deleted) experiment: restoring the experiment brings the run back.
      const withExperiment = r.lifecycleStage === 'deleted' && s.expStage.get(exp.experiment_id)?.lifecycle_stage === 'deleted' ? 1 : 0;
      let row = s.run.get(r.runUuid);
      const created = row === undefined;
      if (!row) {
        const artifactUri = `${exp.artifact_location.replace(/\/+$/, '')}/${r.runUuid}/artifacts`;
        s.insertRun.run(r.runUuid, r.runName, exp.experiment_id, r.userId, r.status, r.startTime, r.endTime, r.lifecycleStage, artifactUri, withExperiment);
        row = runRow(r.runUuid);
      } else {
        s.updateRun.run(r.runName, r.userId, r.status, r.startTime, r.endTime, r.lifecycleStage, withExperiment, row.id);
      }
      const id = row.id;
      const params = upsert(r.params, (k) => s.param.get(id, k), (p) => s.upsertParam.run(id, p.key, p.value), created);
      const tags = upsert(r.tags, (k) => s.tag.get(id, k), (t) => s.upsertTag.run(id, t.key, t.value), created);
      const inputs = { created: 0, present: 0 };
      for (const di of r.inputs) {
        const d = di.dataset;
        let fresh = false;
        let datasetId = s.dataset.get(row.experiment_id, d.name, d.digest)?.id;
        if (datasetId === undefined) {
          datasetId = Number(
            s.insertDataset.run(randomUUID().replaceAll('-', ''), row.experiment_id, d.name, d.digest, d.sourceType, d.source, d.schema ?? null, d.profile ?? null)
              .lastInsertRowid,
          );
        }
        let inputId = s.input.get(id, datasetId)?.id;
        if (inputId === undefined) {
          inputId = Number(s.insertInput.run(datasetId, id).lastInsertRowid);
          fresh = true;
        }
        const input = inputId;
        const t = upsert(di.tags, (k) => s.inputTag.get(input, k), (kv) => s.upsertInputTag.run(input, kv.key, kv.value));
        if (fresh || t.created > 0) inputs.created++;
        else inputs.present++;
      }
      return { created, artifactUri: row.artifact_uri, params, tags, inputs };
    }),

    seriesSummaries: (runUuid: string): Map<string, SeriesSummary> => {
      const out = new Map<string, SeriesSummary>();
      for (const m of metrics.summaries(runRow(runUuid).id)) out.set(m.key, { count: m.count, step: m.step, timestamp: m.timestamp, value: m.value ?? NaN });
      return out;
    },

    replaceMetricHistory: db.transaction((runUuid: string, key: string, points: Series) => {
      const run = runRow(runUuid);
      metrics.replaceSeries(run.id, run.experiment_id, key, points);
    }),
  };
}
