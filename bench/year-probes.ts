/**
 * Measuring tools of bench/year-check.ts: a watch on the server's memory, the requests the web UI's
 * runs page makes to draw its first screen, and a streamed history read that keeps no body.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { API, Client } from './lib.js';
import { serverMemory } from './local-server.js';

/** Samples the server's RSS every few milliseconds (between the client's awaits) and keeps the peak. */
export class RssWatch {
  peak = 0;
  peakAnon = 0;
  last = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    readonly pid: number,
    everyMs = 20,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }
  sample(): number {
    const m = serverMemory(this.pid);
    if (m) {
      this.last = m.rss;
      if (m.rss > this.peak) {
        this.peak = m.rss;
        this.peakAnon = m.anon;
      }
    }
    return this.last;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** `n` requests at a time, as a browser holds at most 6 connections to one HTTP/1.1 origin. */
async function pooled<T>(items: T[], n: number, fn: (c: Client, item: T) => Promise<unknown>, url: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      const c = new Client(url);
      try {
        for (let i = next++; i < items.length; i = next++) await fn(c, items[i]);
      } finally {
        c.close();
      }
    }),
  );
}

async function ok(c: Client, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Buffer> {
  const res = await c.raw(method, path, body === undefined ? undefined : JSON.stringify(body));
  if (res.status !== 200) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
  return res.body;
}

/**
 * What /runs?experiments=<ids> asks before its table shows (web/src/session.ts, pages/runs.tsx and the
 * components it mounts): `me`, then at once the first page of runs/search (100 runs, default order),
 * experiments/get for the first 5 experiments (the title's names), sweeps/list for the first 20, and
 * search-datasets for the first 20. Returns the milliseconds until the last of them answered, and the
 * runs the first page held.
 */
export async function runsPageFirstScreen(url: string, experimentIds: string[]): Promise<{ ms: number; runs: number }> {
  const t = performance.now();
  const c = new Client(url);
  await ok(c, 'GET', '/api/2.0/lablog/me');
  c.close();
  let runs = 0;
  const calls: ((c: Client) => Promise<unknown>)[] = [
    async (k) => {
      const body = await ok(k, 'POST', `${API}/runs/search`, { experiment_ids: experimentIds, order_by: [], run_view_type: 'ACTIVE_ONLY', max_results: 100 });
      runs = (JSON.parse(body.toString()) as { runs?: unknown[] }).runs?.length ?? 0;
    },
    (k) => ok(k, 'POST', '/ajax-api/2.0/mlflow/experiments/search-datasets', { experiment_ids: experimentIds.slice(0, 20) }),
    ...experimentIds.slice(0, 5).map((id) => (k: Client) => ok(k, 'GET', `${API}/experiments/get?experiment_id=${id}`)),
    ...experimentIds.slice(0, 20).map((id) => (k: Client) => ok(k, 'GET', `/api/2.0/lablog/sweeps/list?experiment_id=${id}&max_results=100`)),
  ];
  await pooled(calls, 6, (k, call) => call(k), url);
  return { ms: performance.now() - t, runs };
}

/**
 * GET get-history of a whole series, counting the body's bytes and points ('}' closes each point and
 * the answer) as they arrive, keeping none of them: the client stays small while the server's memory
 * is watched.
 */
export function streamHistory(url: string, runId: string, key: string): Promise<{ ms: number; firstByteMs: number; bytes: number; points: number }> {
  const u = new URL(url);
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const path = `${API}/metrics/get-history?run_id=${runId}&metric_key=${encodeURIComponent(key)}`;
    const req = http.get({ host: u.hostname, port: Number(u.port), path, agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`get-history -> HTTP ${res.statusCode}`));
      let bytes = 0;
      let braces = 0;
      let firstByteMs = -1;
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - t;
        bytes += chunk.length;
        for (let i = chunk.indexOf(0x7d); i >= 0; i = chunk.indexOf(0x7d, i + 1)) braces++;
      });
      res.on('end', () => resolve({ ms: performance.now() - t, firstByteMs, bytes, points: braces - 1 }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
