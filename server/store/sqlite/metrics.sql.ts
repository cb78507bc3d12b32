import type { Db } from '../db.js';
import { decodeChunk, encodeChunk, type Points } from '../chunk-codec.js';
import { concat, slice } from '../points.js';
import { buildRollup, summarizeChunk } from '../sampler.js';
import {
  assembleSeries,
  CHUNK_POINTS,
  earliestChunks,
  earliestPoints,
  groupByKey,
  isClean,
  isNewer,
  pagePieces,
  replacementLayout,
  sampleSeries,
  timeRange,
  type ChunkMeta,
  type TailRow,
} from '../series.js';
import { byStep, pointsOf, stepBounds, tailRowsOf, unpack } from '../tail-pieces.js';
import type { Bucket, MetricPoint } from '../types.js';
import { createChunkPages } from './chunk-pages.sql.js';

export { CHUNK_POINTS };
/**
 * Chunks sealed per event-loop turn. A seal (reading, packing and deleting a full tail) costs 1-3 ms
 * here, and series logged in step, such as the trials of a sweep started together, come due in the
 * same turn: 24 runs of 10 keys stalled every request for half a second. Past this count a series
 * seals on a later append instead, its tail a few points longer meanwhile.
 */
export const SEALS_PER_TURN = 4;
/** A tail this long is sealed whatever the turn's count, so tails stay short to read. */
export const MAX_TAIL = 4 * CHUNK_POINTS;
let sealsThisTurn = 0;
/**
 * A write of fewer points than this to a series whose last tail piece also holds fewer is merged into
 * that piece (rewritten in place) instead of adding a row. metric_tail is a rowid table (migration
 * 0016), so rows of series written in turn interleave: log-metric calls of 240 series, a row each,
 * would leave a 1,024-point tail spread over as many pages, all rewritten when it is sealed. Merged, a
 * tail is at most about 1,024 / MERGE_BELOW rows. A batch's larger pieces are appended as they are.
 */
export const MERGE_BELOW = 64;

/**
 * How many of `fresh` more points a series with `tailCount` points in its tail takes into a chunk
 * sealed now: as many as reach the point where appending them one by one would seal (CHUNK_POINTS, or
 * MAX_TAIL once this turn has sealed its share); null when they do not reach it.
 */
function sealAfter(tailCount: number, fresh: number): number | null {
  const limit = sealsThisTurn < SEALS_PER_TURN ? CHUNK_POINTS : MAX_TAIL;
  const take = Math.max(1, limit - tailCount);
  if (take > fresh) return null;
  if (sealsThisTurn++ === 0) setImmediate(() => (sealsThisTurn = 0));
  return take;
}

interface SeriesRow {
  id: number;
  value: number | null;
  step: number;
  timestamp: number;
  tail_count: number;
  count: number;
}

export function createMetricStatements(db: Db) {
  const s = {
    series: db.prepare<[number, string], SeriesRow>(
      'SELECT id, value, step, timestamp, tail_count, count FROM metric_series WHERE run_id = ? AND key = ?',
    ),
    seriesId: db.prepare<[number, string], { id: number }>('SELECT id FROM metric_series WHERE run_id = ? AND key = ?'),
    deleteSeries: db.prepare<[number, string]>('DELETE FROM metric_series WHERE run_id = ? AND key = ?'),
    summaries: db.prepare<[number], { key: string; count: number; value: number | null; step: number; timestamp: number }>(
      'SELECT key, count, value, step, timestamp FROM metric_series WHERE run_id = ?',
    ),
    insertSeries: db.prepare<[number, number, string, number | null, number, number]>(
      'INSERT INTO metric_series (run_id, experiment_id, key, value, step, timestamp, count, tail_count) VALUES (?, ?, ?, ?, ?, ?, 0, 0)',
    ),
    /** A replaced series' row, written once with the counts its chunks and tail will hold. */
    insertWhole: db.prepare<[number, number, string, number | null, number, number, number, number]>(
      'INSERT INTO metric_series (run_id, experiment_id, key, value, step, timestamp, count, tail_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    updateSeries: db.prepare<[number | null, number, number, number, number, number]>(
      'UPDATE metric_series SET value = ?, step = ?, timestamp = ?, count = count + ?, tail_count = ? WHERE id = ?',
    ),
    insertPiece: db.prepare<[number, number, number, number, number, Buffer]>(
      'INSERT INTO metric_tail (series_id, seq, n, min_step, max_step, data) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    pieces: db.prepare<[number], Buffer>('SELECT data FROM metric_tail WHERE series_id = ? ORDER BY seq').pluck(),
    lastPiece: db.prepare<[number], { seq: number; n: number; min_step: number; max_step: number; data: Buffer }>(
      'SELECT seq, n, min_step, max_step, data FROM metric_tail WHERE series_id = ? ORDER BY seq DESC LIMIT 1',
    ),
    updatePiece: db.prepare<[number, number, number, Buffer, number, number]>(
      'UPDATE metric_tail SET n = ?, min_step = ?, max_step = ?, data = ? WHERE series_id = ? AND seq = ?',
    ),
    piecesRange: db
      .prepare<[number, number, number], Buffer>('SELECT data FROM metric_tail WHERE series_id = ? AND max_step >= ? AND min_step <= ? ORDER BY seq')
      .pluck(),
    deleteTail: db.prepare<[number]>('DELETE FROM metric_tail WHERE series_id = ?'),
    insertChunk: db.prepare<[number, number, number, number, number, number, Buffer, Buffer]>(
      'INSERT INTO metric_chunks (series_id, n, min_step, max_step, min_ts, max_ts, data, rollup) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    chunkMetas: db.prepare<[number], ChunkMeta>(
      'SELECT id, n, min_step, max_step, min_ts, max_ts FROM metric_chunks WHERE series_id = ? ORDER BY min_step, id',
    ),
    chunkData: db.prepare<[number], Buffer>('SELECT data FROM metric_chunks WHERE id = ?').pluck(),
    // The whole identity of the chunk a stream listed: a series replaced meanwhile (an import) may have
    // reused the row id for other points.
    sameChunkData: db
      .prepare<[number, number, number, number, number, number, number], Buffer>(
        'SELECT data FROM metric_chunks WHERE id = ? AND series_id = ? AND n = ? AND min_step = ? AND max_step = ? AND min_ts = ? AND max_ts = ?',
      )
      .pluck(),
    chunkRollup: db.prepare<[number], Buffer | null>('SELECT rollup FROM metric_chunks WHERE id = ?').pluck(),
    chunksAll: db
      .prepare<[number]>('SELECT min_step, max_step, data FROM metric_chunks WHERE series_id = ? ORDER BY min_step, id')
      .raw(),
    chunksRange: db
      .prepare<[number, number, number]>(
        'SELECT min_step, max_step, data FROM metric_chunks WHERE series_id = ? AND max_step >= ? AND min_step <= ? ORDER BY min_step, id',
      )
      .raw(),
  };

  const pages = createChunkPages(db);

  /** The series' tail as rows in (step, timestamp, arrival) order. */
  const tailAll = (seriesId: number): TailRow[] => tailRowsOf(s.pieces.all(seriesId));

  /** A series' chunks sorted by (min_step, id): from its pages when it has them (one row per 32 chunks). */
  function chunkList(seriesId: number): { metas: ChunkMeta[]; summaries: Float64Array | null } {
    return pages.read(seriesId) ?? { metas: s.chunkMetas.all(seriesId), summaries: null };
  }

  /** Bucketed view of a series over [lo, hi] on the step or time axis (series.ts sampleSeries). */
  function sample(seriesId: number, axis: 'step' | 'time', lo: number | null, hi: number | null, buckets: number): Bucket[] {
    const { metas, summaries } = chunkList(seriesId);
    return sampleSeries(metas, tailAll(seriesId), axis, lo, hi, buckets, {
      data: (m) => s.chunkData.get(m.id)!,
      rollup: (m) => s.chunkRollup.get(m.id) ?? null,
      summaries,
    });
  }

  /**
   * Appends points of one run (inside the caller's transaction) and keeps each key's latest value. A
   * key's points go in as one piece; a series whose tail this fills to CHUNK_POINTS is sealed: its
   * pieces and the points that complete the chunk are packed into one, the rest start the next tail.
   */
  function appendPoints(runId: number, experimentId: number, points: MetricPoint[]): void {
    for (const [key, list] of groupByKey(points)) {
      let row = s.series.get(runId, key);
      if (!row) {
        const first = list[0];
        s.insertSeries.run(runId, experimentId, key, first.value, first.step, first.timestamp);
        row = s.series.get(runId, key)!;
      }
      let step = row.step;
      let timestamp = row.timestamp;
      let value = row.value === null ? NaN : row.value;
      for (const p of list) {
        if (isNewer(p, step, timestamp, value)) {
          step = p.step;
          timestamp = p.timestamp;
          value = p.value;
        }
      }
      const fresh = pointsOf(list);
      const n = list.length;
      let tailCount = row.tail_count;
      let i = 0;
      for (let take = sealAfter(tailCount, n); take !== null; take = sealAfter(tailCount, n - i)) {
        const tail = tailCount > 0 ? unpack(s.pieces.all(row.id)) : null;
        if (tail) s.deleteTail.run(row.id);
        const added = slice(fresh, i, i + take);
        seal(row.id, byStep(tail ? concat([tail, added]) : added));
        i += take;
        tailCount = 0;
      }
      if (i < n) {
        const piece = i === 0 ? fresh : slice(fresh, i, n);
        const [lo, hi] = stepBounds(piece);
        const last = n - i < MERGE_BELOW && tailCount > 0 ? s.lastPiece.get(row.id) : undefined;
        if (last && last.n < MERGE_BELOW) {
          const merged = concat([decodeChunk(last.data), piece]);
          s.updatePiece.run(last.n + n - i, Math.min(lo, last.min_step), Math.max(hi, last.max_step), encodeChunk(merged.steps, merged.timestamps, merged.values), row.id, last.seq);
        } else {
          s.insertPiece.run(row.id, row.count + i, n - i, lo, hi, encodeChunk(piece.steps, piece.timestamps, piece.values));
        }
        tailCount += n - i;
      }
      s.updateSeries.run(value, step, timestamp, n, tailCount, row.id);
    }
  }

  /** Writes `p` (sorted by step, then timestamp) as the series' next chunk. */
  function seal(seriesId: number, p: Points): void {
    const n = p.values.length;
    const [minTs, maxTs] = timeRange(p.timestamps);
    const chunkId = Number(s.insertChunk.run(seriesId, n, p.steps[0], p.steps[n - 1], minTs, maxTs, encodeChunk(p.steps, p.timestamps, p.values), buildRollup(p)).lastInsertRowid);
    pages.append(seriesId, summarizeChunk(chunkId, p, minTs, maxTs));
  }

  /** Every point of a series (optionally within a step range), sorted by step, then timestamp. */
  function readSeries(seriesId: number, minStep: number | null = null, maxStep: number | null = null): Points {
    const ranged = minStep !== null || maxStep !== null;
    const lo = minStep ?? -Number.MAX_VALUE;
    const hi = maxStep ?? Number.MAX_VALUE;
    const chunkRows = (ranged ? s.chunksRange.all(seriesId, lo, hi) : s.chunksAll.all(seriesId)) as [number, number, Buffer][];
    const tail = ranged ? tailRowsOf(s.piecesRange.all(seriesId, lo, hi), lo, hi) : tailAll(seriesId);
    return assembleSeries(chunkRows.map((c) => c[2]), tail, minStep, maxStep);
  }

  /** Points [offset, offset + limit) in (step, timestamp) order, in one piece. */
  function readPage(seriesId: number, offset: number, limit: number | null): { points: Points; total: number } {
    const { total, pieces } = streamPage(seriesId, offset, limit);
    return { points: concat([...pieces]), total };
  }

  /**
   * Points [offset, offset + limit) in (step, timestamp) order, as pieces of about STREAM_PIECE_POINTS
   * decoded while the caller iterates, so a long history is never held whole. Only the chunks the page
   * lies in are decoded. The page is the series as it was at this call: chunks are immutable and the
   * tail is read now, so points logged while the caller iterates (over many event-loop turns) are not
   * in it; a series deleted or replaced meanwhile makes the iteration throw rather than mix two series.
   */
  function streamPage(seriesId: number, offset: number, limit: number | null): { count: number; total: number; pieces: Iterable<Points> } {
    const { metas } = chunkList(seriesId);
    const tail = tailAll(seriesId);
    let total = tail.length;
    for (const m of metas) total += m.n;
    const end = limit === null ? total : Math.min(total, offset + limit);
    const count = Math.max(0, end - offset);
    if (!isClean(metas, tail)) return { count, total, pieces: [slice(readSeries(seriesId), offset, end)] };
    // The whole identity of each chunk listed: a series replaced meanwhile (an import) may have reused a row id.
    const data = (m: ChunkMeta) => s.sameChunkData.get(m.id, seriesId, m.n, m.min_step, m.max_step, m.min_ts, m.max_ts);
    return { count, total, pieces: pagePieces(metas, tail, offset, end, data) };
  }

  /** The first `limit` points in (timestamp, step, value) order, decoding only the chunks that can hold them. */
  function earliestByTime(seriesId: number, limit: number): Points {
    const chunks = earliestChunks(chunkList(seriesId).metas, limit).map((m) => s.chunkData.get(m.id)!);
    return earliestPoints(chunks, tailAll(seriesId), limit);
  }

  /**
   * Replaces the whole series of one key (inside the caller's transaction) with `points`: sorted by
   * (step, timestamp, value), packed straight into full chunks with the remainder in the tail, which is
   * the layout appendPoints leaves after appending the same sorted points, without the detour through
   * the tail table for every point.
   */
  function replaceSeries(runId: number, experimentId: number, key: string, points: Points): void {
    s.deleteSeries.run(runId, key);
    const n = points.values.length;
    if (n === 0) return;
    const { sorted: p, latest, chunks, tail } = replacementLayout(key, points);
    const v = p.values[latest];
    const seriesId = Number(s.insertWhole.run(runId, experimentId, key, Number.isNaN(v) ? null : v, p.steps[latest], p.timestamps[latest], n, tail.values.length).lastInsertRowid);
    const summaries: Float64Array[] = [];
    for (const c of chunks) {
      const [minTs, maxTs] = timeRange(c.timestamps);
      const chunkId = s.insertChunk.run(seriesId, CHUNK_POINTS, c.steps[0], c.steps[CHUNK_POINTS - 1], minTs, maxTs, encodeChunk(c.steps, c.timestamps, c.values), buildRollup(c)).lastInsertRowid;
      summaries.push(summarizeChunk(Number(chunkId), c, minTs, maxTs));
    }
    pages.write(seriesId, summaries);
    // The tail is one piece; its seq continues the series' point count, as appends number it.
    if (tail.values.length > 0) {
      const [lo, hi] = stepBounds(tail);
      s.insertPiece.run(seriesId, n - tail.values.length, tail.values.length, lo, hi, encodeChunk(tail.steps, tail.timestamps, tail.values));
    }
  }

  return {
    appendPoints,
    replaceSeries,
    summaries: (runId: number) => s.summaries.all(runId),
    readSeries,
    readPage,
    streamPage,
    earliestByTime,
    sample,
    seriesId: (runId: number, key: string) => s.seriesId.get(runId, key)?.id ?? null,
  };
}

export type MetricStatements = ReturnType<typeof createMetricStatements>;
