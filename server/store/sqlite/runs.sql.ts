import { randomUUID } from 'node:crypto';
import type { Db } from '../db.js';
import { invalid, notFound } from '../../errors.js';
import type { ExperimentStatements } from './experiments.sql.js';
import type { MetricStatements } from './metrics.sql.js';
import { IDEMPOTENCY_TTL_MS, type Batch, type DatasetInput, type KeyValue, type LifecycleStage, type NewRun, type Run, type RunInfo, type RunStatus, type RunUpdate } from '../types.js';

export interface RunRow {
  id: number;
  run_uuid: string;
  name: string;
  experiment_id: number;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: LifecycleStage;
  artifact_uri: string;
}

const COLUMNS = 'id, run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri';
const RUN_NAME_TAG = 'mlflow.runName';

export function createRunStatements(db: Db, experiments: ExperimentStatements, metrics: MetricStatements) {
  const s = {
    byUuid: db.prepare<[string], RunRow>(`SELECT ${COLUMNS} FROM runs WHERE run_uuid = ?`),
    byId: db.prepare<[number], RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = ?`),
    byIds: db.prepare<[string], RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id IN (SELECT value FROM json_each(?))`),
    insert: db.prepare<[string, string, number, string, number, string]>(
      "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, 'RUNNING', ?, 'active', ?)",
    ),
    update: db.prepare<[RunStatus, number | null, string, number]>('UPDATE runs SET status = ?, end_time = ?, name = ? WHERE id = ?'),
    setName: db.prepare<[string, number]>('UPDATE runs SET name = ? WHERE id = ?'),
    setStage: db.prepare<[LifecycleStage, number | null, number]>(
      'UPDATE runs SET lifecycle_stage = ?, deleted_time = ?, deleted_with_experiment = 0 WHERE id = ?',
    ),
    // Params and tags come as one JSON array of [key, value] per run: a page of 100 runs holds 5,000
    // params, and one string per run parses several times faster than a row object per param.
    paramsOf: db
      .prepare<[string]>('SELECT run_id, json_group_array(json_array(key, value) ORDER BY key) FROM params WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id')
      .raw(true),
    tag: db.prepare<[number, string], { value: string }>('SELECT value FROM tags WHERE run_id = ? AND key = ?'),
    tagsOf: db
      .prepare<[string]>('SELECT run_id, json_group_array(json_array(key, value) ORDER BY key) FROM tags WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id')
      .raw(true),
    // Rows as arrays: 20 metrics of 100 runs are 2,000 rows, and an object per row costs as much as the read.
    latestOf: db
      .prepare<[string]>('SELECT run_id, key, value, step, timestamp FROM metric_series WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY key')
      .raw(true),
    inputsOf: db.prepare<[string], { input_id: number; run_id: number; name: string; digest: string; source_type: string; source: string; schema: string | null; profile: string | null }>(
      `SELECT i.id AS input_id, i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
       FROM inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id IN (SELECT value FROM json_each(?)) ORDER BY i.id`,
    ),
    inputTagsOf: db.prepare<[string], { input_id: number; key: string; value: string }>(
      'SELECT input_id, key, value FROM input_tags WHERE input_id IN (SELECT value FROM json_each(?)) ORDER BY key',
    ),
    param: db.prepare<[number, string], { value: string }>('SELECT value FROM params WHERE run_id = ? AND key = ?'),
    insertParam: db.prepare<[number, string, string]>('INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)'),
    upsertTag: db.prepare<[number, string, string]>(
      'INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value',
    ),
    deleteTag: db.prepare<[number, string]>('DELETE FROM tags WHERE run_id = ? AND key = ?'),
    dataset: db.prepare<[number, string, string], { id: number }>(
      'SELECT id FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?',
    ),
    insertDataset: db.prepare<[string, number, string, string, string, string, string | null, string | null]>(
      'INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    input: db.prepare<[number, number], { id: number }>('SELECT id FROM inputs WHERE run_id = ? AND dataset_id = ?'),
    insertInput: db.prepare<[number, number]>('INSERT INTO inputs (dataset_id, run_id) VALUES (?, ?)'),
    insertKey: db.prepare<[number, string, number]>('INSERT OR IGNORE INTO idempotency_keys (run_id, key, created_at) VALUES (?, ?, ?)'),
    purgeKeys: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE created_at < ?'),
    upsertInputTag: db.prepare<[number, string, string]>(
      'INSERT INTO input_tags (input_id, key, value) VALUES (?, ?, ?) ON CONFLICT (input_id, key) DO UPDATE SET value = excluded.value',
    ),
  };

  let keyedWrites = 0;

  function row(runUuid: string): RunRow {
    const r = s.byUuid.get(runUuid);
    if (!r) throw notFound(`Run with id=${runUuid} not found`);
    return r;
  }

  function activeRow(runUuid: string): RunRow {
    const r = row(runUuid);
    if (r.lifecycle_stage !== 'active') {
      throw invalid(`The run ${runUuid} must be in the 'active' state. Current state is ${r.lifecycle_stage}.`);
    }
    return r;
  }

  function writeTags(r: RunRow, tags: KeyValue[]): void {
    for (const t of tags) {
      s.upsertTag.run(r.id, t.key, t.value);
      // The run name lives in both places in MLflow; keep them equal whichever is written.
      if (t.key === RUN_NAME_TAG) s.setName.run(t.value, r.id);
    }
  }

  function insertRun(n: NewRun): RunInfo {
    const exp = experiments.activeRow(n.experimentId);
    const artifactUri = n.artifactUri(exp.artifact_location);
    const id = Number(s.insert.run(n.runUuid, n.runName, exp.experiment_id, n.userId, n.startTime, artifactUri).lastInsertRowid);
    writeTags(s.byId.get(id)!, n.tags);
    return toInfo(s.byId.get(id)!);
  }

  /** Loads whole runs (info, latest metrics, params, tags, inputs) in the order of `ids`. */
  function load(ids: number[]): Run[] {
    if (ids.length === 0) return [];
    const json = JSON.stringify(ids);
    const runs = new Map<number, Run>();
    for (const r of s.byIds.all(json)) {
      runs.set(r.id, { info: toInfo(r), data: { metrics: [], params: [], tags: [] }, inputs: { datasetInputs: [] } });
    }
    for (const [id, list] of s.paramsOf.all(json) as [number, string][]) {
      const run = runs.get(id);
      if (run) run.data.params = keyValues(list);
    }
    for (const [id, list] of s.tagsOf.all(json) as [number, string][]) {
      const run = runs.get(id);
      if (run) run.data.tags = keyValues(list);
    }
    for (const [id, key, value, step, timestamp] of s.latestOf.all(json) as [number, string, number | null, number, number][]) {
      runs.get(id)?.data.metrics.push({ key, value: value ?? NaN, timestamp, step });
    }
    const inputs = s.inputsOf.all(json);
    if (inputs.length > 0) {
      const byInput = new Map<number, DatasetInput>();
      for (const i of inputs) {
        const di: DatasetInput = {
          tags: [],
          dataset: { name: i.name, digest: i.digest, sourceType: i.source_type, source: i.source, schema: i.schema, profile: i.profile },
        };
        byInput.set(i.input_id, di);
        runs.get(i.run_id)?.inputs.datasetInputs.push(di);
      }
      for (const t of s.inputTagsOf.all(JSON.stringify([...byInput.keys()]))) byInput.get(t.input_id)?.tags.push({ key: t.key, value: t.value });
    }
    return ids.flatMap((id) => runs.get(id) ?? []);
  }

  return {
    row,
    load,
    info: (runUuid: string) => toInfo(row(runUuid)),
    get: (runUuid: string) => load([row(runUuid).id])[0],
    create: db.transaction((n: NewRun): RunInfo => insertRun(n)),
    /** The run with the id `n` names, as it is when it exists (nothing written), else created from `n`. */
    ensure: db.transaction((n: NewRun): { info: RunInfo; created: boolean } => {
      const existing = s.byUuid.get(n.runUuid);
      return existing ? { info: toInfo(existing), created: false } : { info: insertRun(n), created: true };
    }),
    update: db.transaction((runUuid: string, u: RunUpdate): RunInfo => {
      const r = activeRow(runUuid);
      const name = u.runName ?? r.name;
      s.update.run(u.status ?? r.status, u.endTime ?? r.end_time, name, r.id);
      if (u.runName !== undefined) s.upsertTag.run(r.id, RUN_NAME_TAG, u.runName);
      return toInfo(row(runUuid));
    }),
    setLifecycle: db.transaction((runUuid: string, stage: LifecycleStage, now: number) => {
      const r = row(runUuid);
      if (stage === 'active') experiments.activeRow(String(r.experiment_id));
      s.setStage.run(stage, stage === 'deleted' ? now : null, r.id);
    }),
    /** Returns true when the idempotency key was seen before for this run (nothing written). */
    logBatch: db.transaction((runUuid: string, b: Batch, idempotency?: { key: string; now: number }): boolean => {
      const r = activeRow(runUuid);
      if (idempotency) {
        // The key is recorded in the batch's own transaction: applied together or not at all.
        if (s.insertKey.run(r.id, idempotency.key, idempotency.now).changes === 0) return true;
        if (++keyedWrites % 1000 === 1) s.purgeKeys.run(idempotency.now - IDEMPOTENCY_TTL_MS);
      }
      for (const p of b.params) {
        const existing = s.param.get(r.id, p.key);
        if (!existing) s.insertParam.run(r.id, p.key, p.value);
        else if (existing.value !== p.value) {
          throw invalid(
            `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${existing.value}' for run ID='${runUuid}'. Attempted logging new value '${p.value}'.`,
          );
        }
      }
      writeTags(r, b.tags);
      if (b.metrics.length > 0) metrics.appendPoints(r.id, r.experiment_id, b.metrics);
      return false;
    }),
    deleteTag: db.transaction((runUuid: string, key: string) => {
      const r = activeRow(runUuid);
      if (s.deleteTag.run(r.id, key).changes === 0) throw notFound(`No tag with name: ${key} in run with id ${runUuid}`);
    }),
    rewriteTag: db.transaction((runUuid: string, key: string, rewrite: (previous: string | undefined) => string) => {
      const r = activeRow(runUuid);
      writeTags(r, [{ key, value: rewrite(s.tag.get(r.id, key)?.value) }]);
    }),
    logInputs: db.transaction((runUuid: string, list: DatasetInput[]) => {
      const r = activeRow(runUuid);
      for (const di of list) {
        const d = di.dataset;
        let datasetId = s.dataset.get(r.experiment_id, d.name, d.digest)?.id;
        if (datasetId === undefined) {
          datasetId = Number(
            s.insertDataset.run(randomUUID().replaceAll('-', ''), r.experiment_id, d.name, d.digest, d.sourceType, d.source, d.schema ?? null, d.profile ?? null)
              .lastInsertRowid,
          );
        }
        let inputId = s.input.get(r.id, datasetId)?.id;
        if (inputId === undefined) inputId = Number(s.insertInput.run(datasetId, r.id).lastInsertRowid);
        for (const t of di.tags) s.upsertInputTag.run(inputId, t.key, t.value);
      }
    }),
  };
}

export type RunStatements = ReturnType<typeof createRunStatements>;

/** A JSON array of [key, value] pairs (json_group_array above) as KeyValues. */
function keyValues(json: string): KeyValue[] {
  return (JSON.parse(json) as [string, string][]).map(([key, value]) => ({ key, value }));
}

export function toInfo(r: RunRow): RunInfo {
  return {
    runId: r.run_uuid,
    runName: r.name,
    experimentId: String(r.experiment_id),
    userId: r.user_id,
    status: r.status,
    startTime: r.start_time,
    endTime: r.end_time,
    artifactUri: r.artifact_uri,
    lifecycleStage: r.lifecycle_stage,
  };
}
