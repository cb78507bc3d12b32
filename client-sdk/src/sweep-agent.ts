import type { Run } from './run.js';
import type { SweepHost } from './sweep.js';
import type { AgentOptions, AgentSummary, ShouldStopJson, SweepJson, SweepNextJson, SweepParams, TrialJson } from './types.js';
import { retryTransient, unref, uuid } from './util.js';

/** The work of one trial: train with `params`, log to `run`, ask `trial.shouldStop()` now and then. */
export type TrialFn<P = SweepParams> = (params: P, run: Run, trial: Trial<P>) => Promise<number | void> | number | void;

/** What the agent needs from its Sweep. */
export interface AgentContext {
  host: SweepHost;
  /** POST `sweeps/{id}/<route>`; transient failures retried unless `retry` is false. */
  call<T>(route: 'next' | 'heartbeat' | 'should-stop', body: object, retry?: boolean): Promise<T>;
  /** The objective's metric key. */
  metricName(): string;
  /** The sweep's heartbeat_timeout_ms. */
  heartbeatTimeoutMs(): number;
  /** Keeps the sweep state an answer carried. */
  seen(sweep: SweepJson): void;
  /** Who runs the trials (the runs' user, as startRun records it), when known. */
  user?: string;
}

const DEFAULT_HEARTBEAT_MS = 30_000;
/** Failures in a row after which the agent gives up: the fault is likely in the code, not the params. */
const MAX_FAILURES_IN_ROW = 3;

/** The reason of a trial's `signal` once a should-stop answered true (or the server failed the trial). */
export class TrialStoppedError extends Error {
  readonly trial: number;
  readonly reason: string;
  constructor(trial: number, reason: string) {
    super(`trial ${trial} stopped early: ${reason}`);
    this.name = 'TrialStoppedError';
    this.trial = trial;
    this.reason = reason;
  }
}

/** A trial as the agent's function sees it. */
export class Trial<P = SweepParams> {
  readonly number: number;
  readonly params: P;
  readonly runId: string;
  /** The trial as `next` handed it out. */
  readonly info: TrialJson;
  /** Aborted (with a TrialStoppedError) once a should-stop answered true, or the server failed the trial. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly ctx: AgentContext;
  private readonly run: Run;
  private answer: ShouldStopJson | null = null;
  private failedWhy: string | null = null;

  constructor(ctx: AgentContext, run: Run, json: TrialJson) {
    this.ctx = ctx;
    this.run = run;
    this.info = json;
    this.number = json.number;
    this.params = { ...json.params } as P;
    this.runId = json.run_id;
    this.signal = this.controller.signal;
  }

  /** True once a should-stop answered true, or the server failed the trial (its work is then wasted). */
  get stopped(): boolean {
    return this.answer?.should_stop === true || this.failedWhy !== null;
  }

  /** Why the trial stopped; before that, the server's reason of the last should-stop answer. */
  get stopReason(): string | undefined {
    return this.failedWhy ?? this.answer?.reason;
  }

  /** True once the server failed the trial (no heartbeat in time, or its run ended by someone else). */
  get failedByServer(): boolean {
    return this.failedWhy !== null;
  }

  /**
   * Asks the server whether to stop early. The run's pending points are delivered first, so the
   * server judges the latest values. Once it answered true, it is not asked again.
   */
  async shouldStop(): Promise<boolean> {
    if (this.stopped) return true;
    // A refused batch is reported by flush(); it must not keep the question from being asked.
    await this.run.flush().catch((err: Error) => this.ctx.host.emit(err, this.run));
    const answer = await this.ctx.call<ShouldStopJson>('should-stop', { run_id: this.runId });
    if (this.stopped) return true;
    this.answer = answer;
    if (answer.should_stop) this.controller.abort(new TrialStoppedError(this.number, answer.reason));
    return answer.should_stop;
  }

  /** The agent's: a heartbeat answered that the server failed this trial. */
  serverFailed(reason: string): void {
    if (this.failedWhy !== null) return;
    this.failedWhy = reason;
    if (!this.signal.aborted) this.controller.abort(new TrialStoppedError(this.number, reason));
  }
}

function checkOptions(opts: AgentOptions): void {
  const { count, heartbeatMs, maxWaitMs } = opts;
  if (count !== undefined && !(Number.isInteger(count) && count >= 0)) throw new RangeError(`agent: count must be an integer >= 0 (got ${count})`);
  if (heartbeatMs !== undefined && !(heartbeatMs > 0 && Number.isFinite(heartbeatMs))) throw new RangeError(`agent: heartbeatMs must be > 0 (got ${heartbeatMs})`);
  if (maxWaitMs !== undefined && !(maxWaitMs >= 0)) throw new RangeError(`agent: maxWaitMs must be >= 0 (got ${maxWaitMs})`);
}

/** The agent loop: ask for a trial, run it, until `count` trials ran, the sweep is over or `signal` aborts. */
export async function runAgent<P>(ctx: AgentContext, fn: TrialFn<P>, opts: AgentOptions): Promise<AgentSummary> {
  checkOptions(opts);
  const summary: AgentSummary = { trials: 0, stopped: 0, failed: 0 };
  let failedInRow = 0;
  while (!opts.signal?.aborted && (opts.count === undefined || summary.trials < opts.count)) {
    // One request id for this ask, kept across its retries: a lost answer gives the same trial back.
    const ask = { request_id: uuid(), ...(opts.worker === undefined ? {} : { worker: opts.worker }), ...(ctx.user ? { user: ctx.user } : {}) };
    const next = await ctx.call<SweepNextJson>('next', ask);
    ctx.seen(next.sweep);
    if (!next.trial) {
      if (next.retry_after_ms === undefined) break; // the sweep is over
      await wait(Math.min(next.retry_after_ms, opts.maxWaitMs ?? Infinity), opts.signal);
      continue;
    }
    // A trial handed out is run even if the signal aborted meanwhile: left alone, it would hold its
    // grid point until the heartbeat timeout.
    summary.trials++;
    // A third of the timeout: two heartbeats may be lost before the server gives the trial up.
    const every = Math.min(opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, ctx.heartbeatTimeoutMs() / 3);
    const outcome = await runTrial(ctx, fn, next.trial, every);
    if (outcome.kind === 'lost') {
      summary.failed++; // not the code's fault: it neither counts towards giving up nor resets the count
    } else if (outcome.kind === 'failed') {
      summary.failed++;
      if (++failedInRow >= MAX_FAILURES_IN_ROW) throw outcome.error;
    } else {
      failedInRow = 0;
      if (outcome.stopped) summary.stopped++;
    }
  }
  return summary;
}

type Outcome = { kind: 'done'; stopped: boolean } | { kind: 'failed'; error: Error } | { kind: 'lost' };

async function runTrial<P>(ctx: AgentContext, fn: TrialFn<P>, json: TrialJson, heartbeatMs: number): Promise<Outcome> {
  const run = await ctx.host.attachRun(json.run_id);
  const trial = new Trial<P>(ctx, run, json);
  const stopBeating = heartbeat(ctx, trial, run, heartbeatMs);
  try {
    let result: number | void = undefined;
    try {
      result = await fn(trial.params, run, trial);
    } catch (err) {
      if (!honoursStop(trial, err)) return await failed(ctx, run, json.number, err);
    }
    // The server's word on the trial, asked once more: a heartbeat may have been missed, or the trial
    // timed out after the last one. A trial it failed keeps its run failed: no FINISHED over it.
    const status = await serverStatus(ctx, trial, run);
    if (trial.failedByServer || status === 'FAILED') return await lost(ctx, run, trial);
    if (typeof result === 'number') {
      try {
        await logObjective(ctx, run, result);
      } catch (err) {
        return await failed(ctx, run, json.number, err);
      }
    }
    // A stopped trial still ends FINISHED: the server marks it STOPPED from its should-stop answer.
    await end(ctx, run, 'FINISHED');
    return { kind: 'done', stopped: trial.stopped || status === 'STOPPED' };
  } finally {
    stopBeating();
  }
}

/**
 * Throwing the signal's reason (itself, as the cause of an AbortError as Node's timers do, or an
 * AbortError of a library that drops the reason) once the trial stopped is how a function honours a
 * stop: not a failure.
 */
function honoursStop(trial: Trial<unknown>, err: unknown): boolean {
  if (!trial.stopped) return false;
  const reason = trial.signal.reason as unknown;
  return err === reason || (err as { cause?: unknown } | null)?.cause === reason || (err as { name?: unknown } | null)?.name === 'AbortError';
}

async function failed(ctx: AgentContext, run: Run, number: number, err: unknown): Promise<Outcome> {
  const error = err instanceof Error ? err : new Error(`trial ${number}: ${String(err)}`);
  await end(ctx, run, 'FAILED');
  ctx.host.emit(error, run);
  return { kind: 'failed', error };
}

/** The server failed the trial: its run keeps the end the server (or whoever ended it) gave it. */
async function lost(ctx: AgentContext, run: Run, trial: Trial<unknown>): Promise<Outcome> {
  const now = await retrying(ctx, () => ctx.host.client.runs.get({ run_id: run.id })).catch(() => null);
  const status = now?.run.info.status === 'KILLED' ? 'KILLED' : 'FAILED';
  await end(ctx, run, status);
  ctx.host.emit(new Error(`trial ${trial.number} was failed by the server (${trial.stopReason ?? 'its run ended'}); its run is ended ${status}`), run);
  return { kind: 'lost' };
}

/** The trial's status on the server now (a heartbeat's answer); null when it cannot be had. */
async function serverStatus(ctx: AgentContext, trial: Trial<unknown>, run: Run): Promise<TrialJson['status'] | null> {
  try {
    const { trial: now } = await ctx.call<{ trial: TrialJson }>('heartbeat', { run_id: trial.runId });
    if (now.status === 'FAILED') trial.serverFailed(now.stop_reason ?? 'its run was ended');
    return now.status;
  } catch (err) {
    ctx.host.emit(err as Error, run);
    return null;
  }
}

/** Sends heartbeats every `ms` (unref'd: they never keep Node alive); returns the stop function. */
function heartbeat(ctx: AgentContext, trial: Trial<unknown>, run: Run, ms: number): () => void {
  let inFlight = false;
  const timer = unref(
    setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      // Not retried: the next beat is the retry.
      ctx
        .call<{ trial: TrialJson }>('heartbeat', { run_id: trial.runId }, false)
        .then(({ trial: now }) => {
          // Timed out (the worker was suspended, or cut off) or its run ended elsewhere: the point is
          // handed out again, so going on would be wasted work.
          if (now.status === 'FAILED') trial.serverFailed(now.stop_reason ?? 'its run was ended');
        })
        .catch((err: Error) => ctx.host.emit(err, run))
        .finally(() => (inFlight = false));
    }, ms),
  );
  return () => clearInterval(timer);
}

/** Logs fn's result as the objective, one step past every step the run logged, so it is the latest value. */
async function logObjective(ctx: AgentContext, run: Run, value: number): Promise<void> {
  await run.flush().catch((err: Error) => ctx.host.emit(err, run));
  const { run: now } = await retrying(ctx, () => ctx.host.client.runs.get({ run_id: run.id }));
  const steps = (now.data.metrics ?? []).map((m) => m.step);
  run.log({ [ctx.metricName()]: value }, { step: steps.length ? Math.max(...steps) + 1 : 0 });
}

async function end(ctx: AgentContext, run: Run, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
  await run.end(status).catch((err: Error) => ctx.host.emit(err, run));
}

function retrying<T>(ctx: AgentContext, fn: () => Promise<T>): Promise<T> {
  return retryTransient(fn, ctx.host.offlineAfterMs);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
