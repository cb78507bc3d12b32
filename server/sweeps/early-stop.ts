import { invalid } from '../errors.js';
import type { Goal } from './types.js';

/**
 * Early-stopping rules (`early_terminate` in docs/sweeps.md): pure decisions over metric histories.
 * Both rules are stateless, recomputed from the curves on every should-stop, so they give the same
 * answer whichever server process asks and however often.
 */

/**
 * One trial's objective metric history in step order. Several values may share a step: the one
 * logged last (the later index) wins. NaN is the worst possible value. `times` is optional, one per
 * value, anything that orders logs across runs (the store's insertion order is immune to worker clock
 * skew; MLflow's metric timestamps will do); with it ASHA freezes each rung's field as Optuna does.
 */
export type Curve = { steps: ArrayLike<number>; values: ArrayLike<number>; times?: ArrayLike<number> };

export interface Decision {
  stop: boolean;
  /** A short sentence for people, e.g. "rung 2 (step 9): 0.41 is not in the best 1 of 4". */
  reason: string;
  /** ASHA's rung k (its step is min_iter·eta^k) that was judged; null for the median rule or no judgement. */
  rung: number | null;
  /** The step that was judged (the rung's step, or the trial's latest step); null when none was. */
  step: number | null;
}

/** `a` is strictly better than `b`; NaN is worse than everything, including ±Infinity. */
function better(a: number, b: number, goal: Goal): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return goal === 'minimize' ? a < b : a > b;
}

/** Best first, NaN last. */
function byGoodness(goal: Goal): (a: number, b: number) => number {
  return (a, b) => (better(a, b, goal) ? -1 : better(b, a, goal) ? 1 : 0);
}

/** The curve's latest step, or null when nothing was logged. */
function lastStep(curve: Curve): number | null {
  let last: number | null = null;
  for (let i = 0; i < curve.steps.length; i++) if (last === null || curve.steps[i]! > last) last = curve.steps[i]!;
  return last;
}

/** The value "at" a step: the last one logged at a step ≤ it (later index wins a tie), or null. */
function valueAt(curve: Curve, step: number): number | null {
  let atStep = -Infinity;
  let value: number | null = null;
  for (let i = 0; i < curve.steps.length; i++) {
    const s = curve.steps[i]!;
    if (s <= step && s >= atStep) {
      atStep = s;
      value = curve.values[i]!;
    }
  }
  return value;
}

/**
 * The best of the curve's values at steps ≤ `step` (NaN only when every one is NaN), or null when there
 * are none. A value overwritten by a later log at the same step does not count.
 */
function bestUpTo(curve: Curve, step: number, goal: Goal): number | null {
  const atStep = new Map<number, number>();
  for (let i = 0; i < curve.steps.length; i++) {
    if (curve.steps[i]! <= step) atStep.set(curve.steps[i]!, curve.values[i]!);
  }
  let best: number | null = null;
  for (const v of atStep.values()) if (best === null || better(v, best, goal)) best = v;
  return best;
}

/** When the curve first logged a step ≥ `step` (its earliest such time), or null if it has not. */
function arrivalTime(curve: Curve, step: number): number | null {
  let first: number | null = null;
  for (let i = 0; i < curve.steps.length; i++) {
    if (curve.steps[i]! >= step && (first === null || curve.times![i]! < first)) first = curve.times![i]!;
  }
  return first;
}

/** Four significant digits: enough to tell values apart in a reason, short enough to read. */
function fmt(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v);
}

const go = (reason: string, rung: number | null = null, step: number | null = null): Decision => ({
  stop: false,
  reason,
  rung,
  step,
});

/**
 * Asynchronous successive halving, deciding as Optuna's SuccessiveHalvingPruner does: rungs at steps
 * minIter·eta^k; at a rung, the trial goes on only if its value there is within the best
 * max(1, floor(n/eta)) of the n curves (its own included) that have a value there; ties go on.
 *
 * Where Optuna records each trial's value at a rung the moment it passes it, this recomputes it from the
 * curves: a curve has "reached" rung r when it logged a step ≥ r, and its value there is the last one
 * logged at a step ≤ r (a curve with no step ≤ r has no value there and does not compete). Only the
 * highest rung the trial reached is judged: the lower ones were judged by earlier calls, and a trial
 * that skipped past them (logging rarely) is judged where it is now. A NaN at the rung stops the trial
 * even when nobody is better (Optuna prunes NaN outright: the run has diverged), and a curve that is NaN
 * there is not counted among the competitors (Optuna never records it).
 *
 * Competitors. Optuna judges a trial once, on arrival at a rung, against the trials that arrived
 * before it; its promotion is then final, and the first trial to arrive always goes on. Without times
 * we cannot know who arrived first, so every curve that has reached the rung competes, and a promoted
 * trial is judged again at each call until its next rung: late arrivals can stop it, and trials stopped
 * while the field was small keep their places among the best, so every trial may end up stopped.
 * When the trial's curve carries `times`, a competitor counts only if it reached the rung (its first
 * log at a step ≥ the rung) no later than the trial did, which is Optuna's decision, stateless.
 */
export function ashaDecision(input: {
  trial: Curve;
  others: Curve[];
  goal: Goal;
  minIter: number;
  eta: number;
}): Decision {
  const { trial, others, goal, minIter, eta } = input;
  if (!(Number.isFinite(minIter) && minIter > 0)) throw invalid(`asha min_iter must be > 0, got ${minIter}`);
  if (!(Number.isFinite(eta) && eta >= 2)) throw invalid(`asha eta must be >= 2, got ${eta}`);

  const latest = lastStep(trial);
  if (latest === null) return go('no value logged yet');
  if (latest < minIter) return go(`step ${latest} is below the first rung (step ${minIter})`);

  let k = 0;
  let rungStep = minIter;
  while (rungStep * eta <= latest) {
    rungStep *= eta;
    k++;
  }
  const value = valueAt(trial, rungStep);
  if (value === null) {
    return go(`no value logged at or before rung ${k} (step ${rungStep})`);
  }
  const where = `rung ${k} (step ${rungStep})`;
  if (Number.isNaN(value)) return { stop: true, reason: `${where}: the value is NaN`, rung: k, step: rungStep };

  const arrived = trial.times ? arrivalTime(trial, rungStep) : null;
  const competing = [value];
  for (const other of others) {
    const last = lastStep(other);
    if (last === null || last < rungStep) continue;
    if (arrived !== null && other.times && arrivalTime(other, rungStep)! > arrived) continue;
    const v = valueAt(other, rungStep);
    // NaN there stopped that trial before Optuna would record it at the rung, so it is not in the field.
    if (v !== null && !Number.isNaN(v)) competing.push(v);
  }
  const n = competing.length;
  const keep = Math.max(1, Math.floor(n / eta));
  const threshold = competing.sort(byGoodness(goal))[keep - 1]!;
  const stop = better(threshold, value, goal);
  return {
    stop,
    reason: `${where}: ${fmt(value)} is ${stop ? 'not ' : ''}in the best ${keep} of ${n}`,
    rung: k,
    step: rungStep,
  };
}

/** The median of numbers ordered best first; NaN marks the worst and is counted as ±Infinity. */
function median(sortedBestFirst: number[], goal: Goal): number {
  const worst = goal === 'minimize' ? Infinity : -Infinity;
  const at = (i: number) => {
    const v = sortedBestFirst[i]!;
    return Number.isNaN(v) ? worst : v;
  };
  const n = sortedBestFirst.length;
  const mid = Math.floor(n / 2);
  // Halves first, so two huge values do not overflow to Infinity.
  return n % 2 === 1 ? at(mid) : at(mid - 1) / 2 + at(mid) / 2;
}

/**
 * Optuna's MedianPruner, with one difference: each finished curve stands for its best value up to the
 * trial's latest step s (Optuna takes its value at exactly s, which a curve logged at other steps lacks).
 * The trial's own best so far is compared with the median of those; strictly worse stops it.
 * A trial whose every value is NaN stops (as in Optuna); a median that is not a number (−∞ and +∞ in the
 * middle) stops nobody.
 */
export function medianDecision(input: {
  trial: Curve;
  finished: Curve[];
  goal: Goal;
  minIter: number;
  minTrials: number;
}): Decision {
  const { trial, finished, goal, minIter, minTrials } = input;
  const latest = lastStep(trial);
  if (latest === null) return go('no value logged yet');
  if (latest < minIter) return go(`step ${latest} is before min_iter ${minIter}`);
  if (finished.length < minTrials) {
    return go(`only ${finished.length} finished trials, ${minTrials} needed`);
  }
  const best = bestUpTo(trial, latest, goal)!;
  if (Number.isNaN(best)) return { stop: true, reason: `step ${latest}: every value is NaN`, rung: null, step: latest };

  const bests: number[] = [];
  for (const curve of finished) {
    const b = bestUpTo(curve, latest, goal);
    if (b !== null) bests.push(b);
  }
  if (bests.length === 0) return go(`step ${latest}: no finished trial has a value this early`);
  const m = median(bests.sort(byGoodness(goal)), goal);
  if (Number.isNaN(m)) return go(`step ${latest}: the median of ${bests.length} finished trials is undefined`);
  const stop = better(m, best, goal);
  return {
    stop,
    reason: `step ${latest}: best ${fmt(best)} is ${stop ? 'worse than' : 'not worse than'} the median ${fmt(m)} of ${bests.length} finished trials`,
    rung: null,
    step: latest,
  };
}
