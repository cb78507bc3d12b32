import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// An MLflow 2.x tracking server as the importer sees it, over a real socket: the endpoints it calls,
// answering in MLflow's shapes (snake_case, int64 as numbers, NaN as "NaN", arrays of {key,value},
// empty fields omitted, opaque base64 {"offset": N} page tokens, HTML 404 for unknown routes), with
// small pages so that every paging path is taken.

export interface FakePoint {
  step: number;
  timestamp: number;
  value: number;
}

export interface FakeRun {
  info: {
    run_id: string;
    run_name: string;
    experiment_id: string;
    user_id: string;
    status: string;
    start_time: number;
    end_time?: number;
    artifact_uri: string;
    lifecycle_stage: 'active' | 'deleted';
  };
  params: [string, string][];
  tags: [string, string][];
  datasets: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string; tags: [string, string][] }[];
  /** metric key -> every point */
  metrics: Map<string, FakePoint[]>;
  /** run-relative path -> bytes */
  artifacts: Map<string, Buffer>;
}

export interface FakeExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time: number;
  last_update_time: number;
  artifact_location: string;
  tags: [string, string][];
}

export interface FakeModelVersion {
  version: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
  current_stage: string;
  description?: string;
  source: string;
  run_id: string;
  tags: [string, string][];
}

export interface FakeModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  tags: [string, string][];
  aliases: [string, number][];
  versions: FakeModelVersion[];
}

export interface FakeSource {
  experiments: FakeExperiment[];
  runs: FakeRun[];
  models: FakeModel[];
}

export interface FakeOptions {
  /** 'Bearer <token>' or 'Basic <base64>' the server insists on. */
  authorization?: string;
  pageSizes?: { experiments?: number; runs?: number; artifacts?: number; models?: number; versions?: number };
  /** Answer a start_time filter with 400, as a server too old for it would. */
  noStartTimeFilter?: boolean;
  /** Called before each request is answered; a returned status answers that instead (a fault). */
  onRequest?: (req: IncomingMessage, n: number) => number | void;
}

const DOUBLE_MAX = 1.7976931348623157e308;
const wireDouble = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? DOUBLE_MAX : v === -Infinity ? -DOUBLE_MAX : v);
const token = (offset: number) => Buffer.from(JSON.stringify({ offset })).toString('base64');
const offsetOf = (t: unknown) => (typeof t === 'string' && t ? (JSON.parse(Buffer.from(t, 'base64').toString()) as { offset: number }).offset : 0);
const kv = (list: [string, string][]) => list.map(([key, value]) => ({ key, value }));

/** MLflow's latest value: highest step, then timestamp, then value (NaN as 0). */
export function latestOf(points: FakePoint[]): FakePoint {
  const v = (x: number) => (Number.isNaN(x) ? 0 : x);
  return points.reduce((a, b) => (b.step !== a.step ? (b.step > a.step ? b : a) : b.timestamp !== a.timestamp ? (b.timestamp > a.timestamp ? b : a) : v(b.value) > v(a.value) ? b : a));
}

export function runJson(r: FakeRun) {
  const info: Record<string, unknown> = { ...r.info, run_uuid: r.info.run_id };
  if (!r.info.run_name) delete info.run_name;
  const metrics = [...r.metrics].map(([key, pts]) => {
    const l = latestOf(pts);
    return { key, value: wireDouble(l.value), timestamp: l.timestamp, step: l.step };
  });
  const out: Record<string, unknown> = { info, data: { metrics, params: kv(r.params), tags: kv(r.tags) } };
  if (r.datasets.length > 0) {
    out.inputs = {
      dataset_inputs: r.datasets.map((d) => ({
        tags: kv(d.tags),
        dataset: { name: d.name, digest: d.digest, source_type: d.source_type, source: d.source, ...(d.schema ? { schema: d.schema } : {}), ...(d.profile ? { profile: d.profile } : {}) },
      })),
    };
  } else out.inputs = {};
  return out;
}

export async function startFakeMlflow(src: FakeSource, opts: FakeOptions = {}) {
  const sizes = { experiments: 2, runs: 3, artifacts: 2, models: 1, versions: 2, ...opts.pageSizes };
  let requests = 0;
  const counts = new Map<string, number>();
  const runOf = (id: unknown) => src.runs.find((r) => r.info.run_id === id);

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const notFound = (res: ServerResponse, message: string) => json(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const n = ++requests;
    const url = new URL(req.url!, 'http://x');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const fault = opts.onRequest?.(req, n);
    if (typeof fault === 'number') return json(res, fault, { error_code: fault === 429 ? 'REQUEST_LIMIT_EXCEEDED' : 'TEMPORARILY_UNAVAILABLE', message: 'injected' });
    if (opts.authorization && req.headers.authorization !== opts.authorization) {
      return json(res, 401, { error_code: 'UNAUTHENTICATED', message: 'You are not authenticated. Please see the documentation for details.' });
    }
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    }
    const q = (k: string) => url.searchParams.get(k) ?? undefined;
    const path = url.pathname;

    if (req.method === 'POST' && path === '/api/2.0/mlflow/experiments/search') {
      const view = body.view_type ?? 'ACTIVE_ONLY';
      const all = src.experiments.filter((e) => view === 'ALL' || (view === 'DELETED_ONLY') === (e.lifecycle_stage === 'deleted'));
      const off = offsetOf(body.page_token);
      const size = Math.min(Number(body.max_results ?? 1000), sizes.experiments);
      const page = all.slice(off, off + size).map((e) => ({ ...e, tags: kv(e.tags) }));
      return json(res, 200, { experiments: page, ...(off + size < all.length ? { next_page_token: token(off + size) } : {}) });
    }
    if (req.method === 'POST' && path === '/api/2.0/mlflow/runs/search') {
      const ids = body.experiment_ids as string[];
      if (opts.noStartTimeFilter && body.filter) {
        return json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: `Invalid attribute key 'start_time' specified.` });
      }
      const since = /attributes\.start_time >= (\d+)/.exec(String(body.filter ?? ''))?.[1];
      const view = body.run_view_type ?? 'ACTIVE_ONLY';
      const all = src.runs
        .filter((r) => ids.includes(r.info.experiment_id))
        .filter((r) => view === 'ALL' || (view === 'DELETED_ONLY') === (r.info.lifecycle_stage === 'deleted'))
        .filter((r) => since === undefined || r.info.start_time >= Number(since))
        .sort((a, b) => a.info.start_time - b.info.start_time || a.info.run_id.localeCompare(b.info.run_id));
      const off = offsetOf(body.page_token);
      const size = Math.min(Number(body.max_results ?? 1000), sizes.runs);
      return json(res, 200, { runs: all.slice(off, off + size).map(runJson), ...(off + size < all.length ? { next_page_token: token(off + size) } : {}) });
    }
    if (req.method === 'GET' && path === '/api/2.0/mlflow/metrics/get-history') {
      const run = runOf(q('run_id') ?? q('run_uuid'));
      if (!run) return notFound(res, `Run '${q('run_id')}' not found`);
      const points = run.metrics.get(q('metric_key') ?? '') ?? [];
      const max = q('max_results');
      const off = offsetOf(q('page_token'));
      const end = max === undefined ? points.length : Math.min(points.length, off + Number(max));
      const metrics = points.slice(off, end).map((p) => ({ key: q('metric_key'), value: wireDouble(p.value), timestamp: p.timestamp, step: p.step }));
      return json(res, 200, { metrics, ...(end < points.length ? { next_page_token: token(end) } : {}) });
    }
    if (req.method === 'GET' && path === '/api/2.0/mlflow/artifacts/list') {
      const run = runOf(q('run_id'));
      if (!run) return notFound(res, `Run '${q('run_id')}' not found`);
      const dir = q('path') ?? '';
      const entries = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
      for (const [p, bytes] of run.artifacts) {
        if (dir && !p.startsWith(`${dir}/`)) continue;
        const rest = dir ? p.slice(dir.length + 1) : p;
        const [head, ...tail] = rest.split('/');
        const full = dir ? `${dir}/${head}` : head;
        entries.set(full, tail.length > 0 ? { path: full, is_dir: true } : { path: full, is_dir: false, file_size: bytes.length });
      }
      const all = [...entries.values()].sort((a, b) => a.path.localeCompare(b.path));
      const off = offsetOf(q('page_token'));
      const end = off + sizes.artifacts;
      return json(res, 200, { root_uri: run.info.artifact_uri, files: all.slice(off, end), ...(end < all.length ? { next_page_token: token(end) } : {}) });
    }
    if (req.method === 'GET' && path.startsWith('/api/2.0/mlflow-artifacts/artifacts/')) {
      const rel = decodeURIComponent(path.slice('/api/2.0/mlflow-artifacts/artifacts/'.length));
      for (const r of src.runs) {
        const root = r.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
        if (!r.info.artifact_uri.startsWith('mlflow-artifacts:') || !rel.startsWith(`${root}/`)) continue;
        const bytes = r.artifacts.get(rel.slice(root.length + 1));
        if (bytes) return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
      }
      return notFound(res, `File ${rel} not found`);
    }
    const versionJson = (m: FakeModel, v: FakeModelVersion) => ({
      name: m.name,
      ...v,
      version: String(v.version),
      user_id: '',
      status: 'READY',
      run_link: '',
      tags: kv(v.tags),
      aliases: m.aliases.filter(([, n]) => n === v.version).map(([a]) => a),
    });
    if (req.method === 'GET' && path === '/api/2.0/mlflow/registered-models/search') {
      const off = offsetOf(q('page_token'));
      const end = off + sizes.models;
      const page = src.models.slice(off, end).map((m) => ({
        name: m.name,
        creation_timestamp: m.creation_timestamp,
        last_updated_timestamp: m.last_updated_timestamp,
        ...(m.description ? { description: m.description } : {}),
        tags: kv(m.tags),
        aliases: m.aliases.map(([alias, version]) => ({ alias, version: String(version) })),
        latest_versions: m.versions.slice(-1).map((v) => versionJson(m, v)),
      }));
      return json(res, 200, { registered_models: page, ...(end < src.models.length ? { next_page_token: token(end) } : {}) });
    }
    if (req.method === 'GET' && path === '/api/2.0/mlflow/model-versions/search') {
      const name = /^name\s*=\s*['"](.*)['"]$/.exec(q('filter') ?? '')?.[1];
      const all = src.models.filter((m) => name === undefined || m.name === name).flatMap((m) => m.versions.map((v) => versionJson(m, v)));
      const off = offsetOf(q('page_token'));
      const end = off + sizes.versions;
      return json(res, 200, { model_versions: all.slice(off, end), ...(end < all.length ? { next_page_token: token(end) } : {}) });
    }
    if (req.method === 'GET' && path === '/get-artifact') {
      const bytes = runOf(q('run_uuid') ?? q('run_id'))?.artifacts.get(q('path') ?? '');
      if (!bytes) return notFound(res, 'not found');
      return res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment', 'x-content-type-options': 'nosniff' }).end(bytes);
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end('<!doctype html><title>404 Not Found</title><h1>Not Found</h1>');
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => json(res, 500, { error_code: 'INTERNAL_ERROR', message: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Requests per path so far. */
    counts,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
