import { encodeChunk, type Points } from '../chunk-codec.js';
import { concat, slice } from '../points.js';
import { buildRollup } from '../sampler.js';
import {
  assembleSeries,
  CHUNK_POINTS,
  earliestChunks,
  earliestPoints,
  isClean,
  isNewer,
  pageChunks,
  pagePieces,
  planSample,
  sampleSeries,
  groupByKey,
  STREAM_PIECE_POINTS,
  timeRange,
  type ChunkMeta,
  type TailRow,
} from '../series.js';
import type { Bucket, MetricPoint } from '../types.js';
import type pg from 'pg';
import { sendLast, type Queryable } from './db.js';
import { byStep, pointsOf, tailRowsOf, unpack } from '../tail-pieces.js';
import { insertPieces, insertPiecesSql, packBytes, pieceColumns, tailRows, type Piece } from './tail.sql.js';

interface SeriesRow {
  id: number;
  value: number | null;
  step: number;
  timestamp: number;
  tail_count: number;
}

const nullIfNaN = (v: number) => (Number.isNaN(v) ? null : v);

/** Sorted points of one series per chunk as the 12 parameters of insertChunksSql (bytes as packBytes). */
function chunkColumns(chunks: { seriesId: number; points: Points }[]) {
  const cols = { ids: [] as number[], n: [] as number[], minStep: [] as number[], maxStep: [] as number[], minTs: [] as number[], maxTs: [] as number[] };
  const data: Buffer[] = [];
  const rollups: Buffer[] = [];
  for (const { seriesId, points: p } of chunks) {
    const n = p.values.length;
    const [minTs, maxTs] = timeRange(p.timestamps);
    cols.ids.push(seriesId);
    cols.n.push(n);
    cols.minStep.push(p.steps[0]);
    cols.maxStep.push(p.steps[n - 1]);
    cols.minTs.push(minTs);
    cols.maxTs.push(maxTs);
    data.push(encodeChunk(p.steps, p.timestamps, p.values));
    rollups.push(buildRollup(p));
  }
  return [cols.ids, cols.n, cols.minStep, cols.maxStep, cols.minTs, cols.maxTs, ...packBytes(data), ...packBytes(rollups)];
}

/** The INSERT of chunkColumns' parameters from $first on, ids in the given order. */
function insertChunksSql(first: number): string {
  const [s, n, a, b, c, d, data, dataAt, dataLen, rollup, rollupAt, rollupLen] = Array.from({ length: 12 }, (_, i) => `$${first + i}`);
  return `INSERT INTO metric_chunks (series_id, n, min_step, max_step, min_ts, max_ts, data, rollup)
   SELECT s, n, a, b, c, d, substring(${data}::bytea FROM da FOR dl), substring(${rollup}::bytea FROM ra FOR rl)
   FROM unnest(${s}::bigint[], ${n}::int[], ${a}::bigint[], ${b}::bigint[], ${c}::bigint[], ${d}::bigint[], ${dataAt}::int[], ${dataLen}::int[], ${rollupAt}::int[], ${rollupLen}::int[])
     WITH ORDINALITY AS t(s, n, a, b, c, d, da, dl, ra, rl, o) ORDER BY o`;
}

/**
 * appendPoints' write: delete the sealed pieces ($1, $2: their keys), insert the new chunks ($3-$14)
 * and pieces ($15-$21), update the series ($22-$27).
 */
const APPEND_WRITE = `WITH sealed AS (DELETE FROM metric_tail t USING unnest($1::bigint[], $2::bigint[]) AS p(s, q) WHERE t.series_id = p.s AND t.seq = p.q),
  chunks AS (${insertChunksSql(3)}),
  pieces AS (${insertPiecesSql(15)})
  UPDATE metric_series s SET value = u.value, step = u.step, timestamp = u.timestamp, count = s.count + u.added, tail_count = u.tail_count
  FROM unnest($22::bigint[], $23::float8[], $24::bigint[], $25::bigint[], $26::bigint[], $27::int[]) AS u(id, value, step, timestamp, added, tail_count)
  WHERE s.id = u.id`;

/**
 * Metric series on PostgreSQL in the SQLite store's layout (store/series.ts): a row per (run, key)
 * with the latest point, recent points in metric_tail (as pieces, a row per write: tail.sql.ts), and
 * every CHUNK_POINTS of them sealed into a chunk of the same encoding. Writers hold the run's row lock
 * (runs.sql.ts), so a series has one writer at a time.
 */
export function createPgMetrics() {
  const chunkMetas = async (q: Queryable, seriesId: number) =>
    (await q.query<ChunkMeta>('SELECT id, n, min_step, max_step, min_ts, max_ts FROM metric_chunks WHERE series_id = $1 ORDER BY min_step, id', [seriesId])).rows;

  async function insertChunk(q: Queryable, seriesId: number, p: Points): Promise<void> {
    await q.query(insertChunksSql(1), chunkColumns([{ seriesId, points: p }]));
  }

  /**
   * Appends points of one run inside the caller's transaction; keeps each key's latest value. Two
   * statements whatever the batch holds: one reads the batch's series (with the tail pieces of those
   * this batch fills to CHUNK_POINTS), the other deletes the sealed tails, inserts the new chunks and
   * pieces and updates the series. Only a series' first write creates it, in a third. Chunk boundaries
   * are SQLite's: a seal packs the tail and the batch's next points up to CHUNK_POINTS, sorted as
   * SQLite's seal reads its tail rows (SQLite's seals may come a few points later under load).
   */
  async function appendPoints(q: pg.PoolClient, runId: number, points: MetricPoint[]): Promise<void> {
    const byKey = groupByKey(points);
    const keys = [...byKey.keys()];
    // A row per series, or per tail piece of a series this batch fills to a chunk (a bytea[] column
    // would be parsed character by character by the driver; a bytea column is hex-decoded natively).
    // OFFSET 0 keeps the pieces' subquery from being flattened into a join, which the planner would
    // answer with a scan of all of metric_tail: it stays a lookup of the series' key range, run only
    // for the series that seal.
    const read = await q.query<SeriesRow & { key: string; data: Buffer | null; seq: number | null }>({
      name: 'lablog-append-series',
      text: `SELECT s.id, s.key, s.value, s.step, s.timestamp, s.tail_count, t.data, t.seq
             FROM unnest($2::text[], $3::int[]) AS u(key, added) JOIN metric_series s ON s.run_id = $1 AND s.key = u.key
             LEFT JOIN LATERAL (SELECT data, seq FROM metric_tail WHERE series_id = s.id AND s.tail_count + u.added >= ${CHUNK_POINTS} OFFSET 0) t ON true
             ORDER BY s.id, t.seq`,
      values: [runId, keys, keys.map((k) => byKey.get(k)!.length)],
    });
    const rows = new Map<string, SeriesRow & { pieces: Buffer[]; seqs: number[] }>();
    for (const r of read.rows) {
      const row = rows.get(r.key) ?? { ...r, pieces: [], seqs: [] };
      rows.set(r.key, row);
      if (r.data !== null) {
        row.pieces.push(r.data);
        row.seqs.push(r.seq!);
      }
    }
    const missing = keys.filter((k) => !rows.has(k));
    if (missing.length > 0) {
      const firsts = missing.map((k) => byKey.get(k)![0]);
      const created = await q.query<SeriesRow & { key: string }>(
        `INSERT INTO metric_series (run_id, key, value, step, timestamp, count, tail_count)
         SELECT $1, * , 0, 0 FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[])
         RETURNING id, key, value, step, timestamp, tail_count`,
        [runId, missing, firsts.map((p) => nullIfNaN(p.value)), firsts.map((p) => p.step), firsts.map((p) => p.timestamp)],
      );
      for (const r of created.rows) rows.set(r.key, { ...r, pieces: [], seqs: [] });
    }
    // The pieces packed into chunks, by key: deleted one by one, not by series, since a scan of a
    // series' key range would also walk the pieces of earlier seals that vacuum has not removed yet.
    const sealed: [number[], number[]] = [[], []];
    const chunks: { seriesId: number; points: Points }[] = [];
    const pieces: Piece[] = [];
    const updates: { id: number; value: number; step: number; timestamp: number; added: number; tailCount: number }[] = [];
    for (const [key, list] of byKey) {
      const row = rows.get(key)!;
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
      let tailCount = row.tail_count;
      let i = 0;
      if (tailCount + list.length >= CHUNK_POINTS) {
        for (const seq of row.seqs) {
          sealed[0].push(row.id);
          sealed[1].push(seq);
        }
        let tail = unpack(row.pieces);
        while (tailCount + (list.length - i) >= CHUNK_POINTS) {
          const take = CHUNK_POINTS - tailCount;
          chunks.push({ seriesId: row.id, points: byStep(concat([tail, slice(fresh, i, i + take)])) });
          tail = slice(fresh, 0, 0);
          i += take;
          tailCount = 0;
        }
      }
      if (i < list.length) pieces.push({ seriesId: row.id, points: slice(fresh, i, list.length) });
      tailCount += list.length - i;
      updates.push({ id: row.id, value, step, timestamp, added: list.length, tailCount });
    }
    // One statement: its parts see the same snapshot, so the DELETE cannot reach the pieces it inserts.
    // Sent as the transaction's last (logBatch writes the points after params and tags).
    sendLast(q, {
      name: 'lablog-append-write',
      text: APPEND_WRITE,
      values: [
        ...sealed,
        ...chunkColumns(chunks),
        ...pieceColumns(pieces),
        updates.map((u) => u.id),
        updates.map((u) => nullIfNaN(u.value)),
        updates.map((u) => u.step),
        updates.map((u) => u.timestamp),
        updates.map((u) => u.added),
        updates.map((u) => u.tailCount),
      ],
    });
  }

  async function readSeries(q: Queryable, seriesId: number, minStep: number | null = null, maxStep: number | null = null): Promise<Points> {
    return (await readMany(q, [seriesId], minStep, maxStep)).get(seriesId)!;
  }

  /**
   * Series read whole or over a step range, in two statements however many there are (a should-stop
   * compares a trial with every other trial's curve: 2,000 series were 6,000 round trips).
   */
  async function readMany(q: Queryable, seriesIds: number[], minStep: number | null, maxStep: number | null): Promise<Map<number, Points>> {
    const ranged = minStep !== null || maxStep !== null;
    const lo = minStep ?? -Number.MAX_VALUE;
    const hi = maxStep ?? Number.MAX_VALUE;
    const range = ranged ? ' AND max_step >= $2::float8 AND min_step <= $3::float8' : '';
    const values = ranged ? [seriesIds, lo, hi] : [seriesIds];
    const byId = <R extends { series_id: number; data: Buffer }>(rows: R[]) => {
      const m = new Map<number, Buffer[]>();
      for (const r of rows) {
        const list = m.get(r.series_id);
        if (list) list.push(r.data);
        else m.set(r.series_id, [r.data]);
      }
      return m;
    };
    const chunks = byId((await q.query<{ series_id: number; data: Buffer }>(`SELECT series_id, data FROM metric_chunks WHERE series_id = ANY($1::bigint[])${range} ORDER BY series_id, min_step, id`, values)).rows);
    const tails = byId((await q.query<{ series_id: number; data: Buffer }>(`SELECT series_id, data FROM metric_tail WHERE series_id = ANY($1::bigint[])${range} ORDER BY series_id, seq`, values)).rows);
    const out = new Map<number, Points>();
    for (const id of seriesIds) {
      const tail = tailRowsOf(tails.get(id) ?? [], ranged ? lo : undefined, ranged ? hi : undefined);
      out.set(id, assembleSeries(chunks.get(id) ?? [], tail, minStep, maxStep));
    }
    return out;
  }

  /** The chunks' points by chunk id. */
  async function chunkData(q: Queryable, ids: number[]): Promise<Map<number, Buffer>> {
    if (ids.length === 0) return new Map();
    const res = await q.query<{ id: number; data: Buffer }>('SELECT id, data FROM metric_chunks WHERE id = ANY($1::bigint[])', [ids]);
    return new Map(res.rows.map((r) => [r.id, r.data]));
  }

  /**
   * Points [offset, offset + limit) in (step, timestamp) order as pieces. Chunk metas and the tail are
   * read now, through `q` (the caller's snapshot); the chunks the page lies in are fetched through `lazy`
   * (the pool) a few at a time as the caller iterates, so a long history is never held whole. A series
   * deleted or replaced meanwhile makes the iteration throw (chunk ids are never reused).
   */
  async function streamPage(q: Queryable, lazy: Queryable, seriesId: number, offset: number, limit: number | null) {
    const metas = await chunkMetas(q, seriesId);
    const tail = await tailRows(q, seriesId);
    let total = tail.length;
    for (const m of metas) total += m.n;
    const end = limit === null ? total : Math.min(total, offset + limit);
    const count = Math.max(0, end - offset);
    if (!isClean(metas, tail)) {
      const whole = slice(await readSeries(q, seriesId), offset, end);
      return { count, total, pieces: (async function* () { yield whole; })() };
    }
    return { count, total, pieces: windows(lazy, seriesId, metas, tail, offset, end) };
  }

  /** pagePieces over windows of a piece's worth of chunks, each window's bytes fetched in one query. */
  async function* windows(lazy: Queryable, seriesId: number, metas: ChunkMeta[], tail: TailRow[], offset: number, end: number): AsyncGenerator<Points> {
    const touched = pageChunks(metas, offset, end);
    // The page's chunks are consecutive from the first one it touches; each window hands pagePieces only
    // its own chunks (and the last one the rest and the tail), so a long history is walked once.
    let first = 0;
    let base = 0;
    while (first < metas.length && base + metas[first].n <= offset) base += metas[first++].n;
    const per = STREAM_PIECE_POINTS / CHUNK_POINTS;
    for (let i = 0; i === 0 || i < touched.length; i += per) {
      const last = i + per >= touched.length;
      const own = metas.slice(first + i, last ? metas.length : first + i + per);
      const rows = await lazy.query<{ id: number; data: Buffer }>('SELECT id, data FROM metric_chunks WHERE series_id = $1 AND id = ANY($2::bigint[])', [
        seriesId,
        touched.slice(i, i + per).map((m) => m.id),
      ]);
      const data = new Map(rows.rows.map((r) => [Number(r.id), r.data]));
      let size = 0;
      for (const m of own) size += m.n;
      yield* pagePieces(own, last ? tail : [], offset - base, last ? end - base : size, (m) => data.get(m.id));
      base += size;
    }
  }

  /** The first `limit` points in (timestamp, step, value) order, fetching only the chunks that can hold them. */
  async function earliestByTime(q: Queryable, seriesId: number, limit: number): Promise<Points> {
    const chosen = earliestChunks(await chunkMetas(q, seriesId), limit);
    const data = await chunkData(q, chosen.map((m) => m.id));
    return earliestPoints(chosen.map((m) => data.get(m.id)!), await tailRows(q, seriesId), limit);
  }

  async function sample(q: Queryable, seriesId: number, axis: 'step' | 'time', lo: number | null, hi: number | null, buckets: number): Promise<Bucket[]> {
    const metas = await chunkMetas(q, seriesId);
    const tail = await tailRows(q, seriesId);
    const { inRange, inside } = planSample(metas, tail, axis, lo, hi, buckets);
    // Fetched up front (the sampler is synchronous), and only the bytes it reads: the rollup (an eighth
    // of the chunk) of a chunk inside the range, the chunk itself for the rest and where there is no
    // rollup. (Not as binary results: pg 8 decodes every column of those as a UTF-8 string.)
    const rolled = inRange.filter(inside).map((m) => m.id);
    const res = await q.query<{ id: number; data: Buffer | null; rollup: Buffer | null }>(
      `SELECT id,
        CASE WHEN rollup IS NULL OR NOT id = ANY($2::bigint[]) THEN data END AS data,
        CASE WHEN id = ANY($2::bigint[]) THEN rollup END AS rollup
        FROM metric_chunks WHERE id = ANY($1::bigint[])`,
      [inRange.map((m) => m.id), rolled],
    );
    const rows = new Map(res.rows.map((r) => [r.id, r]));
    return sampleSeries(metas, tail, axis, lo, hi, buckets, { data: (m) => rows.get(m.id)!.data!, rollup: (m) => rows.get(m.id)!.rollup });
  }

  return {
    appendPoints,
    // For an import's replaced history (import.sql.ts), which writes chunks and a tail piece directly.
    insertChunk,
    insertPieces,
    readSeries,
    readMany,
    readPage: async (q: Queryable, seriesId: number, offset: number, limit: number | null) => {
      const { total, pieces } = await streamPage(q, q, seriesId, offset, limit);
      const parts: Points[] = [];
      for await (const p of pieces) parts.push(p);
      return { points: concat(parts), total };
    },
    streamPage,
    earliestByTime,
    sample,
    seriesId: async (q: Queryable, runId: number, key: string) =>
      (await q.query<{ id: number }>('SELECT id FROM metric_series WHERE run_id = $1 AND key = $2', [runId, key])).rows[0]?.id ?? null,
  };
}

export type PgMetrics = ReturnType<typeof createPgMetrics>;
