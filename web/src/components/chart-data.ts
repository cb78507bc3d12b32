import type uPlot from 'uplot';
import { lablog, num, type SampledSeries } from '../api.js';

export type ChartX = 'step' | 'time' | 'relative' | { metric: string };
/** One run's points in x order: the bucket's last value, its min and max, and the step it came from. */
export interface RunSeries {
  runId: string;
  x: number[];
  y: number[];
  lo: number[];
  hi: number[];
  steps: number[];
}
export interface Zoom {
  min: number;
  max: number;
}

export const xKeyOf = (x: ChartX) => (typeof x === 'string' ? x : `metric:${x.metric}`);

async function sampled(runIds: string[], keys: string[], x: 'step' | 'time', buckets: number, start?: number, end?: number) {
  const q = { run_ids: runIds, keys, x, buckets, start: start === undefined ? undefined : Math.floor(start), end: end === undefined ? undefined : Math.ceil(end) };
  const res = await lablog<{ series?: SampledSeries[] }>('metrics/sampled', q);
  return res.series ?? [];
}

function toSeries(s: SampledSeries, xf: (x: number) => number): RunSeries {
  return { runId: s.run_id, x: s.last_x.map(xf), y: s.last.map(num), lo: s.min.map(num), hi: s.max.map(num), steps: s.last_x.slice() };
}

/**
 * Fetches what a chart draws: at most `buckets` buckets per run (the chart's pixel width), over the
 * zoomed range when there is one. `offsets` keeps each run's first timestamp for relative time.
 */
export async function loadChart(o: { runIds: string[]; key: string; x: ChartX; buckets: number; zoom: Zoom | null; prev: RunSeries[] | null; offsets: Map<string, number> }): Promise<RunSeries[]> {
  const { runIds, key, x, buckets, zoom } = o;
  if (runIds.length === 0) return [];
  if (x === 'step') {
    const got = await sampled(runIds, [key], 'step', buckets, zoom?.min, zoom?.max);
    return got.filter((s) => s.key === key).map((s) => toSeries(s, (v) => v));
  }
  if (x === 'time') {
    const got = await sampled(runIds, [key], 'time', buckets, zoom ? zoom.min * 1000 : undefined, zoom ? zoom.max * 1000 : undefined);
    return got.filter((s) => s.key === key).map((s) => toSeries(s, (v) => v / 1000));
  }
  if (x === 'relative') {
    if (!zoom || runIds.some((id) => !o.offsets.has(id))) {
      const got = (await sampled(runIds, [key], 'time', buckets)).filter((s) => s.key === key);
      for (const s of got) if (s.last_x.length) o.offsets.set(s.run_id, Math.min(s.min_x[0], s.max_x[0], s.last_x[0]));
      if (!zoom) return got.map((s) => toSeries(s, (v) => (v - o.offsets.get(s.run_id)!) / 1000));
    }
    const per = await Promise.all(
      runIds.filter((id) => o.offsets.has(id)).map(async (id) => {
        const off = o.offsets.get(id)!;
        const got = await sampled([id], [key], 'time', buckets, off + zoom!.min * 1000, off + zoom!.max * 1000);
        return got.filter((s) => s.key === key).map((s) => toSeries(s, (v) => (v - off) / 1000));
      }),
    );
    return per.flat();
  }
  // Another metric on x: both keys by step, paired where the bucket's last point has the same step.
  let start: number | undefined;
  let end: number | undefined;
  if (zoom && o.prev) {
    for (const s of o.prev)
      for (let i = 0; i < s.x.length; i++)
        if (s.x[i] >= zoom.min && s.x[i] <= zoom.max) {
          start = start === undefined ? s.steps[i] : Math.min(start, s.steps[i]);
          end = end === undefined ? s.steps[i] : Math.max(end, s.steps[i]);
        }
  }
  const got = await sampled(runIds, [key, x.metric], 'step', buckets, start, end);
  const out: RunSeries[] = [];
  for (const s of got) {
    if (s.key !== key) continue;
    const xs = got.find((t) => t.run_id === s.run_id && t.key === x.metric);
    if (!xs) continue;
    const byStep = new Map<number, number>();
    xs.last_x.forEach((st, i) => byStep.set(st, num(xs.last[i])));
    const r = toSeries(s, (v) => v);
    const idx = r.steps.map((_, i) => i).filter((i) => byStep.has(r.steps[i]));
    out.push({ runId: r.runId, x: idx.map((i) => byStep.get(r.steps[i])!), y: idx.map((i) => r.y[i]), lo: idx.map((i) => r.lo[i]), hi: idx.map((i) => r.hi[i]), steps: idx.map((i) => r.steps[i]) });
  }
  return out;
}

/** Sorts a series by x (needed when x is another metric), keeping its other columns in step. */
export function sortByX(s: RunSeries): RunSeries {
  if (s.x.every((v, i) => i === 0 || s.x[i - 1] <= v)) return s;
  const idx = s.x.map((_, i) => i).sort((a, b) => s.x[a] - s.x[b]);
  return { runId: s.runId, x: idx.map((i) => s.x[i]), y: idx.map((i) => s.y[i]), lo: idx.map((i) => s.lo[i]), hi: idx.map((i) => s.hi[i]), steps: idx.map((i) => s.steps[i]) };
}

/**
 * uPlot wants one shared x column: the union of every run's x, with nulls where a run has no point
 * (drawn across with spanGaps). Three columns per run: last (the line), min and max (the band).
 */
export function align(series: (RunSeries | null)[], logX: boolean, logY: boolean): uPlot.AlignedData {
  const keep = (v: number) => Number.isFinite(v) && (!logY || v > 0);
  const xs = new Set<number>();
  for (const s of series) if (s) for (const v of s.x) if (Number.isFinite(v) && (!logX || v > 0)) xs.add(v);
  const x = Float64Array.from(xs).sort();
  const pos = new Map<number, number>();
  x.forEach((v, i) => pos.set(v, i));
  const cols: (number | null)[][] = [];
  for (const s of series) {
    const y: (number | null)[] = new Array(x.length).fill(null);
    const lo = y.slice();
    const hi = y.slice();
    if (s)
      for (let i = 0; i < s.x.length; i++) {
        const p = pos.get(s.x[i]);
        if (p === undefined) continue;
        y[p] = keep(s.y[i]) ? s.y[i] : null;
        lo[p] = keep(s.lo[i]) ? s.lo[i] : null;
        hi[p] = keep(s.hi[i]) ? s.hi[i] : null;
      }
    cols.push(y, lo, hi);
  }
  return [x as unknown as number[], ...cols] as uPlot.AlignedData;
}

/** The value of a column nearest to index i (columns hold nulls where a run has no point at that x). */
export function nearest(col: ArrayLike<number | null | undefined>, i: number, reach = 2000): number | null {
  for (let d = 0; d <= reach; d++) {
    const a = col[i - d];
    if (a !== null && a !== undefined) return a;
    const b = col[i + d];
    if (b !== null && b !== undefined) return b;
    if (i - d < 0 && i + d >= col.length) break;
  }
  return null;
}
