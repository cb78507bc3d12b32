import type { Points } from './chunk-codec.js';
import type { Bucket } from './types.js';

/** Points per rollup block: a chunk's rollup holds one row of ROLLUP_FIELDS doubles per block. */
export const ROLLUP_BLOCK = 64;
// count, firstStep, firstTs, min, minStep, minTs, max, maxStep, maxTs, last, lastStep, lastTs
const F = 12;

/** Points [start, end) as one rollup row (see F) written at `at`; NaN is min or max only of all-NaN points. */
function summarize(p: Points, start: number, end: number, out: Float64Array, at: number): void {
  let mi = start;
  let ma = start;
  for (let i = start + 1; i < end; i++) {
    const v = p.values[i];
    if (v < p.values[mi] || Number.isNaN(p.values[mi])) mi = i;
    if (v > p.values[ma] || Number.isNaN(p.values[ma])) ma = i;
  }
  const l = end - 1;
  out.set(
    [end - start, p.steps[start], p.timestamps[start], p.values[mi], p.steps[mi], p.timestamps[mi], p.values[ma], p.steps[ma], p.timestamps[ma], p.values[l], p.steps[l], p.timestamps[l]],
    at,
  );
}

/** Per-block min/max/last of a sorted chunk, so a sampled read can use the chunk without decoding it. */
export function buildRollup(p: Points): Buffer {
  const n = p.values.length;
  const blocks = Math.ceil(n / ROLLUP_BLOCK);
  const out = new Float64Array(blocks * F);
  for (let b = 0; b < blocks; b++) summarize(p, b * ROLLUP_BLOCK, Math.min(n, (b + 1) * ROLLUP_BLOCK), out, b * F);
  return Buffer.from(out.buffer);
}

/**
 * A chunk in CHUNK_SUMMARY float64s: its row id, step range [min, max], time range [min, max], then
 * its whole span as one rollup row (count, first x, min, max and last with their x).
 */
export const CHUNK_SUMMARY = 5 + F;

export function summarizeChunk(id: number, p: Points, minTs: number, maxTs: number): Float64Array {
  const out = new Float64Array(CHUNK_SUMMARY);
  const n = p.values.length;
  out.set([id, p.steps[0], p.steps[n - 1], minTs, maxTs]);
  summarize(p, 0, n, out, 5);
  return out;
}

/**
 * Splits [lo, hi] into equal x ranges and keeps, for each non-empty one, its minimum, maximum and last
 * point with their x: a chart drawn from these shows every spike the full series has. Input comes as
 * raw points or as rollup blocks; a block goes to the bucket where it starts.
 */
export class Bucketer {
  private readonly count: Float64Array;
  private readonly cols: Float64Array[];
  private readonly width: number;

  constructor(
    private readonly lo: number,
    private readonly hi: number,
    private readonly buckets: number,
  ) {
    this.count = new Float64Array(buckets);
    // min, minX, max, maxX, last, lastX
    this.cols = Array.from({ length: 6 }, () => new Float64Array(buckets));
    this.width = (hi - lo) / buckets || 1;
  }

  /** The bucket of x (x within [lo, hi]). */
  bucketOf(x: number): number {
    return Math.min(this.buckets - 1, Math.floor((x - this.lo) / this.width));
  }

  add(x: number, n: number, min: number, minX: number, max: number, maxX: number, last: number, lastX: number): void {
    if (x < this.lo || x > this.hi) return;
    const j = this.bucketOf(x);
    const [cMin, cMinX, cMax, cMaxX, cLast, cLastX] = this.cols;
    if (this.count[j] === 0) {
      cMin[j] = min;
      cMinX[j] = minX;
      cMax[j] = max;
      cMaxX[j] = maxX;
      cLast[j] = last;
      cLastX[j] = lastX;
    } else {
      // NaN never wins min/max unless the bucket holds nothing else.
      if (min < cMin[j] || Number.isNaN(cMin[j])) {
        cMin[j] = min;
        cMinX[j] = minX;
      }
      if (max > cMax[j] || Number.isNaN(cMax[j])) {
        cMax[j] = max;
        cMaxX[j] = maxX;
      }
      if (lastX >= cLastX[j]) {
        cLast[j] = last;
        cLastX[j] = lastX;
      }
    }
    this.count[j] += n;
  }

  addPoints(values: ArrayLike<number>, xs: ArrayLike<number>): void {
    for (let i = 0; i < xs.length; i++) this.add(xs[i], 1, values[i], xs[i], values[i], xs[i], values[i], xs[i]);
  }

  /** Adds a rollup blob (see buildRollup) on the step or time axis. */
  addRollup(blob: Buffer, axis: 'step' | 'time'): void {
    const r = new Float64Array(blob.length / 8);
    new Uint8Array(r.buffer).set(blob);
    for (let o = 0; o < r.length; o += F) this.addRow(r, o, axis);
  }

  /** Adds a whole chunk from its summary (see summarizeChunk) at `at` in `summaries`. */
  addChunk(summaries: Float64Array, at: number, axis: 'step' | 'time'): void {
    this.addRow(summaries, at + 5, axis);
  }

  private addRow(r: Float64Array, o: number, axis: 'step' | 'time'): void {
    const t = axis === 'step' ? 0 : 1;
    this.add(r[o + 1 + t], r[o], r[o + 3], r[o + 4 + t], r[o + 6], r[o + 7 + t], r[o + 9], r[o + 10 + t]);
  }

  result(): Bucket[] {
    const [cMin, cMinX, cMax, cMaxX, cLast, cLastX] = this.cols;
    const out: Bucket[] = [];
    for (let j = 0; j < this.buckets; j++) {
      if (this.count[j] > 0) {
        out.push({ minX: cMinX[j], min: cMin[j], maxX: cMaxX[j], max: cMax[j], lastX: cLastX[j], last: cLast[j], count: this.count[j] });
      }
    }
    return out;
  }
}

/** Full resolution: one bucket per point in [lo, hi], in x order. */
export function eachPoint(parts: { values: ArrayLike<number>; xs: ArrayLike<number> }[], lo: number, hi: number): Bucket[] {
  const out: Bucket[] = [];
  for (const { values, xs } of parts) {
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      if (x >= lo && x <= hi) out.push({ minX: x, min: values[i], maxX: x, max: values[i], lastX: x, last: values[i], count: 1 });
    }
  }
  return out.sort((a, b) => a.lastX - b.lastX);
}
