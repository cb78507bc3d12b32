import { encodeChunk, type Points } from '../chunk-codec.js';
import type { TailRow } from '../series.js';
import { stepBounds, tailRowsOf } from '../tail-pieces.js';
import type { Queryable } from './db.js';

// A series' tail on PostgreSQL: pieces as in store/tail-pieces.ts, written in one statement per batch.

/** One write's points for one series, in arrival order. */
export interface Piece {
  seriesId: number;
  points: Points;
}

/**
 * Byte strings as one binary parameter plus where each starts and how long it is, for a statement that
 * cuts them apart with substring(): the driver sends a Buffer as it is, where a bytea[] would go as hex
 * text that PostgreSQL parses character by character (array_in was the backends' largest single cost).
 */
export function packBytes(bufs: Buffer[]): [Buffer, number[], number[]] {
  const starts: number[] = [];
  const lengths: number[] = [];
  let at = 1;
  for (const b of bufs) {
    starts.push(at);
    lengths.push(b.length);
    at += b.length;
  }
  return [Buffer.concat(bufs), starts, lengths];
}

/** The pieces as the parameters of insertPiecesSql: series ids, counts, step bounds, then packBytes. */
export function pieceColumns(pieces: Piece[]): [number[], number[], number[], number[], Buffer, number[], number[]] {
  const ids: number[] = [];
  const counts: number[] = [];
  const los: number[] = [];
  const his: number[] = [];
  const bytes: Buffer[] = [];
  for (const { seriesId, points: p } of pieces) {
    const [lo, hi] = stepBounds(p);
    ids.push(seriesId);
    counts.push(p.values.length);
    los.push(lo);
    his.push(hi);
    bytes.push(encodeChunk(p.steps, p.timestamps, p.values));
  }
  return [ids, counts, los, his, ...packBytes(bytes)];
}

/** The INSERT of pieceColumns' 7 parameters from $first on, each piece's seq in the given order. */
export const insertPiecesSql = (first: number) => {
  const [s, n, lo, hi, bytes, at, len] = Array.from({ length: 7 }, (_, i) => `$${first + i}`);
  return `INSERT INTO metric_tail (series_id, n, min_step, max_step, data)
   SELECT s, n, lo, hi, substring(${bytes}::bytea FROM at FOR len)
   FROM unnest(${s}::bigint[], ${n}::int[], ${lo}::bigint[], ${hi}::bigint[], ${at}::int[], ${len}::int[]) WITH ORDINALITY AS t(s, n, lo, hi, at, len, o) ORDER BY o`;
};

export async function insertPieces(q: Queryable, pieces: Piece[]): Promise<void> {
  const nonEmpty = pieces.filter((p) => p.points.values.length > 0);
  if (nonEmpty.length > 0) await q.query(insertPiecesSql(1), pieceColumns(nonEmpty));
}

/** The series' tail points with steps in [lo, hi] when given, in (step, timestamp, arrival) order. */
export async function tailRows(q: Queryable, seriesId: number, lo?: number, hi?: number): Promise<TailRow[]> {
  const ranged = lo !== undefined && hi !== undefined;
  const res = await q.query<{ data: Buffer }>(
    `SELECT data FROM metric_tail WHERE series_id = $1${ranged ? ' AND max_step >= $2::float8 AND min_step <= $3::float8' : ''} ORDER BY seq`,
    ranged ? [seriesId, lo, hi] : [seriesId],
  );
  return tailRowsOf(res.rows.map((r) => r.data), lo, hi);
}
