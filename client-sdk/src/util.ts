import { LablogApiError, LablogNetworkError } from './errors.js';

/** MLflow's limits on one log-batch request (validation.py). */
export const LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  entities: 1000,
  bytes: 1_000_000,
  keyLength: 250,
  paramValue: 6000,
  tagValue: 5000,
} as const;

/** A random v4 UUID: crypto.randomUUID where it exists (secure contexts), else from getRandomValues. */
export function uuid(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (typeof c?.getRandomValues === 'function') c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A timer that does not keep Node's event loop alive (no-op in browsers). */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)). */
export function backoff(attempt: number, baseMs = 100, capMs = 5000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
}

/** Bytes of `s` in UTF-8 (JSON text is well-formed: lone surrogates are escaped). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) i++, (n += 2); // a surrogate pair: 2 UTF-16 units, 4 bytes
    else n += 2;
  }
  return n;
}

/** A double as MLflow's JSON takes it: NaN and infinities as strings. */
export function jsonDouble(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

const VALID_NAME = /^[/\w.\- ]*$/;

/** MLflow's key rules (metric, param, tag): characters, no path that normalises to another, 250 chars. Null when valid. */
export function keyProblem(kind: 'metric' | 'param' | 'tag', key: string): string | null {
  if (!VALID_NAME.test(key)) {
    return `Invalid ${kind} name: '${key.slice(0, 250)}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`;
  }
  const segments = key.split('/');
  const unnormal =
    key === '' || key.startsWith('/') || key.startsWith('..') || (key.length > 1 && key.endsWith('/')) || segments.some((s, i) => s === '.' || s === '..' || (s === '' && i > 0 && i < segments.length - 1));
  if (unnormal) return `Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`;
  if (key.length > LIMITS.keyLength) return `${kind} key '${key.slice(0, 250)}' had length ${key.length}, which exceeded length limit of ${LIMITS.keyLength}`;
  return null;
}

/** An error found before sending, in the server's shape (status 0: not from the server). */
export function clientInvalid(message: string): LablogApiError {
  return new LablogApiError('INVALID_PARAMETER_VALUE', 0, `${message} (checked by lablog-client; not sent)`);
}

/** Where `process` exists, the user name (USER / USERNAME); undefined in browsers. */
export function userName(): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.USER || p?.env?.USERNAME || p?.env?.LOGNAME || undefined;
}

/**
 * Network errors and 429/502/503/504: the request was not applied. Other 5xx are left out: the request
 * may have been applied (runs/create is not idempotent).
 */
export function isTransient(err: unknown): boolean {
  return err instanceof LablogNetworkError || (err instanceof LablogApiError && [429, 502, 503, 504].includes(err.status));
}

/**
 * `fn` retried with backoff while it fails with an error `retryable` accepts (by default a transient
 * one, safe for any request), until `giveUpAfterMs`, so a caller rides out a server restart.
 */
export async function retryTransient<T>(fn: () => Promise<T>, giveUpAfterMs: number, retryable: (err: unknown) => boolean = isTransient): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!retryable(err) || Date.now() - started >= giveUpAfterMs) throw err;
      await sleep(backoff(attempt));
    }
  }
}

/** A number as Python's str() prints it (exponent form below 1e-4: 1e-05, 3.2e-07). */
export function pythonNumber(v: number): string {
  if (v === 0 || !Number.isFinite(v) || Math.abs(v) >= 1e-4) return String(v);
  const [mantissa, exponent] = v.toExponential().split('e');
  return `${mantissa}e-${String(-Number(exponent)).padStart(2, '0')}`;
}
