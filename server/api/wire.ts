import { invalid } from '../errors.js';
import type { Experiment, KeyValue, MetricPoint, Run, RunInfo, Series } from '../store/types.js';

// MLflow's JSON: snake_case, int64 as numbers, enums by name, unset and empty fields omitted.

const DOUBLE_MAX = 1.7976931348623157e308;

/** As MLflow 2.10 answers: NaN as the string "NaN", ±Infinity clamped to ±DBL_MAX (its SQL store does so). */
export function wireDouble(v: number): number | string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return DOUBLE_MAX;
  if (v === -Infinity) return -DOUBLE_MAX;
  return v;
}

export function nonEmpty<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

const kv = (list: KeyValue[]) => list.map((t) => ({ key: t.key, value: t.value }));

export function experimentJson(e: Experiment) {
  return nonEmpty({
    experiment_id: e.experimentId,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycleStage,
    last_update_time: e.lastUpdateTime,
    creation_time: e.creationTime,
    tags: kv(e.tags),
  });
}

export function runInfoJson(i: RunInfo) {
  return nonEmpty({
    run_id: i.runId,
    run_uuid: i.runId,
    run_name: i.runName,
    experiment_id: i.experimentId,
    user_id: i.userId,
    status: i.status,
    start_time: i.startTime,
    end_time: i.endTime,
    artifact_uri: i.artifactUri,
    lifecycle_stage: i.lifecycleStage,
  });
}

export function metricJson(m: MetricPoint) {
  return { key: m.key, value: wireDouble(m.value), timestamp: m.timestamp, step: m.step };
}

/**
 * One run's metric objects, each with its run_id, written straight to JSON text, comma-separated
 * ('' for none): a 100k-point history would otherwise build 100k objects and leave the heap grown
 * long after the response.
 */
export function metricListJson(key: string, s: Series, runId: string): string {
  const tail = Buffer.from(`,"run_id":${JSON.stringify(runId)}}`);
  return metricPieceBuffer(metricHead(key), s, 0, s.values.length, tail).toString('utf8');
}

const STREAM_PIECE = 4096;

/**
 * `{"metrics": [...], "next_page_token": ...}` in pieces of a few thousand points: a long history is
 * streamed without ever holding the whole response text.
 */
export function* metricsBodyPieces(key: string, pieces: Iterable<Series>, nextOffset: number | null): Generator<string | Buffer> {
  const token = encodePageToken(nextOffset);
  const tokenField = token ? `"next_page_token":${JSON.stringify(token)}` : '';
  const head = metricHead(key);
  let first = true;
  for (const s of pieces) {
    const n = s.values.length;
    for (let i = 0; i < n; i += STREAM_PIECE) {
      yield first ? '{"metrics":[' : ',';
      first = false;
      yield metricPieceBuffer(head, s, i, Math.min(n, i + STREAM_PIECE));
    }
  }
  if (first) yield `{${tokenField}}`;
  else yield tokenField ? `],${tokenField}}` : ']}';
}

const TS_FIELD = Buffer.from(',"timestamp":');
const CLOSE = Buffer.from('}');
const metricHead = (key: string) => Buffer.from(`{"key":${JSON.stringify(key)},"value":`);
const STEP_FIELD = Buffer.from(',"step":');

/**
 * Points [from, to) written as JSON bytes straight into one Buffer: integers digit by digit, so the
 * only per-point garbage is the text of the value. Long histories otherwise churn tens of MB of
 * short-lived strings per response, which V8 keeps as heap (RSS) long after.
 */
function metricPieceBuffer(head: Buffer, s: Series, from: number, to: number, tail = CLOSE): Buffer {
  // Per point at most: head + 24 (value) + 13+21 + 8+21 + 1 (comma) + tail.
  const buf = Buffer.allocUnsafe((to - from) * (head.length + tail.length + 90));
  let off = 0;
  for (let i = from; i < to; i++) {
    if (i > from) buf[off++] = 0x2c; // ,
    off += head.copy(buf, off);
    const v = wireDouble(s.values[i]);
    off += typeof v === 'string' ? buf.write(`"${v}"`, off, 'latin1') : buf.write(String(v), off, 'latin1');
    off += TS_FIELD.copy(buf, off);
    off = writeInt(buf, off, s.timestamps[i]);
    off += STEP_FIELD.copy(buf, off);
    off = writeInt(buf, off, s.steps[i]);
    off += tail.copy(buf, off);
  }
  return buf.subarray(0, off);
}

/** Writes a safe integer in decimal without making a string. */
function writeInt(buf: Buffer, at: number, x: number): number {
  let off = at;
  if (x < 0) {
    buf[off++] = 0x2d;
    x = -x;
  }
  if (x === 0) {
    buf[off++] = 0x30;
    return off;
  }
  let digits = 0;
  for (let y = x; y >= 1; y = Math.floor(y / 10)) digits++;
  for (let d = digits - 1; d >= 0; d--) {
    buf[off + d] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  }
  return off + digits;
}

/** `{"metrics": [...]}` as text; `{}` for an empty list, as protobuf-JSON omits it. */
export function metricsBody(list: string): string {
  return list ? `{"metrics":[${list}]}` : '{}';
}

export function runJson(r: Run) {
  return {
    info: runInfoJson(r.info),
    data: nonEmpty({ metrics: r.data.metrics.map(metricJson), params: kv(r.data.params), tags: kv(r.data.tags) }),
    inputs: nonEmpty({
      dataset_inputs: r.inputs.datasetInputs.map((d) => ({
        ...nonEmpty({ tags: kv(d.tags) }),
        dataset: nonEmpty({
          name: d.dataset.name,
          digest: d.dataset.digest,
          source_type: d.dataset.sourceType,
          source: d.dataset.source,
          schema: d.dataset.schema,
          profile: d.dataset.profile,
        }),
      })),
    }),
  };
}

/** Page tokens are opaque to clients; like MLflow's they are base64 of {"offset": N}. */
export function encodePageToken(offset: number | null): string | undefined {
  return offset === null ? undefined : Buffer.from(JSON.stringify({ offset })).toString('base64');
}

export function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw invalid(`Invalid page token, could not base64-decode: '${token.slice(0, 100)}'`);
  }
  const offset = (parsed as { offset?: unknown } | null)?.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalid(`Invalid page token, offset must be a non-negative integer: '${token.slice(0, 100)}'`);
  }
  return offset;
}

/** A page of results: empty lists are omitted (as protobuf-JSON does), the token only when there is more. */
export function withToken<T extends object>(body: T, nextOffset: number | null): Partial<T> & { next_page_token?: string } {
  const token = encodePageToken(nextOffset);
  return token ? { ...nonEmpty(body), next_page_token: token } : nonEmpty(body);
}
