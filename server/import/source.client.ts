import { Readable } from 'node:stream';
import type { ZodType } from 'zod';

/** Credentials for the source, from the variables the stock MLflow client reads. */
export function sourceAuthHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.MLFLOW_TRACKING_TOKEN) return { authorization: `Bearer ${env.MLFLOW_TRACKING_TOKEN}` };
  if (env.MLFLOW_TRACKING_USERNAME && env.MLFLOW_TRACKING_PASSWORD) {
    return { authorization: `Basic ${Buffer.from(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}` };
  }
  return {};
}

export class SourceError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly errorCode: string | null = null,
  ) {
    super(message);
  }
}

/**
 * A failure that concerns one item (a run's metric, a file) rather than the whole source: the server
 * answered, with something other than 401/403. The import warns and goes on; the next run retries it.
 * Missing credentials and a source that cannot be reached at all stop the import instead.
 */
export function isItemFailure(err: unknown): err is SourceError {
  return err instanceof SourceError && err.status !== null && err.status !== 401 && err.status !== 403;
}

export interface SourceOptions {
  /** The MLflow server's base URL, e.g. http://old-mlflow:5000 */
  url: string;
  headers?: Record<string, string>;
  /** Attempts per request for 429, 5xx and network failures (default 6). */
  attempts?: number;
  /** First backoff delay; it doubles per attempt (default 500 ms). A Retry-After header wins, up to 60 s. */
  baseDelayMs?: number;
}

export type QueryValue = string | number | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * HTTP to an MLflow server's REST API: JSON calls and downloads, each retried with exponential backoff
 * when the server is overloaded or failing (429, 5xx) or the connection breaks. 4xx answers other than
 * 429 are final and raised as SourceError with MLflow's error_code when the body has one.
 */
export function createSourceClient(opts: SourceOptions) {
  const base = opts.url.replace(/\/+$/, '');
  const attempts = opts.attempts ?? 6;
  const baseDelay = opts.baseDelayMs ?? 500;
  let requests = 0;

  async function send(method: 'GET' | 'POST', path: string, query?: Record<string, QueryValue>, body?: unknown): Promise<Response> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const init: RequestInit = {
      method,
      headers: { ...opts.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    for (let attempt = 1; ; attempt++) {
      let res: Response | null = null;
      let failure: string;
      try {
        requests++;
        res = await fetch(url, init);
        if (res.ok) return res;
        if (res.status !== 429 && res.status < 500) throw await errorOf(res, method, url);
        failure = `${res.status} ${res.statusText}`;
      } catch (err) {
        if (err instanceof SourceError) throw err;
        failure = (err as Error).message;
      }
      if (attempt >= attempts) throw new SourceError(`${method} ${url.pathname}: ${failure} (gave up after ${attempts} attempts)`, res?.status ?? null);
      const retryAfter = Number(res?.headers.get('retry-after'));
      await res?.body?.cancel().catch(() => {});
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 60) * 1000 : baseDelay * 2 ** (attempt - 1));
    }
  }

  async function errorOf(res: Response, method: string, url: URL): Promise<SourceError> {
    const text = await res.text().catch(() => '');
    let code: string | null = null;
    let message = text.slice(0, 300);
    try {
      const j = JSON.parse(text) as { error_code?: string; message?: string };
      code = j.error_code ?? null;
      message = j.message ?? message;
    } catch {
      // not JSON (an HTML 404 page, a proxy's answer): the text is the message
    }
    const hint = res.status === 401 || res.status === 403 ? ' (set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)' : '';
    return new SourceError(`${method} ${url.pathname}: ${res.status} ${code ? `${code} ` : ''}${message}${hint}`, res.status, code);
  }

  return {
    url: base,
    /** Requests sent so far, retries included. */
    get requests() {
      return requests;
    },
    async get<T>(path: string, schema: ZodType<T>, query: Record<string, QueryValue>): Promise<T> {
      return parse(schema, await (await send('GET', path, query)).json(), path);
    },
    async post<T>(path: string, schema: ZodType<T>, body: unknown): Promise<T> {
      return parse(schema, await (await send('POST', path, undefined, body)).json(), path);
    },
    /** The response body as a stream (retried until the response starts; a break mid-body is the caller's to retry). */
    async download(path: string, query?: Record<string, QueryValue>): Promise<Readable> {
      const res = await send('GET', path, query);
      if (!res.body) return Readable.from([]);
      return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    },
  };
}

export type SourceClient = ReturnType<typeof createSourceClient>;

function parse<T>(schema: ZodType<T>, json: unknown, path: string): T {
  const r = schema.safeParse(json);
  if (!r.success) throw new SourceError(`${path}: unexpected answer (${r.error.issues[0]?.message ?? 'bad shape'} at ${r.error.issues[0]?.path.join('.')})`, null);
  return r.data;
}
