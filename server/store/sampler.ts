import type { Points } from './chunk-codec.js';
import type { Bucket } from './types.js';

/**
 * Splits [start, end] into `buckets` equal x ranges and keeps, for each non-empty one, its minimum,
 * maximum and last point with their x. A chart drawn from these shows every spike that the full series
 * has, at no more than 3 points per bucket. When the range holds no more points than buckets, every
 * point is its own bucket (full resolution).
 */
export function bucketize(p: Points, xs: Float64Array, start: number | null, end: number | null, buckets: number): Bucket[] {
  const n = xs.length;
  const lo = start ?? minOf(xs);
  const hi = end ?? maxOf(xs);
  let inRange = 0;
  for (let i = 0; i < n; i++) if (xs[i] >= lo && xs[i] <= hi) inRange++;
  const out: Bucket[] = [];
  if (inRange === 0) return out;
  if (inRange <= buckets) {
    for (let i = 0; i < n; i++) {
      const x = xs[i];
      if (x < lo || x > hi) continue;
      const v = p.values[i];
      out.push({ minX: x, min: v, maxX: x, max: v, lastX: x, last: v, count: 1 });
    }
    return out;
  }
  const width = (hi - lo) / buckets || 1;
  const slots: (Bucket | undefined)[] = new Array(buckets);
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    if (x < lo || x > hi) continue;
    const v = p.values[i];
    const j = Math.min(buckets - 1, Math.floor((x - lo) / width));
    const b = slots[j];
    if (!b) {
      slots[j] = { minX: x, min: v, maxX: x, max: v, lastX: x, last: v, count: 1 };
      continue;
    }
    b.count++;
    // NaN never wins min/max unless the bucket holds nothing else.
    if (v < b.min || Number.isNaN(b.min)) {
      b.min = v;
      b.minX = x;
    }
    if (v > b.max || Number.isNaN(b.max)) {
      b.max = v;
      b.maxX = x;
    }
    if (x >= b.lastX) {
      b.last = v;
      b.lastX = x;
    }
  }
  for (const b of slots) if (b) out.push(b);
  return out;
}

function minOf(xs: Float64Array): number {
  let m = Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] < m) m = xs[i];
  return m;
}

function maxOf(xs: Float64Array): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] > m) m = xs[i];
  return m;
}
