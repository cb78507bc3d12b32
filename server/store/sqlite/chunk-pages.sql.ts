import type { Db } from '../db.js';
import { CHUNK_SUMMARY } from '../sampler.js';
import type { ChunkMeta } from '../series.js';

/** Chunk summaries to a row: a seal rewrites at most this many (4 KiB). */
export const PAGE_CHUNKS = 32;

/**
 * The metric_chunk_pages rows of each series (see schema.ts): appended to as chunks are sealed, written
 * whole when a series is replaced, deleted with the series. A series that had chunks before the table
 * existed gets no pages (they would miss its first chunks) and is read chunk row by chunk row.
 */
export function createChunkPages(db: Db) {
  const s = {
    last: db.prepare<[number], { page: number; chunks: number; data: Buffer }>(
      'SELECT page, chunks, data FROM metric_chunk_pages WHERE series_id = ? ORDER BY page DESC LIMIT 1',
    ),
    insert: db.prepare<[number, number, number, Buffer]>('INSERT INTO metric_chunk_pages (series_id, page, chunks, data) VALUES (?, ?, ?, ?)'),
    update: db.prepare<[Buffer, number, number, number]>('UPDATE metric_chunk_pages SET data = ?, chunks = ? WHERE series_id = ? AND page = ?'),
    pages: db.prepare<[number], Buffer>('SELECT data FROM metric_chunk_pages WHERE series_id = ? ORDER BY page').pluck(),
    otherChunk: db.prepare<[number, number], number>('SELECT 1 FROM metric_chunks WHERE series_id = ? AND id <> ? LIMIT 1').pluck(),
    chunkedPoints: db.prepare<[number], number>('SELECT count - tail_count FROM metric_series WHERE id = ?').pluck(),
  };
  const bytesOf = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

  return {
    /** After a chunk was sealed (inside the same transaction): its summary joins the series' last page. */
    append(seriesId: number, summary: Float64Array): void {
      const last = s.last.get(seriesId);
      if (!last) {
        // No page yet: either this is the series' first chunk, or the series is older than pages.
        if (s.otherChunk.get(seriesId, summary[0]) === undefined) s.insert.run(seriesId, 0, 1, bytesOf(summary));
      } else if (last.chunks < PAGE_CHUNKS) {
        s.update.run(Buffer.concat([last.data, bytesOf(summary)]), last.chunks + 1, seriesId, last.page);
      } else {
        s.insert.run(seriesId, last.page + 1, 1, bytesOf(summary));
      }
    },

    /** Pages for a series written in one go (replaceSeries), its chunks' summaries in order. */
    write(seriesId: number, summaries: Float64Array[]): void {
      for (let p = 0; p * PAGE_CHUNKS < summaries.length; p++) {
        const group = summaries.slice(p * PAGE_CHUNKS, (p + 1) * PAGE_CHUNKS);
        s.insert.run(seriesId, p, group.length, Buffer.concat(group.map(bytesOf)));
      }
    },

    /**
     * Every chunk of a series from its pages, sorted by (min_step, id) as the chunk rows are, with the
     * summaries they point into; null when the pages do not account for all its chunked points.
     */
    read(seriesId: number): { metas: ChunkMeta[]; summaries: Float64Array } | null {
      const pages = s.pages.all(seriesId);
      let bytes = 0;
      for (const p of pages) bytes += p.length;
      const summaries = new Float64Array(bytes / 8);
      let at = 0;
      for (const p of pages) {
        new Uint8Array(summaries.buffer, at, p.length).set(p);
        at += p.length;
      }
      const metas: ChunkMeta[] = [];
      let points = 0;
      let sorted = true;
      for (let o = 0; o < summaries.length; o += CHUNK_SUMMARY) {
        const m = { id: summaries[o], n: summaries[o + 5], min_step: summaries[o + 1], max_step: summaries[o + 2], min_ts: summaries[o + 3], max_ts: summaries[o + 4], at: o };
        const prev = metas[metas.length - 1];
        if (prev && (m.min_step < prev.min_step || (m.min_step === prev.min_step && m.id < prev.id))) sorted = false;
        metas.push(m);
        points += m.n;
      }
      if (points !== (s.chunkedPoints.get(seriesId) ?? -1)) return null;
      if (!sorted) metas.sort((a, b) => a.min_step - b.min_step || a.id - b.id);
      return { metas, summaries };
    },
  };
}

export type ChunkPages = ReturnType<typeof createChunkPages>;
