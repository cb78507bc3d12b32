import { decodeChunk } from '../chunk-codec.js';
import { Bucketer, eachPoint, ROLLUP_BLOCK } from '../sampler.js';
import type { Bucket } from '../types.js';
import type { ChunkMeta } from './chunk-pages.sql.js';

/** What a sampled read needs from the metric statements. */
export interface SampleSource {
  chunkList(seriesId: number): { metas: ChunkMeta[]; summaries: Float64Array | null };
  chunkData(chunkId: number): Buffer;
  chunkRollup(chunkId: number): Buffer | null;
  tail(seriesId: number): [number, number, number | null][];
}

/** Rollup blocks are summed whole into the bucket they start in when a bucket is at least this many blocks wide. */
const BLOCKS_PER_BUCKET = 4;

/**
 * Bucketed view of a series over [lo, hi] on the step or time axis. When buckets are several rollup
 * blocks wide, chunks lying wholly inside the range contribute their rollups and are never decoded,
 * and a chunk lying wholly inside one bucket contributes the one-row summary from the series' pages
 * (the same sums as its rollup, without reading it: a 10M-point series in 1000 buckets reads 300 page
 * rows and the rollups of the ~1000 chunks that cross a bucket border, not 10,000 rollups). Only the
 * chunks cut by the range ends and the tail are read point by point.
 */
export function sampleSeries(src: SampleSource, seriesId: number, axis: 'step' | 'time', lo: number | null, hi: number | null, buckets: number): Bucket[] {
  const { metas, summaries } = src.chunkList(seriesId);
  const tail = src.tail(seriesId);
  const minX = (m: ChunkMeta) => (axis === 'step' ? m.min_step : m.min_ts);
  const maxX = (m: ChunkMeta) => (axis === 'step' ? m.max_step : m.max_ts);
  const xi = axis === 'step' ? 0 : 1;
  let from = lo ?? Infinity;
  let to = hi ?? -Infinity;
  if (lo === null || hi === null) {
    for (const m of metas) {
      if (lo === null) from = Math.min(from, minX(m));
      if (hi === null) to = Math.max(to, maxX(m));
    }
    for (const row of tail) {
      if (lo === null) from = Math.min(from, row[xi]);
      if (hi === null) to = Math.max(to, row[xi]);
    }
  }
  const inRange = metas.filter((m) => maxX(m) >= from && minX(m) <= to);
  let estimate = tail.length;
  for (const m of inRange) estimate += m.n;
  const tailPart = { values: Float64Array.from(tail, (r) => (r[2] === null ? NaN : r[2])), xs: Float64Array.from(tail, (r) => r[xi]) };
  const points = (m: ChunkMeta) => {
    const p = decodeChunk(src.chunkData(m.id));
    return { values: p.values, xs: axis === 'step' ? p.steps : p.timestamps };
  };
  if (estimate < buckets * ROLLUP_BLOCK * BLOCKS_PER_BUCKET) {
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
  for (const m of inRange) {
    const inside = minX(m) >= from && maxX(m) <= to;
    if (inside && summaries !== null && b.bucketOf(minX(m)) === b.bucketOf(maxX(m))) {
      b.addChunk(summaries, m.at!, axis);
      continue;
    }
    const rollup = inside ? src.chunkRollup(m.id) : null;
    if (rollup) b.addRollup(rollup, axis);
    else {
      const p = points(m);
      b.addPoints(p.values, p.xs);
    }
  }
  b.addPoints(tailPart.values, tailPart.xs);
  return b.result();
}
