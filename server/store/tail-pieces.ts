import { decodeChunk, type Points } from './chunk-codec.js';
import { concat, isSorted, sortPoints } from './points.js';
import type { TailRow } from './series.js';
import type { MetricPoint } from './types.js';

/**
 * A series' points not yet sealed into a chunk, as both stores keep them: metric_tail holds a piece per
 * (series, write), the write's points for that series in arrival order in the chunk encoding. What a
 * row per point answered with `ORDER BY step, timestamp, seq` is the pieces decoded in `seq` order and
 * sorted stably by (step, timestamp).
 */

export function pointsOf(list: MetricPoint[]): Points {
  const n = list.length;
  const out: Points = { steps: new Float64Array(n), timestamps: new Float64Array(n), values: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const p = list[i];
    out.steps[i] = p.step;
    out.timestamps[i] = p.timestamp;
    out.values[i] = p.value;
  }
  return out;
}

/** Pieces (in seq order) as one run of points in arrival order. */
export const unpack = (pieces: Buffer[]): Points => concat(pieces.map((b) => decodeChunk(b)));

/** (step, timestamp) order, equal points kept in arrival order (sortPoints is stable). */
export const byStep = (p: Points): Points => (isSorted(p) ? p : sortPoints(p));

/** The smallest and largest step of a piece, which the stores keep beside it for ranged reads. */
export function stepBounds(p: Points): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of p.steps) {
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  return [lo, hi];
}

/** Pieces (in seq order) as tail rows with steps in [lo, hi] when given, in (step, timestamp, arrival) order. */
export function tailRowsOf(pieces: Buffer[], lo?: number, hi?: number): TailRow[] {
  const ranged = lo !== undefined && hi !== undefined;
  const p = byStep(unpack(pieces));
  const rows: TailRow[] = [];
  for (let i = 0; i < p.values.length; i++) {
    const step = p.steps[i];
    if (ranged && (step < lo || step > hi)) continue;
    const v = p.values[i];
    rows.push([step, p.timestamps[i], Number.isNaN(v) ? null : v]);
  }
  return rows;
}
