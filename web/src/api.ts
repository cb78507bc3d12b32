/** The UI talks to the server only through its HTTP API (same origin). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    /** Seconds the server asked to wait (Retry-After of a 429). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

type Query = Record<string, string | string[] | number | undefined>;
/** MLflow's registry also answers PATCH and DELETE, both with a JSON body (as its own client sends them). */
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * Credentials: the browser sends the session cookie by itself; writes echo the session's CSRF token
 * (answered by `me` and `auth/login`, also readable in the `lablog_csrf` cookie) in `X-CSRF-Token`.
 */
let csrfToken: string | null = null;
export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token || null;
}
function csrf(): string | null {
  const cookie = document.cookie.split('; ').find((c) => c.startsWith('lablog_csrf='));
  // The cookie is the freshest (another tab may have logged in again); the answered token covers a
  // browser that hides cookies from scripts.
  return cookie ? decodeURIComponent(cookie.slice('lablog_csrf='.length)) : csrfToken;
}

/** Called when a request answers 401 (no session, or it expired): the app shows the login page. */
let onUnauthenticated: (() => void) | null = null;
export function setUnauthenticatedHandler(f: (() => void) | null): void {
  onUnauthenticated = f;
}

/** The one fetch path of the UI. `quiet401`: the caller handles a 401 itself (login, the first `me`). */
async function call<T>(method: Method, path: string, body?: unknown, query?: Query, opts: { quiet401?: boolean } = {}): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
  }
  // A Blob (a File to upload) goes as itself, the raw body; anything else as JSON.
  const raw = body instanceof Blob;
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json' };
  const token = method === 'GET' ? null : csrf();
  if (token) headers['x-csrf-token'] = token;
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    // A proxy's error page is not JSON: the status still says what went wrong.
    let json: { error_code?: string; message?: string } = {};
    try {
      json = JSON.parse(text);
    } catch {}
    const retry = Number(res.headers.get('retry-after'));
    if (res.status === 401 && !opts.quiet401) onUnauthenticated?.();
    throw new ApiError(res.status, json.error_code ?? 'HTTP_ERROR', json.message ?? `HTTP ${res.status}`, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

export const mlflow = <T>(method: 'GET' | 'POST', endpoint: string, body?: unknown, query?: Query) =>
  call<T>(method, `/api/2.0/mlflow/${endpoint}`, body, query);

/** The MLflow UI's own routes (`/ajax-api/2.0/mlflow/...`): upload-artifact, experiments/search-datasets. */
export const mlflowAjax = <T>(endpoint: string, body: unknown, query?: Query) => call<T>('POST', `/ajax-api/2.0/mlflow/${endpoint}`, body, query);

/** MLflow UI's upload-artifact: the file is the raw body (at most 10 MB, the server says so otherwise). */
/** Any MLflow UI route with any method: a GET's fields go in the query string, other methods' in the JSON body. */
export const mlflowAjaxCall = <T>(method: Method, endpoint: string, fields?: Record<string, unknown>) =>
  method === 'GET' ? call<T>('GET', `/ajax-api/2.0/mlflow/${endpoint}`, undefined, fields as Query) : call<T>(method, `/ajax-api/2.0/mlflow/${endpoint}`, fields ?? {});

export const uploadArtifact = (runId: string, path: string, file: Blob) => mlflowAjax<Record<string, never>>('upload-artifact', file, { run_uuid: runId, path });

export interface DatasetSummary {
  experiment_id: string;
  name: string;
  digest: string;
  context?: string;
}

export const lablog = <T>(endpoint: string, query: Query) =>
  call<T>('GET', `/api/2.0/lablog/${endpoint}`, undefined, query);

export const lablogPost = <T>(endpoint: string, body: unknown) => call<T>('POST', `/api/2.0/lablog/${endpoint}`, body);

/** The session's own calls (login, the first `me`): a 401 there is an answer, not an expiry. */
export const lablogQuiet = <T>(method: 'GET' | 'POST', endpoint: string, body?: unknown) => call<T>(method, `/api/2.0/lablog/${endpoint}`, body, undefined, { quiet401: true });

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
