import type pg from 'pg';
import { notFound } from '../../errors.js';
import { experimentKey, type ExperimentRow } from '../sqlite/experiments.sql.js';
import { readableSql } from '../sqlite/readable.sql.js';
import { SWEEP_COLUMNS, SWEEP_FROM, sweepKey, toSweep, type SweepDbRow } from '../sqlite/sweeps.sql.js';
import type { NewSweep, NewTrial, SweepRecord, SweepStatus, SweepStore, TrialRefusal, TrialRow, TrialSummary } from '../sweep-types.js';
import { claimCounts, claimSlot, SCORED_TRIALS, TRIAL_PROGRESS, toProgress, toScored, toSummary, toTrial, trialSelect, trialSummary, type ClaimDbRow, type ProgressDbRow, type ScoredDbRow, type SummaryDbRow, type TrialDbRow } from '../trial-sql.js';
import type { ReadableBy } from '../auth-types.js';
import type { RunStatus } from '../types.js';
import { transaction, type Queryable } from './db.js';
import { active } from './experiments.sql.js';
import { newRun, type PgRuns } from './runs.sql.js';

// $1 is the sweep metric's name in every trial query.
const TRIAL_SELECT = trialSelect('$1');

// $1 the sweep's key. FINISHED runs complete their trial; FAILED and KILLED ones fail it.
const FOLLOW_RUNS = `UPDATE sweep_trials SET status = CASE r.status WHEN 'FINISHED' THEN 'COMPLETED' ELSE 'FAILED' END,
    end_time = COALESCE(r.end_time, sweep_trials.heartbeat_time)
  FROM runs r WHERE r.id = sweep_trials.run_id AND sweep_trials.sweep_id = $1 AND sweep_trials.status = 'RUNNING'
    AND r.status IN ('FINISHED', 'FAILED', 'KILLED')`;

/**
 * $1 the sweep's key, $2 the heartbeat deadline: a trial whose worker went silent while the trial still
 * holds a run open (a running trial whose run has not ended, or a stopped one whose run still runs).
 */
const SILENT_TRIAL = `SELECT 1 AS silent FROM sweep_trials t JOIN runs r ON r.id = t.run_id
  WHERE t.sweep_id = $1 AND t.heartbeat_time < $2 AND t.status IN ('RUNNING', 'STOPPED')
    AND ((t.status = 'RUNNING' AND r.status NOT IN ('FINISHED', 'FAILED', 'KILLED')) OR (t.status = 'STOPPED' AND r.status = 'RUNNING')) LIMIT 1`;

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

    trialProgress: async (sweepId: string, metricKey: string) =>
      (await pool.query<ProgressDbRow>(TRIAL_PROGRESS, [metricKey, sweepKey(sweepId)])).rows.map(toProgress),

    scoredTrials: async (sweepId: string, metricKey: string) => (await pool.query<ScoredDbRow>(SCORED_TRIALS, [metricKey, sweepKey(sweepId)])).rows.map(toScored),

    async getTrial(sweepId: string, runUuid: string, metricKey: string): Promise<TrialRow> {
      const t = (await trialWhere(pool, metricKey, 't.sweep_id = $2 AND r.run_uuid = $3', [sweepKey(sweepId), runUuid]))[0];
      if (!t) throw notFound(`Run with id=${runUuid} is not a trial of sweep ${sweepId}`);
      return toTrial(t);
    },

    trialSummary: async (sweepId: string, metricKey: string, goal: 'minimize' | 'maximize'): Promise<TrialSummary> =>
      toSummary((await pool.query<SummaryDbRow>(trialSummary('NOT timed_out', goal), [metricKey, sweepKey(sweepId)])).rows[0]),

    startTrial: (n: NewTrial): Promise<TrialRow | TrialRefusal> => {
      const key = sweepKey(n.sweepId);
      // The sweep's row lock, taken in the round trip that begins the transaction (the key is a number
      // sweepKey checked, so it is written into the text): another server's claim on this sweep waits
      // there until this one commits, then counts what this one inserted.
      return transaction(pool, async (c) => {
        const sweep = (
          await c.query<ClaimDbRow & ExperimentRow & { status: SweepStatus }>(
            `SELECT s.status, e.*, c.* FROM sweeps s JOIN experiments e ON e.experiment_id = s.experiment_id CROSS JOIN (${claimCounts('NOT timed_out')}) c
             WHERE s.id = $1`,
            [key, n.requestId],
          )
        ).rows[0];
        if (!sweep) throw notFound(`Sweep with id=${n.sweepId} not found`);
        // A retried request gets its trial back, even if the sweep was paused since.
        if (sweep.replay !== null) return toTrial((await trialWhere(c, n.metricKey, 't.sweep_id = $2 AND t.number = $3', [key, sweep.replay]))[0]);
        if (sweep.status !== 'RUNNING') return 'not_running';
        const slot = claimSlot(n, sweep);
        if (typeof slot === 'string') return slot;
        const content = n.content(slot);
        const run = newRun(content.run, active(sweep), content.runParams);
        const trial = (
          await c.query<Omit<TrialDbRow, 'run_uuid' | 'has_value' | 'value' | 'step' | 'points'>>(
            `${run.sql} INSERT INTO sweep_trials (sweep_id, number, run_id, params, grid_index, worker, request_id, start_time, heartbeat_time)
             SELECT $11::bigint, $12::integer, r.id, $13::text, $14::integer, $15::text, $16::text, $17::bigint, $17::bigint FROM r
             RETURNING number, params, grid_index, status, timed_out, stop_reason, worker, start_time, end_time, heartbeat_time`,
            [...run.values, key, slot.number, content.params, slot.gridIndex, n.worker, n.requestId, n.now],
          )
        ).rows[0];
        // A new run has logged nothing yet.
        return toTrial({ ...trial, run_uuid: content.run.runUuid, has_value: false, value: null, step: null, points: null });
      }, `BEGIN; SELECT FROM sweeps WHERE id = ${key} FOR UPDATE`);
    },

    trialByRequest: async (sweepId: string, requestId: string, metricKey: string): Promise<TrialRow | null> => {
      const t = (await trialWhere(pool, metricKey, 't.sweep_id = $2 AND t.request_id = $3', [sweepKey(sweepId), requestId]))[0];
      return t ? toTrial(t) : null;
    },

    async refreshTrials(sweepId: string, now: number, deadline: number) {
      const key = sweepKey(sweepId);
      // One statement in the usual case: trials whose run ended take its outcome (each row re-checked
      // under its row lock), and the same statement tells whether any worker went silent.
      if ((await pool.query(`WITH followed AS (${FOLLOW_RUNS}) ${SILENT_TRIAL}`, [key, deadline])).rows.length === 0) return;
      await transaction(pool, async (c) => {
        // Holds the silent trials still open, so that a heartbeat from another server cannot land
        // between failing a trial's run and timing the trial out.
        await c.query("SELECT id FROM sweep_trials WHERE sweep_id = $1 AND status IN ('RUNNING', 'STOPPED') AND heartbeat_time < $2 ORDER BY id FOR UPDATE", [
          key,
          deadline,
        ]);
        // A run may have ended since the statement above.
        await c.query(FOLLOW_RUNS, [key]);
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
      });
    },

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

