import type { Db } from '../db.js';
import { decodeChunk, encodeChunk, type Points } from '../chunk-codec.js';
import { buildRollup, summarizeChunk } from '../sampler.js';
import { concat, isSorted, slice, sortByTime, sortPoints } from '../points.js';
import type { Bucket, MetricPoint } from '../types.js';
import { createChunkPages, type ChunkMeta } from './chunk-pages.sql.js';
import { sampleSeries } from './sampled.sql.js';

/** Points per packed chunk: large enough to make chunk rows cheap, small enough to seal often. */
export const CHUNK_POINTS = 1024;
/** Points per piece of a streamed page: decoding them is a fraction of a millisecond. */
const STREAM_PIECE_POINTS = 8 * CHUNK_POINTS;
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

function sealNow(tailCount: number): boolean {
  if (tailCount < CHUNK_POINTS) return false;
  if (sealsThisTurn >= SEALS_PER_TURN && tailCount < MAX_TAIL) return false;
  if (sealsThisTurn++ === 0) setImmediate(() => (sealsThisTurn = 0));
  return true;
}

interface SeriesRow {
  id: number;
  value: number | null;
  step: number;
  timestamp: number;
  tail_count: number;
  count: number;
}

/**
 * MLflow's rule for a run's latest metric: highest step, then latest timestamp, then largest value,
 * where NaN compares as 0 (MLflow's SQL store keeps NaN as value 0 with a flag).
 */
function isNewer(p: MetricPoint, step: number, timestamp: number, value: number): boolean {
  if (p.step !== step) return p.step > step;
  if (p.timestamp !== timestamp) return p.timestamp > timestamp;
  return (Number.isNaN(p.value) ? 0 : p.value) > (Number.isNaN(value) ? 0 : value);
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
    insertSeries: db.prepare<[number, string, number | null, number, number]>(
      'INSERT INTO metric_series (run_id, key, value, step, timestamp, count, tail_count) VALUES (?, ?, ?, ?, ?, 0, 0)',
    ),
    updateSeries: db.prepare<[number | null, number, number, number, number, number]>(
      'UPDATE metric_series SET value = ?, step = ?, timestamp = ?, count = count + ?, tail_count = ? WHERE id = ?',
    ),
    insertTail: db.prepare<[number, number, number, number, number]>(
      'INSERT INTO metric_tail (series_id, seq, step, timestamp, value) VALUES (?, ?, ?, ?, ?)',
    ),
    tailAll: db
      .prepare<[number]>('SELECT step, timestamp, value FROM metric_tail WHERE series_id = ? ORDER BY step, timestamp, seq')
      .raw(),
    tailRange: db
      .prepare<[number, number, number]>(
        'SELECT step, timestamp, value FROM metric_tail WHERE series_id = ? AND step BETWEEN ? AND ? ORDER BY step, timestamp, seq',
      )
      .raw(),
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

  /** A series' chunks sorted by (min_step, id): from its pages when it has them (one row per 32 chunks). */
  function chunkList(seriesId: number): { metas: ChunkMeta[]; summaries: Float64Array | null } {
    return pages.read(seriesId) ?? { metas: s.chunkMetas.all(seriesId), summaries: null };
  }

  function sample(seriesId: number, axis: 'step' | 'time', lo: number | null, hi: number | null, buckets: number): Bucket[] {
    const src = {
      chunkList,
      chunkData: (id: number) => s.chunkData.get(id)!,
      chunkRollup: (id: number) => s.chunkRollup.get(id) ?? null,
      tail: (id: number) => s.tailAll.all(id) as [number, number, number | null][],
    };
    return sampleSeries(src, seriesId, axis, lo, hi, buckets);
  }

  /** Appends points of one run (inside the caller's transaction) and keeps each key's latest value. */
  function appendPoints(runId: number, points: MetricPoint[]): void {
    const byKey = new Map<string, MetricPoint[]>();
    for (const p of points) {
      const list = byKey.get(p.key);
      if (list) list.push(p);
      else byKey.set(p.key, [p]);
    }
    for (const [key, list] of byKey) {
      let row = s.series.get(runId, key);
      if (!row) {
        const first = list[0];
        s.insertSeries.run(runId, key, first.value, first.step, first.timestamp);
        row = s.series.get(runId, key)!;
      }
      let step = row.step;
      let timestamp = row.timestamp;
      let value = row.value === null ? NaN : row.value;
      let tailCount = row.tail_count;
      let seq = row.count;
      for (const p of list) {
        s.insertTail.run(row.id, seq++, p.step, p.timestamp, p.value);
        if (isNewer(p, step, timestamp, value)) {
          step = p.step;
          timestamp = p.timestamp;
          value = p.value;
        }
        if (sealNow(++tailCount)) {
          seal(row.id);
          tailCount = 0;
        }
      }
      s.updateSeries.run(value, step, timestamp, list.length, tailCount, row.id);
    }
  }

  function seal(seriesId: number): void {
    const rows = s.tailAll.all(seriesId) as [number, number, number | null][];
    const n = rows.length;
    const steps = new Float64Array(n);
    const ts = new Float64Array(n);
    const values = new Float64Array(n);
    let minTs = Infinity;
    let maxTs = -Infinity;
    for (let i = 0; i < n; i++) {
      const [st, t, v] = rows[i];
      steps[i] = st;
      ts[i] = t;
      values[i] = v === null ? NaN : v;
      if (t < minTs) minTs = t;
      if (t > maxTs) maxTs = t;
    }
    const p = { steps, timestamps: ts, values };
    const chunkId = Number(s.insertChunk.run(seriesId, n, steps[0], steps[n - 1], minTs, maxTs, encodeChunk(steps, ts, values), buildRollup(p)).lastInsertRowid);
    pages.append(seriesId, summarizeChunk(chunkId, p, minTs, maxTs));
    s.deleteTail.run(seriesId);
  }

  /** Every point of a series (optionally within a step range), sorted by step, then timestamp. */
  function readSeries(seriesId: number, minStep: number | null = null, maxStep: number | null = null): Points {
    const ranged = minStep !== null || maxStep !== null;
    const lo = minStep ?? -Number.MAX_VALUE;
    const hi = maxStep ?? Number.MAX_VALUE;
    const chunkRows = (ranged ? s.chunksRange.all(seriesId, lo, hi) : s.chunksAll.all(seriesId)) as [number, number, Buffer][];
    const tail = (ranged ? s.tailRange.all(seriesId, lo, hi) : s.tailAll.all(seriesId)) as [number, number, number | null][];
    const parts = chunkRows.map((c) => decodeChunk(c[2]));
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
    const trimmed: Points =
      k === total
        ? out
        : { steps: out.steps.subarray(0, k), timestamps: out.timestamps.subarray(0, k), values: out.values.subarray(0, k) };
    return isSorted(trimmed) ? trimmed : sortPoints(trimmed);
  }

  /** True when chunks and tail follow each other in step order, so a page can skip whole chunks. */
  function isClean(metas: ChunkMeta[], tail: [number, number, number | null][]): boolean {
    for (let i = 1; i < metas.length; i++) if (metas[i].min_step <= metas[i - 1].max_step) return false;
    return metas.length === 0 || tail.length === 0 || tail[0][0] > metas[metas.length - 1].max_step;
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
    const tail = s.tailAll.all(seriesId) as [number, number, number | null][];
    let total = tail.length;
    for (const m of metas) total += m.n;
    const end = limit === null ? total : Math.min(total, offset + limit);
    const count = Math.max(0, end - offset);
    if (!isClean(metas, tail)) return { count, total, pieces: [slice(readSeries(seriesId), offset, end)] };
    function* pieces(): Generator<Points> {
      let pos = 0;
      let group: Points[] = [];
      let grouped = 0;
      for (const m of metas) {
        if (pos + m.n > offset && pos < end) {
          const data = s.sameChunkData.get(m.id, seriesId, m.n, m.min_step, m.max_step, m.min_ts, m.max_ts);
          if (data === undefined) throw new Error(`metric series ${seriesId} was deleted or replaced while it was being read`);
          const part = slice(decodeChunk(data), Math.max(0, offset - pos), Math.min(m.n, end - pos));
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
      if (to > from) {
        const rows = tail.slice(from, to);
        group.push({
          steps: Float64Array.from(rows, (r) => r[0]),
          timestamps: Float64Array.from(rows, (r) => r[1]),
          values: Float64Array.from(rows, (r) => (r[2] === null ? NaN : r[2])),
        });
      }
      if (group.length > 0) yield concat(group);
    }
    return { count, total, pieces: pieces() };
  }

  /**
   * The first `limit` points in (timestamp, step, value) order (MLflow's get-history-bulk order),
   * decoding only the chunks that can hold them: take chunks by their earliest timestamp until they
   * hold `limit` points; the latest timestamp among them bounds the answer, so every chunk starting
   * after it is skipped. A series logged in time order reads about `limit` points, not all of them.
   */
  function earliestByTime(seriesId: number, limit: number): Points {
    const metas = [...chunkList(seriesId).metas].sort((a, b) => a.min_ts - b.min_ts || a.id - b.id);
    let held = 0;
    let bound = Infinity;
    for (let i = 0; i < metas.length && held < limit; i++) {
      held += metas[i].n;
      bound = i === 0 ? metas[i].max_ts : Math.max(bound, metas[i].max_ts);
    }
    if (held < limit) bound = Infinity;
    // In readSeries' order (chunks by step, then the tail), so ties fall as they would in the whole series.
    const chosen = metas.filter((m) => m.min_ts <= bound).sort((a, b) => a.min_step - b.min_step || a.id - b.id);
    const parts = chosen.map((m) => decodeChunk(s.chunkData.get(m.id)!));
    const tail = s.tailAll.all(seriesId) as [number, number, number | null][];
    parts.push({
      steps: Float64Array.from(tail, (r) => r[0]),
      timestamps: Float64Array.from(tail, (r) => r[1]),
      values: Float64Array.from(tail, (r) => (r[2] === null ? NaN : r[2])),
    });
    const points = concat(parts);
    return sortByTime(isSorted(points) ? points : sortPoints(points), limit);
  }

  /**
   * Replaces the whole series of one key (inside the caller's transaction) with `points`: sorted by
   * (step, timestamp, value), packed straight into full chunks with the remainder in the tail, which is
   * the layout appendPoints leaves after appending the same sorted points, without the detour through
   * the tail table for every point.
   */
  function replaceSeries(runId: number, key: string, points: Points): void {
    s.deleteSeries.run(runId, key);
    const n = points.values.length;
    if (n === 0) return;
    const p = sortPoints(points, true);
    let latest = 0;
    for (let i = 1; i < n; i++) {
      if (isNewer({ key, step: p.steps[i], timestamp: p.timestamps[i], value: p.values[i] }, p.steps[latest], p.timestamps[latest], p.values[latest])) latest = i;
    }
    const v = p.values[latest];
    const seriesId = Number(s.insertSeries.run(runId, key, Number.isNaN(v) ? null : v, p.steps[latest], p.timestamps[latest]).lastInsertRowid);
    const full = n - (n % CHUNK_POINTS);
    const summaries: Float64Array[] = [];
    for (let start = 0; start < full; start += CHUNK_POINTS) {
      const c = slice(p, start, start + CHUNK_POINTS);
      let minTs = Infinity;
      let maxTs = -Infinity;
      for (const t of c.timestamps) {
        if (t < minTs) minTs = t;
        if (t > maxTs) maxTs = t;
      }
      const chunkId = s.insertChunk.run(seriesId, CHUNK_POINTS, c.steps[0], c.steps[CHUNK_POINTS - 1], minTs, maxTs, encodeChunk(c.steps, c.timestamps, c.values), buildRollup(c)).lastInsertRowid;
      summaries.push(summarizeChunk(Number(chunkId), c, minTs, maxTs));
    }
    pages.write(seriesId, summaries);
    for (let i = full; i < n; i++) s.insertTail.run(seriesId, i, p.steps[i], p.timestamps[i], p.values[i]);
    s.updateSeries.run(Number.isNaN(v) ? null : v, p.steps[latest], p.timestamps[latest], n, n - full, seriesId);
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
