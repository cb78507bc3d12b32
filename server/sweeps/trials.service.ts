import type { Caller } from '../auth/permissions.js';
import type { TrialProgress, TrialRow } from '../store/sweep-types.js';
import type { TrackingStore } from '../store/types.js';
import type { Clock } from '../tracking/experiments.service.js';
import { ashaDecision, medianDecision, type Curve } from './early-stop.js';
import { parameterImportance } from './importance.js';
import { toTrial, type SweepService, type Trial } from './sweeps.service.js';
import type { Assignment } from './types.js';

/** Curves kept between should-stop calls, at most this many points in all. */
const CURVE_CACHE_POINTS = 2_000_000;

export interface StopAnswer {
  shouldStop: boolean;
  /** The trial's status after the decision: STOPPED when pruned, FAILED when it had timed out. */
  trialStatus: TrialRow['status'];
  reason: string;
  step: number | null;
}

/** What workers report while a trial runs: heartbeats and the early-stopping question. */
export function createTrialService(store: TrackingStore, sweeps: SweepService, clock: Clock) {
  // Every should-stop compares with every other trial's curve. Finished trials' curves no longer change,
  // so they are read once: a cached curve is reused while its run's point count is unchanged.
  const cache = new Map<string, { points: number; curve: Curve }>();
  let cachedPoints = 0;

  // Timestamps tell ASHA which trials reached a rung before this one (Optuna promotes once, for good).
  async function curves(trials: TrialProgress[], key: string): Promise<Map<string, Curve>> {
    const out = new Map<string, Curve>();
    const stale: TrialProgress[] = [];
    for (const t of trials) {
      const hit = cache.get(`${key}\u0000${t.runId}`);
      if (hit && hit.points === t.points) out.set(t.runId, hit.curve);
      else stale.push(t);
    }
    if (stale.length === 0) return out;
    const series = await store.getMetricRange({ runIds: stale.map((t) => t.runId), key, startStep: null, endStep: null });
    for (const t of stale) {
      const s = series.get(t.runId)!;
      // The store's columns are the series' own arrays (no range was asked for), so they are kept as they are.
      const curve: Curve = { steps: s.steps, values: s.values, times: s.timestamps };
      out.set(t.runId, curve);
      if (cachedPoints + curve.steps.length > CURVE_CACHE_POINTS) {
        cache.clear();
        cachedPoints = 0;
      }
      const old = cache.get(`${key}\u0000${t.runId}`);
      cachedPoints += curve.steps.length - (old?.curve.steps.length ?? 0);
      cache.set(`${key}\u0000${t.runId}`, { points: t.points, curve });
    }
    return out;
  }

  return {
    /** Records a sign of life; answers the trial and the sweep's status (a stopped sweep is news to a worker). */
    async heartbeat(caller: Caller, sweepId: string, runId: string): Promise<{ trial: Trial; sweepStatus: string }> {
      const read = await sweeps.check(caller, sweepId, 'EDIT');
      await store.touchTrial(sweepId, runId, clock.now());
      const s = await sweeps.state(sweepId, read);
      return { trial: toTrial(await store.getTrial(sweepId, runId, s.loaded.config.metric.name)), sweepStatus: s.record.status };
    },

    async shouldStop(caller: Caller, sweepId: string, runId: string): Promise<StopAnswer> {
      const read = await sweeps.check(caller, sweepId, 'EDIT');
      // The question is a sign of life too, so it is recorded before timeouts are applied.
      await store.touchTrial(sweepId, runId, clock.now());
      const s = await sweeps.state(sweepId, read);
      const { metric } = s.loaded.config;
      const trials = await store.trialProgress(sweepId, metric.name);
      const trial = trials.find((t) => t.runId === runId)!;
      if (trial.status !== 'RUNNING') {
        const why = trial.stopReason ? `: ${trial.stopReason}` : '';
        return { shouldStop: true, trialStatus: trial.status, reason: `the trial is ${trial.status}${why}`, step: trial.step };
      }
      if (s.record.status === 'STOPPED') {
        await store.stopTrial(sweepId, runId, 'the sweep was stopped', clock.now());
        return { shouldStop: true, trialStatus: 'STOPPED', reason: 'the sweep was stopped', step: trial.step };
      }
      const rule = s.loaded.config.early_terminate;
      if (rule === null) return { shouldStop: false, trialStatus: 'RUNNING', reason: 'the sweep has no early termination', step: trial.step };
      if (trial.step === null) return { shouldStop: false, trialStatus: 'RUNNING', reason: `no value of ${metric.name} logged yet`, step: null };

      const others = trials.filter((t) => t.runId !== runId && t.step !== null && (rule.type === 'asha' || t.status === 'COMPLETED'));
      const all = await curves([trial, ...others], metric.name);
      const own = all.get(runId)!;
      const rest = others.map((t) => all.get(t.runId)!).filter((c) => c.steps.length > 0);
      const decision =
        rule.type === 'asha'
          ? ashaDecision({ trial: own, others: rest, goal: metric.goal, minIter: rule.min_iter, eta: rule.eta })
          : medianDecision({ trial: own, finished: rest, goal: metric.goal, minIter: rule.min_iter, minTrials: rule.min_trials });
      if (decision.stop) await store.stopTrial(sweepId, runId, decision.reason, clock.now());
      return { shouldStop: decision.stop, trialStatus: decision.stop ? 'STOPPED' : 'RUNNING', reason: decision.reason, step: trial.step };
    },

    async importance(caller: Caller, sweepId: string) {
      const s = await sweeps.state(sweepId, await sweeps.check(caller, sweepId, 'READ'));
      const done = (await store.scoredTrials(sweepId, s.loaded.config.metric.name))
        .filter((t) => t.status === 'COMPLETED' && Number.isFinite(t.value))
        .map((t) => ({ params: JSON.parse(t.params) as Assignment, value: t.value }));
      return { importance: parameterImportance(s.loaded.space, done, s.loaded.config.metric.goal), trials: done.length };
    },
  };
}

export type TrialService = ReturnType<typeof createTrialService>;
