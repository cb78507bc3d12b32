import { invalid } from '../errors.js';
import type { Experiment, KeyValue, MetricPoint, Run, RunInfo } from '../store/types.js';

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
