import { errorCodeForStatus, LablogApiError, LablogNetworkError } from './errors.js';

export interface TransportOptions {
  url: string;
  token?: string;
  username?: string;
  password?: string;
  requestTimeoutMs: number;
  fetch?: typeof fetch;
  /** Sent with every request (e.g. an Authorization header another client resolved). */
  headers?: Record<string, string>;
}

export type QueryValue = string | number | boolean | undefined | null | readonly (string | number)[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** An object (sent as JSON) or a string that already is JSON. */
  json?: unknown;
  /** A raw body (uploads). */
  body?: BodyInit;
  headers?: Record<string, string>;
  /** 0 disables the timeout (streamed uploads). Default: the transport's requestTimeoutMs. */
  timeoutMs?: number;
}

export interface Reply<T> {
  status: number;
  headers: Headers;
  json: T;
}

/** Reads an environment variable where there is a `process` (Node, Deno, Bun); undefined elsewhere. */
export function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = p?.env?.[name];
  return v === '' ? undefined : v;
}

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? v : [v as string | number | boolean];
    for (const one of values) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(one))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The HTTP layer: base URL, auth, timeouts, and MLflow's error shape turned into LablogApiError. */
export class Transport {
  readonly baseUrl: string;
  private readonly auth: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(opts: TransportOptions) {
    this.headers = { ...opts.headers };
    this.baseUrl = opts.url.replace(/\/+$/, '');
    if (opts.token) this.auth = `Bearer ${opts.token}`;
    else if (opts.username !== undefined || opts.password !== undefined) this.auth = `Basic ${base64(`${opts.username ?? ''}:${opts.password ?? ''}`)}`;
    this.timeoutMs = opts.requestTimeoutMs;
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new Error('lablog-client needs a global fetch (Node >= 20 or a browser)');
    this.fetchFn = f;
  }

  /** The auth header(s) this transport sends, e.g. for another HTTP client (sync). */
  authHeaders(): Record<string, string> {
    return this.auth ? { authorization: this.auth } : {};
  }

  /** Sends a request; resolves with the Response whatever its status. Network failures throw LablogNetworkError. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers, ...opts.headers };
    if (this.auth) headers.authorization = this.auth;
    let body: BodyInit | undefined = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json);
    }
    const init: RequestInit & { duplex?: 'half' } = { method, headers, body };
    if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) {
      init.duplex = 'half';
      // Following a 307/308 would replay the body, so Node's fetch (undici) keeps every chunk sent until the
      // answer: a whole file in memory (nodejs/undici#4058). Refusing redirects lets each chunk go.
      init.redirect = 'error';
    }
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    if (timeout > 0) init.signal = AbortSignal.timeout(timeout);
    const url = `${this.baseUrl}${path}${encodeQuery(opts.query)}`;
    // A kept-alive socket that the server closed (a restart, an idle timeout) fails the next request
    // sent on it. Reads are safe to send again at once; writes are left to their callers' own retry
    // rules (log-batch retries under its Idempotency-Key).
    const streamed = typeof ReadableStream !== 'undefined' && body instanceof ReadableStream;
    const attempts = (method === 'GET' || method === 'HEAD') && !streamed ? 3 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchFn(url, init);
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        if (attempt < attempts && !timedOut) continue;
        const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        throw new LablogNetworkError(`${method} ${url} failed: ${reason}`, err);
      }
    }
  }

  /** Sends a request and parses a JSON answer; non-2xx answers throw LablogApiError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Reply<T>> {
    const res = await this.send(method, path, opts);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new LablogNetworkError(`${method} ${path}: the answer was cut off`, err);
    }
    if (!res.ok) throw apiError(res.status, text);
    let json: unknown = {};
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    return { status: res.status, headers: res.headers, json: json as T };
  }

  /** Turns a non-2xx Response into a LablogApiError (reads its body). */
  async errorOf(res: Response): Promise<LablogApiError> {
    let text = '';
    try {
      text = await res.text();
    } catch {
      // keep the status alone
    }
    return apiError(res.status, text);
  }
}

function apiError(status: number, text: string): LablogApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const b = body as { error_code?: unknown; message?: unknown } | undefined;
  const code = typeof b?.error_code === 'string' ? b.error_code : errorCodeForStatus(status);
  const message = typeof b?.message === 'string' ? b.message : text.slice(0, 500) || `HTTP ${status}`;
  return new LablogApiError(code, status, message, body);
}
