import { Transport, type Query, type RequestOptions } from './http.js';
import type {
  ArtifactPreviewJson,
  DatasetJson,
  ExperimentJson,
  FileInfoJson,
  KeyValue,
  MetricInput,
  MetricJson,
  RunInfoJson,
  RunJson,
  RunStatus,
  SampledSeriesJson,
  ViewType,
} from './types.js';

const MLFLOW = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts';
const LABLOG = '/api/2.0/lablog';

type Empty = Record<string, never>;
type RunRef = { run_id: string };
type Page<K extends string, T> = { [P in K]?: T[] } & { next_page_token?: string };

/** An artifact path as URL segments: each segment encoded, the slashes kept. */
export function encodePath(path: string): string {
  return path.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
}

/**
 * One typed method per server endpoint. Requests and answers are the wire JSON (snake_case), exactly as
 * the MLflow REST API 2.0 and lablog's extensions define them; a non-2xx answer throws LablogApiError.
 */
export class LablogClient {
  readonly http: Transport;

  constructor(http: Transport) {
    this.http = http;
  }

  /** Any endpoint: `call('GET', '/api/2.0/mlflow/runs/get', { query: { run_id } })`. */
  async call<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    return (await this.http.request<T>(method, path, opts)).json;
  }

  private post<T>(route: string, body: object, headers?: Record<string, string>): Promise<T> {
    return this.call<T>('POST', `${MLFLOW}/${route}`, { json: body, headers });
  }
  private get<T>(route: string, query: object): Promise<T> {
    return this.call<T>('GET', `${MLFLOW}/${route}`, { query: query as Query });
  }

  readonly experiments = {
    create: (b: { name: string; artifact_location?: string; tags?: KeyValue[] }) => this.post<{ experiment_id: string }>('experiments/create', b),
    get: (q: { experiment_id: string }) => this.get<{ experiment: ExperimentJson }>('experiments/get', q),
    getByName: (q: { experiment_name: string }) => this.get<{ experiment: ExperimentJson }>('experiments/get-by-name', q),
    search: (b: { max_results?: number; page_token?: string; filter?: string; order_by?: string[]; view_type?: ViewType } = {}) =>
      this.post<Page<'experiments', ExperimentJson>>('experiments/search', b),
    /** Legacy (removed in MLflow 2.0), still served. */
    list: (q: { view_type?: ViewType; max_results?: number; page_token?: string } = {}) =>
      this.get<Page<'experiments', ExperimentJson>>('experiments/list', q),
    update: (b: { experiment_id: string; new_name: string }) => this.post<Empty>('experiments/update', b),
    delete: (b: { experiment_id: string }) => this.post<Empty>('experiments/delete', b),
    restore: (b: { experiment_id: string }) => this.post<Empty>('experiments/restore', b),
    setTag: (b: { experiment_id: string; key: string; value: string }) => this.post<Empty>('experiments/set-experiment-tag', b),
    deleteTag: (b: { experiment_id: string; key: string }) => this.post<Empty>('experiments/delete-experiment-tag', b),
  };

  readonly runs = {
    create: (b: { experiment_id?: string; user_id?: string; run_name?: string; start_time?: number; tags?: KeyValue[] }) =>
      this.post<{ run: RunJson }>('runs/create', b),
    get: (q: RunRef) => this.get<{ run: RunJson }>('runs/get', q),
    update: (b: RunRef & { status?: RunStatus; end_time?: number; run_name?: string }) => this.post<{ run_info: RunInfoJson }>('runs/update', b),
    delete: (b: RunRef) => this.post<Empty>('runs/delete', b),
    restore: (b: RunRef) => this.post<Empty>('runs/restore', b),
    search: (b: { experiment_ids: string[]; filter?: string; run_view_type?: ViewType; max_results?: number; order_by?: string[]; page_token?: string }) =>
      this.post<Page<'runs', RunJson>>('runs/search', b),
    logMetric: (b: RunRef & MetricInput) => this.post<Empty>('runs/log-metric', b),
    logParameter: (b: RunRef & KeyValue) => this.post<Empty>('runs/log-parameter', b),
    setTag: (b: RunRef & KeyValue) => this.post<Empty>('runs/set-tag', b),
    deleteTag: (b: RunRef & { key: string }) => this.post<Empty>('runs/delete-tag', b),
    /**
     * log-batch. With `idempotencyKey` (lablog extension) a repeat of an applied batch is answered
     * without writing again; `replayed` tells it was a repeat.
     */
    logBatch: async (
      b: RunRef & { metrics?: MetricInput[]; params?: KeyValue[]; tags?: KeyValue[] },
      opts: { idempotencyKey?: string } = {},
    ): Promise<{ replayed: boolean }> => {
      const headers = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : undefined;
      const reply = await this.http.request<Empty>('POST', `${MLFLOW}/runs/log-batch`, { json: b, headers });
      return { replayed: reply.headers.get('idempotent-replayed') === 'true' };
    },
    logInputs: (b: RunRef & { datasets: { tags?: KeyValue[]; dataset: DatasetJson }[] }) => this.post<Empty>('runs/log-inputs', b),
  };

  readonly metrics = {
    getHistory: (q: RunRef & { metric_key: string; max_results?: number; page_token?: string }) =>
      this.get<Page<'metrics', MetricJson>>('metrics/get-history', q),
    getHistoryBulkInterval: (q: { run_ids: string[]; metric_key: string; start_step?: number; end_step?: number; max_results?: number }) =>
      this.get<{ metrics?: MetricJson[] }>('metrics/get-history-bulk-interval', q),
    getHistoryBulk: (q: { run_id: string[]; metric_key: string; max_results?: number }) =>
      this.get<{ metrics?: MetricJson[] }>('metrics/get-history-bulk', q),
  };

  readonly artifacts = {
    /** A run's files, paths relative to its artifact root. */
    list: (q: RunRef & { path?: string; page_token?: string }) =>
      this.get<{ root_uri?: string; files?: FileInfoJson[]; next_page_token?: string }>('artifacts/list', q),
    /** Proxied listing of a directory under the artifact root (`<experiment>/<run>/artifacts/...`). */
    listProxied: (q: { path?: string } = {}) => this.call<{ files?: FileInfoJson[] }>('GET', `${ARTIFACTS}/artifacts`, { query: q }),
    /** Uploads raw bytes (or a stream) to a proxied path. */
    upload: (path: string, body: BodyInit) =>
      this.call<Empty>('PUT', `${ARTIFACTS}/artifacts/${encodePath(path)}`, {
        body,
        headers: { 'content-type': 'application/octet-stream' },
        timeoutMs: 0,
      }),
    /** Downloads a proxied path; the Response is returned as is (stream it, or call arrayBuffer()). */
    download: async (path: string, headers?: Record<string, string>): Promise<Response> => {
      const res = await this.http.send('GET', `${ARTIFACTS}/artifacts/${encodePath(path)}`, { headers, timeoutMs: 0 });
      if (!res.ok && res.status !== 304) throw await this.http.errorOf(res);
      return res;
    },
    delete: (path: string) => this.call<Empty>('DELETE', `${ARTIFACTS}/artifacts/${encodePath(path)}`),
    mpuCreate: (path: string, b: { num_parts: number }) =>
      this.call<{ upload_id: string; credentials: { url: string; part_number: number; headers: Record<string, string> }[] }>(
        'POST',
        `${ARTIFACTS}/mpu/create/${encodePath(path)}`,
        { json: { path, ...b } },
      ),
    /** PUTs one part to a `url` that mpuCreate returned; resolves with the part's ETag (for mpuComplete). */
    uploadPart: async (url: string, body: BodyInit): Promise<string> => {
      const base = this.http.baseUrl;
      const u = new URL(url, base);
      const path = url.startsWith(`${base}/`) ? url.slice(base.length) : `${u.pathname}${u.search}`;
      const res = await this.http.send('PUT', path, { body, headers: { 'content-type': 'application/octet-stream' }, timeoutMs: 0 });
      if (!res.ok) throw await this.http.errorOf(res);
      await res.text().catch(() => '');
      return (res.headers.get('etag') ?? '').replace(/^"|"$/g, '');
    },
    mpuComplete: (path: string, b: { upload_id: string; parts: { part_number: number; etag: string; url?: string }[] }) =>
      this.call<Empty>('POST', `${ARTIFACTS}/mpu/complete/${encodePath(path)}`, { json: { path, ...b } }),
    mpuAbort: (path: string, b: { upload_id: string }) => this.call<Empty>('POST', `${ARTIFACTS}/mpu/abort/${encodePath(path)}`, { json: { path, ...b } }),
    /** MLflow's UI download route (`/get-artifact`, served as an attachment). */
    getArtifact: async (q: RunRef & { path: string }): Promise<Response> => {
      const res = await this.http.send('GET', '/get-artifact', { query: q, timeoutMs: 0 });
      if (!res.ok) throw await this.http.errorOf(res);
      return res;
    },
  };

  readonly lablog = {
    /**
     * Creates a run under an id the client made (32 lowercase hex digits). Idempotent: the same id in the
     * same experiment answers the existing run; in another experiment, RESOURCE_ALREADY_EXISTS.
     */
    createRun: (b: { run_id: string; experiment_id?: string; user_id?: string; run_name?: string; start_time?: number; tags?: KeyValue[] }) =>
      this.call<{ run: RunJson }>('POST', `${LABLOG}/runs/create`, { json: b }),
    /** Per bucket min, max and last (with their x) of each run and key. */
    sampled: (q: { run_ids: string[]; keys: string[]; x?: 'step' | 'time'; start?: number; end?: number; buckets?: number }) =>
      this.call<{ x: 'step' | 'time'; series: SampledSeriesJson[] }>('GET', `${LABLOG}/metrics/sampled`, { query: q }),
    /** Images as a Response of themselves; anything else as JSON with the start of its text. */
    artifactPreview: async (q: RunRef & { path: string }): Promise<ArtifactPreviewJson | Response> => {
      const res = await this.http.send('GET', `${LABLOG}/artifacts/preview`, { query: q });
      if (!res.ok) throw await this.http.errorOf(res);
      if ((res.headers.get('content-type') ?? '').startsWith('application/json')) return (await res.json()) as ArtifactPreviewJson;
      return res;
    },
  };

  /** GET /health: true when the server answers 200. */
  async health(): Promise<boolean> {
    const res = await this.http.send('GET', '/health');
    await res.text().catch(() => '');
    return res.ok;
  }

  async version(): Promise<string> {
    const res = await this.http.send('GET', '/version');
    if (!res.ok) throw await this.http.errorOf(res);
    return res.text();
  }
}
