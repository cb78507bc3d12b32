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

export interface NewSweep {
  experimentId: string;
  name: string;
  method: string;
  config: string;
  now: number;
  parentRun: NewRun;
}

export interface NewTrial {
  sweepId: string;
  /** The trial number the caller expects to get (its params may depend on it); refused if taken. */
  number: number;
  metricKey: string;
  gridIndex: number | null;
  params: string;
  /** The params as MLflow params of the child run. */
  runParams: KeyValue[];
  run: NewRun;
  worker: string;
  /** Set when the worker names its request: a trial already handed out for it is returned instead. */
  requestId: string | null;
  now: number;
  /** Trials that did not time out may not exceed this. */
  runCap: number | null;
}

/** Why startTrial handed out nothing: another worker claimed first, the cap is reached, or the sweep is not running. */
export type TrialRefusal = 'grid_point_taken' | 'number_taken' | 'run_cap_reached' | 'not_running';

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
