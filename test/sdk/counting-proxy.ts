import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A small HTTP proxy between the SDK and a real lablog process: it records every request (body size,
// log-batch entity counts, idempotency key, outcome), tracks how many log-batch requests of one run are
// in flight at once, and can play a broken network: refuse everything ('down'), forward a request and
// then drop the answer (the server wrote, the client never hears it), or inject a fault per request
// (`fault`): a reset before the server sees it, a hang (the client's timeout fires) before or after the
// server wrote, an answer cut off half-way, or a status of its own (503).

/** What `fault` may do to one request. */
export type Fault = 'reset' | 'hang' | 'drop-after' | 'hang-after' | 'truncate' | 503;

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  body: Buffer;
  /** Parsed JSON body of log-batch requests. */
  batch?: { run_id: string; metrics?: { key: string; value: unknown; timestamp: number; step: number }[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
  status?: number;
  replayed?: boolean;
  /** 'down' = refused by the proxy, 'upstream' = the server could not be reached, 'dropped' = answer withheld. */
  failure?: 'down' | 'upstream' | 'dropped' | 'reset' | 'hung' | 'truncated';
  /** The fault `fault` injected, if any. */
  fault?: Fault;
  /** 0, 1, 2, ...: the order the proxy received requests in. */
  index: number;
  done: boolean;
}

export interface CountingProxy {
  url: string;
  requests: Seen[];
  /** Where requests go (changeable). */
  target: string;
  mode: 'pass' | 'down';
  /** Answers instead of the server when it returns a status (e.g. 503), with MLflow's error body. */
  intercept: (req: Seen) => number | undefined;
  /** Answers 200 with this JSON instead of the server when it returns one (e.g. a /health of a server whose disk is full). */
  answer: (req: Seen) => unknown;
  /** Decides, after the server answered, whether the client gets the answer (false: the socket is destroyed). */
  deliverAnswer: (req: Seen) => boolean;
  /** A fault to inject into this request (decided when it arrives), or undefined to let it through. */
  fault: (req: Seen) => Fault | undefined;
  /** Highest number of log-batch requests of one run in flight at once. */
  maxInFlightPerRun: number;
  logBatches(): Seen[];
  /** Resolves once `pred()` holds, checked after every request; rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<CountingProxy> {
  const waiters: { pred: () => boolean; resolve: () => void }[] = [];
  const inFlight = new Map<string, number>();
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred()) waiters.splice(i, 1)[0].resolve();
  };

  const proxy: CountingProxy = {
    url: '',
    requests: [],
    target,
    mode: 'pass',
    intercept: () => undefined,
    answer: () => undefined,
    deliverAnswer: () => true,
    fault: () => undefined,
    maxInFlightPerRun: 0,
    logBatches: () => proxy.requests.filter((r) => r.batch !== undefined),
    waitFor(pred, what, timeoutMs = 120_000) {
      if (pred()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
        waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers, bytes: body.length, body, index: proxy.requests.length, done: false };
      if (req.url!.includes('/runs/log-batch')) {
        try {
          seen.batch = JSON.parse(body.toString('utf8'));
        } catch {
          seen.batch = { run_id: '?' };
        }
      }
      proxy.requests.push(seen);
      const runId = seen.batch?.run_id;
      // In flight from the client's side: until answered, or until the client gave up and closed the
      // connection (its timeout), even while this proxy still waits for a slow server's answer to it.
      let counted = runId !== undefined;
      const leave = () => {
        if (counted) inFlight.set(runId!, inFlight.get(runId!)! - 1);
        counted = false;
      };
      if (runId !== undefined) {
        const n = (inFlight.get(runId) ?? 0) + 1;
        inFlight.set(runId, n);
        proxy.maxInFlightPerRun = Math.max(proxy.maxInFlightPerRun, n);
        res.once('close', leave);
      }
      const finish = (failure?: Seen['failure']) => {
        if (failure) {
          seen.failure = failure;
          res.socket?.destroy();
        }
        leave();
        seen.done = true;
        check();
      };
      if (proxy.mode === 'down') return finish('down');
      const fault = proxy.fault(seen);
      seen.fault = fault;
      // Held until the client gives up (its timeout closes the connection) or the proxy closes.
      const hang = () => res.once('close', () => finish('hung'));
      if (fault === 'reset') return finish('reset');
      if (fault === 'hang') return hang();
      const json = proxy.answer(seen);
      if (json !== undefined) {
        seen.status = 200;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
        return finish();
      }
      const status = typeof fault === 'number' ? fault : proxy.intercept(seen);
      if (status !== undefined) {
        seen.status = status;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error_code: ({ 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 429: 'REQUEST_LIMIT_EXCEEDED' } as Record<number, string>)[status] ?? 'TEMPORARILY_UNAVAILABLE', message: `proxy says ${status}` }));
        return finish();
      }
      const to = new URL(req.url!, proxy.target);
      const headers = { ...req.headers, host: to.host, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const up = http.request(to, { method: req.method, headers }, (upRes) => {
        const parts: Buffer[] = [];
        upRes.on('data', (c: Buffer) => parts.push(c));
        upRes.on('error', () => finish('upstream'));
        upRes.on('end', () => {
          seen.status = upRes.statusCode;
          seen.replayed = upRes.headers['idempotent-replayed'] === 'true';
          if (fault === 'hang-after') return hang();
          if (fault === 'drop-after' || !proxy.deliverAnswer(seen)) return finish('dropped');
          const out = Buffer.concat(parts);
          const h = { ...upRes.headers, 'content-length': String(out.length) };
          delete h['transfer-encoding'];
          res.writeHead(upRes.statusCode!, h);
          if (fault === 'truncate') {
            // The head and half the body, then the connection goes: the client reads a cut-off answer.
            res.write(out.subarray(0, out.length >> 1), () => finish('truncated'));
            return;
          }
          res.end(out);
          finish();
        });
      });
      up.on('error', () => finish('upstream'));
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.unref();
  return proxy;
}

/** MLflow's limits on one log-batch request. */
export const LIMITS = { metrics: 1000, params: 100, tags: 100, entities: 1000, bytes: 1_000_000 };

/** Every log-batch seen stays within the limits; returns how many were checked. */
export function limitViolations(requests: Seen[]): string[] {
  const out: string[] = [];
  for (const r of requests) {
    if (!r.batch) continue;
    const m = r.batch.metrics?.length ?? 0;
    const p = r.batch.params?.length ?? 0;
    const t = r.batch.tags?.length ?? 0;
    if (m > LIMITS.metrics || p > LIMITS.params || t > LIMITS.tags || m + p + t > LIMITS.entities || r.bytes > LIMITS.bytes) {
      out.push(`log-batch of ${m} metrics, ${p} params, ${t} tags, ${r.bytes} bytes`);
    }
  }
  return out;
}
