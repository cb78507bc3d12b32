import type { Db } from '../db.js';
import { notFound } from '../../errors.js';
import type { NewSweep, NewTrial, SweepRecord, SweepStatus, TrialRefusal, TrialRow, TrialStatus, TrialSummary } from '../sweep-types.js';
import { claimCounts, claimSlot, SCORED_TRIALS, TRIAL_PROGRESS, toProgress, toScored, toSummary, toTrial, trialSelect, trialSummary, type ClaimDbRow, type ProgressDbRow, type ScoredDbRow, type SummaryDbRow, type TrialDbRow } from '../trial-sql.js';
import type { ReadableBy } from '../auth-types.js';
import type { RunStatus } from '../types.js';
import { experimentKey } from './experiments.sql.js';
import { readableSql } from './readable.sql.js';
import type { RunStatements } from './runs.sql.js';

export interface SweepDbRow {
  id: number;
  experiment_id: number;
  name: string;
  method: string;
  config: string;
  status: SweepStatus;
  parent_uuid: string | null;
  creation_time: number;
  last_update_time: number;
}

export const SWEEP_COLUMNS = `s.id, s.experiment_id, s.name, s.method, s.config, s.status, r.run_uuid AS parent_uuid, s.creation_time, s.last_update_time`;
export const SWEEP_FROM = 'sweeps s LEFT JOIN runs r ON r.id = s.parent_run_id';
const TRIAL_SELECT = trialSelect('?');

/** Sweep ids are positive integers on the wire; anything else names no sweep. */
export function sweepKey(id: string): number {
  const key = experimentKey(id);
  if (key === null) throw notFound(`Sweep with id=${id} not found`);
  return key;
}

/** Named placeholders $1, $2 of the SQL shared with PostgreSQL (trial-sql.ts). */
type Keyed = Record<number, string | number | null>;

type PageArgs = { exp: number | null; user?: number; limit: number; offset: number };

export function createSweepStatements(db: Db, runs: RunStatements) {
  const pageStatement = (readable: string) =>
    db.prepare<[PageArgs], SweepDbRow>(
      `SELECT ${SWEEP_COLUMNS} FROM ${SWEEP_FROM} WHERE (@exp IS NULL OR s.experiment_id = @exp) AND ${readable} ORDER BY s.id DESC LIMIT @limit OFFSET @offset`,
    );
  const s = {
    byId: db.prepare<[number], SweepDbRow>(`SELECT ${SWEEP_COLUMNS} FROM ${SWEEP_FROM} WHERE s.id = ?`),
    byName: db.prepare<[number, string], SweepDbRow>(`SELECT ${SWEEP_COLUMNS} FROM ${SWEEP_FROM} WHERE s.experiment_id = ? AND s.name = ?`),
    // A page for everyone, and for a user whose default permission reads or does not: only sweeps of
    // experiments the user may read, so that a page is a whole page.
    page: pageStatement('1'),
    pageDefaultReadable: pageStatement(readableSql('s.experiment_id', true, '@user')),
    pageGrantedOnly: pageStatement(readableSql('s.experiment_id', false, '@user')),
    insert: db.prepare<[number, string, string, string, number, number, number]>(
      "INSERT INTO sweeps (experiment_id, name, method, config, status, parent_run_id, creation_time, last_update_time) VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?)",
    ),
    setStatus: db.prepare<[SweepStatus, number, number, string]>(
      'UPDATE sweeps SET status = ?, last_update_time = ? WHERE id = ? AND status IN (SELECT value FROM json_each(?))',
    ),
    endParent: db.prepare<[RunStatus, number, number]>("UPDATE runs SET status = ?, end_time = ? WHERE id = (SELECT parent_run_id FROM sweeps WHERE id = ?) AND status = 'RUNNING'"),
    trials: db.prepare<[string, number], TrialDbRow>(`${TRIAL_SELECT} WHERE t.sweep_id = ? ORDER BY t.number`),
    trialOfRun: db.prepare<[string, number, string], TrialDbRow>(`${TRIAL_SELECT} WHERE t.sweep_id = ? AND r.run_uuid = ?`),
    scored: db.prepare<[Keyed], ScoredDbRow>(SCORED_TRIALS),
    progress: db.prepare<[Keyed], ProgressDbRow>(TRIAL_PROGRESS),
    summary: {
      minimize: db.prepare<[Keyed], SummaryDbRow>(trialSummary('timed_out = 0', 'minimize')),
      maximize: db.prepare<[Keyed], SummaryDbRow>(trialSummary('timed_out = 0', 'maximize')),
    },
    claimCounts: db.prepare<[Keyed], ClaimDbRow>(claimCounts('timed_out = 0')),
    insertTrial: db.prepare<[number, number, number, string, number | null, string, string | null, number, number]>(
      'INSERT INTO sweep_trials (sweep_id, number, run_id, params, grid_index, worker, request_id, start_time, heartbeat_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    trialOfRequest: db.prepare<[string, number, string], TrialDbRow>(`${TRIAL_SELECT} WHERE t.sweep_id = ? AND t.request_id = ?`),
    // Ends the still-running runs of the sweep's trials in one status whose worker went silent.
    endSilentRuns: db.prepare<[RunStatus, number, number, TrialStatus, number]>(
      `UPDATE runs SET status = ?, end_time = ? WHERE status = 'RUNNING' AND id IN
       (SELECT run_id FROM sweep_trials WHERE sweep_id = ? AND status = ? AND heartbeat_time < ?)`,
    ),
    timeoutTrials: db.prepare<[number, string, number, number]>(
      `UPDATE sweep_trials SET status = 'FAILED', timed_out = 1, end_time = ?, stop_reason = ?
       WHERE sweep_id = ? AND status = 'RUNNING' AND heartbeat_time < ?`,
    ),
    // FINISHED runs complete their trial; FAILED and KILLED ones fail it.
    followRuns: db.prepare<[number]>(
      `UPDATE sweep_trials SET status = CASE r.status WHEN 'FINISHED' THEN 'COMPLETED' ELSE 'FAILED' END,
         end_time = COALESCE(r.end_time, sweep_trials.heartbeat_time)
       FROM runs r WHERE r.id = sweep_trials.run_id AND sweep_trials.sweep_id = ? AND sweep_trials.status = 'RUNNING'
         AND r.status IN ('FINISHED', 'FAILED', 'KILLED')`,
    ),
    touch: db.prepare<[number, number, string]>(
      `UPDATE sweep_trials SET heartbeat_time = MAX(heartbeat_time, ?) WHERE sweep_id = ? AND run_id = (SELECT id FROM runs WHERE run_uuid = ?)`,
    ),
    stop: db.prepare<[string, number, number, string]>(
      `UPDATE sweep_trials SET status = 'STOPPED', stop_reason = ?, end_time = ?
       WHERE sweep_id = ? AND status = 'RUNNING' AND run_id = (SELECT id FROM runs WHERE run_uuid = ?)`,
    ),
  };

  function row(sweepId: string): SweepDbRow {
    const r = s.byId.get(sweepKey(sweepId));
    if (!r) throw notFound(`Sweep with id=${sweepId} not found`);
    return r;
  }

  function trialOfRun(sweepId: string, runUuid: string, metricKey: string): TrialRow {
    const t = s.trialOfRun.get(metricKey, sweepKey(sweepId), runUuid);
    if (!t) throw notFound(`Run with id=${runUuid} is not a trial of sweep ${sweepId}`);
    return toTrial(t);
  }

  return {
    create: db.transaction((n: NewSweep): { sweep: SweepRecord; created: boolean } => {
      const exp = experimentKey(n.experimentId);
      const existing = exp === null ? undefined : s.byName.get(exp, n.name);
      if (existing) return { sweep: toSweep(existing), created: false };
      const parent = runs.create(n.parentRun);
      const parentId = runs.row(parent.runId).id;
      const id = Number(s.insert.run(Number(parent.experimentId), n.name, n.method, n.config, parentId, n.now, n.now).lastInsertRowid);
      runs.logBatch(parent.runId, { params: [], tags: [{ key: 'lablog.sweep_id', value: String(id) }], metrics: [] });
      return { sweep: toSweep(s.byId.get(id)!), created: true };
    }),
    get: (sweepId: string) => toSweep(row(sweepId)),
    list(q: { experimentId: string | null; offset: number; limit: number; readableBy?: ReadableBy }) {
      const exp = q.experimentId === null ? null : (experimentKey(q.experimentId) ?? -1);
      const r = q.readableBy;
      const statement = r === undefined ? s.page : r.defaultReadable ? s.pageDefaultReadable : s.pageGrantedOnly;
      const rows = statement.all({ exp, ...(r && { user: r.userId }), limit: q.limit + 1, offset: q.offset });
      return { items: rows.slice(0, q.limit).map(toSweep), nextOffset: rows.length > q.limit ? q.offset + q.limit : null };
    },
    setStatus: db.transaction((sweepId: string, from: SweepStatus[], status: SweepStatus, now: number, parentRunStatus?: RunStatus): SweepRecord | null => {
      const key = row(sweepId).id;
      if (s.setStatus.run(status, now, key, JSON.stringify(from)).changes === 0) return null;
      if (parentRunStatus) s.endParent.run(parentRunStatus, now, key);
      return toSweep(s.byId.get(key)!);
    }),
    trials: (sweepId: string, metricKey: string) => s.trials.all(metricKey, row(sweepId).id).map(toTrial),
    scored: (sweepId: string, metricKey: string) => s.scored.all({ 1: metricKey, 2: sweepKey(sweepId) }).map(toScored),
    progress: (sweepId: string, metricKey: string) => s.progress.all({ 1: metricKey, 2: sweepKey(sweepId) }).map(toProgress),
    trialOfRun,
    summary: (sweepId: string, metricKey: string, goal: 'minimize' | 'maximize'): TrialSummary =>
      toSummary(s.summary[goal].get({ 1: metricKey, 2: sweepKey(sweepId) })!),
    startTrial: db.transaction((n: NewTrial): TrialRow | TrialRefusal => {
      const sweep = row(n.sweepId);
      const counts = s.claimCounts.get({ 1: sweep.id, 2: n.requestId })!;
      // A retried request gets its trial back, even if the sweep was paused since.
      if (counts.replay !== null) return toTrial(s.trialOfRequest.get(n.metricKey, sweep.id, n.requestId!)!);
      if (sweep.status !== 'RUNNING') return 'not_running';
      const slot = claimSlot(n, counts);
      if (typeof slot === 'string') return slot;
      const content = n.content(slot);
      const info = runs.create(content.run);
      runs.logBatch(info.runId, { params: content.runParams, tags: [], metrics: [] });
      s.insertTrial.run(sweep.id, slot.number, runs.row(info.runId).id, content.params, slot.gridIndex, n.worker, n.requestId, n.now, n.now);
      return trialOfRun(n.sweepId, info.runId, n.metricKey);
    }),
    byRequest(sweepId: string, requestId: string, metricKey: string): TrialRow | null {
      const t = s.trialOfRequest.get(metricKey, row(sweepId).id, requestId);
      return t ? toTrial(t) : null;
    },
    refresh: db.transaction((sweepId: string, now: number, deadline: number) => {
      const key = row(sweepId).id;
      s.followRuns.run(key);
      // A silent worker's trial fails and its run with it; the run is left alone if it already ended.
      s.endSilentRuns.run('FAILED', now, key, 'RUNNING', deadline);
      // A trial told to stop whose worker then went silent: its run is ended for it.
      s.endSilentRuns.run('KILLED', now, key, 'STOPPED', deadline);
      s.timeoutTrials.run(now, 'no heartbeat from its worker before the timeout', key, deadline);
    }),
    touch: (sweepId: string, runUuid: string, now: number) => {
      if (s.touch.run(now, row(sweepId).id, runUuid).changes === 0) throw notFound(`Run with id=${runUuid} is not a trial of sweep ${sweepId}`);
    },
    stop: (sweepId: string, runUuid: string, reason: string, now: number) => {
      s.stop.run(reason, now, sweepKey(sweepId), runUuid);
    },
  };
}

export function toSweep(r: SweepDbRow): SweepRecord {
  return {
    sweepId: String(r.id),
    experimentId: String(r.experiment_id),
    name: r.name,
    method: r.method,
    config: r.config,
    status: r.status,
    parentRunId: r.parent_uuid,
    creationTime: r.creation_time,
    lastUpdateTime: r.last_update_time,
  };
}
