// Replays spool files (spool.ts) into a server, exactly once: every log-batch carries its Idempotency-Key,
// a run started offline is created under its own id by lablog's idempotent runs/create, artifacts are PUT
// (the same bytes again change nothing), and the offset of the delivered prefix of each file is kept beside
// it (`<file>.synced`), so re-running sync, a sync interrupted half-way, or a batch that had in fact
// reached the server before the crash is never written twice — even after the server forgot the key (24 h).
import { appendFileSync, closeSync, existsSync, openAsBlob, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { joinPath, proxiedRoot } from './artifacts.js';
import { encodePath } from './client.js';
import { Transport, type Query } from './http.js';
import { END_MARKER, filesDir, mayStillBeWritten, parseSpoolFileName, removeSpoolFile, type SpoolEntry } from './spool.js';
import type { ReplayResult, RunInfoJson, SyncCallOptions, SyncReport } from './types.js';
import { sleep } from './util.js';

export type { SyncReport };
export type SyncOptions = SyncCallOptions;

/** sync stopped before the end (server unreachable, or refused our credentials); `report` is what was done. */
export class SyncError extends Error {
  /** `transient`: the server could not be reached (or kept failing); running sync again later may do. */
  constructor(message: string, readonly report: SyncReport, readonly transient = false) {
    super(message);
    this.name = 'SyncError';
  }
}

const MLFLOW = '/api/2.0/mlflow';
const LABLOG = '/api/2.0/lablog';
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
    return 0; // none yet, or unreadable: start over (keys, ids and PUTs still protect)
  }
}

function writeProgress(file: string, offset: number): void {
  const tmp = `${progressFile(file)}.tmp`;
  writeFileSync(tmp, JSON.stringify({ offset }));
  renameSync(tmp, progressFile(file));
}

type Outcome = { kind: 'ok'; replayed: boolean; json: unknown } | { kind: 'rejected'; status: number; code: string; message: string };

interface Ctx {
  http: Transport;
  base: string;
  opts: SyncOptions;
  report: Required<SyncReport>;
  /** Experiment ids by name, resolved (or created) once per sync. */
  experiments: Map<string, string>;
}

/** One request, retried on network errors, 408, 429 and 5xx with backoff (Retry-After honoured); throws when they persist. */
async function call(ctx: Ctx, method: string, route: string, o: { json?: unknown; query?: Query; headers?: Record<string, string>; file?: string } = {}): Promise<Outcome> {
  const retries = ctx.opts.retries ?? 6;
  const baseMs = ctx.opts.retryBaseMs ?? 250;
  let lastProblem = '';
  for (let attempt = 0; ; attempt++) {
    let waitMs = Math.min(baseMs * 2 ** attempt, 10_000) * (0.5 + Math.random() / 2);
    try {
      // A file goes as a Blob read from disk as it is sent (never whole in memory), afresh for each attempt.
      const body = o.file === undefined ? undefined : ((await openAsBlob(o.file)) as BodyInit);
      const res = await ctx.http.send(method, route, { json: o.json, query: o.query, headers: o.headers, body, timeoutMs: o.file === undefined ? undefined : 0 });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        json = undefined;
      }
      if (res.ok) return { kind: 'ok', replayed: res.headers.get('idempotent-replayed') === 'true', json };
      const err = json as { error_code?: unknown; message?: unknown } | undefined;
      const code = typeof err?.error_code === 'string' ? err.error_code : '';
      const message = typeof err?.message === 'string' ? `${code || res.status}: ${err.message.length > 300 ? `${err.message.slice(0, 300)}…` : err.message}` : text.slice(0, 300);
      if (res.status !== 408 && res.status !== 429 && res.status < 500) return { kind: 'rejected', status: res.status, code, message };
      lastProblem = `HTTP ${res.status} ${message}`;
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0) waitMs = Math.min(after * 1000, 30_000);
    } catch (err) {
      lastProblem = (err as Error).message;
    }
    if (attempt >= retries) throw new Error(`${ctx.base} unreachable after ${attempt + 1} attempts (${lastProblem})`);
    await sleep(waitMs);
  }
}

/** The id of the experiment named `name`, created when missing (as `lab.startRun({ experiment })` does). */
async function experimentIdOf(ctx: Ctx, name: string): Promise<string | Outcome> {
  const known = ctx.experiments.get(name);
  if (known !== undefined) return known;
  const byName = () => call(ctx, 'GET', `${MLFLOW}/experiments/get-by-name`, { query: { experiment_name: name } });
  let found = await byName();
  if (found.kind === 'rejected' && found.code === 'RESOURCE_DOES_NOT_EXIST') {
    const made = await call(ctx, 'POST', `${MLFLOW}/experiments/create`, { json: { name } });
    found = made.kind === 'rejected' && made.code === 'RESOURCE_ALREADY_EXISTS' ? await byName() : made; // created meanwhile
  }
  if (found.kind === 'rejected') return found;
  const json = found.json as { experiment_id?: string; experiment?: { experiment_id?: string } };
  const id = json.experiment?.experiment_id ?? json.experiment_id;
  if (typeof id !== 'string') return { kind: 'rejected', status: 0, code: '', message: `no experiment id in the answer for '${name}'` };
  ctx.experiments.set(name, id);
  return id;
}

/** What one file's replay knows of its run: its info once created or read (for the artifact root). */
interface FileRun {
  runId: string;
  info?: RunInfoJson;
}

const rejected = (message: string): Outcome => ({ kind: 'rejected', status: 0, code: '', message });

async function artifactRootOf(ctx: Ctx, run: FileRun): Promise<string | Outcome> {
  if (!run.info?.artifact_uri) {
    const got = await call(ctx, 'GET', `${MLFLOW}/runs/get`, { query: { run_id: run.runId } });
    if (got.kind === 'rejected') return got;
    run.info = (got.json as { run?: { info?: RunInfoJson } }).run?.info;
  }
  try {
    return proxiedRoot(run.info?.artifact_uri);
  } catch (err) {
    return rejected((err as Error).message);
  }
}

/** Sends one entry where it goes. */
async function deliver(ctx: Ctx, entry: SpoolEntry, run: FileRun, file: string): Promise<Outcome> {
  switch (entry.endpoint ?? 'runs/log-batch') {
    case 'runs/log-batch':
      return call(ctx, 'POST', `${MLFLOW}/runs/log-batch`, { json: entry.body, headers: { 'idempotency-key': entry.idempotencyKey } });
    case 'runs/update':
      return call(ctx, 'POST', `${MLFLOW}/runs/update`, { json: entry.body });
    case 'lablog/runs/create': {
      const body = { ...entry.body };
      if (body.experiment_id === undefined && entry.experiment !== undefined) {
        const id = await experimentIdOf(ctx, entry.experiment);
        if (typeof id !== 'string') return id;
        body.experiment_id = id;
      }
      const out = await call(ctx, 'POST', `${LABLOG}/runs/create`, { json: body });
      if (out.kind === 'ok') run.info = (out.json as { run?: { info?: RunInfoJson } }).run?.info;
      return out;
    }
    case 'artifact': {
      const { path: artifactPath, file: name } = entry.body as { path?: unknown; file?: unknown };
      if (typeof artifactPath !== 'string' || typeof name !== 'string' || !/^[0-9a-f]+$/.test(name)) return rejected('a malformed artifact entry');
      const local = path.join(filesDir(file), name);
      if (!existsSync(local)) return rejected(`the copy of ${artifactPath} (${local}) is gone`);
      const root = await artifactRootOf(ctx, run);
      if (typeof root !== 'string') return root;
      return call(ctx, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${encodePath(joinPath(root, artifactPath))}`, {
        file: local,
        headers: { 'content-type': 'application/octet-stream' },
      });
    }
    default:
      return rejected(`unknown endpoint '${String(entry.endpoint)}'`);
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

/** Counts an accepted entry in the report. */
function tally(report: Required<SyncReport>, entry: SpoolEntry, replayed: boolean): void {
  const endpoint = entry.endpoint ?? 'runs/log-batch';
  if (endpoint === 'runs/update') report.updates++;
  else if (endpoint === 'artifact') report.artifacts++;
  else if (replayed) report.replayed++;
  else if (endpoint === 'lablog/runs/create') report.runs++;
  else {
    report.batches++;
    const metrics = (entry.body as { metrics?: unknown[] }).metrics;
    if (Array.isArray(metrics)) report.points += metrics.length;
  }
}

interface FileOutcome {
  offset: number;
  run: FileRun;
  ended: boolean;
  /** Why the rest of the file waits: its run could not be made, or is unknown to this server. */
  kept?: string;
}

/** Replays one file from its delivered offset to its last complete line. */
async function syncFile(ctx: Ctx, file: string, onLine: () => void): Promise<FileOutcome> {
  const { report, base } = ctx;
  const name = path.basename(file);
  const run: FileRun = { runId: parseSpoolFileName(name)?.runId ?? '' };
  let offset = readProgress(file);
  let ended = false;
  for (const line of readLines(file, offset)) {
    if (line.text === END_MARKER) {
      ended = true;
    } else {
      const entry = parseEntry(line.text);
      if (entry === null) {
        report.skippedLines++;
      } else {
        run.runId = entry.runId;
        let outcome: Outcome;
        try {
          outcome = await deliver(ctx, entry, run, file);
        } catch (err) {
          throw new SyncError(`sync stopped at ${name}: ${(err as Error).message}`, report, true);
        }
        if (outcome.kind === 'ok') {
          tally(report, entry, outcome.replayed);
        } else if (outcome.status === 401 || outcome.status === 403) {
          throw new SyncError(`sync stopped: the server refused the credentials (${outcome.message})`, report);
        } else if (entry.endpoint === 'lablog/runs/create') {
          // Nothing after it can land without the run: the file waits (another server, or a fix).
          const kept = `${name}: run ${entry.runId} could not be created on ${base} (${outcome.message}); file kept`;
          report.errors.push(kept);
          return { offset, run, ended, kept };
        } else if (outcome.status === 404 && outcome.code !== 'ENDPOINT_NOT_FOUND' && entry.endpoint !== 'artifact') {
          const kept = `${name}: run ${entry.runId} not found on ${base} (${outcome.message}); file kept`;
          report.errors.push(kept);
          return { offset, run, ended, kept };
        } else {
          report.rejected++;
          report.errors.push(`${name}: entry ${entry.idempotencyKey} rejected, kept in ${name}.rejected (${outcome.message})`);
          appendFileSync(`${file}.rejected`, line.text + '\n');
        }
      }
    }
    offset = line.end;
    writeProgress(file, offset);
    onLine();
  }
  return { offset, run, ended };
}

/** Progress files and artifact copies whose spool file is gone (a crash between removals). */
function removeOrphans(dir: string): void {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const m = /^(.+\.jsonl)\.(synced(\.tmp)?|files)$/.exec(name);
    if (!m || existsSync(path.join(dir, m[1]))) continue;
    const writer = parseSpoolFileName(m[1]);
    if (writer && mayStillBeWritten(path.join(dir, m[1]), writer.pid)) continue; // its spool file is about to be made
    removeSpoolFile(path.join(dir, m[1]));
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

function context(opts: SyncOptions): Ctx {
  const http = new Transport({ url: opts.url, headers: opts.headers, fetch: opts.fetch, requestTimeoutMs: opts.requestTimeoutMs ?? 60_000 });
  const report: Required<SyncReport> = { files: 0, batches: 0, points: 0, runs: 0, artifacts: 0, replayed: 0, updates: 0, rejected: 0, skippedLines: 0, keptFiles: 0, errors: [] };
  return { http, base: http.baseUrl, opts, report, experiments: new Map() };
}

/**
 * Replays every spool file in `dir`, in order, then removes each fully delivered file whose writer is
 * done. Transient failures (network, 429, 5xx) are retried with backoff; if they persist, or the server
 * answers 401/403, sync stops by rejecting with a SyncError (nothing is lost: run it again later).
 * A 4xx for one entry is reported and the entry skipped (kept in `<file>.rejected`); a run that cannot
 * be created, or is unknown to this server (404), keeps the rest of its file and sync goes on with the others.
 */
export async function syncSpools(dir: string, opts: SyncOptions): Promise<SyncReport> {
  const ctx = context(opts);
  const { report } = ctx;
  const files = listSpoolFiles(dir);
  const total = files.reduce((sum, f) => sum + countLines(f, readProgress(f)), 0);
  let done = 0;
  opts.onProgress?.(0, total);
  for (const file of files) {
    if (!existsSync(file)) continue; // synced and removed by a concurrent sync
    report.files++;
    const { pid } = parseSpoolFileName(path.basename(file))!;
    const out = await syncFile(ctx, file, () => opts.onProgress?.(++done, total));
    // Done with a file when its writer closed it or is gone; a torn tail of a crashed writer goes with it.
    if (out.kept === undefined && (out.ended || !mayStillBeWritten(file, pid))) {
      if (statSync(file).size > out.offset) report.skippedLines++; // the torn last line of a crashed writer
      removeSpoolFile(file);
    } else {
      report.keptFiles++; // still being written (what it holds so far was delivered), or its run is missing
    }
  }
  if (done < total) opts.onProgress?.(total, total);
  removeOrphans(dir);
  return report;
}

/**
 * Replays one spool file of this process (a run's own, while it is still open) up to its last complete
 * line, as sync does, and leaves the file in place. Never throws: a stop is reported in `stopped`.
 */
export async function replaySpool(file: string, opts: SyncOptions): Promise<ReplayResult> {
  const ctx = context(opts);
  try {
    if (!existsSync(file)) return { offset: 0, report: ctx.report };
    ctx.report.files = 1;
    const out = await syncFile(ctx, file, () => undefined);
    return { offset: out.offset, stopped: out.kept, run: out.run.info, report: ctx.report };
  } catch (err) {
    return { offset: readProgress(file), stopped: (err as Error).message, transient: err instanceof SyncError && err.transient, report: ctx.report };
  }
}
