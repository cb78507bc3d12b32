import type pg from 'pg';
import { notFound } from '../../errors.js';
import { experimentKey } from '../sqlite/experiments.sql.js';
import { readableSql } from '../sqlite/readable.sql.js';
import { SWEEP_COLUMNS, SWEEP_FROM, sweepKey, toSweep, toTrial, trialSelect, type SweepDbRow, type TrialDbRow } from '../sqlite/sweeps.sql.js';
import type { NewSweep, NewTrial, SweepRecord, SweepStatus, SweepStore, TrialRefusal, TrialRow } from '../sweep-types.js';
import type { ReadableBy } from '../auth-types.js';
import type { RunStatus } from '../types.js';
import { transaction, type Queryable } from './db.js';
import type { PgRuns } from './runs.sql.js';

// $1 is the sweep metric's name in every trial query.
const TRIAL_SELECT = trialSelect('$1');

/**
 * Sweeps on PostgreSQL with the rules of store/sqlite/sweeps.sql.ts. Several lablog servers may hand
 * out trials of one sweep at once: startTrial holds the sweep's row lock while it counts and claims,
 * so the checks (run cap, grid point, trial number, a worker's request id) and the insert are one
 * step for every server, not only for this process.
 */
export function createPgSweeps(pool: pg.Pool, runs: PgRuns): SweepStore {
  async function row(q: Queryable, sweepId: string, lock = false): Promise<SweepDbRow> {
    const r = (await q.query<SweepDbRow>(`SELECT ${SWEEP_COLUMNS} FROM ${SWEEP_FROM} WHERE s.id = $1${lock ? ' FOR UPDATE OF s' : ''}`, [sweepKey(sweepId)])).rows[0];
    if (!r) throw notFound(`Sweep with id=${sweepId} not found`);
    return r;
  }

  const trialWhere = async (q: Queryable, metricKey: string, where: string, values: unknown[]) =>
    (await q.query<TrialDbRow>(`${TRIAL_SELECT} WHERE ${where}`, [metricKey, ...values])).rows;

  const count = async (q: Queryable, text: string, values: unknown[]) => Number((await q.query<{ n: number }>(text, values)).rows[0].n);

  return {
    createSweep: (n: NewSweep): Promise<{ sweep: SweepRecord; created: boolean }> =>
      transaction(pool, async (c) => {
        const exp = experimentKey(n.experimentId);
        // Two servers creating one name at once: the experiment's lock makes the second find the first's sweep.
        if (exp !== null) await c.query('SELECT 1 FROM experiments WHERE experiment_id = $1 FOR NO KEY UPDATE', [exp]);
        const byName = async () =>
          exp === null ? undefined : (await c.query<SweepDbRow>(`SELECT ${SWEEP_COLUMNS} FROM ${SWEEP_FROM} WHERE s.experiment_id = $1 AND s.name = $2`, [exp, n.name])).rows[0];
        const existing = await byName();
        if (existing) return { sweep: toSweep(existing), created: false };
        const parent = await runs.insert(c, n.parentRun);
        const parentRow = await runs.row(c, parent.runId);
        const { id } = (
          await c.query<{ id: number }>(
            "INSERT INTO sweeps (experiment_id, name, method, config, status, parent_run_id, creation_time, last_update_time) VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $6) RETURNING id",
            [parentRow.experiment_id, n.name, n.method, n.config, parentRow.id, n.now],
          )
        ).rows[0];
        await runs.writeTags(c, parentRow, [{ key: 'lablog.sweep_id', value: String(id) }]);
        return { sweep: toSweep(await row(c, String(id))), created: true };
      }),

    getSweep: async (sweepId: string) => toSweep(await row(pool, sweepId)),

    async listSweeps(q: { experimentId: string | null; offset: number; limit: number; readableBy?: ReadableBy }) {
      const exp = q.experimentId === null ? null : (experimentKey(q.experimentId) ?? -1);
      const r = q.readableBy;
      // Only sweeps of experiments the user may read, so that a page is a whole page.
      const readable = r === undefined ? 'true' : readableSql('s.experiment_id', r.defaultReadable, '$4');
      const rows = (
        await pool.query<SweepDbRow>(
          `SELECT ${SWEEP_COLUMNS} FROM ${SWEEP_FROM} WHERE ($1::bigint IS NULL OR s.experiment_id = $1) AND ${readable} ORDER BY s.id DESC LIMIT $2 OFFSET $3`,
          [exp, q.limit + 1, q.offset, ...(r ? [r.userId] : [])],
        )
      ).rows;
      return { items: rows.slice(0, q.limit).map(toSweep), nextOffset: rows.length > q.limit ? q.offset + q.limit : null };
    },

    setSweepStatus: (sweepId: string, from: SweepStatus[], status: SweepStatus, now: number, parentRunStatus?: RunStatus): Promise<SweepRecord | null> =>
      transaction(pool, async (c) => {
        const key = (await row(c, sweepId)).id;
        // The status test is in the UPDATE: a concurrent change from another server is waited for, then re-checked.
        const res = await c.query('UPDATE sweeps SET status = $1, last_update_time = $2 WHERE id = $3 AND status = ANY($4::text[])', [status, now, key, from]);
        if (res.rowCount === 0) return null;
        if (parentRunStatus) {
          await c.query("UPDATE runs SET status = $1, end_time = $2 WHERE id = (SELECT parent_run_id FROM sweeps WHERE id = $3) AND status = 'RUNNING'", [
            parentRunStatus,
            now,
            key,
          ]);
        }
        return toSweep(await row(c, sweepId));
      }),

    listTrials: async (sweepId: string, metricKey: string) =>
      (await trialWhere(pool, metricKey, 't.sweep_id = $2 ORDER BY t.number', [(await row(pool, sweepId)).id])).map(toTrial),

    startTrial: (n: NewTrial): Promise<TrialRow | TrialRefusal> =>
      transaction(pool, async (c) => {
        // The sweep's row lock: another server's claim on this sweep waits here until this one commits,
        // then counts what this one inserted.
        const sweep = await row(c, n.sweepId, true);
        // A retried request gets its trial back, even if the sweep was paused since.
        const replay = n.requestId === null ? undefined : (await trialWhere(c, n.metricKey, 't.sweep_id = $2 AND t.request_id = $3', [sweep.id, n.requestId]))[0];
        if (replay) return toTrial(replay);
        if (sweep.status !== 'RUNNING') return 'not_running';
        if (n.runCap !== null && (await count(c, 'SELECT count(*) AS n FROM sweep_trials WHERE sweep_id = $1 AND NOT timed_out', [sweep.id])) >= n.runCap) {
          return 'run_cap_reached';
        }
        if (
          n.gridIndex !== null &&
          (await count(c, 'SELECT count(*) AS n FROM sweep_trials WHERE sweep_id = $1 AND grid_index = $2 AND NOT timed_out', [sweep.id, n.gridIndex])) > 0
        ) {
          return 'grid_point_taken';
        }
        if ((await count(c, 'SELECT COALESCE(MAX(number) + 1, 0) AS n FROM sweep_trials WHERE sweep_id = $1', [sweep.id])) !== n.number) return 'number_taken';
        const info = await runs.insert(c, n.run);
        const run = await runs.row(c, info.runId);
        await runs.writeParams(c, run, n.runParams);
        await c.query(
          'INSERT INTO sweep_trials (sweep_id, number, run_id, params, grid_index, worker, request_id, start_time, heartbeat_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)',
          [sweep.id, n.number, run.id, n.params, n.gridIndex, n.worker, n.requestId, n.now],
        );
        return toTrial((await trialWhere(c, n.metricKey, 't.run_id = $2', [run.id]))[0]);
      }),

    trialByRequest: async (sweepId: string, requestId: string, metricKey: string): Promise<TrialRow | null> => {
      const t = (await trialWhere(pool, metricKey, 't.sweep_id = $2 AND t.request_id = $3', [(await row(pool, sweepId)).id, requestId]))[0];
      return t ? toTrial(t) : null;
    },

    refreshTrials: (sweepId: string, now: number, deadline: number) =>
      transaction(pool, async (c) => {
        const key = (await row(c, sweepId)).id;
        // Holds the silent trials still open, so that a heartbeat from another server cannot land
        // between failing a trial's run and timing the trial out.
        await c.query("SELECT id FROM sweep_trials WHERE sweep_id = $1 AND status IN ('RUNNING', 'STOPPED') AND heartbeat_time < $2 ORDER BY id FOR UPDATE", [
          key,
          deadline,
        ]);
        // FINISHED runs complete their trial; FAILED and KILLED ones fail it.
        await c.query(
          `UPDATE sweep_trials SET status = CASE r.status WHEN 'FINISHED' THEN 'COMPLETED' ELSE 'FAILED' END,
             end_time = COALESCE(r.end_time, sweep_trials.heartbeat_time)
           FROM runs r WHERE r.id = sweep_trials.run_id AND sweep_trials.sweep_id = $1 AND sweep_trials.status = 'RUNNING'
             AND r.status IN ('FINISHED', 'FAILED', 'KILLED')`,
          [key],
        );
        // A silent worker's trial fails and its run with it; a trial told to stop whose worker then
        // went silent has its run ended for it. A run that already ended is left alone.
        const endSilentRuns = (runStatus: RunStatus, trialStatus: string) =>
          c.query(
            `UPDATE runs SET status = $1, end_time = $2 WHERE status = 'RUNNING' AND id IN
             (SELECT run_id FROM sweep_trials WHERE sweep_id = $3 AND status = $4 AND heartbeat_time < $5)`,
            [runStatus, now, key, trialStatus, deadline],
          );
        await endSilentRuns('FAILED', 'RUNNING');
        await endSilentRuns('KILLED', 'STOPPED');
        await c.query(
          `UPDATE sweep_trials SET status = 'FAILED', timed_out = true, end_time = $1, stop_reason = $2
           WHERE sweep_id = $3 AND status = 'RUNNING' AND heartbeat_time < $4`,
          [now, 'no heartbeat from its worker before the timeout', key, deadline],
        );
      }),

    async touchTrial(sweepId: string, runUuid: string, now: number) {
      const res = await pool.query(
        'UPDATE sweep_trials SET heartbeat_time = GREATEST(heartbeat_time, $1) WHERE sweep_id = $2 AND run_id = (SELECT id FROM runs WHERE run_uuid = $3)',
        [now, (await row(pool, sweepId)).id, runUuid],
      );
      if (res.rowCount === 0) throw notFound(`Run with id=${runUuid} is not a trial of sweep ${sweepId}`);
    },

    async stopTrial(sweepId: string, runUuid: string, reason: string, now: number) {
      await pool.query(
        `UPDATE sweep_trials SET status = 'STOPPED', stop_reason = $1, end_time = $2
         WHERE sweep_id = $3 AND status = 'RUNNING' AND run_id = (SELECT id FROM runs WHERE run_uuid = $4)`,
        [reason, now, sweepKey(sweepId), runUuid],
      );
    },
  };
}

