import { baseName, imagePath, joinPath, listFiles, proxiedRoot, uploadBytes, uploadFile } from './artifacts.js';
import { Batcher } from './batcher.js';
import type { LablogClient } from './client.js';
import { isRetryable, LablogTimeoutError } from './errors.js';
import type { Transport } from './http.js';
import type { ReplayResult, RunInfoJson, RunStatus, Spool } from './types.js';
import { backoff, clientInvalid, keyProblem, pythonNumber, sleep } from './util.js';

/** What a Run needs from its Lablog. */
export interface RunHost {
  client: LablogClient;
  http: Transport;
  flushIntervalMs: number;
  offlineAfterMs: number;
  openSpool(runId: string): Promise<Spool | null>;
  replaySpool(spool: Spool): Promise<ReplayResult | null>;
  emit(event: 'error' | 'offline' | 'online', err: Error | undefined, run: Run): void;
  forget(run: Run): void;
}

/** A run started without the server: its spool (whose first line creates it) and whether to reconnect. */
export interface OfflineStart {
  spool: Spool;
  /** Probe the server, and replay and go live when it answers (false in offline mode: `lablog sync` only). */
  autoReconnect: boolean;
}

/**
 * Numbers and booleans as Python's str() prints them (1e-05, True), so a param logged from TypeScript
 * equals the same param logged by the mlflow client, or by the server for a sweep trial (params are
 * write-once: a different spelling of the same value would be refused).
 */
function paramString(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pythonNumber(v);
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/**
 * A run being logged. log(), logParams() and setTags() are synchronous: they append to the run's
 * queues and return; a background loop sends them (see Batcher). flush() and end() wait for delivery.
 */
export class Run {
  readonly id: string;
  private _info: RunInfoJson;
  private readonly host: RunHost;
  private readonly batcher: Batcher;
  private nextStep = 0;
  private ended = false;
  private warnedEnded = false;
  private ending: Promise<void> | null = null;
  private readonly stoppers: (() => void)[] = [];
  private readonly imageSteps = new Map<string, number>();
  private readonly imageKeys: string[] = [];

  constructor(host: RunHost, info: RunInfoJson, offline?: OfflineStart) {
    this.host = host;
    this._info = info;
    this.id = info.run_id;
    this.batcher = new Batcher({
      http: host.http,
      runId: info.run_id,
      flushIntervalMs: host.flushIntervalMs,
      offlineAfterMs: host.offlineAfterMs,
      probeIntervalMs: Math.min(5000, Math.max(250, host.offlineAfterMs / 4)),
      openSpool: () => host.openSpool(info.run_id),
      initialSpool: offline?.spool,
      autoReconnect: offline?.autoReconnect ?? true,
      replaySpool: (spool) => host.replaySpool(spool),
      reconnected: (created) => {
        if (created) this.serverInfo(created);
        else if (!this._info.artifact_uri) void this.refreshInfo().catch(() => undefined); // read later by artifactRoot() if need be
      },
      error: (err) => host.emit('error', err, this),
      state: (offline) => host.emit(offline ? 'offline' : 'online', undefined, this),
    });
  }

  /**
   * The run's info as the server returned it (status and end_time updated by end()). A run started
   * offline has what the client knows until the server creates it: no artifact_uri, and an empty
   * experiment_id when only the experiment's name was given.
   */
  get info(): RunInfoJson {
    return this._info;
  }

  /** The experiment's id ('' while a run started offline only knows its experiment's name). */
  get experimentId(): string {
    return this._info.experiment_id;
  }

  /** The run's name ('' until the server names a run started offline without one). */
  get name(): string {
    return this._info.run_name ?? '';
  }

  /** Metric points, params and tags logged and not yet acknowledged by the server (or spooled). */
  get pendingPoints(): number {
    return this.batcher.pending;
  }

  /** True while batches go to the spool because the server stays unreachable. */
  get offline(): boolean {
    return this.batcher.isOffline;
  }

  /** True once end() was called. */
  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Logs metric points; synchronous, never waits on the network. `timestamp` defaults to now. `step`
   * defaults to a per-run counter that only calls without a step advance: 0, 1, 2, ...
   */
  log(metrics: Record<string, number>, opts?: { step?: number; timestamp?: number }): void {
    if (this.ended) return this.afterEnd('log');
    const step = opts?.step ?? this.nextStep++;
    if (this.batcher.queues.pushMetrics(metrics, step, opts?.timestamp ?? Date.now())) this.batcher.kickSoon();
  }

  /** Logs params (write-once on the server); values are strings, objects as JSON. Buffered. */
  logParams(params: Record<string, unknown>): void {
    if (this.ended) return this.afterEnd('logParams');
    let full = false;
    for (const k in params) full = this.batcher.queues.pushParam(k, paramString(params[k])) || full;
    if (full) this.batcher.kickSoon();
  }

  /** Sets tags (the last value wins). Buffered. */
  setTags(tags: Record<string, string>): void {
    if (this.ended) return this.afterEnd('setTags');
    let full = false;
    for (const k in tags) full = this.batcher.queues.pushTag(k, String(tags[k])) || full;
    if (full) this.batcher.kickSoon();
  }

  /** Records the random seed as the param `seed`. */
  seed(n: number): void {
    this.logParams({ seed: n });
  }

  private afterEnd(what: string): void {
    if (this.warnedEnded) return;
    this.warnedEnded = true;
    this.host.emit('error', new Error(`lablog: ${what}() on run ${this.id} after end(); dropped`), this);
  }

  /**
   * Uploads a local file (Node; streamed) into `artifactPath` (a directory, default the root), keeping its
   * name; or bytes, then `artifactPath` is the file's full path within the run's artifacts. While the run
   * is offline (or the upload keeps failing for offlineAfterMs) a copy goes to the spool instead.
   */
  async logArtifact(localPathOrBytes: string | Uint8Array, artifactPath?: string): Promise<void> {
    if (typeof localPathOrBytes === 'string') return this.putArtifact(joinPath(artifactPath, baseName(localPathOrBytes)), localPathOrBytes);
    if (!artifactPath || joinPath(artifactPath) === '') throw clientInvalid('logArtifact(bytes, artifactPath): artifactPath (the file path) is required for bytes');
    return this.putArtifact(joinPath(artifactPath), localPathOrBytes);
  }

  /** Uploads every file under `localDir` (Node), keeping the tree, into `artifactPath` (default the root). */
  async logArtifacts(localDir: string, artifactPath?: string): Promise<void> {
    const files = await listFiles(localDir);
    let next = 0;
    // A few files at a time; each one goes to the spool instead when the server cannot take it.
    const worker = async () => {
      while (next < files.length) {
        const rel = files[next++];
        await this.putArtifact(joinPath(artifactPath, rel), `${localDir}/${rel}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, files.length) }, worker));
  }

  /** One artifact at `rel` (a path within the run's artifacts): uploaded, or spooled while offline. */
  private async putArtifact(rel: string, source: string | Uint8Array): Promise<void> {
    if (this.batcher.isOffline && (await this.batcher.spoolFile(rel, source))) return;
    try {
      const path = joinPath(await this.artifactRoot(), rel);
      if (typeof source === 'string') await uploadFile(this.host.client, path, source, this.host.offlineAfterMs);
      else await uploadBytes(this.host.client, path, source, this.host.offlineAfterMs);
    } catch (err) {
      if (!isRetryable(err) || !(await this.batcher.spoolFile(rel, source))) throw err;
    }
  }

  /** The proxied root of the run's artifacts; read from the server when a run started offline lacks it. */
  private async artifactRoot(): Promise<string> {
    if (!this._info.artifact_uri) await this.refreshInfo();
    return proxiedRoot(this._info.artifact_uri);
  }

  private async refreshInfo(): Promise<void> {
    this.serverInfo((await this.host.client.runs.get({ run_id: this.id })).run.info);
  }

  /** The server's view of the run (experiment, name, artifact_uri), keeping the status end() set here. */
  private serverInfo(info: RunInfoJson): void {
    this._info = { ...info, status: this._info.status, end_time: this._info.end_time };
  }

  /**
   * Stores a PNG as the artifact `images/<key>/step_<step, 9 digits>.png` and lists `key` in the tag
   * `lablog.images` (a JSON array). `step` defaults to a per-key counter: 0, 1, 2, ...
   */
  async logImage(key: string, pngBytesOrPath: Uint8Array | string, opts?: { step?: number }): Promise<void> {
    const problem = keyProblem('metric', key);
    if (problem) throw clientInvalid(problem.replace('metric name', 'image key'));
    const step = opts?.step ?? this.imageSteps.get(key) ?? 0;
    if (!Number.isSafeInteger(step)) throw clientInvalid(`logImage: step ${step} is not an integer`);
    this.imageSteps.set(key, Math.max(step + 1, this.imageSteps.get(key) ?? 0));
    await this.putArtifact(imagePath(key, step), pngBytesOrPath);
    if (!this.imageKeys.includes(key)) {
      this.imageKeys.push(key);
      if (!this.ended) this.setTags({ 'lablog.images': JSON.stringify(this.imageKeys) });
    }
  }

  /**
   * Resolves when everything logged so far is acknowledged by the server (or spooled); rejects with the
   * first non-retryable error since the last flush, or LablogTimeoutError after `timeoutMs`.
   */
  flush(opts?: { timeoutMs?: number }): Promise<void> {
    return this.batcher.flush(opts?.timeoutMs);
  }

  /** Called by end(): stops e.g. the system metrics sampler. */
  addStopper(stop: () => void): void {
    this.stoppers.push(stop);
  }

  /**
   * Flushes, then sets the status (default FINISHED) and end time. Idempotent (a second call returns
   * the first one's promise). With `timeoutMs`, what is not delivered by then is spooled (Node), and the
   * status too. Rejects with the first delivery error since the last flush, after setting the status.
   */
  end(status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FINISHED', opts?: { timeoutMs?: number }): Promise<void> {
    this.ending ??= this.finish(status, opts?.timeoutMs);
    return this.ending;
  }

  private async finish(status: RunStatus, timeoutMs: number | undefined): Promise<void> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (const stop of this.stoppers) {
      try {
        stop();
      } catch {
        // a sampler that fails to stop must not keep the run open
      }
    }
    this.ended = true;
    let flushError: unknown = null;
    try {
      await this.batcher.flush(timeoutMs);
    } catch (err) {
      flushError = err;
    }
    if (flushError instanceof LablogTimeoutError && (await this.batcher.spillAll())) flushError = null;
    // A run waiting for the server to come back asks once more now, so that it ends live when it can.
    if (Date.now() < deadline) await this.batcher.reconnectNow();
    const endTime = Date.now();
    try {
      await this.setStatus(status, endTime, deadline);
      this._info = { ...this._info, status, end_time: endTime };
    } finally {
      this.batcher.close();
      this.host.forget(this);
    }
    if (flushError) throw flushError;
  }

  /** runs/update, retried like a batch; spooled when offline, after offlineAfterMs, or past the deadline. */
  private async setStatus(status: RunStatus, endTime: number, deadline: number): Promise<void> {
    const body = { run_id: this.id, status, end_time: endTime };
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.batcher.isOffline && (await this.batcher.spoolUpdate(body))) return;
      try {
        await this.host.http.request('POST', '/api/2.0/mlflow/runs/update', {
          json: body,
          timeoutMs: Number.isFinite(deadline) ? Math.max(500, deadline - Date.now()) : undefined, // a last chance past the deadline
        });
        return;
      } catch (err) {
        if (!isRetryable(err)) throw err;
        const now = Date.now();
        if (now - started >= this.host.offlineAfterMs || now >= deadline) {
          if (await this.batcher.spoolUpdate(body)) return;
          if (now >= deadline) throw err;
        }
        await sleep(Math.min(backoff(attempt), Math.max(0, deadline - now)));
      }
    }
  }
}
