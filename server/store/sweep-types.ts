import type { ReadableBy } from './auth-types.js';
import type { KeyValue, NewRun, RunStatus } from './types.js';

// The sweep rows as the store hands them to server/sweeps; the config and params are JSON text that
// only the sweeps module interprets.

export type SweepStatus = 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FINISHED';
export type TrialStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'STOPPED';

export interface SweepRecord {
  sweepId: string;
  experimentId: string;
  name: string;
  method: string;
  config: string;
  status: SweepStatus;
  parentRunId: string | null;
  creationTime: number;
  lastUpdateTime: number;
}

export interface TrialRow {
  number: number;
  runId: string;
  params: string;
  gridIndex: number | null;
  status: TrialStatus;
  timedOut: boolean;
  stopReason: string | null;
  worker: string;
  startTime: number;
  endTime: number | null;
  heartbeatTime: number;
  /** The run's latest value of the sweep metric (NaN when NaN was logged), null when none was. */
  value: number | null;
  step: number | null;
  /** Points logged to the sweep metric: a curve read earlier is still whole while this is unchanged. */
  points: number;
}

/** What should-stop compares of each trial: its state and how far its curve has come, no more. */
export type TrialProgress = Pick<TrialRow, 'runId' | 'status' | 'stopReason' | 'step' | 'points'>;

export interface NewSweep {
  experimentId: string;
  name: string;
  method: string;
  config: string;
  now: number;
  parentRun: NewRun;
}

/** What a claim hands out: the trial's params and the run that trains them. */
export interface TrialContent {
  params: string;
  /** The params as MLflow params of the child run. */
  runParams: KeyValue[];
  run: NewRun;
}

export interface NewTrial {
  sweepId: string;
  metricKey: string;
  /** Grid sweeps: the claim takes the lowest point below this that no live trial holds. */
  gridSize: number | null;
  /**
   * The trial's params and run, given the number and grid point the claim holds for it. Called inside
   * the claim (the sweep locked on PostgreSQL), so it computes and waits on nothing.
   */
  content(at: { number: number; gridIndex: number | null }): TrialContent;
  worker: string;
  /** Set when the worker names its request: a trial already handed out for it is returned instead. */
  requestId: string | null;
  now: number;
  /** Trials that did not time out may not exceed this. */
  runCap: number | null;
}

/**
 * Why startTrial handed out nothing: the cap is reached, every grid point is held by a live trial, or
 * the sweep is not running.
 */
export type TrialRefusal = 'run_cap_reached' | 'grid_full' | 'not_running';

/** A trial as TPE learns from it: its params, how it ended, and its last value of the sweep metric (NaN when NaN was logged). */
export interface ScoredTrial {
  params: string;
  status: TrialStatus;
  value: number;
  step: number;
}

/** What a sweep's page and a worker's `next` show of its trials, counted by the database. */
export interface TrialSummary {
  counts: { running: number; completed: number; failed: number; stopped: number };
  /** Trials that did not time out: what run_cap counts. */
  live: number;
  /** The completed trial with the best value of the sweep metric (NaN never is); the lowest number of a tie. */
  best: TrialRow | null;
}

export interface SweepStore {
  /** Creates the sweep and its parent run; an existing sweep of that name is returned instead. */
  createSweep(n: NewSweep): Promise<{ sweep: SweepRecord; created: boolean }>;
  getSweep(sweepId: string): Promise<SweepRecord>;
  listSweeps(q: { experimentId: string | null; offset: number; limit: number; readableBy?: ReadableBy }): Promise<{ items: SweepRecord[]; nextOffset: number | null }>;
  /**
   * Sets the status if it is still one of `from` (null otherwise: another request changed it);
   * `parentRunStatus` also ends the parent run (when it is still running).
   */
  setSweepStatus(sweepId: string, from: SweepStatus[], status: SweepStatus, now: number, parentRunStatus?: RunStatus): Promise<SweepRecord | null>;
  listTrials(sweepId: string, metricKey: string): Promise<TrialRow[]>;
  /** Every trial's progress in trial order: listTrials narrowed to what should-stop reads on every call. */
  trialProgress(sweepId: string, metricKey: string): Promise<TrialProgress[]>;
  /** The trials TPE learns from: completed and stopped ones that logged the sweep metric, in trial order. */
  scoredTrials(sweepId: string, metricKey: string): Promise<ScoredTrial[]>;
  /** The trial of `runUuid`, which must belong to the sweep. */
  getTrial(sweepId: string, runUuid: string, metricKey: string): Promise<TrialRow>;
  trialSummary(sweepId: string, metricKey: string, goal: 'minimize' | 'maximize'): Promise<TrialSummary>;
  /**
   * Claims the next trial number (and, in a grid, the lowest free point) and creates the trial and its
   * run, all in one step against every other claim, whichever server makes it.
   */
  startTrial(n: NewTrial): Promise<TrialRow | TrialRefusal>;
  /** The trial handed out for a worker's request id, if any. */
  trialByRequest(sweepId: string, requestId: string, metricKey: string): Promise<TrialRow | null>;
  /**
   * Brings trial states up to date: running trials unheard of since `deadline` are FAILED (timed
   * out) with their runs, and running trials whose run has ended take the run's outcome.
   */
  refreshTrials(sweepId: string, now: number, deadline: number): Promise<void>;
  /** Records a sign of life; the trial of `runUuid` must belong to the sweep. */
  touchTrial(sweepId: string, runUuid: string, now: number): Promise<void>;
  stopTrial(sweepId: string, runUuid: string, reason: string, now: number): Promise<void>;
}
