import { fmtTick } from './chart-colors.js';
import { makeAxis, type Axis, type CRun } from './compare-model.js';
import type { ParamSpec, Scalar, SweepConfig } from './sweep-api.js';
import { searchedParams } from './sweep-model.js';
import { inlierBounds } from './sweep-scale.js';

/** At most this many ticks on a numeric axis (the 300 px axis holds about a dozen labels). */
const MAX_TICKS = 11;

const paramValue = (key: string) => (r: CRun) => r.params.get(key);

/** An axis on the declared range of a log_uniform parameter, ticks at the powers of ten inside it. */
function logAxis(key: string, spec: ParamSpec): Axis {
  const lo = Math.log(spec.min!);
  const hi = Math.log(spec.max!);
  const at = (v: number) => (hi === lo ? 0.5 : Math.min(1, Math.max(0, (Math.log(v) - lo) / (hi - lo))));
  const ticks = [];
  for (let e = Math.ceil(lo / Math.LN10 - 1e-9); e <= Math.floor(hi / Math.LN10 + 1e-9); e++) ticks.push({ at: at(10 ** e), text: fmtTick(10 ** e) });
  if (ticks.length < 2) ticks.push({ at: 0, text: fmtTick(spec.min!) }, { at: 1, text: fmtTick(spec.max!) });
  const value = paramValue(key);
  return { key, label: `${key} (log)`, kind: 'param', value, ticks, pos: (r) => { const n = Number(value(r)); return value(r) === undefined || !(n > 0) ? null : at(n); } };
}

/** A categorical axis with the values in their declared order. */
function choiceAxis(key: string, values: Scalar[]): Axis {
  const cats = values.map(String);
  const at = (i: number) => (cats.length === 1 ? 0.5 : i / (cats.length - 1));
  const value = paramValue(key);
  return { key, label: key, kind: 'param', value, ticks: cats.map((c, i) => ({ at: at(i), text: c })), pos: (r) => { const i = cats.indexOf(value(r) ?? '\u0000'); return i < 0 ? null : at(i); } };
}

/** A linear axis over [lo, hi] with ticks at the given values, or at quarters when there are none. */
function linearAxis(key: string, lo: number, hi: number, tickValues?: number[]): Axis {
  const span = hi - lo || 1;
  const at = (v: number) => (hi === lo ? 0.5 : Math.min(1, Math.max(0, (v - lo) / span)));
  const value = paramValue(key);
  const ticks = (tickValues ?? [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * span)).map((v) => ({ at: at(v), text: fmtTick(v) }));
  return { key, label: key, kind: 'param', value, ticks, pos: (r) => { const v = value(r); const n = Number(v); return v === undefined || !Number.isFinite(n) ? null : at(n); } };
}

/** Every count-th of the points, and always the last one (the top of the axis), never crowding the one before. */
function thin(points: number[]): number[] {
  if (points.length <= MAX_TICKS) return points;
  const every = Math.ceil(points.length / (MAX_TICKS - 1));
  const out = points.filter((_, i) => i % every === 0);
  const lastIndex = (out.length - 1) * every;
  if (lastIndex === points.length - 1) return out;
  if (points.length - 1 - lastIndex <= every / 2) out.pop();
  out.push(points[points.length - 1]);
  return out;
}

/**
 * The values a discrete parameter can take: min + k·q up to max (int_uniform: q = 1). Ticks sit on these
 * (an int axis labelled 1.75 or a batch-size axis labelled 28 names values no trial can have); the axis
 * ends at the last one.
 */
function stepAxis(key: string, min: number, max: number, q: number): Axis {
  const n = Math.floor((max - min) / q + 1e-9);
  // q may be a decimal fraction (0.1): rounding to its own precision keeps 0.30000000000000004 out of the labels.
  const digits = Math.max(0, -Math.floor(Math.log10(q)) + 6);
  const points = n > 10_000 ? [] : Array.from({ length: n + 1 }, (_, k) => Number((min + k * q).toFixed(Math.min(20, digits))));
  const top = min + n * q;
  return linearAxis(key, min, top, points.length ? thin(points) : undefined);
}

/**
 * The objective's axis: linear over the values that are not wild (sweep-scale.ts), so one diverged trial
 * does not flatten every other line to the bottom. Wild values sit at the very end they are past, in a
 * strip of their own labelled "> x" / "< x" (the last value in scale). NaN has no position.
 */
function objectiveAxis(runs: CRun[], key: string): Axis {
  const value = (r: CRun) => r.metrics.get(key);
  const vals = runs.map(value).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  const label = `${key} (metric)`;
  const b = inlierBounds(vals);
  if (!b) return { key, label, kind: 'metric', value, ticks: [], pos: () => null };
  const [lo, hi] = b;
  const span = hi - lo;
  const below = vals.some((v) => v < lo);
  const above = vals.some((v) => v > hi);
  const bottom = below ? 0.1 : 0;
  const top = above ? 0.9 : 1;
  const at = (v: number) => (v > hi ? 1 : v < lo ? 0 : span === 0 ? (bottom + top) / 2 : bottom + ((top - bottom) * (v - lo)) / span);
  const ticks = span === 0 ? [{ at: at(lo), text: fmtTick(lo) }] : [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: at(lo + f * span), text: fmtTick(lo + f * span) }));
  if (below) ticks.unshift({ at: 0, text: `< ${fmtTick(lo)}` });
  if (above) ticks.push({ at: 1, text: `> ${fmtTick(hi)}` });
  return { key, label, kind: 'metric', value, ticks, pos: (r) => { const v = value(r); return v === undefined || Number.isNaN(v) ? null : at(v); } };
}

/** Where a conditional parameter's axis puts the trials in which it is inactive: a strip at the bottom. */
const INACTIVE = 0.12;
export const INACTIVE_LABEL = '(inactive)';

/**
 * A conditional parameter's axis with a strip of its own for the trials where the parameter is inactive:
 * their lines go on through it to the objective (a gap would hide their objective when the parameter is
 * the last axis before it), and the strip says what it is, so it never reads as a value of 0.
 */
function withInactive(a: Axis): Axis {
  const fit = (p: number) => INACTIVE + (1 - INACTIVE) * p;
  return {
    ...a,
    ticks: [{ at: 0, text: INACTIVE_LABEL }, ...a.ticks.map((t) => ({ ...t, at: fit(t.at) }))],
    pos: (r) => {
      if (a.value(r) === undefined) return 0;
      const p = a.pos(r);
      return p === null ? null : fit(p);
    },
  };
}

/** Parallel-coordinate axes: one per searched parameter, shaped by its distribution, then the objective. */
export function sweepAxes(config: SweepConfig, runs: CRun[]): Axis[] {
  const axes = searchedParams(config).map((k) => {
    const s = config.parameters[k];
    if (s.values) return choiceAxis(k, s.values);
    if (s.min === undefined || s.max === undefined || !(s.max >= s.min)) return makeAxis(runs, k, 'param');
    if (s.distribution === 'log_uniform' && s.min > 0 && s.max > s.min) return logAxis(k, s);
    if (s.distribution === 'int_uniform') return stepAxis(k, s.min, s.max, 1);
    if (s.distribution === 'q_uniform' && s.q && s.q > 0) return stepAxis(k, s.min, s.max, s.q);
    if (s.distribution === 'uniform') return linearAxis(k, s.min, s.max);
    return makeAxis(runs, k, 'param');
  }).map((a) => (config.parameters[a.key].when ? withInactive(a) : a));
  axes.push(objectiveAxis(runs, config.metric.name));
  return axes;
}
