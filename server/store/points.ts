import type { Points } from './chunk-codec.js';

// Column operations on points (steps, timestamps, values as parallel Float64Arrays).

export function slice(p: Points, from: number, to: number): Points {
  return { steps: p.steps.subarray(from, to), timestamps: p.timestamps.subarray(from, to), values: p.values.subarray(from, to) };
}

export function concat(parts: Points[]): Points {
  let n = 0;
  for (const p of parts) n += p.values.length;
  const out: Points = { steps: new Float64Array(n), timestamps: new Float64Array(n), values: new Float64Array(n) };
  let k = 0;
  for (const p of parts) {
    out.steps.set(p.steps, k);
    out.timestamps.set(p.timestamps, k);
    out.values.set(p.values, k);
    k += p.values.length;
  }
  return out;
}

/** The first `limit` points by (timestamp, step, value), as MLflow orders get-history-bulk. */
export function sortByTime(s: Points, limit: number): Points {
  const idx = Array.from({ length: s.values.length }, (_, i) => i);
  idx.sort((a, b) => s.timestamps[a] - s.timestamps[b] || s.steps[a] - s.steps[b] || s.values[a] - s.values[b]);
  idx.length = Math.min(idx.length, limit);
  return {
    steps: Float64Array.from(idx, (i) => s.steps[i]),
    timestamps: Float64Array.from(idx, (i) => s.timestamps[i]),
    values: Float64Array.from(idx, (i) => s.values[i]),
  };
}

export function isSorted(p: Points): boolean {
  for (let i = 1; i < p.steps.length; i++) {
    if (p.steps[i] < p.steps[i - 1] || (p.steps[i] === p.steps[i - 1] && p.timestamps[i] < p.timestamps[i - 1])) return false;
  }
  return true;
}

/** NaN sorts as MLflow compares it in the latest-value rule (as 0), so a sort is total and repeatable. */
const sortable = (v: number) => (Number.isNaN(v) ? 0 : v);

// Out-of-order logging (a step logged after later steps) makes chunks overlap; reads then sort.
// byValue: ties of (step, timestamp) are ordered by value instead of arrival (an import has no arrival order).
export function sortPoints(p: Points, byValue = false): Points {
  const idx = Array.from({ length: p.steps.length }, (_, i) => i);
  idx.sort((a, b) => p.steps[a] - p.steps[b] || p.timestamps[a] - p.timestamps[b] || (byValue ? sortable(p.values[a]) - sortable(p.values[b]) : 0) || a - b);
  return {
    steps: Float64Array.from(idx, (i) => p.steps[i]),
    timestamps: Float64Array.from(idx, (i) => p.timestamps[i]),
    values: Float64Array.from(idx, (i) => p.values[i]),
  };
}
