import type { Run } from './run.js';
import type { SweepHost } from './sweep.js';
import type { AgentOptions, AgentSummary, ShouldStopJson, SweepJson, SweepNextJson, SweepParams, TrialJson } from './types.js';
import { sleep, unref } from './util.js';

/** The work of one trial: train with `params`, log to `run`, ask `trial.shouldStop()` now and then. */
export type TrialFn = (params: SweepParams, run: Run, trial: Trial) => Promise<number | void> | number | void;

/** What the agent needs from its Sweep. */
export interface AgentContext {
  host: SweepHost;
  /** POST `sweeps/{id}/<route>`; transient failures retried unless `retry` is false. */
  call<T>(route: 'next' | 'heartbeat' | 'should-stop', body: object, retry?: boolean): Promise<T>;
  /** The objective's metric key. */
  metricName(): string;
  /** Keeps the sweep state an answer carried. */
  seen(sweep: SweepJson): void;
}

const DEFAULT_HEARTBEAT_MS = 30_000;
/** Failures in a row after which the agent gives up: the fault is likely in the code, not the params. */
const MAX_FAILURES_IN_ROW = 3;

/** The reason of a trial's `signal` once a should-stop answered true. */
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
export class Trial {
  readonly number: number;
  readonly params: SweepParams;
  readonly runId: string;
  /** The trial as `next` handed it out. */
  readonly info: TrialJson;
  /** Aborted (with a TrialStoppedError) once a should-stop answered true. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly ctx: AgentContext;
  private readonly run: Run;
  private answer: ShouldStopJson | null = null;

  constructor(ctx: AgentContext, run: Run, json: TrialJson) {
    this.ctx = ctx;
    this.run = run;
    this.info = json;
    this.number = json.number;
    this.params = { ...json.params };
    this.runId = json.run_id;
    this.signal = this.controller.signal;
  }

  /** True once a should-stop answered true. */
  get stopped(): boolean {
    return this.answer?.should_stop === true;
  }

  /** The server's reason of the last should-stop answer. */
  get stopReason(): string | undefined {
    return this.answer?.reason;
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
}

function checkOptions(opts: AgentOptions): void {
  const { count, heartbeatMs, maxWaitMs } = opts;
  if (count !== undefined && !(Number.isInteger(count) && count >= 0)) throw new RangeError(`agent: count must be an integer >= 0 (got ${count})`);
  if (heartbeatMs !== undefined && !(heartbeatMs > 0 && Number.isFinite(heartbeatMs))) throw new RangeError(`agent: heartbeatMs must be > 0 (got ${heartbeatMs})`);
  if (maxWaitMs !== undefined && !(maxWaitMs >= 0)) throw new RangeError(`agent: maxWaitMs must be >= 0 (got ${maxWaitMs})`);
}

/** The agent loop: ask for a trial, run it, until `count` trials ran or the sweep is over. */
export async function runAgent(ctx: AgentContext, fn: TrialFn, opts: AgentOptions): Promise<AgentSummary> {
  checkOptions(opts);
  const summary: AgentSummary = { trials: 0, stopped: 0, failed: 0 };
  let failedInRow = 0;
  while (opts.count === undefined || summary.trials < opts.count) {
    const next = await ctx.call<SweepNextJson>('next', opts.worker === undefined ? {} : { worker: opts.worker });
    ctx.seen(next.sweep);
    if (!next.trial) {
      if (next.retry_after_ms === undefined) break; // the sweep is over
      await sleep(Math.min(next.retry_after_ms, opts.maxWaitMs ?? Infinity));
      continue;
    }
    summary.trials++;
    const outcome = await runTrial(ctx, fn, next.trial, opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    if (outcome.failed) {
      summary.failed++;
      if (++failedInRow >= MAX_FAILURES_IN_ROW) throw outcome.error;
      continue;
    }
    failedInRow = 0;
    if (outcome.stopped) summary.stopped++;
  }
  return summary;
}

type Outcome = { failed: false; stopped: boolean } | { failed: true; error: unknown };

async function runTrial(ctx: AgentContext, fn: TrialFn, json: TrialJson, heartbeatMs: number): Promise<Outcome> {
  const run = await ctx.host.attachRun(json.run_id);
  const trial = new Trial(ctx, run, json);
  const stopBeating = heartbeat(ctx, run, heartbeatMs);
  try {
    try {
      const result = await fn(trial.params, run, trial);
      if (typeof result === 'number') await logObjective(ctx, run, result);
    } catch (err) {
      // Throwing the signal's reason (itself, or as the cause of an AbortError, as Node's timers do)
      // is how a function honours a stop: not a failure.
      if (trial.stopped && (err === trial.signal.reason || (err as { cause?: unknown } | null)?.cause === trial.signal.reason)) {
        await end(ctx, run, 'FINISHED');
        return { failed: false, stopped: true };
      }
      await end(ctx, run, 'FAILED');
      ctx.host.emit(err instanceof Error ? err : new Error(`trial ${json.number}: ${String(err)}`), run);
      return { failed: true, error: err };
    }
    // A stopped trial still ends FINISHED: the server marks it STOPPED from its should-stop answer.
    await end(ctx, run, 'FINISHED');
    return { failed: false, stopped: trial.stopped };
  } finally {
    stopBeating();
  }
}

/** Sends heartbeats every `ms` (unref'd: they never keep Node alive); returns the stop function. */
function heartbeat(ctx: AgentContext, run: Run, ms: number): () => void {
  let inFlight = false;
  const timer = unref(
    setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      // Not retried: the next beat is the retry.
      ctx
        .call('heartbeat', { run_id: run.id }, false)
        .catch((err: Error) => ctx.host.emit(err, run))
        .finally(() => (inFlight = false));
    }, ms),
  );
  return () => clearInterval(timer);
}

/** Logs fn's result as the objective, one step past every step the run logged, so it is the latest value. */
async function logObjective(ctx: AgentContext, run: Run, value: number): Promise<void> {
  await run.flush().catch((err: Error) => ctx.host.emit(err, run));
  const { run: now } = await ctx.host.client.runs.get({ run_id: run.id });
  const steps = (now.data.metrics ?? []).map((m) => m.step);
  run.log({ [ctx.metricName()]: value }, { step: steps.length ? Math.max(...steps) + 1 : 0 });
}

async function end(ctx: AgentContext, run: Run, status: 'FINISHED' | 'FAILED'): Promise<void> {
  await run.end(status).catch((err: Error) => ctx.host.emit(err, run));
}
