/**
 * The storage-independent half of metric series (store/sqlite/metrics.sql.ts and
 * store/postgres/metrics.sql.ts): the latest-point rule, how chunks and tail rows are put together in
 * (step, timestamp) order, paging over them, and sampling. The stores only fetch rows.
 */
import { decodeChunk, type Points } from './chunk-codec.js';
import { concat, isSorted, slice, sortByTime, sortPoints } from './points.js';
import { Bucketer, eachPoint, ROLLUP_BLOCK } from './sampler.js';
import type { Bucket, MetricPoint } from './types.js';

/** Points per packed chunk: large enough to make chunk rows cheap, small enough to seal often. */
export const CHUNK_POINTS = 1024;
/** Points per piece of a streamed page: decoding them is a fraction of a millisecond. */
export const STREAM_PIECE_POINTS = 8 * CHUNK_POINTS;
/** Rollup blocks are summed whole into the bucket they start in when a bucket is at least this many blocks wide. */
const BLOCKS_PER_BUCKET = 4;

export interface ChunkMeta {
  id: number;
  n: number;
  min_step: number;
  max_step: number;
  min_ts: number;
  max_ts: number;
  /** Where the chunk's summary starts in the series' summaries (SQLite's chunk pages), when it has them. */
  at?: number;
}

/** A tail row as [step, timestamp, value]; value null is NaN. */
export type TailRow = [number, number, number | null];

/**
 * MLflow's rule for a run's latest metric: highest step, then latest timestamp, then largest value,
 * where NaN compares as 0 (MLflow's SQL store keeps NaN as value 0 with a flag).
 */
export function isNewer(p: MetricPoint, step: number, timestamp: number, value: number): boolean {
  if (p.step !== step) return p.step > step;
  if (p.timestamp !== timestamp) return p.timestamp > timestamp;
  return (Number.isNaN(p.value) ? 0 : p.value) > (Number.isNaN(value) ? 0 : value);
}

/** Points grouped by metric key, each group in arrival order. */
export function groupByKey(points: MetricPoint[]): Map<string, MetricPoint[]> {
  const byKey = new Map<string, MetricPoint[]>();
  for (const p of points) {
    const list = byKey.get(p.key);
    if (list) list.push(p);
    else byKey.set(p.key, [p]);
  }
  return byKey;
}

/** The index of the latest point of `p` by isNewer. */
export function latestIndex(key: string, p: Points): number {
  let latest = 0;
  for (let i = 1; i < p.values.length; i++) {
    if (isNewer({ key, step: p.steps[i], timestamp: p.timestamps[i], value: p.values[i] }, p.steps[latest], p.timestamps[latest], p.values[latest])) latest = i;
  }
  return latest;
}

export function tailPoints(rows: TailRow[]): Points {
  return {
    steps: Float64Array.from(rows, (r) => r[0]),
    timestamps: Float64Array.from(rows, (r) => r[1]),
    values: Float64Array.from(rows, (r) => (r[2] === null ? NaN : r[2])),
  };
}

/** Chunk bytes (already filtered to the range by their summaries) and tail rows, as one sorted run of points. */
export function assembleSeries(chunks: Buffer[], tail: TailRow[], minStep: number | null, maxStep: number | null): Points {
  const ranged = minStep !== null || maxStep !== null;
  const lo = minStep ?? -Number.MAX_VALUE;
  const hi = maxStep ?? Number.MAX_VALUE;
  const parts = chunks.map((c) => decodeChunk(c));
  let total = tail.length;
  for (const p of parts) total += p.values.length;
  const out: Points = { steps: new Float64Array(total), timestamps: new Float64Array(total), values: new Float64Array(total) };
  let k = 0;
  for (const p of parts) {
    for (let i = 0; i < p.values.length; i++) {
      const st = p.steps[i];
      if (ranged && (st < lo || st > hi)) continue;
      out.steps[k] = st;
      out.timestamps[k] = p.timestamps[i];
      out.values[k++] = p.values[i];
    }
  }
  for (const [st, t, v] of tail) {
    out.steps[k] = st;
    out.timestamps[k] = t;
    out.values[k++] = v === null ? NaN : v;
  }
  const trimmed: Points = k === total ? out : slice(out, 0, k);
  return isSorted(trimmed) ? trimmed : sortPoints(trimmed);
}

/** True when chunks and tail follow each other in step order, so a page can skip whole chunks. */
export function isClean(metas: ChunkMeta[], tail: TailRow[]): boolean {
  for (let i = 1; i < metas.length; i++) if (metas[i].min_step <= metas[i - 1].max_step) return false;
  return metas.length === 0 || tail.length === 0 || tail[0][0] > metas[metas.length - 1].max_step;
}

/** Which of the clean series' chunks the page [offset, end) touches. */
export function pageChunks(metas: ChunkMeta[], offset: number, end: number): ChunkMeta[] {
  const out: ChunkMeta[] = [];
  let pos = 0;
  for (const m of metas) {
    if (pos + m.n > offset && pos < end) out.push(m);
    pos += m.n;
  }
  return out;
}

/**
 * Points [offset, end) of a clean series as pieces of about STREAM_PIECE_POINTS, decoded while the
 * caller iterates. `data` gives a touched chunk's bytes, or undefined when the chunk is gone: the series
 * was deleted or replaced since `metas` were listed, and the iteration throws rather than mix two series.
 */
export function* pagePieces(
  metas: ChunkMeta[],
  tail: TailRow[],
  offset: number,
  end: number,
  data: (m: ChunkMeta) => Buffer | undefined,
): Generator<Points> {
  let pos = 0;
  let group: Points[] = [];
  let grouped = 0;
  for (const m of metas) {
    if (pos + m.n > offset && pos < end) {
      const bytes = data(m);
      if (bytes === undefined) throw new Error('the metric series was deleted or replaced while it was being read');
      const part = slice(decodeChunk(bytes), Math.max(0, offset - pos), Math.min(m.n, end - pos));
      group.push(part);
      grouped += part.values.length;
      if (grouped >= STREAM_PIECE_POINTS) {
        yield concat(group);
        group = [];
        grouped = 0;
      }
    }
    pos += m.n;
  }
  const from = Math.max(0, offset - pos);
  const to = Math.min(tail.length, end - pos);
  if (to > from) group.push(tailPoints(tail.slice(from, to)));
  if (group.length > 0) yield concat(group);
}

/**
 * The chunks that can hold a series' first `limit` points in (timestamp, step, value) order (MLflow's
 * get-history-bulk order), in step order: take chunks by their earliest timestamp until they hold
 * `limit` points; the latest timestamp among them bounds the answer, so every chunk starting after it
 * is skipped. A series logged in time order decodes about `limit` points, not all of them.
 */
export function earliestChunks(metas: ChunkMeta[], limit: number): ChunkMeta[] {
  const byTime = [...metas].sort((a, b) => a.min_ts - b.min_ts || a.id - b.id);
  let held = 0;
  let bound = -Infinity;
  for (let i = 0; i < byTime.length && held < limit; i++) {
    held += byTime[i].n;
    bound = Math.max(bound, byTime[i].max_ts);
  }
  if (held < limit) bound = Infinity;
  // In readSeries' order (chunks by step, then the tail), so ties fall as they would in the whole series.
  return metas.filter((m) => m.min_ts <= bound).sort((a, b) => a.min_step - b.min_step || a.id - b.id);
}

/** The first `limit` points by time of the chunks earliestChunks chose and the tail. */
export function earliestPoints(chunks: Buffer[], tail: TailRow[], limit: number): Points {
  const points = concat([...chunks.map((c) => decodeChunk(c)), tailPoints(tail)]);
  return sortByTime(isSorted(points) ? points : sortPoints(points), limit);
}

/** The [from, to] a sampled read covers: the caller's bounds, else the series' own extent. */
export function sampleRange(metas: ChunkMeta[], tail: TailRow[], axis: 'step' | 'time', lo: number | null, hi: number | null): [number, number] {
  const xi = axis === 'step' ? 0 : 1;
  let from = lo ?? Infinity;
  let to = hi ?? -Infinity;
  if (lo === null || hi === null) {
    for (const m of metas) {
      if (lo === null) from = Math.min(from, axis === 'step' ? m.min_step : m.min_ts);
      if (hi === null) to = Math.max(to, axis === 'step' ? m.max_step : m.max_ts);
    }
    for (const row of tail) {
      if (lo === null) from = Math.min(from, row[xi]);
      if (hi === null) to = Math.max(to, row[xi]);
    }
  }
  return [from, to];
}

/** What a sampled read fetches besides chunk metas and tail rows. */
export interface SampleFetch {
  data(m: ChunkMeta): Buffer;
  rollup(m: ChunkMeta): Buffer | null;
  /** The series' chunk summaries (SQLite's chunk pages; see sampler.ts summarizeChunk), where `m.at` points. */
  summaries?: Float64Array | null;
}

/**
 * What a sampled read over [lo, hi] touches: the chunks in range, whether it reads every point (few
 * per bucket) and which chunks lie wholly inside the range (read from their rollups, when they have
 * one, instead of decoded). A store that fetches bytes over the network asks only for those.
 */
export function planSample(metas: ChunkMeta[], tail: TailRow[], axis: 'step' | 'time', lo: number | null, hi: number | null, buckets: number) {
  const minX = (m: ChunkMeta) => (axis === 'step' ? m.min_step : m.min_ts);
  const maxX = (m: ChunkMeta) => (axis === 'step' ? m.max_step : m.max_ts);
  const [from, to] = sampleRange(metas, tail, axis, lo, hi);
  const inRange = metas.filter((m) => maxX(m) >= from && minX(m) <= to);
  let estimate = tail.length;
  for (const m of inRange) estimate += m.n;
  const everyPoint = estimate < buckets * ROLLUP_BLOCK * BLOCKS_PER_BUCKET;
  const inside = (m: ChunkMeta) => !everyPoint && minX(m) >= from && maxX(m) <= to;
  return { from, to, inRange, everyPoint, inside, minX, maxX };
}

/**
 * Bucketed view of a series over [lo, hi] on the step or time axis. When buckets are several rollup
 * blocks wide, chunks lying wholly inside the range contribute their rollups and are never decoded,
 * and a chunk lying wholly inside one bucket contributes its one-row summary when the store keeps them
 * (the same sums as its rollup, without reading it: a 10M-point series in 1000 buckets reads 300 page
 * rows and the rollups of the ~1000 chunks that cross a bucket border, not 10,000 rollups). Only the
 * chunks cut by the range ends and the tail are read point by point.
 */
export function sampleSeries(
  metas: ChunkMeta[],
  tail: TailRow[],
  axis: 'step' | 'time',
  lo: number | null,
  hi: number | null,
  buckets: number,
  fetch: SampleFetch,
): Bucket[] {
  const { from, to, inRange, everyPoint, inside, minX, maxX } = planSample(metas, tail, axis, lo, hi, buckets);
  const xi = axis === 'step' ? 0 : 1;
  const tailPart = { values: Float64Array.from(tail, (r) => (r[2] === null ? NaN : r[2])), xs: Float64Array.from(tail, (r) => r[xi]) };
  const points = (m: ChunkMeta) => {
    const p = decodeChunk(fetch.data(m));
    return { values: p.values, xs: axis === 'step' ? p.steps : p.timestamps };
  };
  if (everyPoint) {
    // Few points per bucket: read them all (and return them as they are when they fit).
    const parts = inRange.map(points);
    parts.push(tailPart);
    let count = 0;
    for (const p of parts) for (let i = 0; i < p.xs.length; i++) if (p.xs[i] >= from && p.xs[i] <= to) count++;
    if (count <= buckets) return eachPoint(parts, from, to);
    const b = new Bucketer(from, to, buckets);
    for (const p of parts) b.addPoints(p.values, p.xs);
    return b.result();
  }
  const b = new Bucketer(from, to, buckets);
  const summaries = fetch.summaries ?? null;
  for (const m of inRange) {
    const whole = inside(m);
    if (whole && summaries !== null && m.at !== undefined && b.bucketOf(minX(m)) === b.bucketOf(maxX(m))) {
      b.addChunk(summaries, m.at, axis);
      continue;
    }
    const rollup = whole ? fetch.rollup(m) : null;
    if (rollup) b.addRollup(rollup, axis);
    else {
      const p = points(m);
      b.addPoints(p.values, p.xs);
    }
  }
  b.addPoints(tailPart.values, tailPart.xs);
  return b.result();
}

/** The time range of a chunk's points (timestamps need not be sorted within it). */
export function timeRange(timestamps: ArrayLike<number>): [number, number] {
  let minTs = Infinity;
  let maxTs = -Infinity;
  for (let i = 0; i < timestamps.length; i++) {
    const t = timestamps[i];
    if (t < minTs) minTs = t;
    if (t > maxTs) maxTs = t;
  }
  return [minTs, maxTs];
}

/**
 * A whole history as an import stores it (replaceMetricHistory on either backend): sorted by (step,
 * timestamp, value), packed into full chunks of CHUNK_POINTS with the remainder for the tail, which is
 * the layout appends of the same sorted points leave. `latest` indexes the latest point of `sorted`.
 */
export function replacementLayout(key: string, points: Points): { sorted: Points; latest: number; chunks: Points[]; tail: Points } {
  const sorted = sortPoints(points, true);
  const n = sorted.values.length;
  const full = n - (n % CHUNK_POINTS);
  const chunks: Points[] = [];
  for (let start = 0; start < full; start += CHUNK_POINTS) chunks.push(slice(sorted, start, start + CHUNK_POINTS));
  return { sorted, latest: latestIndex(key, sorted), chunks, tail: slice(sorted, full, n) };
}
