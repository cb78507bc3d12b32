// Replays spool files (spool.ts) into a server, exactly once: every entry carries its Idempotency-Key, and
// the offset of the delivered prefix of each file is kept beside it (`<file>.synced`), so re-running sync,
// a sync interrupted half-way, or a batch that had in fact reached the server before the crash is never
// written twice — even after the server forgot the key (24 h).
import { appendFileSync, closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { END_MARKER, mayStillBeWritten, parseSpoolFileName, type SpoolEntry } from './spool.js';
import { sleep } from './util.js';

export interface SyncReport {
  /** Spool files looked at. */
  files: number;
  /** Entries the server accepted and wrote now. */
  batches: number;
  /** Metric points in those entries. */
  points: number;
  /** Run status updates (a run ended while offline) applied; not counted in batches. */
  updates?: number;
  /** Entries the server already had (answered `Idempotent-Replayed: true`), not written again. */
  replayed: number;
  /** Entries refused with a 4xx (kept in `<file>.rejected`), not retried. */
  rejected?: number;
  /** Lines that could not be read: a torn last line of a crashed writer, or garbage. */
  skippedLines?: number;
  /** Files kept for a later sync (writer still alive, or their run is unknown to the server). */
  keptFiles?: number;
  /** One message per rejected entry or kept file. */
  errors?: string[];
}

export interface SyncOptions {
  /** Server base URL, e.g. http://127.0.0.1:5000 */
  url: string;
  /** Extra headers, e.g. { authorization: 'Bearer …' }. */
  headers?: Record<string, string>;
  /** Called after each line: entries handled so far and in all, over every file. */
  onProgress?: (done: number, total: number) => void;
  /** Retries of one request on network errors, 429 and 5xx before sync stops (default 6). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry, with jitter (default 250). */
  retryBaseMs?: number;
}

/** sync stopped before the end (server unreachable, or refused our credentials); `report` is what was done. */
export class SyncError extends Error {
  constructor(message: string, readonly report: SyncReport) {
    super(message);
    this.name = 'SyncError';
  }
}

const CHUNK = 1 << 20;

/** The complete lines of `file` from byte `start`; an unterminated tail is left out (torn or in progress). */
function* readLines(file: string, start: number): Generator<{ text: string; end: number }> {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer = Buffer.alloc(0);
    let pos = start;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) return;
      const data = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      const base = pos - carry.length;
      pos += n;
      let from = 0;
      for (let nl = data.indexOf(10, from); nl >= 0; nl = data.indexOf(10, from)) {
        yield { text: data.toString('utf8', from, nl), end: base + nl + 1 };
        from = nl + 1;
      }
      carry = Buffer.from(data.subarray(from));
    }
  } finally {
    closeSync(fd);
  }
}

function countLines(file: string, start: number): number {
  let n = 0;
  try {
    for (const _ of readLines(file, start)) n++;
  } catch {
    /* removed meanwhile: nothing to count */
  }
  return n;
}

const progressFile = (file: string) => `${file}.synced`;

function readProgress(file: string): number {
  try {
    const v = JSON.parse(readFileSync(progressFile(file), 'utf8')) as { offset?: unknown };
    return typeof v.offset === 'number' && v.offset >= 0 ? v.offset : 0;
  } catch {
    return 0; // none yet, or unreadable: start over (the idempotency keys still protect)
  }
}

function writeProgress(file: string, offset: number): void {
  const tmp = `${progressFile(file)}.tmp`;
  writeFileSync(tmp, JSON.stringify({ offset }));
  renameSync(tmp, progressFile(file));
}

type Outcome = { kind: 'ok'; replayed: boolean } | { kind: 'rejected'; status: number; message: string };

async function post(entry: SpoolEntry, opts: SyncOptions, base: string): Promise<Outcome> {
  const endpoint = entry.endpoint ?? 'runs/log-batch';
  const retries = opts.retries ?? 6;
  const baseMs = opts.retryBaseMs ?? 250;
  let lastProblem = '';
  for (let attempt = 0; ; attempt++) {
    let waitMs = Math.min(baseMs * 2 ** attempt, 10_000) * (0.5 + Math.random() / 2);
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
      if (endpoint === 'runs/log-batch') headers['idempotency-key'] = entry.idempotencyKey;
      const res = await fetch(`${base}/api/2.0/mlflow/${endpoint}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(entry.body),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      if (res.ok) return { kind: 'ok', replayed: res.headers.get('idempotent-replayed') === 'true' };
      let message = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { error_code?: string; message?: string };
        if (j.message) message = `${j.error_code ?? res.status}: ${j.message.length > 300 ? `${j.message.slice(0, 300)}…` : j.message}`;
      } catch {
        /* not JSON: keep the text */
      }
      if (res.status !== 429 && res.status < 500) return { kind: 'rejected', status: res.status, message };
      lastProblem = `HTTP ${res.status} ${message}`;
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0) waitMs = Math.min(after * 1000, 30_000);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      lastProblem = e.cause?.code ?? e.cause?.message ?? e.message;
    }
    if (attempt >= retries) throw new Error(`${base} unreachable after ${attempt + 1} attempts (${lastProblem})`);
    await sleep(waitMs);
  }
}

function parseEntry(text: string): SpoolEntry | null {
  try {
    const v = JSON.parse(text) as Partial<SpoolEntry>;
    if (typeof v !== 'object' || v === null || typeof v.runId !== 'string' || typeof v.idempotencyKey !== 'string') return null;
    if (typeof v.body !== 'object' || v.body === null) return null;
    return v as SpoolEntry;
  } catch {
    return null;
  }
}

/** Progress files whose spool file is gone (a crash between the two removals). */
function removeOrphanProgress(dir: string): void {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const m = /^(.+\.jsonl)\.synced(\.tmp)?$/.exec(name);
    if (m && !existsSync(path.join(dir, m[1]))) rmSync(path.join(dir, name), { force: true });
  }
}

/** The spool files of `dir`, oldest first. */
export function listSpoolFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => parseSpoolFileName(name) !== null)
    .flatMap((name) => {
      const file = path.join(dir, name);
      try {
        const st = statSync(file);
        return [{ file, t: st.birthtimeMs || st.mtimeMs }];
      } catch {
        return []; // removed meanwhile (another sync)
      }
    })
    .sort((a, b) => a.t - b.t || (a.file < b.file ? -1 : 1))
    .map((f) => f.file);
}

/**
 * Replays every spool file in `dir`, in order, then removes each fully delivered file whose writer is
 * done. Transient failures (network, 429, 5xx) are retried with backoff; if they persist, or the server
 * answers 401/403, sync stops by rejecting with a SyncError (nothing is lost: run it again later).
 * A 4xx for one entry is reported and the entry skipped (kept in `<file>.rejected`); a 404 for the run
 * (unknown to this server) keeps the rest of that file for another server and goes on with the others.
 */
export async function syncSpools(dir: string, opts: SyncOptions): Promise<SyncReport> {
  const base = opts.url.replace(/\/+$/, '');
  const report: Required<SyncReport> = { files: 0, batches: 0, points: 0, replayed: 0, updates: 0, rejected: 0, skippedLines: 0, keptFiles: 0, errors: [] };
  const files = listSpoolFiles(dir);
  const starts = files.map(readProgress);
  const total = files.reduce((sum, f, i) => sum + countLines(f, starts[i]), 0);
  let done = 0;
  opts.onProgress?.(0, total);
  for (const [i, file] of files.entries()) {
    if (!existsSync(file)) continue; // synced and removed by a concurrent sync
    report.files++;
    const name = path.basename(file);
    const { pid } = parseSpoolFileName(name)!;
    let offset = starts[i];
    let ended = false;
    let runMissing = false;
    for (const line of readLines(file, offset)) {
      if (line.text === END_MARKER) {
        ended = true;
      } else {
        const entry = parseEntry(line.text);
        if (entry === null) {
          report.skippedLines++;
        } else {
          let outcome: Outcome;
          try {
            outcome = await post(entry, opts, base);
          } catch (err) {
            throw new SyncError(`sync stopped at ${name}: ${(err as Error).message}`, report);
          }
          if (outcome.kind === 'ok') {
            if ((entry.endpoint ?? 'runs/log-batch') !== 'runs/log-batch') report.updates++;
            else if (outcome.replayed) report.replayed++;
            else {
              report.batches++;
              const metrics = (entry.body as { metrics?: unknown[] }).metrics;
              if (Array.isArray(metrics)) report.points += metrics.length;
            }
          } else if (outcome.status === 401 || outcome.status === 403) {
            throw new SyncError(`sync stopped: the server refused the credentials (${outcome.message})`, report);
          } else if (outcome.status === 404) {
            runMissing = true;
            report.errors.push(`${name}: run ${entry.runId} not found on ${base} (${outcome.message}); file kept`);
            break;
          } else {
            report.rejected++;
            report.errors.push(`${name}: entry ${entry.idempotencyKey} rejected, kept in ${name}.rejected (${outcome.message})`);
            appendFileSync(`${file}.rejected`, line.text + '\n');
          }
        }
      }
      offset = line.end;
      writeProgress(file, offset);
      opts.onProgress?.(++done, total);
    }
    // Done with a file when its writer closed it or is gone; a torn tail of a crashed writer goes with it.
    if (!runMissing && (ended || !mayStillBeWritten(file, pid))) {
      if (statSync(file).size > offset) report.skippedLines++; // the torn last line of a crashed writer
      rmSync(file, { force: true });
      rmSync(progressFile(file), { force: true });
    } else {
      report.keptFiles++; // still being written (what it holds so far was delivered), or its run is unknown
    }
  }
  if (done < total) opts.onProgress?.(total, total);
  removeOrphanProgress(dir);
  return report;
}
