import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { randomUUID } from 'node:crypto';
import { alreadyExists, invalid, unlessStorageUnavailable } from '../errors.js';
import type { Permission } from '../store/auth-types.js';
import type { SweepRecord, SweepStatus, TrialContent, TrialRow, TrialStatus, TrialSummary } from '../store/sweep-types.js';
import type { KeyValue, TrackingStore } from '../store/types.js';
import type { Clock } from '../tracking/experiments.service.js';
import { loadConfig, normalizeConfig, sameConfig, type LoadedConfig, type SweepConfig, type SweepConfigInput } from './config.js';
import { sampleRandom } from './random.js';
import { createRng } from './rng.js';
import { suggestTpe } from './tpe.js';
import type { Assignment, TrialRecord } from './types.js';

export interface Trial extends Omit<TrialRow, 'params' | 'gridIndex' | 'timedOut' | 'points'> {
  params: Assignment;
}

export interface Sweep extends Omit<SweepRecord, 'config'> {
  config: SweepConfig;
  gridSize: number | null;
  counts: { running: number; completed: number; failed: number; stopped: number };
  bestTrial: Trial | null;
}

export type NextTrial = { sweep: Sweep; trial: Trial } | { sweep: Sweep; retryAfterMs: number } | { sweep: Sweep };

/** A sweep with its trials counted, all states brought up to date. */
export interface SweepState {
  record: SweepRecord;
  loaded: LoadedConfig;
  summary: TrialSummary;
}

/** Parsed configs kept (a grid config holds its points): enough for the sweeps being worked on. */
const CONFIG_CACHE = 32;

export function toTrial(t: TrialRow): Trial {
  const { params, gridIndex: _g, timedOut: _t, points: _p, ...rest } = t;
  return { ...rest, params: JSON.parse(params) as Assignment };
}

/**
 * A number as Python's str() prints it once json.loads has read it: a Python worker that logs its trial
 * params with mlflow then writes the very strings the server logged (params are write-once).
 */
function pythonNumber(v: number): string {
  if (v === 0 || !Number.isFinite(v) || Math.abs(v) >= 1e-4) return String(v);
  const [mantissa, exponent] = v.toExponential().split('e');
  return `${mantissa}e-${String(-Number(exponent)).padStart(2, '0')}`;
}

/** Params as MLflow params: strings, as Python's str() prints numbers and booleans. */
function runParams(params: Assignment): KeyValue[] {
  return Object.entries(params).map(([key, v]) => ({
    key,
    value: typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'number' ? pythonNumber(v) : v,
  }));
}

/** A trial's status in the words of the TPE history (Optuna's trial states). */
const TPE_STATE: Record<TrialStatus, TrialRecord['state']> = { COMPLETED: 'complete', STOPPED: 'pruned', RUNNING: 'running', FAILED: 'failed' };

export function createSweepService(store: TrackingStore, clock: Clock, access: Access) {
  // Kept with the stored text they were parsed from: comparing it is cheap, where serializing the config
  // again on every request is not (a space may list 100 parameters of 1000 values each).
  const configs = new Map<string, { json: string; loaded: LoadedConfig }>();
  const remember = (sweepId: string, json: string, l: LoadedConfig): LoadedConfig => {
    configs.delete(sweepId);
    if (configs.size >= CONFIG_CACHE) configs.delete(configs.keys().next().value!);
    configs.set(sweepId, { json, loaded: l });
    return l;
  };
  const loaded = (r: SweepRecord): LoadedConfig => {
    const hit = configs.get(r.sweepId);
    return hit?.json === r.config ? hit.loaded : remember(r.sweepId, r.config, loadConfig(r.config));
  };

  function exhausted(s: SweepState): boolean {
    return s.loaded.config.run_cap !== null && s.summary.live >= s.loaded.config.run_cap;
  }

  /**
   * Applies timeouts and run outcomes, counts the trials, and finishes a sweep that has nothing left to
   * do. `read` is the sweep when the caller has just read it.
   */
  async function state(sweepId: string, read?: SweepRecord): Promise<SweepState> {
    let record = read ?? (await store.getSweep(sweepId));
    const l = loaded(record);
    const { metric } = l.config;
    const now = clock.now();
    // Looking at a sweep must work while the disk refuses writes; the timeouts apply once it takes them.
    await unlessStorageUnavailable(store.refreshTrials(sweepId, now, now - l.config.heartbeat_timeout_ms));
    const s = { record, loaded: l, summary: await store.trialSummary(sweepId, metric.name, metric.goal) };
    // A paused sweep whose every trial is done is over too: resuming it could hand out nothing.
    const open = record.status === 'RUNNING' || record.status === 'PAUSED';
    if (open && exhausted(s) && s.summary.counts.running === 0) {
      // Only a sweep still open finishes: a stop that landed meanwhile wins.
      record = (await store.setSweepStatus(sweepId, ['RUNNING', 'PAUSED'], 'FINISHED', now, 'FINISHED')) ?? (await store.getSweep(sweepId));
    }
    return { ...s, record };
  }

  function view(s: SweepState): Sweep {
    const { counts, best } = s.summary;
    const { config: _c, ...record } = s.record;
    return { ...record, config: s.loaded.config, gridSize: s.loaded.gridSize, counts, bestTrial: best && toTrial(best) };
  }

  const retryAfter = (s: SweepState) => Math.min(5000, Math.max(50, Math.round(s.loaded.config.heartbeat_timeout_ms / 4)));

  /** What trial `at.number` trains: its grid point, a random draw, or TPE's suggestion from `history`. */
  function propose(s: SweepState, at: { number: number; gridIndex: number | null }, history: TrialRecord[]): Assignment {
    const { config, space } = s.loaded;
    if (at.gridIndex !== null) return s.loaded.grid()![at.gridIndex]!;
    const rng = createRng(config.seed, 'trial', at.number);
    if (config.method === 'random') return sampleRandom(space, rng);
    return suggestTpe(space, history, {
      goal: config.metric.goal,
      rng,
      nStartupTrials: config.tpe.n_startup_trials,
      nEiCandidates: config.tpe.n_ei_candidates,
    });
  }

  /** What a worker is told when it gets no trial now, or null when it may claim one. */
  function noTrial(s: SweepState): NextTrial | null {
    if (s.record.status === 'PAUSED') return { sweep: view(s), retryAfterMs: retryAfter(s) };
    if (s.record.status !== 'RUNNING') return { sweep: view(s) };
    return exhausted(s) ? { sweep: view(s), retryAfterMs: retryAfter(s) } : null;
  }

  async function transition(sweepId: string, from: SweepStatus[], to: SweepStatus, parentRunStatus?: 'FINISHED' | 'KILLED'): Promise<Sweep> {
    const s = await state(sweepId);
    const refuse = (status: SweepStatus) => invalid(`Sweep ${sweepId} is ${status}; it cannot become ${to}`);
    if (!from.includes(s.record.status)) throw refuse(s.record.status);
    // Compare-and-set: another request may have changed the status since it was read.
    const record = await store.setSweepStatus(sweepId, from, to, clock.now(), parentRunStatus);
    if (record === null) throw refuse((await store.getSweep(sweepId)).status);
    return view({ ...s, record });
  }

  /** A sweep's permissions are its experiment's. Answers the sweep when it had to read it. */
  async function check(caller: Caller, sweepId: string, need: Permission): Promise<SweepRecord | undefined> {
    if (caller.role === 'admin') return undefined;
    const record = await store.getSweep(sweepId);
    await access.experiment(caller, record.experimentId, need);
    return record;
  }

  return {
    check,
    async create(caller: Caller, experimentId: string, name: string, input: SweepConfigInput): Promise<{ sweep: Sweep; created: boolean }> {
      await access.experiment(caller, experimentId, 'EDIT');
      if (name.length === 0 || name.length > 500) throw invalid('Sweep name must be 1 to 500 characters');
      const l = normalizeConfig(input);
      const now = clock.now();
      const parentUuid = randomUUID().replaceAll('-', '');
      const { sweep, created } = await store.createSweep({
        experimentId,
        name,
        method: l.config.method,
        config: JSON.stringify(l.config),
        now,
        parentRun: {
          runUuid: parentUuid,
          experimentId,
          userId: '',
          runName: name,
          startTime: now,
          tags: [{ key: 'mlflow.runName', value: name }],
          artifactUri: (location) => `${location.replace(/\/+$/, '')}/${parentUuid}/artifacts`,
        },
      });
      // A new sweep's config was just parsed: the state read below finds it instead of parsing it again.
      if (created) remember(sweep.sweepId, sweep.config, l);
      else if (!sameConfig(loaded(sweep).config, l.config, input.seed)) {
        throw alreadyExists(`Sweep '${name}' already exists in experiment ${experimentId} with a different config`);
      }
      return { sweep: view(await state(sweep.sweepId)), created };
    },

    async get(caller: Caller, sweepId: string) {
      return view(await state(sweepId, await check(caller, sweepId, 'READ')));
    },
    state,
    view,

    async list(caller: Caller, experimentId: string | null, offset: number, limit: number) {
      const page = await store.listSweeps({ experimentId, offset, limit, readableBy: access.readFilter(caller) });
      const items: Sweep[] = [];
      for (const r of page.items) items.push(view(await state(r.sweepId, r)));
      return { items, nextOffset: page.nextOffset };
    },

    async trials(caller: Caller, sweepId: string): Promise<Trial[]> {
      const s = await state(sweepId, await check(caller, sweepId, 'READ'));
      return (await store.listTrials(sweepId, s.loaded.config.metric.name)).map(toTrial);
    },

    async pause(caller: Caller, sweepId: string) {
      await check(caller, sweepId, 'EDIT');
      return transition(sweepId, ['RUNNING'], 'PAUSED');
    },
    async resume(caller: Caller, sweepId: string) {
      await check(caller, sweepId, 'EDIT');
      return transition(sweepId, ['PAUSED'], 'RUNNING');
    },
    async stop(caller: Caller, sweepId: string) {
      await check(caller, sweepId, 'EDIT');
      return transition(sweepId, ['RUNNING', 'PAUSED'], 'STOPPED', 'KILLED');
    },

    async next(caller: Caller, sweepId: string, ask: { worker: string; requestId?: string; user?: string }): Promise<NextTrial> {
      const s = await state(sweepId, await check(caller, sweepId, 'EDIT'));
      const { record, loaded: l } = s;
      const { metric } = l.config;
      const requestId = ask.requestId ?? null;
      const refused = noTrial(s);
      // Read before the claim, which only picks from it: TPE's history (alongside the request's trial).
      const [replay, scored] = await Promise.all([
        requestId === null ? null : store.trialByRequest(sweepId, requestId, metric.name),
        refused === null && l.config.method === 'bayes' ? store.scoredTrials(sweepId, metric.name) : [],
      ]);
      // A retry of a request whose answer was lost: the same trial again, whatever the sweep's state.
      if (replay) return { sweep: view(s), trial: toTrial(replay) };
      if (refused) return refused;
      const history: TrialRecord[] = scored.map((t) => ({ params: JSON.parse(t.params) as Assignment, state: TPE_STATE[t.status], value: t.value, step: t.step }));
      // A grid's points are listed once, before the claim rather than under it.
      l.grid();
      const now = clock.now();
      const content = (at: { number: number; gridIndex: number | null }): TrialContent => {
        const params = propose(s, at, history);
        const runUuid = randomUUID().replaceAll('-', '');
        const runName = `${record.name}-${at.number}`;
        return {
          params: JSON.stringify(params),
          runParams: runParams(params),
          run: {
            runUuid,
            experimentId: record.experimentId,
            userId: ask.user ?? '',
            runName,
            startTime: now,
            tags: [
              { key: 'mlflow.runName', value: runName },
              ...(ask.user ? [{ key: 'mlflow.user', value: ask.user }] : []),
              ...(record.parentRunId ? [{ key: 'mlflow.parentRunId', value: record.parentRunId }] : []),
              { key: 'lablog.sweep_id', value: sweepId },
              { key: 'lablog.sweep_trial', value: String(at.number) },
            ],
            artifactUri: (location) => `${location.replace(/\/+$/, '')}/${runUuid}/artifacts`,
          },
        };
      };
      const result = await store.startTrial({
        sweepId,
        metricKey: metric.name,
        gridSize: l.gridSize,
        content,
        worker: ask.worker,
        requestId,
        now,
        runCap: l.config.run_cap,
      });
      if (typeof result === 'string') {
        // The sweep changed since it was read (paused, stopped, or its cap filled by other workers).
        const later = await state(sweepId);
        return noTrial(later) ?? { sweep: view(later), retryAfterMs: retryAfter(later) };
      }
      // The reply's sweep is the state just read plus this trial, unless it was there already (a
      // retried request): trial numbers run from 0 without a gap, so it was if its number is below the count.
      const { counts, live, best } = s.summary;
      const known = result.number < counts.running + counts.completed + counts.failed + counts.stopped;
      const summary = known ? s.summary : { counts: { ...counts, running: counts.running + 1 }, live: live + 1, best };
      return { sweep: view({ ...s, summary }), trial: toTrial(result) };
    },
  };
}

export type SweepService = ReturnType<typeof createSweepService>;
