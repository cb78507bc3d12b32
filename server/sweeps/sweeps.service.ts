import type { Access } from '../auth/access.js';
import type { Caller } from '../auth/permissions.js';
import { randomUUID } from 'node:crypto';
import { alreadyExists, invalid, unlessStorageUnavailable } from '../errors.js';
import type { Permission } from '../store/auth-types.js';
import type { SweepRecord, SweepStatus, TrialRow, TrialStatus } from '../store/sweep-types.js';
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

/** A sweep loaded with its trials, all states brought up to date. */
export interface SweepState {
  record: SweepRecord;
  loaded: LoadedConfig;
  trials: TrialRow[];
}

const ATTEMPTS = 8;
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

function better(goal: 'minimize' | 'maximize', a: number, b: number): boolean {
  return goal === 'minimize' ? a < b : a > b;
}

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
    const live = s.trials.filter((t) => !t.timedOut).length;
    return s.loaded.config.run_cap !== null && live >= s.loaded.config.run_cap;
  }

  /** Applies timeouts and run outcomes, and finishes a sweep that has nothing left to do. */
  async function state(sweepId: string): Promise<SweepState> {
    let record = await store.getSweep(sweepId);
    const l = loaded(record);
    const now = clock.now();
    // Looking at a sweep must work while the disk refuses writes; the timeouts apply once it takes them.
    await unlessStorageUnavailable(store.refreshTrials(sweepId, now, now - l.config.heartbeat_timeout_ms));
    const trials = await store.listTrials(sweepId, l.config.metric.name);
    const s = { record, loaded: l, trials };
    // A paused sweep whose every trial is done is over too: resuming it could hand out nothing.
    const open = record.status === 'RUNNING' || record.status === 'PAUSED';
    if (open && exhausted(s) && !trials.some((t) => t.status === 'RUNNING')) {
      // Only a sweep still open finishes: a stop that landed meanwhile wins.
      record = (await store.setSweepStatus(sweepId, ['RUNNING', 'PAUSED'], 'FINISHED', now, 'FINISHED')) ?? (await store.getSweep(sweepId));
    }
    return { ...s, record };
  }

  function view(s: SweepState): Sweep {
    const counts = { running: 0, completed: 0, failed: 0, stopped: 0 };
    let best: TrialRow | null = null;
    const goal = s.loaded.config.metric.goal;
    for (const t of s.trials) {
      counts[t.status.toLowerCase() as keyof typeof counts]++;
      if (t.status === 'COMPLETED' && t.value !== null && !Number.isNaN(t.value) && (best === null || better(goal, t.value, best.value!))) best = t;
    }
    const { config: _c, ...record } = s.record;
    return { ...record, config: s.loaded.config, gridSize: s.loaded.gridSize, counts, bestTrial: best && toTrial(best) };
  }

  const retryAfter = (s: SweepState) => Math.min(5000, Math.max(50, Math.round(s.loaded.config.heartbeat_timeout_ms / 4)));

  /** What the next trial trains: a free grid point, a random draw, or TPE's suggestion. */
  function propose(s: SweepState, number: number): { params: Assignment; gridIndex: number | null } | null {
    const { config, space } = s.loaded;
    const grid = s.loaded.grid();
    if (grid !== null) {
      const held = new Set(s.trials.filter((t) => !t.timedOut).map((t) => t.gridIndex));
      const free = grid.findIndex((_, i) => !held.has(i));
      return free < 0 ? null : { params: grid[free]!, gridIndex: free };
    }
    const rng = createRng(config.seed, 'trial', number);
    if (config.method === 'random') return { params: sampleRandom(space, rng), gridIndex: null };
    const history: TrialRecord[] = s.trials.map((t) => ({
      params: JSON.parse(t.params) as Assignment,
      state: TPE_STATE[t.status],
      value: t.value,
      step: t.step,
    }));
    const params = suggestTpe(space, history, {
      goal: config.metric.goal,
      rng,
      nStartupTrials: config.tpe.n_startup_trials,
      nEiCandidates: config.tpe.n_ei_candidates,
    });
    return { params, gridIndex: null };
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

  /** A sweep's permissions are its experiment's. */
  async function check(caller: Caller, sweepId: string, need: Permission): Promise<void> {
    if (caller.role === 'admin') return;
    await access.experiment(caller, (await store.getSweep(sweepId)).experimentId, need);
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
      await check(caller, sweepId, 'READ');
      return view(await state(sweepId));
    },
    state,
    view,

    async list(caller: Caller, experimentId: string | null, offset: number, limit: number) {
      const page = await store.listSweeps({ experimentId, offset, limit, readableBy: access.readFilter(caller) });
      const items: Sweep[] = [];
      for (const r of page.items) items.push(view(await state(r.sweepId)));
      return { items, nextOffset: page.nextOffset };
    },

    async trials(caller: Caller, sweepId: string): Promise<Trial[]> {
      await check(caller, sweepId, 'READ');
      return (await state(sweepId)).trials.map(toTrial);
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
      await check(caller, sweepId, 'EDIT');
      const requestId = ask.requestId ?? null;
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const s = await state(sweepId);
        const { record } = s;
        // A retry of a request whose answer was lost: the same trial again, whatever the sweep's state.
        const replay = requestId === null ? null : await store.trialByRequest(sweepId, requestId, s.loaded.config.metric.name);
        if (replay) return { sweep: view(s), trial: toTrial(replay) };
        if (record.status === 'PAUSED') return { sweep: view(s), retryAfterMs: retryAfter(s) };
        if (record.status !== 'RUNNING') return { sweep: view(s) };
        const number = s.trials.reduce((n, t) => Math.max(n, t.number + 1), 0);
        const proposal = exhausted(s) ? null : propose(s, number);
        if (proposal === null) return { sweep: view(s), retryAfterMs: retryAfter(s) };
        const now = clock.now();
        const runUuid = randomUUID().replaceAll('-', '');
        const runName = `${record.name}-${number}`;
        const result = await store.startTrial({
          sweepId,
          number,
          metricKey: s.loaded.config.metric.name,
          gridIndex: proposal.gridIndex,
          params: JSON.stringify(proposal.params),
          runParams: runParams(proposal.params),
          worker: ask.worker,
          requestId,
          now,
          runCap: s.loaded.config.run_cap,
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
              { key: 'lablog.sweep_trial', value: String(number) },
            ],
            artifactUri: (location) => `${location.replace(/\/+$/, '')}/${runUuid}/artifacts`,
          },
        });
        // Another worker got in between reading the trials and claiming: read them again.
        if (typeof result === 'string') continue;
        // The reply's sweep is the state just read plus this trial: no second read of every trial.
        const trials = s.trials.some((t) => t.runId === result.runId) ? s.trials : [...s.trials, result];
        return { sweep: view({ ...s, trials }), trial: toTrial(result) };
      }
      const s = await state(sweepId);
      return { sweep: view(s), retryAfterMs: retryAfter(s) };
    },
  };
}

export type SweepService = ReturnType<typeof createSweepService>;
