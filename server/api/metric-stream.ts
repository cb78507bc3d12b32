import type { Series } from '../store/types.js';
import type { Segment } from './metric-json.js';
import { pointsJsonOffThread } from './metric-json-pool.js';
import { encodePageToken } from './wire.js';

/** Points per streamed piece: 700 KB of JSON, a few milliseconds of writing it. */
export const PIECE_POINTS = 8192;

/** One series' points for a metrics body: `runId` adds a run_id field to each point (get-history-bulk). */
export interface MetricPart {
  key: string;
  runId?: string;
  points: AsyncIterable<Series> | Iterable<Series>;
}

/** Pieces written ahead of the one being sent: the worker writes the next while a socket takes this one. */
const AHEAD = 2;

/**
 * `{"metrics":[...]<closing>}` (or `{<closing>}` with no point, as protobuf-JSON omits an empty list)
 * as Buffers of about PIECE_POINTS points each. Parts and their points are pulled lazily, so a series
 * is read only when the answer reaches it (the store paces its reads, see read-turns.ts), and the JSON
 * is written on a worker thread. `closing` is '' or `"field":value`.
 */
export async function* metricsJson(parts: AsyncIterable<MetricPart> | Iterable<MetricPart>, closing: string): AsyncGenerator<Buffer> {
  const queue: Promise<Buffer>[] = [];
  let open = false;
  let segments: Segment[] = [];
  let gathered = 0;
  const dispatch = () => {
    const lead = open ? COMMA : OPEN;
    open = true;
    const piece = pointsJsonOffThread(lead, segments);
    // Awaited in order below; until then a failure must not count as unhandled.
    piece.catch(() => undefined);
    queue.push(piece);
    segments = [];
    gathered = 0;
  };
  for await (const part of parts) {
    const head = Buffer.from(`{"key":${JSON.stringify(part.key)},"value":`);
    const tail = part.runId === undefined ? CLOSE : Buffer.from(`,"run_id":${JSON.stringify(part.runId)}}`);
    for await (const s of part.points) {
      for (let i = 0; i < s.values.length; ) {
        const to = Math.min(s.values.length, i + PIECE_POINTS - gathered);
        segments.push({ head, tail, steps: s.steps.subarray(i, to), timestamps: s.timestamps.subarray(i, to), values: s.values.subarray(i, to) });
        gathered += to - i;
        i = to;
        if (gathered < PIECE_POINTS) continue;
        dispatch();
        if (queue.length >= AHEAD) yield await queue.shift()!;
      }
    }
  }
  if (gathered > 0) dispatch();
  while (queue.length > 0) yield await queue.shift()!;
  yield Buffer.from(!open ? `{${closing}}` : closing ? `],${closing}}` : ']}');
}

/** The `"next_page_token":"..."` field of a page that has more ('' for the last page). */
export function tokenField(nextOffset: number | null): string {
  const token = encodePageToken(nextOffset);
  return token ? `"next_page_token":${JSON.stringify(token)}` : '';
}

const OPEN = Buffer.from('{"metrics":[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from('}');
