/** The UI talks to the server only through its HTTP API (same origin). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, query?: Record<string, string | string[] | number | undefined>): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    // A proxy's error page is not JSON: the status still says what went wrong.
    let json: { error_code?: string; message?: string } = {};
    try {
      json = JSON.parse(text);
    } catch {}
    throw new ApiError(res.status, json.error_code ?? 'HTTP_ERROR', json.message ?? `HTTP ${res.status}`);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

export const mlflow = <T>(method: 'GET' | 'POST', endpoint: string, body?: unknown, query?: Record<string, string | string[] | number | undefined>) =>
  call<T>(method, `/api/2.0/mlflow/${endpoint}`, body, query);

export const lablog = <T>(endpoint: string, query: Record<string, string | string[] | number | undefined>) =>
  call<T>('GET', `/api/2.0/lablog/${endpoint}`, undefined, query);

export const lablogPost = <T>(endpoint: string, body: unknown) => call<T>('POST', `/api/2.0/lablog/${endpoint}`, body);

export interface KeyValue {
  key: string;
  value: string;
}
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}
export interface Metric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: string;
}
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: unknown;
}
export interface SampledSeries {
  run_id: string;
  key: string;
  min_x: number[];
  min: (number | string)[];
  max_x: number[];
  max: (number | string)[];
  last_x: number[];
  last: (number | string)[];
  count: number[];
}

/** Wire doubles: "NaN" as a string, ±Infinity clamped to ±DBL_MAX. */
export function num(v: number | string): number {
  if (typeof v === 'number') return Math.abs(v) >= 1.7976931348623157e308 ? Math.sign(v) * Infinity : v;
  return v === 'NaN' ? NaN : Number(v);
}
