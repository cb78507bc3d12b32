import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

export const API = '/api/2.0/mlflow';
/** Smoke-test mode: tiny seeds and short loops, so a change to the suite can be tried in seconds. */
export const QUICK = process.env.BENCH_QUICK === '1';

export interface Target {
  op: '>=' | '<' | '<=';
  value: number;
}

export interface Figure {
  /** The figure number; a letter marks a companion figure (e.g. '3b'). */
  id: string;
  name: string;
  value: number | null;
  unit: string;
  target?: Target;
  note?: string;
}

export interface Ctx {
  url: string;
  /** Set only when the suite started the server itself; enables server CPU readings. */
  serverPid?: number;
  /** The server's data dir, likewise only for a server the suite started (free-space checks). */
  dataDir?: string;
}

/** What each benchmark hands back: its figures and how many metric points it stored (for disk per point). */
export interface Outcome {
  figures: Figure[];
  points: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what} -> HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/**
 * One keep-alive connection per Client (maxSockets 1): a benchmark "client" is one connection, as an
 * MLflow training process would hold. node:http rather than fetch: measured here, undici's fetch spent
 * 3-5x the client CPU per small request (~300 vs ~70 us), and the client shares the cores with the server.
 */
export class Client {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly host: string;
  private readonly port: number;

  /** `headers` go with every request (e.g. `authorization` for a server with auth on). */
  constructor(
    base: string,
    private readonly headers: http.OutgoingHttpHeaders = {},
  ) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
  }

  /** Resolves with the raw body once the last byte arrived: timing excludes the client's JSON parse. */
  raw(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...this.headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POST to an MLflow endpoint (`runs/log-batch`). */
  post<T = any>(endpoint: string, payload: unknown): Promise<T> {
    return this.postTo<T>(`${API}/${endpoint}`, payload);
  }

  /** POST to any path, e.g. our own endpoints outside the MLflow prefix. */
  async postTo<T = any>(path: string, payload: unknown): Promise<T> {
    const res = await this.raw('POST', path, JSON.stringify(payload));
    if (res.status !== 200) throw new HttpError(res.status, res.body.toString(), path);
    return JSON.parse(res.body.toString()) as T;
  }

  async get<T = any>(path: string): Promise<T> {
    const res = await this.raw('GET', path);
    if (res.status !== 200) throw new HttpError(res.status, res.body.toString(), path);
    return JSON.parse(res.body.toString()) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---- fixtures ----

export async function createExperiment(c: Client, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now()}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  return (await c.post<{ experiment_id: string }>('experiments/create', { name })).experiment_id;
}

export async function createRun(c: Client, experimentId: string, runName?: string): Promise<string> {
  const res = await c.post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: experimentId, run_name: runName, start_time: Date.now() });
  return res.run.info.run_id;
}

/** Logs steps [from, to) of one key in log-batch requests of `perRequest` points; returns the point count. */
export async function logSeries(c: Client, runId: string, key: string, from: number, to: number, perRequest = 1000): Promise<number> {
  const t0 = Date.now();
  for (let s = from; s < to; s += perRequest) {
    const metrics = [];
    for (let step = s; step < Math.min(to, s + perRequest); step++) metrics.push({ key, value: Math.sin(step / 1000) + Math.random() * 0.1, timestamp: t0 + step, step });
    await c.post('runs/log-batch', { run_id: runId, metrics, params: [], tags: [] });
  }
  return to - from;
}

/** Deterministic PRNG (mulberry32): seeded data is the same on every server the suite is pointed at. */
export { prng } from '../test/support/prng.js';

// ---- measuring ----

/** Runs `fn` until `count` calls or `seconds` elapsed, whichever first; returns each call's latency in ms. */
export async function timeLoop(fn: (i: number) => Promise<unknown>, count: number, seconds: number): Promise<number[]> {
  const lat: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    const t = performance.now();
    await fn(i);
    lat.push(performance.now() - t);
  }
  return lat;
}

/** The value after `--name` on the command line (`name` without its dashes); undefined when absent. */
export function cliArg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

export const median = (samples: number[]): number => percentile(samples, 50);

export function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

let clkTck = 0;
/** /proc/<pid>/stat's fields after the parenthesised command name (so f[1] is the parent's pid). */
function procStat(pid: number): string[] {
  if (clkTck === 0) clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system, all threads) a process has used so far, in ms; null when it cannot be read. */
export function serverCpuMs(pid: number): number | null {
  try {
    // utime and stime are the 14th and 15th fields overall.
    const f = procStat(pid);
    return ((Number(f[11]) + Number(f[12])) * 1000) / clkTck;
  } catch {
    return null;
  }
}

/**
 * CPU (ms) of a process and all its children, live or exited: the CPU of a PostgreSQL cluster is its
 * postmaster's tree, whose backends come and go with the servers' pooled connections. Null off Linux.
 */
export function treeCpuMs(rootPid: number): number | null {
  try {
    const root = procStat(rootPid);
    // utime, stime, and cutime, cstime: the children already reaped.
    let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const f = procStat(Number(name));
        if (Number(f[1]) === rootPid) ticks += Number(f[11]) + Number(f[12]);
      } catch {
        // exited meanwhile: its time is in the root's cutime/cstime now
      }
    }
    return (ticks * 1000) / clkTck;
  } catch {
    return null;
  }
}

/** The parent's pid of a live process, or null. */
export function parentPid(pid: number): number | null {
  try {
    return Number(procStat(pid)[1]);
  } catch {
    return null;
  }
}

/** CPU time all processes spent busy (ms), from /proc/stat; null off Linux. */
function machineBusyMs(): number | null {
  try {
    if (clkTck === 0) clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    return ((f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) * 1000) / clkTck;
  } catch {
    return null;
  }
}

export interface CpuReading {
  wallMs: number;
  clientPct: number;
  serverPct: number | null;
  /** Human note; flags a client near one full core, where the figure would measure the client. */
  note: string;
}

/** Starts a CPU meter for this process and, if known, the server; call the result to read it. */
export function cpuMeter(serverPid?: number): () => CpuReading {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const s0 = serverPid ? serverCpuMs(serverPid) : null;
  const m0 = machineBusyMs();
  return () => {
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const clientMs = (c.user + c.system) / 1000;
    const clientPct = (clientMs / wallMs) * 100;
    const s1 = serverPid ? serverCpuMs(serverPid) : null;
    const serverPct = s0 !== null && s1 !== null ? ((s1 - s0) / wallMs) * 100 : null;
    const m1 = machineBusyMs();
    let note = `client CPU ${clientPct.toFixed(0)}%`;
    if (serverPct !== null) note += `, server CPU ${serverPct.toFixed(0)}%`;
    if (clientPct >= 85) note += ' - CLIENT SATURATES A CORE, figure is client-bound';
    if (m0 !== null && m1 !== null && s0 !== null && s1 !== null) {
      // Whatever else ran on the machine took cores from both the client and the server.
      const otherPct = ((m1 - m0 - clientMs - (s1 - s0)) / wallMs) * 100;
      if (otherPct >= 20) note += ` - MACHINE BUSY: other processes used ${otherPct.toFixed(0)}% CPU`;
    }
    return { wallMs, clientPct, serverPct, note };
  };
}

// ---- reporting ----

export function fmt(v: number | null, unit: string): string {
  if (v === null || Number.isNaN(v)) return 'n/a';
  if (Number.isInteger(v)) return `${v.toLocaleString('en-US')} ${unit}`;
  if (unit === 'ms' || unit === 'µs') return `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ${unit}`;
  if (unit === 'MiB' || unit === 'B/point') return `${v.toFixed(1)} ${unit}`;
  return `${Math.round(v).toLocaleString('en-US')} ${unit}`;
}

export function verdict(f: Figure): string {
  if (!f.target) return '-';
  if (f.value === null || Number.isNaN(f.value)) return 'n/a';
  const { op, value } = f.target;
  const ok = op === '>=' ? f.value >= value : op === '<' ? f.value < value : f.value <= value;
  return ok ? 'PASS' : 'MISS';
}

/** A Markdown table with padded columns, readable in a terminal and pasteable into the README. */
export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The figures as a textTable. */
export function markdownTable(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.id,
    f.name,
    fmt(f.value, f.unit),
    f.target ? `${f.target.op} ${fmt(f.target.value, f.unit)}` : '-',
    verdict(f),
    f.note ?? '',
  ]);
  return textTable(['#', 'figure', 'measured', 'target', 'result', 'notes'], rows);
}

export function machineInfo(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux: os.cpus() is good enough
  }
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  return `CPU: ${cpu}, ${os.availableParallelism()} cores; RAM ${gib} GiB; Node ${process.version}; ${os.platform()} ${os.release()}`;
}

export function log(msg: string): void {
  console.log(`[bench] ${msg}`);
}

/**
 * Entry for `node dist/bench/<name>.js [URL] [--postgres]`: against URL if given, else against a lablog
 * server started for the occasion (so each file can be tried alone). With --postgres that server keeps
 * its data in LABLOG_DATABASE_URL when set, else in a fresh database on a throwaway cluster
 * (test/support/postgres.ts, Debian's postgresql package installed), dropped at the end.
 */
export async function standalone(importMetaUrl: string, run: (ctx: Ctx) => Promise<Outcome>): Promise<void> {
  if (!process.argv[1] || importMetaUrl !== pathToFileURL(process.argv[1]).href) return;
  const args = process.argv.slice(2);
  const url = args.find((a) => !a.startsWith('--'));
  console.log(machineInfo());
  console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  let outcome: Outcome;
  if (url) {
    outcome = await run({ url: url.replace(/\/+$/, '') });
  } else {
    const { startLocalServer } = await import('./local-server.js');
    const database = args.includes('--postgres') ? await benchDatabase() : null;
    const server = await startLocalServer(database ? { env: { LABLOG_DATABASE_URL: database.url } } : {});
    try {
      outcome = await run({ url: server.url, serverPid: server.pid, dataDir: server.dataDir });
    } finally {
      await server.stop();
      server.cleanup();
      await database?.drop();
    }
  }
  console.log(markdownTable(outcome.figures));
}

/** LABLOG_DATABASE_URL as given (kept), or a new database on the tests' throwaway cluster (dropped). */
async function benchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const given = process.env.LABLOG_DATABASE_URL;
  if (given) return { url: given, drop: async () => {} };
  const { createDatabase, dropDatabase, postgresSkip } = await import('../test/support/postgres.js');
  const skip = postgresSkip();
  if (skip) throw new Error(`--postgres: no PostgreSQL to benchmark: ${skip}`);
  const url = await createDatabase();
  return { url, drop: () => dropDatabase(url) };
}
