import type { NewTrial, ScoredTrial, TrialProgress, TrialRefusal, TrialRow, TrialStatus, TrialSummary } from './sweep-types.js';

// The SQL of sweep trials that both stores run: `$1`, `$2` are numbered placeholders in PostgreSQL and
// named ones in SQLite (bound there as { 1: ..., 2: ... }). Each query reads what one decision needs,
// so that a worker's `next` costs little more with thousands of trials than with ten.

/**
 * "The trial did not time out" as each store's partial index on held grid points spells it (SQLite
 * `timed_out = 0`, PostgreSQL `NOT timed_out`), so that the grid point probes can use that index.
 */
export type LiveTrial = 'timed_out = 0' | 'NOT timed_out';

export interface TrialDbRow {
  number: number;
  run_uuid: string;
  params: string;
  grid_index: number | null;
  status: TrialStatus;
  /** 0/1 in SQLite, a boolean in PostgreSQL. */
  timed_out: number | boolean;
  stop_reason: string | null;
  worker: string;
  start_time: number;
  end_time: number | null;
  heartbeat_time: number;
  has_value: number | boolean;
  value: number | null;
  step: number | null;
  points: number | null;
}

// The trial's objective is its run's latest value of the sweep metric (value NULL there means NaN);
// `metricKey` is the placeholder bound to the metric's name.
export const trialSelect = (metricKey: string) => `SELECT t.number, r.run_uuid, t.params, t.grid_index, t.status, t.timed_out, t.stop_reason, t.worker,
  t.start_time, t.end_time, t.heartbeat_time, m.id IS NOT NULL AS has_value, m.value, m.step, m.count AS points
  FROM sweep_trials t JOIN runs r ON r.id = t.run_id LEFT JOIN metric_series m ON m.run_id = t.run_id AND m.key = ${metricKey}`;

/** $1 the metric, $2 the sweep's key: TPE's history, no more (a trial without a value teaches it nothing). */
export const SCORED_TRIALS = `SELECT t.params, t.status, m.value, m.step FROM sweep_trials t JOIN metric_series m ON m.run_id = t.run_id AND m.key = $1
  WHERE t.sweep_id = $2 AND t.status IN ('COMPLETED', 'STOPPED') ORDER BY t.number`;

/**
 * $1 the metric, $2 the sweep's key: each trial's progress (sweep-types.ts TrialProgress). should-stop
 * reads it on every call; the whole trial rows of 2,000 trials took 3 to 4 times as long on PostgreSQL.
 */
export const TRIAL_PROGRESS = `SELECT r.run_uuid, t.status, t.stop_reason, m.step, m.count AS points
  FROM sweep_trials t JOIN runs r ON r.id = t.run_id LEFT JOIN metric_series m ON m.run_id = t.run_id AND m.key = $1
  WHERE t.sweep_id = $2 ORDER BY t.number`;

export interface ProgressDbRow {
  run_uuid: string;
  status: TrialStatus;
  stop_reason: string | null;
  /** null: the trial's run has not logged the metric. */
  step: number | null;
  points: number | null;
}

export const toProgress = (r: ProgressDbRow): TrialProgress => ({ runId: r.run_uuid, status: r.status, stopReason: r.stop_reason, step: r.step, points: r.points ?? 0 });

export interface ScoredDbRow {
  params: string;
  status: TrialStatus;
  /** NULL: NaN was logged. */
  value: number | null;
  step: number;
}

export const toScored = (r: ScoredDbRow): ScoredTrial => ({ ...r, value: r.value ?? NaN });

export interface SummaryDbRow extends Omit<TrialDbRow, 'run_uuid'> {
  running: number;
  completed: number;
  failed: number;
  stopped: number;
  live: number;
  /** null when no trial has a best value yet (and then every trial column is). */
  run_uuid: string | null;
}

/**
 * $1 the metric, $2 the sweep's key: the trials counted by status, and the completed trial with the best
 * value (NaN, stored as NULL, and a missing value never are), in one statement.
 */
export const trialSummary = (live: LiveTrial, goal: 'minimize' | 'maximize') => `SELECT c.*, b.* FROM
  (SELECT count(*) FILTER (WHERE status = 'RUNNING') AS running, count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
    count(*) FILTER (WHERE status = 'FAILED') AS failed, count(*) FILTER (WHERE status = 'STOPPED') AS stopped,
    count(*) FILTER (WHERE ${live}) AS live FROM sweep_trials WHERE sweep_id = $2) c
  LEFT JOIN (${trialSelect('$1')} WHERE t.sweep_id = $2 AND t.status = 'COMPLETED' AND m.value IS NOT NULL
    ORDER BY m.value ${goal === 'minimize' ? 'ASC' : 'DESC'}, t.number LIMIT 1) b ON true`;

export function toSummary(row: SummaryDbRow): TrialSummary {
  const { running, completed, failed, stopped, live, run_uuid } = row;
  return { counts: { running, completed, failed, stopped }, live, best: run_uuid === null ? null : toTrial({ ...row, run_uuid }) };
}

/**
 * $1 the sweep's key, $2 the worker's request id: what a claim checks, read under it. The lowest free
 * grid point: when the held points are 0 to n-1 (no timeout freed one) it is n; otherwise the lowest of
 * 0 and the points one past a held one that no live trial holds (a search that runs only then).
 */
export const claimCounts = (live: LiveTrial) => `SELECT count(*) FILTER (WHERE ${live}) AS live, COALESCE(max(number) + 1, 0) AS next_number,
  (SELECT number FROM sweep_trials WHERE sweep_id = $1 AND request_id = $2) AS replay,
  CASE WHEN count(grid_index) FILTER (WHERE ${live}) = COALESCE(max(grid_index) FILTER (WHERE ${live}) + 1, 0) THEN count(grid_index) FILTER (WHERE ${live})
    ELSE (SELECT min(x.c) FROM (SELECT 0 AS c UNION ALL SELECT grid_index + 1 FROM sweep_trials WHERE sweep_id = $1 AND grid_index IS NOT NULL AND ${live}) x
      WHERE NOT EXISTS (SELECT 1 FROM sweep_trials WHERE sweep_id = $1 AND grid_index = x.c AND grid_index IS NOT NULL AND ${live})) END AS free_grid
  FROM sweep_trials WHERE sweep_id = $1`;

export interface ClaimDbRow {
  /** The number of the trial already handed out for the request, if any. */
  replay: number | null;
  live: number;
  next_number: number;
  /** Meaningful in a grid sweep only. */
  free_grid: number;
}

/** The number and grid point a claim takes, or why it takes none. */
export function claimSlot(n: NewTrial, c: ClaimDbRow): { number: number; gridIndex: number | null } | TrialRefusal {
  if (n.runCap !== null && c.live >= n.runCap) return 'run_cap_reached';
  if (n.gridSize === null) return { number: c.next_number, gridIndex: null };
  // A grid's run cap is at most its size, so a claim under the cap always finds a point; the check
  // guards against a store that holds more trials than the config allows.
  return c.free_grid < n.gridSize ? { number: c.next_number, gridIndex: c.free_grid } : 'grid_full';
}

export function toTrial(t: TrialDbRow): TrialRow {
  return {
    number: t.number,
    runId: t.run_uuid,
    params: t.params,
    gridIndex: t.grid_index,
    status: t.status,
    timedOut: Boolean(t.timed_out),
    stopReason: t.stop_reason,
    worker: t.worker,
    startTime: t.start_time,
    endTime: t.end_time,
    heartbeatTime: t.heartbeat_time,
    value: t.has_value ? (t.value ?? NaN) : null,
    step: t.has_value ? t.step : null,
    points: t.points ?? 0,
  };
}
