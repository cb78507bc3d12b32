import type { Db } from '../db.js';
import { alreadyExists, invalid, notFound } from '../../errors.js';
import type { Experiment, KeyValue, LifecycleStage, NewExperiment } from '../types.js';

export interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
}

const COLUMNS = 'experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time';

/** Experiment ids are strings on the wire; anything that is not a stored integer id does not exist. */
export function experimentKey(id: string): number | null {
  return /^\d{1,15}$/.test(id) ? Number(id) : null;
}

export function createExperimentStatements(db: Db) {
  const s = {
    byId: db.prepare<[number], ExperimentRow>(`SELECT ${COLUMNS} FROM experiments WHERE experiment_id = ?`),
    byName: db.prepare<[string], ExperimentRow>(`SELECT ${COLUMNS} FROM experiments WHERE name = ?`),
    byIds: db.prepare<[string], ExperimentRow>(
      `SELECT ${COLUMNS} FROM experiments WHERE experiment_id IN (SELECT value FROM json_each(?))`,
    ),
    tagsOf: db.prepare<[string], { experiment_id: number; key: string; value: string }>(
      'SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (SELECT value FROM json_each(?)) ORDER BY key',
    ),
    insert: db.prepare<[string, number, number]>(
      "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', 'active', ?, ?)",
    ),
    setLocation: db.prepare<[string, number]>('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?'),
    rename: db.prepare<[string, number, number]>('UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?'),
    setStage: db.prepare<[LifecycleStage, number, number]>(
      'UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?',
    ),
    touch: db.prepare<[number, number]>('UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?'),
    // An experiment's deletion hides its runs by deleting them with a mark, so that restoring brings
    // back exactly those, and not runs that had been deleted on their own before.
    deleteRuns: db.prepare<[number, number]>(
      "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ?, deleted_with_experiment = 1 WHERE experiment_id = ? AND lifecycle_stage = 'active'",
    ),
    restoreRuns: db.prepare<[number]>(
      "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL, deleted_with_experiment = 0 WHERE experiment_id = ? AND deleted_with_experiment = 1",
    ),
    upsertTag: db.prepare<[number, string, string]>(
      'INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value',
    ),
    deleteTag: db.prepare<[number, string]>('DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?'),
  };

  function load(ids: number[]): Experiment[] {
    const json = JSON.stringify(ids);
    const rows = s.byIds.all(json);
    const tags = new Map<number, KeyValue[]>();
    for (const t of s.tagsOf.all(json)) {
      const list = tags.get(t.experiment_id) ?? [];
      list.push({ key: t.key, value: t.value });
      tags.set(t.experiment_id, list);
    }
    const byId = new Map(rows.map((r) => [r.experiment_id, toExperiment(r, tags.get(r.experiment_id) ?? [])]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  function row(id: string): ExperimentRow {
    const key = experimentKey(id);
    const r = key === null ? undefined : s.byId.get(key);
    if (!r) throw notFound(`No Experiment with id=${id} exists`);
    return r;
  }

  function activeRow(id: string): ExperimentRow {
    const r = row(id);
    if (r.lifecycle_stage !== 'active') {
      throw invalid(`The experiment ${id} must be in the 'active' state. Current state is ${r.lifecycle_stage}.`);
    }
    return r;
  }

  return {
    load,
    row,
    activeRow,
    get: (id: string) => load([row(id).experiment_id])[0],
    getByName: (name: string) => {
      const r = s.byName.get(name);
      return r ? load([r.experiment_id])[0] : null;
    },
    create: db.transaction((e: NewExperiment): string => {
      if (s.byName.get(e.name)) throw alreadyExists(`Experiment '${e.name}' already exists.`);
      const id = Number(s.insert.run(e.name, e.now, e.now).lastInsertRowid);
      s.setLocation.run(e.artifactLocation ?? `mlflow-artifacts:/${id}`, id);
      for (const t of e.tags) s.upsertTag.run(id, t.key, t.value);
      return String(id);
    }),
    rename: db.transaction((id: string, name: string, now: number) => {
      const r = row(id);
      if (r.lifecycle_stage !== 'active') throw invalid('Cannot rename a non-active experiment.');
      const other = s.byName.get(name);
      if (other && other.experiment_id !== r.experiment_id) throw alreadyExists(`Experiment '${name}' already exists.`);
      s.rename.run(name, now, r.experiment_id);
    }),
    setLifecycle: db.transaction((id: string, stage: LifecycleStage, now: number) => {
      const r = row(id);
      // As MLflow: deleting needs an active experiment, restoring a deleted one.
      if (r.lifecycle_stage === stage) throw notFound(`No Experiment with id=${id} exists`);
      s.setStage.run(stage, now, r.experiment_id);
      if (stage === 'deleted') s.deleteRuns.run(now, r.experiment_id);
      else s.restoreRuns.run(r.experiment_id);
    }),
    setTag: db.transaction((id: string, tag: KeyValue, now: number) => {
      const r = activeRow(id);
      s.upsertTag.run(r.experiment_id, tag.key, tag.value);
      s.touch.run(now, r.experiment_id);
    }),
    deleteTag: db.transaction((id: string, key: string) => {
      const r = activeRow(id);
      if (s.deleteTag.run(r.experiment_id, key).changes === 0) {
        throw notFound(`No tag with name: ${key} in experiment ${id}.`);
      }
    }),
  };
}

export type ExperimentStatements = ReturnType<typeof createExperimentStatements>;

export function toExperiment(r: ExperimentRow, tags: KeyValue[]): Experiment {
  return {
    experimentId: String(r.experiment_id),
    name: r.name,
    artifactLocation: r.artifact_location,
    lifecycleStage: r.lifecycle_stage,
    creationTime: r.creation_time,
    lastUpdateTime: r.last_update_time,
    tags,
  };
}
