import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../server/main.js');
/** The node flags of `npm start` (package.json), so the bench measures the server as users run it. */
const START_FLAGS = ['--max-semi-space-size=8'];

export interface LocalServer {
  url: string;
  pid: number;
  dataDir: string;
  /** Milliseconds from spawning the process to its first 200 from /health (to within `pollMs`). */
  startMs: number;
  /** SIGTERM (graceful: SQLite checkpoints and removes its WAL on close); resolves once the process exited. */
  stop(): Promise<void>;
  /** Removes the data dir; separate from stop() so the stopped database can still be inspected. */
  cleanup(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * `env`: extra environment for the server (e.g. LABLOG_AUTH=on); the suite's own environment is kept.
 * `dataDir`: serve this data dir (filled beforehand) instead of a fresh one; cleanup() removes it too,
 * Ctrl-C does not. `pollMs`: how often /health is asked while the server starts; `timeoutMs`: how long
 * it may take (a filled data dir's first start runs its pending migrations first). `main`: another
 * build's dist/server/main.js (a before/after comparison); default this build's. `nodeArgs`: node flags
 * added to npm start's (default: BENCH_SERVER_NODE_ARGS, space-separated, e.g. `--cpu-prof`).
 */
export async function startLocalServer(
  opts: { env?: Record<string, string>; dataDir?: string; pollMs?: number; timeoutMs?: number; main?: string; nodeArgs?: string[] } = {},
): Promise<LocalServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'lablog-bench-'));
  const pollMs = opts.pollMs ?? 50;
  const port = await freePort();
  const spawnedAt = performance.now();
  const nodeArgs = opts.nodeArgs ?? process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...START_FLAGS, ...nodeArgs, opts.main ?? MAIN, '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    // Benchmarks time computing an answer, so repeats are not served kept unless asked (bench/floor.ts does).
    env: { LABLOG_ANSWER_CACHE_MB: '0', ...process.env, ...opts.env },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}`;
  // Ctrl-C reaches the server too (same process group); without this the temp dir would be left behind.
  // A data dir the caller brought (a filled one, hours in the making) is the caller's to remove.
  const onSigint = () => {
    child.kill('SIGTERM');
    void exited.then(() => {
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSigint);
  // A bench that starts many servers in turn must not pile up listeners for the ones gone.
  void exited.then(() => process.off('SIGINT', onSigint));

  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let startMs: number;
  for (;;) {
    if (gone) throw new Error(`lablog server exited before it answered /health (see its output above)`);
    if ((await healthStatus(port)) === 200) {
      startMs = performance.now() - spawnedAt;
      break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`lablog server did not answer /health within ${timeoutMs / 1000} s`);
    }
    await sleep(pollMs);
  }

  return {
    url,
    pid: child.pid!,
    dataDir,
    startMs,
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** GET /health on a fresh connection: its status, or 0 while nothing listens (no keep-alive to wait out). */
function healthStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
  });
}

/** VmRSS (and its anon/file split: SQLite's mmap of the database counts as file-backed RSS), in MiB. */
export function serverMemory(pid: number): { rss: number; anon: number; file: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: (kb('RssFile') + kb('RssShmem')) / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** The SQLite files that hold data: the database and its WAL (the -shm index is a rebuildable cache). */
export function sqliteBytes(dataDir: string): number {
  let total = 0;
  for (const name of readdirSync(dataDir)) {
    if (name.endsWith('.db') || name.endsWith('.db-wal')) total += statSync(path.join(dataDir, name)).size;
  }
  return total;
}

/**
 * Folds the WAL into the database file from a second connection (SQLite allows this across processes)
 * and truncates it, so the files' size is the stored data; the server must be idle meanwhile. The
 * server's own checkpointer thread runs a short checkpoint every 250 ms even then, and SQLite answers
 * busy to a second checkpointer instead of waiting: tried again for up to 5 s.
 */
export function checkpoint(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (!name.endsWith('.db')) continue;
    const db = new Database(path.join(dataDir, name), { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      for (let attempt = 1; ; attempt++) {
        const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
        if (!r.busy) break;
        if (attempt >= 100) throw new Error(`checkpoint of ${name} was blocked by a reader`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    } finally {
      db.close();
    }
  }
}

/** Bytes per table/index (dbstat), largest first; null if this SQLite build lacks dbstat. */
export function tableSizes(dataDir: string): { name: string; bytes: number }[] | null {
  const file = readdirSync(dataDir).find((n) => n.endsWith('.db'));
  if (!file) return null;
  const db = new Database(path.join(dataDir, file), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as { name: string; bytes: number }[];
  } catch {
    return null;
  } finally {
    db.close();
  }
}
