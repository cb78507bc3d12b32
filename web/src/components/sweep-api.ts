import { lablog, lablogPost } from '../api.js';

/** The sweeps wire contract (docs/sweeps.md), as far as the UI reads it. */
export type Scalar = string | number | boolean;
export interface ParamSpec {
  values?: Scalar[];
  value?: Scalar;
  distribution?: 'uniform' | 'log_uniform' | 'int_uniform' | 'q_uniform' | 'normal';
  min?: number;
  max?: number;
  q?: number;
  mu?: number;
  sigma?: number;
  when?: Record<string, Scalar[]>;
}
export interface SweepConfig {
  experiment_id: string;
  name: string;
  method: 'grid' | 'random' | 'bayes';
  metric: { name: string; goal: 'minimize' | 'maximize' };
  parameters: Record<string, ParamSpec>;
  run_cap?: number | null;
  early_terminate?: { type: string; [k: string]: unknown } | null;
  seed?: number;
}
export type TrialStatus = 'RUNNING' | 'COMPLETED' | 'STOPPED' | 'FAILED';
export interface Trial {
  number: number;
  run_id: string;
  status: TrialStatus;
  params: Record<string, Scalar>;
  worker?: string | null;
  start_time?: number;
  end_time?: number | null;
  last_heartbeat_time?: number | null;
  value?: number | string | null;
  step?: number | null;
  stop_reason?: string;
}
export type SweepStatus = 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FINISHED';
export interface Sweep {
  sweep_id: string;
  experiment_id: string;
  name: string;
  status: SweepStatus;
  config: SweepConfig;
  parent_run_id?: string;
  creation_time?: number;
  last_update_time?: number;
  grid_size?: number;
  counts: { running: number; completed: number; failed: number; stopped: number };
  best_trial?: Trial;
}
/** A parameter's share of the explained objective (the shares sum to 1; the reply names the method). */
export interface Importance {
  name: string;
  importance: number;
}

const base = (id: string) => `sweeps/${encodeURIComponent(id)}`;

export const getSweep = (id: string) => lablog<{ sweep: Sweep }>(base(id), {}).then((r) => r.sweep);
export const getTrials = (id: string) => lablog<{ trials?: Trial[] }>(`${base(id)}/trials`, {}).then((r) => r.trials ?? []);
export const getImportance = (id: string) => lablog<{ importance?: Importance[] }>(`${base(id)}/importance`, {}).then((r) => r.importance ?? []);
export const listSweeps = (experimentId: string) => lablog<{ sweeps?: Sweep[] }>('sweeps/list', { experiment_id: experimentId, max_results: 100 }).then((r) => r.sweeps ?? []);

/** pause / resume / stop: the only writes the UI makes to a sweep. */
export const sweepAction = (id: string, action: 'pause' | 'resume' | 'stop') => lablogPost<{ sweep: Sweep }>(`${base(id)}/${action}`, {}).then((r) => r.sweep);
