import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { invalid, notFound } from '../../errors.js';
import { toInfo, type RunRow } from '../sqlite/runs.sql.js';
import { IDEMPOTENCY_TTL_MS, type Batch, type Dataset, type DatasetInput, type KeyValue, type LifecycleStage, type NewRun, type Run, type RunInfo, type RunUpdate } from '../types.js';
import { transaction, type Queryable } from './db.js';
import type { PgExperiments } from './experiments.sql.js';
import type { ExperimentRow } from '../sqlite/experiments.sql.js';
import type { PgMetrics } from './metrics.sql.js';

const COLUMNS = 'id, run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri';
const RUN_NAME_TAG = 'mlflow.runName';

/**
 * Links a dataset to the run, adding it to the run's experiment when new: the input's id, and whether
 * the link is new. ON CONFLICT: another server may add the same dataset at the same moment.
 */
export async function linkDataset(q: Queryable, r: Pick<RunRow, 'id' | 'experiment_id'>, d: Dataset): Promise<{ inputId: number; fresh: boolean }> {
  await q.query(
    `INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (experiment_id, name, digest) DO NOTHING`,
    [randomUUID().replaceAll('-', ''), r.experiment_id, d.name, d.digest, d.sourceType, d.source, d.schema ?? null, d.profile ?? null],
  );
  const datasetId = (await q.query<{ id: number }>('SELECT id FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3', [r.experiment_id, d.name, d.digest])).rows[0].id;
  const fresh = (await q.query('INSERT INTO inputs (dataset_id, run_id) VALUES ($1, $2) ON CONFLICT (run_id, dataset_id) DO NOTHING', [datasetId, r.id])).rowCount === 1;
  const inputId = (await q.query<{ id: number }>('SELECT id FROM inputs WHERE run_id = $1 AND dataset_id = $2', [r.id, datasetId])).rows[0].id;
  return { inputId, fresh };
}

/**
 * The WITH clause of a statement that creates a run (as `r`, with the columns `row()` reads) with its tags
 * and the params given (keys unique), in placeholders $1 to $10; the statement goes on from `r`. One
 * statement, so that a sweep holds its row lock for one round trip while it creates a trial's run.
 */
export function newRun(n: NewRun, exp: Pick<ExperimentRow, 'experiment_id' | 'artifact_location'>, params: KeyValue[] = []): { sql: string; values: unknown[] } {
  const tags = new Map(n.tags.map((t) => [t.key, t.value]));
  return {
    sql: `WITH r AS (INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, lifecycle_stage, artifact_uri)
        VALUES ($1, $2, $3, $4, 'RUNNING', $5, 'active', $6) RETURNING ${COLUMNS}),
      t AS (INSERT INTO tags (run_id, key, value) SELECT r.id, x.key, x.value FROM r, unnest($7::text[], $8::text[]) AS x(key, value)),
      p AS (INSERT INTO params (run_id, key, value) SELECT r.id, x.key, x.value FROM r, unnest($9::text[], $10::text[]) AS x(key, value))`,
    values: [
      n.runUuid,
      // The run name lives in both places in MLflow: a mlflow.runName tag names the run.
      tags.get(RUN_NAME_TAG) ?? n.runName,
      exp.experiment_id,
      n.userId,
      n.startTime,
      n.artifactUri(exp.artifact_location),
      [...tags.keys()],
      [...tags.values()],
      params.map((p) => p.key),
      params.map((p) => p.value),
    ],
  };
}

/**
 * Runs on PostgreSQL with the rules and messages of store/sqlite/runs.sql.ts. Every write takes the
 * run's row lock first, so writes to one run from several servers apply one after another (a
 * rewritten tag never loses an update, a series has one writer).
 */
export function createPgRuns(pool: pg.Pool, experiments: PgExperiments, metrics: PgMetrics) {
  let keyedWrites = 0;

  async function row(q: Queryable, runUuid: string, lock = false): Promise<RunRow> {
    // Named: every write starts here, and a prepared statement is planned once per connection.
    const r = (await q.query<RunRow>({ name: lock ? 'lablog-run-lock' : 'lablog-run', text: `SELECT ${COLUMNS} FROM runs WHERE run_uuid = $1${lock ? ' FOR UPDATE' : ''}`, values: [runUuid] })).rows[0];
    if (!r) throw notFound(`Run with id=${runUuid} not found`);
    return r;
  }

  async function activeRow(q: Queryable, runUuid: string): Promise<RunRow> {
    const r = await row(q, runUuid, true);
    if (r.lifecycle_stage !== 'active') {
      throw invalid(`The run ${runUuid} must be in the 'active' state. Current state is ${r.lifecycle_stage}.`);
    }
    return r;
  }

  /** Upserts tags in order (a key given twice keeps its last value), keeping the run name in step. */
  async function writeTags(q: Queryable, r: RunRow, tags: KeyValue[]): Promise<void> {
    if (tags.length === 0) return;
    const last = new Map(tags.map((t) => [t.key, t.value]));
    await q.query(
      'INSERT INTO tags (run_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value',
      [r.id, [...last.keys()], [...last.values()]],
    );
    // The run name lives in both places in MLflow; keep them equal whichever is written.
    const name = last.get(RUN_NAME_TAG);
    if (name !== undefined) await q.query('UPDATE runs SET name = $1 WHERE id = $2', [name, r.id]);
  }

  /** Loads whole runs (info, latest metrics, params, tags, inputs) in the order of `ids`. */
  async function load(q: Queryable, ids: number[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    const runs = new Map<number, Run>();
    for (const r of (await q.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE id = ANY($1::bigint[])`, [ids])).rows) {
      runs.set(r.id, { info: toInfo(r), data: { metrics: [], params: [], tags: [] }, inputs: { datasetInputs: [] } });
    }
    const kv = (table: string) =>
      q.query<{ run_id: number; key: string; value: string }>(`SELECT run_id, key, value FROM ${table} WHERE run_id = ANY($1::bigint[]) ORDER BY key COLLATE "C"`, [ids]);
    for (const p of (await kv('params')).rows) runs.get(p.run_id)?.data.params.push({ key: p.key, value: p.value });
    for (const t of (await kv('tags')).rows) runs.get(t.run_id)?.data.tags.push({ key: t.key, value: t.value });
    const latest = await q.query<{ run_id: number; key: string; value: number | null; step: number; timestamp: number }>(
      'SELECT run_id, key, value, step, timestamp FROM metric_series WHERE run_id = ANY($1::bigint[]) ORDER BY key COLLATE "C"',
      [ids],
    );
    for (const m of latest.rows) runs.get(m.run_id)?.data.metrics.push({ key: m.key, value: m.value ?? NaN, timestamp: m.timestamp, step: m.step });
    const inputs = await q.query<{ input_id: number; run_id: number; name: string; digest: string; source_type: string; source: string; schema: string | null; profile: string | null }>(
      `SELECT i.id AS input_id, i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
       FROM inputs i JOIN datasets d ON d.id = i.dataset_id WHERE i.run_id = ANY($1::bigint[]) ORDER BY i.id`,
      [ids],
    );
    if (inputs.rows.length > 0) {
      const byInput = new Map<number, DatasetInput>();
      for (const i of inputs.rows) {
        const di: DatasetInput = {
          tags: [],
          dataset: { name: i.name, digest: i.digest, sourceType: i.source_type, source: i.source, schema: i.schema, profile: i.profile },
        };
        byInput.set(i.input_id, di);
        runs.get(i.run_id)?.inputs.datasetInputs.push(di);
      }
      const tags = await q.query<{ input_id: number; key: string; value: string }>(
        'SELECT input_id, key, value FROM input_tags WHERE input_id = ANY($1::bigint[]) ORDER BY key COLLATE "C"',
        [[...byInput.keys()]],
      );
      for (const t of tags.rows) byInput.get(t.input_id)?.tags.push({ key: t.key, value: t.value });
    }
    return ids.flatMap((id) => runs.get(id) ?? []);
  }

  async function writeParams(q: Queryable, r: RunRow, params: KeyValue[]): Promise<void> {
    if (params.length === 0) return;
    const known = new Map<string, string>();
    const existing = await q.query<{ key: string; value: string }>('SELECT key, value FROM params WHERE run_id = $1 AND key = ANY($2::text[])', [
      r.id,
      params.map((p) => p.key),
    ]);
    for (const p of existing.rows) known.set(p.key, p.value);
    const fresh = new Map<string, string>();
    for (const p of params) {
      const value = known.get(p.key);
      if (value === undefined) {
        known.set(p.key, p.value);
        fresh.set(p.key, p.value);
      } else if (value !== p.value) {
        throw invalid(
          `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${value}' for run ID='${r.run_uuid}'. Attempted logging new value '${p.value}'.`,
        );
      }
    }
    if (fresh.size > 0) {
      await q.query('INSERT INTO params (run_id, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])', [r.id, [...fresh.keys()], [...fresh.values()]]);
    }
  }

  const insertRun = async (q: Queryable, n: NewRun): Promise<RunInfo> => {
    const w = newRun(n, await experiments.activeRow(q, n.experimentId));
    return toInfo((await q.query<RunRow>(`${w.sql} SELECT * FROM r`, w.values)).rows[0]);
  };

  return {
    row,
    load,
    // For writes that create a run inside their own transaction (a sweep's parent run, a trial's run).
    insert: insertRun,
    writeParams,
    writeTags,
    info: async (runUuid: string) => toInfo(await row(pool, runUuid)),
    get: async (runUuid: string) => (await load(pool, [(await row(pool, runUuid)).id]))[0],
    create: (n: NewRun): Promise<RunInfo> => transaction(pool, (c) => insertRun(c, n)),
    ensure: (n: NewRun): Promise<{ info: RunInfo; created: boolean }> =>
      transaction(pool, async (c) => {
        // Two ensures of one id at once: the second waits here for the first to commit, then finds its run.
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [n.runUuid]);
        const existing = (await c.query<RunRow>(`SELECT ${COLUMNS} FROM runs WHERE run_uuid = $1`, [n.runUuid])).rows[0];
        return existing ? { info: toInfo(existing), created: false } : { info: await insertRun(c, n), created: true };
      }),
    update: (runUuid: string, u: RunUpdate): Promise<RunInfo> =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, runUuid);
        await c.query('UPDATE runs SET status = $1, end_time = $2, name = $3 WHERE id = $4', [u.status ?? r.status, u.endTime ?? r.end_time, u.runName ?? r.name, r.id]);
        if (u.runName !== undefined) await writeTags(c, r, [{ key: RUN_NAME_TAG, value: u.runName }]);
        return toInfo(await row(c, runUuid));
      }),
    setLifecycle: (runUuid: string, stage: LifecycleStage, now: number) =>
      transaction(pool, async (c) => {
        const r = await row(c, runUuid, true);
        if (stage === 'active') await experiments.activeRow(c, String(r.experiment_id));
        await c.query('UPDATE runs SET lifecycle_stage = $1, deleted_time = $2, deleted_with_experiment = false WHERE id = $3', [
          stage,
          stage === 'deleted' ? now : null,
          r.id,
        ]);
      }),
    /** True when the idempotency key was seen before for this run (nothing written). */
    logBatch: (runUuid: string, b: Batch, idempotency?: { key: string; now: number }): Promise<boolean> =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, runUuid);
        if (idempotency) {
          // Recorded in the batch's own transaction: applied together or not at all. The run's row
          // lock makes a concurrent retry wait here and then find the key.
          const inserted = await c.query('INSERT INTO idempotency_keys (run_id, key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
            r.id,
            idempotency.key,
            idempotency.now,
          ]);
          if (inserted.rowCount === 0) return true;
          if (++keyedWrites % 1000 === 1) await c.query('DELETE FROM idempotency_keys WHERE created_at < $1', [idempotency.now - IDEMPOTENCY_TTL_MS]);
        }
        await writeParams(c, r, b.params);
        await writeTags(c, r, b.tags);
        if (b.metrics.length > 0) await metrics.appendPoints(c, r.id, b.metrics);
        return false;
      }),
    deleteTag: (runUuid: string, key: string) =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, runUuid);
        const res = await c.query('DELETE FROM tags WHERE run_id = $1 AND key = $2', [r.id, key]);
        if (res.rowCount === 0) throw notFound(`No tag with name: ${key} in run with id ${runUuid}`);
      }),
    rewriteTag: (runUuid: string, key: string, rewrite: (previous: string | undefined) => string) =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, runUuid);
        const previous = (await c.query<{ value: string }>('SELECT value FROM tags WHERE run_id = $1 AND key = $2', [r.id, key])).rows[0]?.value;
        await writeTags(c, r, [{ key, value: rewrite(previous) }]);
      }),
    logInputs: (runUuid: string, list: DatasetInput[]) =>
      transaction(pool, async (c) => {
        const r = await activeRow(c, runUuid);
        for (const di of list) {
          const { inputId } = await linkDataset(c, r, di.dataset);
          for (const t of di.tags) {
            await c.query('INSERT INTO input_tags (input_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (input_id, key) DO UPDATE SET value = excluded.value', [
              inputId,
              t.key,
              t.value,
            ]);
          }
        }
      }),
  };
}

export type PgRuns = ReturnType<typeof createPgRuns>;
