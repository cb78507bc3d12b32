import type pg from 'pg';
import { alreadyExists, invalid, notFound } from '../../errors.js';
import { experimentKey, toExperiment, type ExperimentRow } from '../sqlite/experiments.sql.js';
import type { Experiment, KeyValue, LifecycleStage, NewExperiment } from '../types.js';
import { isUniqueViolation, transaction, type Queryable } from './db.js';

const COLUMNS = 'experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time';

/** The experiment (`id` as the caller named it), if runs may be created in it. */
export function active(r: ExperimentRow, id = String(r.experiment_id)): ExperimentRow {
  if (r.lifecycle_stage !== 'active') {
    throw invalid(`The experiment ${id} must be in the 'active' state. Current state is ${r.lifecycle_stage}.`);
  }
  return r;
}

/** Experiments on PostgreSQL: the same rules and messages as store/sqlite/experiments.sql.ts. */
export function createPgExperiments(pool: pg.Pool) {
  async function load(q: Queryable, ids: number[]): Promise<Experiment[]> {
    if (ids.length === 0) return [];
    const rows = await q.query<ExperimentRow>(`SELECT ${COLUMNS} FROM experiments WHERE experiment_id = ANY($1::bigint[])`, [ids]);
    const tags = new Map<number, KeyValue[]>();
    const tagRows = await q.query<{ experiment_id: number; key: string; value: string }>(
      'SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id = ANY($1::bigint[]) ORDER BY key COLLATE "C"',
      [ids],
    );
    for (const t of tagRows.rows) {
      const list = tags.get(t.experiment_id) ?? [];
      list.push({ key: t.key, value: t.value });
      tags.set(t.experiment_id, list);
    }
    const byId = new Map(rows.rows.map((r) => [r.experiment_id, toExperiment(r, tags.get(r.experiment_id) ?? [])]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** The experiment's row; `lock` takes a row lock for the rest of the caller's transaction. */
  async function row(q: Queryable, id: string, lock = false): Promise<ExperimentRow> {
    const key = experimentKey(id);
    const r = key === null ? undefined : (await q.query<ExperimentRow>(`SELECT ${COLUMNS} FROM experiments WHERE experiment_id = $1${lock ? ' FOR UPDATE' : ''}`, [key])).rows[0];
    if (!r) throw notFound(`No Experiment with id=${id} exists`);
    return r;
  }

  const activeRow = async (q: Queryable, id: string, lock = false): Promise<ExperimentRow> => active(await row(q, id, lock), id);

  async function byName(q: Queryable, name: string): Promise<ExperimentRow | undefined> {
    return (await q.query<ExperimentRow>(`SELECT ${COLUMNS} FROM experiments WHERE name = $1`, [name])).rows[0];
  }

  const upsertTag = (q: Queryable, id: number, tag: KeyValue) =>
    q.query('INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value', [
      id,
      tag.key,
      tag.value,
    ]);

  return {
    load,
    row,
    activeRow,
    get: async (id: string) => (await load(pool, [(await row(pool, id)).experiment_id]))[0],
    getByName: async (name: string) => {
      const r = await byName(pool, name);
      return r ? (await load(pool, [r.experiment_id]))[0] : null;
    },
    create: (e: NewExperiment): Promise<string> =>
      transaction(pool, async (c) => {
        if (await byName(c, e.name)) throw alreadyExists(`Experiment '${e.name}' already exists.`);
        let id: number;
        try {
          const inserted = await c.query<{ experiment_id: number }>(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES ($1, '', 'active', $2, $2) RETURNING experiment_id",
            [e.name, e.now],
          );
          id = inserted.rows[0].experiment_id;
        } catch (err) {
          // Another server created the same name between the check and the insert.
          if (isUniqueViolation(err)) throw alreadyExists(`Experiment '${e.name}' already exists.`);
          throw err;
        }
        await c.query('UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2', [e.artifactLocation ?? `mlflow-artifacts:/${id}`, id]);
        for (const t of e.tags) await upsertTag(c, id, t);
        return String(id);
      }),
    rename: (id: string, name: string, now: number) =>
      transaction(pool, async (c) => {
        const r = await row(c, id, true);
        if (r.lifecycle_stage !== 'active') throw invalid('Cannot rename a non-active experiment.');
        const other = await byName(c, name);
        if (other && other.experiment_id !== r.experiment_id) throw alreadyExists(`Experiment '${name}' already exists.`);
        try {
          await c.query('UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3', [name, now, r.experiment_id]);
        } catch (err) {
          if (isUniqueViolation(err)) throw alreadyExists(`Experiment '${name}' already exists.`);
          throw err;
        }
      }),
    setLifecycle: (id: string, stage: LifecycleStage, now: number) =>
      transaction(pool, async (c) => {
        const r = await row(c, id, true);
        // As MLflow: deleting needs an active experiment, restoring a deleted one.
        if (r.lifecycle_stage === stage) throw notFound(`No Experiment with id=${id} exists`);
        await c.query('UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3', [stage, now, r.experiment_id]);
        // Deleting marks the runs it hides, so that restoring brings back exactly those.
        if (stage === 'deleted') {
          await c.query(
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1, deleted_with_experiment = true WHERE experiment_id = $2 AND lifecycle_stage = 'active'",
            [now, r.experiment_id],
          );
        } else {
          await c.query(
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL, deleted_with_experiment = false WHERE experiment_id = $1 AND deleted_with_experiment",
            [r.experiment_id],
          );
        }
      }),
    setTag: (id: string, tag: KeyValue, now: number) =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, id, true);
        await upsertTag(c, r.experiment_id, tag);
        await c.query('UPDATE experiments SET last_update_time = $1 WHERE experiment_id = $2', [now, r.experiment_id]);
      }),
    deleteTag: (id: string, key: string) =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, id, true);
        const res = await c.query('DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2', [r.experiment_id, key]);
        if (res.rowCount === 0) throw notFound(`No tag with name: ${key} in experiment ${id}.`);
      }),
  };
}

export type PgExperiments = ReturnType<typeof createPgExperiments>;
