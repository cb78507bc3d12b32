import { isRetryable, LablogApiError, LablogTimeoutError } from './errors.js';
import type { Transport } from './http.js';
import { type Batch, M, P, Queues, T } from './queue.js';
import type { ReplayResult, RunInfoJson, Spool } from './types.js';
import { backoff, sleep, unref, uuid } from './util.js';

export interface BatcherHost {
  http: Transport;
  runId: string;
  flushIntervalMs: number;
  offlineAfterMs: number;
  /** While offline, how often the server is probed (ms). */
  probeIntervalMs: number;
  /** The run's spool (opened on first use), or null where there is none (browsers). */
  openSpool(): Promise<Spool | null>;
  /** Starts offline on this spool (a run the server has not created yet: its creation is the first line). */
  initialSpool?: Spool;
  /** While offline, probe the server and, once it answers, replay the spool and go live (false in offline mode). */
  autoReconnect: boolean;
  /** Replays the spool's lines into the server (Node); null where that cannot be done. */
  replaySpool(spool: Spool): Promise<ReplayResult | null>;
  /** The spool was delivered and the run is live; `run` is the run as the server created it, if it did now. */
  reconnected(run: RunInfoJson | undefined): void;
  error(err: Error): void;
  state(offline: boolean): void;
}

interface Waiter {
  target: number[];
  resolve: () => void;
  reject: (err: Error) => void;
}

const LOG_BATCH = '/api/2.0/mlflow/runs/log-batch';

/**
 * One run's delivery: a background loop drains the queues into log-batch requests, one in flight, each
 * with its own Idempotency-Key kept across its retries (so a retry of a batch the server did write is
 * answered without writing again). Network errors, 408, 429 and 5xx are retried with exponential
 * backoff and full jitter; after `offlineAfterMs` of continuous failure the batch and everything after
 * it go to the spool (Node) while the server is probed; other errors drop the batch and are reported.
 * Once the probe gets an answer, the spool is replayed into the server (in order, up to what was
 * appended meanwhile) before anything goes live again, so a run keeps its order and nothing waits for
 * `lablog sync`; a spool delivered in full is removed when the run ends.
 */
export class Batcher {
  readonly queues: Queues;
  private readonly acked = [0, 0, 0];
  private readonly want = [0, 0, 0];
  private waiters: Waiter[] = [];
  private pendingError: Error | null = null;
  private current: Batch | null = null;
  private pumping = false;
  private kickQueued = false;
  private closed = false;
  private failingSince: number | null = null;
  private authReported = false;
  private spool: Spool | null = null;
  private offline = false;
  private probe: ReturnType<typeof setInterval> | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  /** The replay in progress (one at a time). */
  private replaying: Promise<boolean> | null = null;
  /** The spool's bytes delivered by replays from this process. */
  private deliveredTo = 0;
  /** The last reason a replay stopped, reported once. */
  private lastStop = '';
  /** The run as the server answered its creation (a run started offline), once a replay created it. */
  private created: RunInfoJson | undefined;

  constructor(private readonly host: BatcherHost) {
    this.queues = new Queues(host.runId, (err, repeat) => this.invalid(err, repeat));
    this.timer = unref(setInterval(() => this.requestFlush(), host.flushIntervalMs));
    if (host.initialSpool) this.goOffline(host.initialSpool);
  }

  /** Entities done with: acknowledged, spooled, or dropped as invalid. */
  private done(kind: number): number {
    return this.acked[kind] + this.queues.dropped[kind];
  }

  /** Entities logged and not yet acknowledged, spooled or dropped. */
  get pending(): number {
    const l = this.queues.logged();
    return l[M] + l[P] + l[T] - this.done(M) - this.done(P) - this.done(T);
  }

  get isOffline(): boolean {
    return this.offline;
  }

  /** Called by the run after a push that filled a batch: send soon, off the caller's stack. */
  kickSoon(): void {
    if (this.pumping || this.kickQueued) return;
    this.kickQueued = true;
    queueMicrotask(() => {
      this.kickQueued = false;
      void this.pump();
    });
  }

  /** Resolves when everything logged so far is acknowledged or spooled; rejects with the first non-retryable error since the last flush. */
  flush(timeoutMs?: number): Promise<void> {
    const target = this.queues.logged();
    this.requestFlush();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { target, resolve, reject };
      if (timeoutMs !== undefined && timeoutMs >= 0 && Number.isFinite(timeoutMs)) {
        const timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new LablogTimeoutError(`flush did not finish within ${timeoutMs} ms (${this.pending} entities pending)`));
        }, timeoutMs);
        w.resolve = () => (clearTimeout(timer), resolve());
        w.reject = (e) => (clearTimeout(timer), reject(e));
      }
      this.waiters.push(w);
      this.settleWaiters();
    });
  }

  /** Sends partial batches up to what is logged now (the flush timer calls this). */
  requestFlush(): void {
    const l = this.queues.logged();
    for (let i = 0; i < 3; i++) this.want[i] = Math.max(this.want[i], l[i]);
    void this.pump();
  }

  /** Writes everything not yet acknowledged (the request in flight included) to the spool. False without a spool. */
  async spillAll(): Promise<boolean> {
    const spool = this.spool ?? (await this.host.openSpool());
    if (!spool) return false;
    this.goOffline(spool);
    let ok = !this.current || this.spoolBatch(this.current);
    for (let b = this.queues.take(); ok && b !== undefined; b = this.queues.take()) if (b) ok = this.spoolBatch(b);
    this.settleWaiters();
    return ok;
  }

  /** Appends a runs/update body (a run's final status) to the spool; false without a spool. */
  async spoolUpdate(body: Record<string, unknown>): Promise<boolean> {
    const spool = this.spool ?? (await this.host.openSpool());
    if (!spool) return false;
    this.spool = spool;
    try {
      spool.append({ runId: this.host.runId, body, idempotencyKey: uuid(), endpoint: 'runs/update' });
    } catch (err) {
      this.host.error(err as Error);
      return false;
    }
    return true;
  }

  /** Copies a file (or bytes) into the spool as an artifact of the run, and goes offline; false without a spool. */
  async spoolFile(artifactPath: string, source: string | Uint8Array): Promise<boolean> {
    const spool = this.spool ?? (await this.host.openSpool());
    if (!spool?.addFile) return false;
    await spool.addFile(this.host.runId, artifactPath, source);
    this.goOffline(spool);
    return true;
  }

  /**
   * For end(): waits for a replay in progress; while offline (and reconnecting is on), asks the server
   * once more rather than waiting for the next probe, and replays when it answers.
   */
  async reconnectNow(): Promise<void> {
    if (this.replaying) await this.replaying;
    if (this.offline && this.host.autoReconnect && !this.closed && (await this.healthy())) await this.reconnect();
  }

  /** Stops the timers and closes the spool (removed when it was delivered in full); nothing more is sent. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    const spool = this.spool;
    try {
      if (!this.offline && this.deliveredTo > 0 && spool?.size?.() === this.deliveredTo && spool.discard) spool.discard();
      else spool?.close?.();
    } catch (err) {
      this.host.error(err as Error);
    }
  }

  private shouldSend(): boolean {
    if (this.queues.empty) return false;
    if (this.queues.full) return true;
    const taken = this.queues.taken();
    return this.want[M] > taken[M] || this.want[P] > taken[P] || this.want[T] > taken[T];
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.shouldSend()) {
        const batch = this.queues.take();
        if (batch) {
          this.current = batch;
          await this.deliver(batch);
          this.current = null;
        }
        this.settleWaiters();
      }
    } finally {
      this.pumping = false;
    }
  }

  private async deliver(batch: Batch): Promise<void> {
    for (let attempt = 0; !batch.finished; attempt++) {
      if (this.offline && this.spool && this.spoolBatch(batch)) return;
      try {
        await this.host.http.request('POST', LOG_BATCH, { json: batch.body, headers: { 'idempotency-key': batch.key } });
        this.failingSince = null;
        this.authReported = false;
        this.finish(batch);
        return;
      } catch (err) {
        if (batch.finished) return; // spilled to the spool meanwhile
        if (err instanceof LablogApiError && (err.status === 401 || err.status === 403)) {
          // Credentials: not the batch's fault. Reported once, then kept (retried, and spooled in time).
          if (!this.authReported) this.host.error(err);
          this.authReported = true;
        } else if (!isRetryable(err)) {
          this.finish(batch);
          this.fail(err as Error);
          return;
        }
        const now = Date.now();
        this.failingSince ??= now;
        if (now - this.failingSince >= this.host.offlineAfterMs) {
          const spool = this.spool ?? (await this.host.openSpool());
          if (spool) {
            this.goOffline(spool);
            this.requestFlush(); // everything buffered follows into the spool
            continue;
          }
        }
        await sleep(backoff(attempt));
      }
    }
  }

  private goOffline(spool: Spool): void {
    this.spool = spool;
    if (this.offline) return;
    this.offline = true;
    this.host.state(true);
    if (this.closed || !this.host.autoReconnect) return;
    const probe = async () => {
      if (this.replaying || !(await this.healthy()) || !this.offline || this.closed) return;
      await this.reconnect();
    };
    this.probe = unref(setInterval(() => void probe(), this.host.probeIntervalMs));
  }

  /**
   * GET /health answers 200 and does not say its storage refuses writes: a server on a full disk stays
   * up for reads, and replaying into it would only meet 503s (the spool keeps the points meanwhile).
   */
  private async healthy(): Promise<boolean> {
    try {
      const res = await this.host.http.send('GET', '/health', {
        timeoutMs: Math.max(1000, this.host.probeIntervalMs),
        headers: { accept: 'application/json' }, // else lablog answers a plain OK, without the storage state
      });
      const text = await res.text().catch(() => '');
      if (!res.ok) return false;
      return !storageRefusesWrites(text);
    } catch {
      return false; // still down
    }
  }

  /** Replays the spool, then goes live; false when the replay stopped (tried again at the next probe). */
  private reconnect(): Promise<boolean> {
    this.replaying ??= this.replay().finally(() => (this.replaying = null));
    return this.replaying;
  }

  private async replay(): Promise<boolean> {
    const spool = this.spool;
    while (spool && (spool.size?.() ?? 0) > this.deliveredTo) {
      const r = await this.host.replaySpool(spool);
      if (!r) return false;
      this.created = r.run ?? this.created;
      for (const e of r.report.errors ?? []) if (e !== r.stopped) this.host.error(new Error(`lablog: ${e}`));
      if (r.stopped) {
        // The server failing again is what offline is for: the next probe tries again. Anything else
        // (credentials, a run that cannot be made) is reported, once.
        if (!r.transient && r.stopped !== this.lastStop) this.host.error(new Error(`lablog: replaying the spool stopped: ${r.stopped}`));
        this.lastStop = r.stopped;
        return false;
      }
      if (r.offset <= this.deliveredTo) return false; // the file went away under us: nothing to replay from
      this.deliveredTo = r.offset;
      // Lines appended during the replay go round again; the check and the switch below happen in one
      // synchronous step, so no batch can be spooled between them.
    }
    if (!this.offline) return true;
    this.offline = false;
    this.failingSince = null;
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    this.host.reconnected(this.created);
    this.host.state(false);
    if (!this.closed) this.requestFlush();
    return true;
  }

  /** Appends a batch to the spool; on a write failure (disk full) reports it and goes back to retrying from memory. */
  private spoolBatch(batch: Batch): boolean {
    if (batch.finished) return true;
    try {
      this.spool!.append({ runId: this.host.runId, body: JSON.parse(batch.body) as Record<string, unknown>, idempotencyKey: batch.key });
    } catch (err) {
      this.host.error(err as Error);
      this.spool = null;
      this.offline = false;
      this.failingSince = Date.now();
      if (this.probe) clearInterval(this.probe);
      this.probe = null;
      return false;
    }
    this.finish(batch);
    return true;
  }

  private finish(batch: Batch): void {
    if (batch.finished) return;
    batch.finished = true;
    this.acked[M] += batch.m;
    this.acked[P] += batch.p;
    this.acked[T] += batch.t;
  }

  private fail(err: Error): void {
    this.pendingError ??= err;
    this.host.error(err);
  }

  /** A client-side validation failure: makes the next flush reject; emitted once per distinct problem. */
  private invalid(err: LablogApiError, repeat: boolean): void {
    if (repeat) this.pendingError ??= err;
    else this.fail(err);
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const done = [this.done(M), this.done(P), this.done(T)];
    const ready = this.waiters.filter((w) => done[M] >= w.target[M] && done[P] >= w.target[P] && done[T] >= w.target[T]);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    const err = this.pendingError;
    this.pendingError = null;
    for (const w of ready) (err ? w.reject(err) : w.resolve());
  }
}

/** True when a /health body says `storage.writable: false`; anything else (older servers: plain "OK") is writable. */
function storageRefusesWrites(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    const storage = (parsed as { storage?: { writable?: unknown } } | null)?.storage;
    return storage?.writable === false;
  } catch {
    return false;
  }
}
