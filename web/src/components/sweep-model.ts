import { num } from '../api.js';
import { fmtNum, fmtTick } from './chart-colors.js';
import type { CRun } from './compare-model.js';
import type { Scalar, SweepConfig, Trial, TrialStatus } from './sweep-api.js';

/** A trial's objective as logged: null when not logged yet, NaN when NaN was, ±Infinity for ±DBL_MAX. */
export function rawValue(t: Trial): number | null {
  return t.value === null || t.value === undefined ? null : num(t.value);
}

/**
 * A trial's objective where it can be ranked, or null (not logged yet, or NaN). ±Infinity ranks, as in
 * the server's choice of best_trial: a diverged loss is the worst value, not a missing one.
 */
export function trialValue(t: Trial): number | null {
  const v = rawValue(t);
  return v === null || Number.isNaN(v) ? null : v;
}

/** The objective as the table shows it: "–" not logged yet, "NaN", "Infinity", or the number. */
export function fmtValue(t: Trial): string {
  const v = rawValue(t);
  return v !== null && Number.isNaN(v) ? 'NaN' : fmtNum(v);
}

/**
 * Trials that count for "best", as the server picks best_trial: completed ones with a value. A stopped
 * (pruned) trial's value is from an early step, so it is not comparable with finished ones.
 */
export const counts = (t: Trial) => t.status === 'COMPLETED' && trialValue(t) !== null;

export const better = (goal: 'minimize' | 'maximize') => (a: number, b: number) => (goal === 'minimize' ? a < b : a > b);

/** Per trial in number order that counts: its value and the best value up to and including it. */
export function bestSoFar(trials: Trial[], goal: 'minimize' | 'maximize'): { numbers: number[]; values: number[]; best: number[] } {
  const isBetter = better(goal);
  const out = { numbers: [] as number[], values: [] as number[], best: [] as number[] };
  let best: number | null = null;
  for (const t of [...trials].sort((a, b) => a.number - b.number)) {
    if (!counts(t)) continue;
    const v = trialValue(t)!;
    if (best === null || isBetter(v, best)) best = v;
    out.numbers.push(t.number);
    out.values.push(v);
    out.best.push(best);
  }
  return out;
}

export interface WorkerRow {
  worker: string;
  RUNNING: number;
  COMPLETED: number;
  STOPPED: number;
  FAILED: number;
}
export const NO_WORKER = '(no label)';

export function workerCounts(trials: Trial[]): WorkerRow[] {
  const by = new Map<string, WorkerRow>();
  for (const t of trials) {
    const w = t.worker || NO_WORKER;
    let row = by.get(w);
    if (!row) by.set(w, (row = { worker: w, RUNNING: 0, COMPLETED: 0, STOPPED: 0, FAILED: 0 }));
    if (t.status in row) row[t.status as TrialStatus]++;
  }
  return [...by.values()].sort((a, b) => a.worker.localeCompare(b.worker, undefined, { numeric: true }));
}

/** The parameters that vary (constants are the same in every trial, so they are not columns or axes). */
export const searchedParams = (config: SweepConfig) => Object.keys(config.parameters).filter((k) => !('value' in config.parameters[k]));

export function fmtParam(v: Scalar | undefined): string {
  if (v === undefined) return '–';
  if (typeof v === 'number' && !Number.isInteger(v)) return fmtTick(v);
  return String(v);
}

/**
 * Colour by the objective: the best value deep blue, the worst orange, through violet; no value grey.
 * `t` is 0 for the best and 1 for the worst.
 */
const STOPS = [
  [47, 111, 219],
  [155, 89, 182],
  [228, 87, 46],
];
export function rampColor(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const c = STOPS[i].map((a, k) => Math.round(a + (STOPS[i + 1][k] - a) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
export const NO_VALUE_COLOR = '#b8bec9';

/**
 * Trials as compare runs (params as strings, the objective as a metric), coloured by the rank of their
 * objective: a few diverged or pruned trials would otherwise squeeze every other colour into one end.
 */
export function trialRuns(trials: Trial[], metric: string, goal: 'minimize' | 'maximize'): CRun[] {
  const sorted = trials.map(trialValue).filter((v): v is number => v !== null).sort((a, b) => (goal === 'minimize' ? a - b : b - a));
  const first = new Map<number, number>();
  sorted.forEach((v, i) => first.has(v) || first.set(v, i));
  const rank = (v: number) => (sorted.length < 2 ? 0 : first.get(v)! / (sorted.length - 1));
  return trials.map((t) => {
    const v = trialValue(t);
    return {
      id: t.run_id,
      label: `#${t.number}`,
      color: v === null ? NO_VALUE_COLOR : rampColor(rank(v)),
      status: t.status,
      params: new Map(Object.entries(t.params).map(([k, p]) => [k, String(p)])),
      metrics: v === null ? new Map() : new Map([[metric, v]]),
    };
  });
}
