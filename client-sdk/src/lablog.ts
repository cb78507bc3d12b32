import { LablogClient } from './client.js';
import { isRetryable, LablogApiError } from './errors.js';
import { env, isNode, Transport } from './http.js';
import { type CreateBody, type CreateState, createRun, newRunId, spoolCreation } from './run-start.js';
import { Run, type RunHost } from './run.js';
import { Sweep, sweepConfigToWire, type SweepHost } from './sweep.js';
import type { LablogOptions, NodeHooks, ReplayResult, RunJson, SearchRunsOptions, Spool, StartRunOptions, SweepConfig, SweepParamsOf, SyncCallOptions, SyncReport } from './types.js';
import { retryTransient, userName } from './util.js';

type ErrorListener = (err: Error, run?: Run) => void;
type StateListener = (run: Run) => void;

const SYSTEM_METRICS_INTERVAL_MS = 10_000;

/**
 * The entry point: `new Lablog()` reads the server URL and credentials from the options or the
 * environment; `startRun()` gives a Run to log to; `client` calls any endpoint directly.
 */
export class Lablog {
  readonly url: string;
  readonly client: LablogClient;
  readonly flushIntervalMs: number;
  readonly offlineAfterMs: number;
  readonly spoolDir: string;
  /** 'offline': runs go to the spool only, for `lablog sync`; 'online': to the server (and the spool while it is away). */
  readonly mode: 'online' | 'offline';
  private readonly http: Transport;
  private readonly fetchFn: typeof fetch | undefined;
  private readonly requestTimeoutMs: number;
  private readonly createState: CreateState = {};
  private readonly handleExit: boolean;
  private readonly systemMetrics: boolean;
  private readonly captureSource: boolean;
  private readonly runs = new Set<Run>();
  private readonly errorListeners: ErrorListener[] = [];
  private readonly stateListeners: { offline: StateListener[]; online: StateListener[] } = { offline: [], online: [] };
  private readonly experimentIds = new Map<string, string>();
  private nodeModule: Promise<NodeHooks | null> | null = null;
  private exitRegistered = false;
  private readonly host: RunHost;

  constructor(opts: LablogOptions = {}) {
    this.url = (opts.url ?? env('LABLOG_TRACKING_URI') ?? env('MLFLOW_TRACKING_URI') ?? 'http://127.0.0.1:5000').replace(/\/+$/, '');
    this.http = new Transport({
      url: this.url,
      token: opts.token ?? env('LABLOG_TRACKING_TOKEN') ?? env('MLFLOW_TRACKING_TOKEN'),
      username: opts.username ?? env('MLFLOW_TRACKING_USERNAME'),
      password: opts.password ?? env('MLFLOW_TRACKING_PASSWORD'),
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      fetch: opts.fetch,
    });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.client = new LablogClient(this.http);
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.offlineAfterMs = opts.offlineAfterMs ?? 30_000;
    this.spoolDir = opts.spoolDir ?? env('LABLOG_SPOOL_DIR') ?? './lablog-spool';
    const mode = opts.mode ?? env('LABLOG_MODE') ?? 'online';
    if (mode !== 'online' && mode !== 'offline') throw new Error(`lablog-client: mode (LABLOG_MODE) must be 'online' or 'offline', not '${mode}'`);
    this.mode = mode;
    this.fetchFn = opts.fetch;
    this.handleExit = opts.handleExit ?? true;
    this.systemMetrics = opts.systemMetrics ?? env('LABLOG_SYSTEM_METRICS') === '1';
    this.captureSource = opts.captureSource ?? true;
    this.host = {
      client: this.client,
      http: this.http,
      flushIntervalMs: this.flushIntervalMs,
      offlineAfterMs: this.offlineAfterMs,
      openSpool: (runId) => this.openSpool(runId),
      replaySpool: (spool) => this.replaySpool(spool),
      emit: (event, err, run) => this.emit(event, err, run),
      forget: (run) => this.runs.delete(run),
    };
  }

  /** `./node.js` (spool, exit, git, system metrics) under Node; null in browsers or if it fails to load. */
  private node(): Promise<NodeHooks | null> {
    if (!isNode()) return Promise.resolve(null);
    // A variable specifier: bundlers for the browser leave the Node part out.
    const spec = './node.js';
    this.nodeModule ??= import(/* webpackIgnore: true */ /* @vite-ignore */ spec).then(
      (m) => m as NodeHooks,
      (err: unknown) => {
        this.emit('error', new Error(`lablog-client: could not load its Node part: ${(err as Error)?.message ?? err}`));
        return null;
      },
    );
    return this.nodeModule;
  }

  private async openSpool(runId: string): Promise<Spool | null> {
    const mod = await this.node();
    if (typeof mod?.openSpool !== 'function') return null;
    try {
      return mod.openSpool(this.spoolDir, runId);
    } catch (err) {
      this.emit('error', err as Error);
      return null;
    }
  }

  /** Replays a run's own spool into the server (Node), retrying little: the run's probe tries again later. */
  private async replaySpool(spool: Spool): Promise<ReplayResult | null> {
    const mod = await this.node();
    if (typeof mod?.replaySpool !== 'function' || !spool.path) return null;
    return mod.replaySpool(spool.path, { ...this.syncOptions(), retries: 2, requestTimeoutMs: this.requestTimeoutMs });
  }

  private syncOptions(): SyncCallOptions {
    return { url: this.url, headers: this.http.authHeaders(), fetch: this.fetchFn };
  }

  /** Listens to delivery errors (`error`), and to a run's batches going to the spool (`offline`) and back (`online`). */
  on(event: 'error', fn: ErrorListener): this;
  on(event: 'offline' | 'online', fn: StateListener): this;
  on(event: 'error' | 'offline' | 'online', fn: ErrorListener | StateListener): this {
    if (event === 'error') this.errorListeners.push(fn as ErrorListener);
    else this.stateListeners[event].push(fn as StateListener);
    return this;
  }

  off(event: 'error' | 'offline' | 'online', fn: ErrorListener | StateListener): this {
    const list: unknown[] = event === 'error' ? this.errorListeners : this.stateListeners[event];
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Calls the listeners; one that throws does not disturb delivery (its error is rethrown asynchronously). */
  private emit(event: 'error' | 'offline' | 'online', err?: Error, run?: Run): void {
    const call = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    };
    if (event !== 'error') {
      for (const fn of [...this.stateListeners[event]]) call(() => fn(run!));
      return;
    }
    if (this.errorListeners.length === 0) {
      console.warn(`lablog${run ? ` (run ${run.id})` : ''}: ${err?.message}`);
      return;
    }
    for (const fn of [...this.errorListeners]) call(() => fn(err!, run));
  }

  /** Runs started by this instance and not ended. */
  activeRuns(): Run[] {
    return [...this.runs];
  }

  /** The id of the experiment named `name`; created when `create` and missing. */
  async experimentId(name: string, create = true): Promise<string> {
    const known = this.experimentIds.get(name);
    if (known !== undefined) return known;
    let id: string;
    try {
      const { experiment } = await this.client.experiments.getByName({ experiment_name: name });
      if (experiment.lifecycle_stage === 'deleted') {
        throw new LablogApiError('INVALID_PARAMETER_VALUE', 0, `experiment '${name}' (id ${experiment.experiment_id}) is deleted; restore it or pick another name`);
      }
      id = experiment.experiment_id;
    } catch (err) {
      if (!(err instanceof LablogApiError) || err.errorCode !== 'RESOURCE_DOES_NOT_EXIST' || !create) throw err;
      try {
        id = (await this.client.experiments.create({ name })).experiment_id;
      } catch (e) {
        if (!(e instanceof LablogApiError) || e.errorCode !== 'RESOURCE_ALREADY_EXISTS') throw e;
        id = (await this.client.experiments.getByName({ experiment_name: name })).experiment.experiment_id; // created meanwhile
      }
    }
    this.experimentIds.set(name, id);
    return id;
  }

  /**
   * Creates a run (in `experimentId`, else the experiment named `experiment`, created if missing, else
   * experiment "0") with its name, tags (mlflow.runName, mlflow.user, mlflow.parentRunId, and under
   * Node the source and git tags) and params. The run's id is made here, so creating it is idempotent.
   *
   * Offline-first (Node): in offline mode, or when the server cannot be reached for offlineAfterMs, the
   * run starts in the spool (its creation first) and logs there; online, it keeps asking the server and,
   * once it answers, creates the run under its id, replays the spool and goes live. In offline mode only
   * `lablog sync` delivers it.
   */
  async startRun(opts: StartRunOptions = {}): Promise<Run> {
    const node = await this.registerExit();
    let source: { tags: Record<string, string>; diff?: string } | undefined;
    if (node && this.captureSource && typeof node.captureSourceTags === 'function') {
      source = await node.captureSourceTags().catch((err: Error) => (this.emit('error', err), undefined));
    }
    const tags: Record<string, string> = { ...source?.tags };
    const user = tags['mlflow.user'] ?? userName();
    if (user) tags['mlflow.user'] = user;
    if (opts.name) tags['mlflow.runName'] = opts.name;
    if (opts.parent !== undefined) tags['mlflow.parentRunId'] = typeof opts.parent === 'string' ? opts.parent : opts.parent.id;
    Object.assign(tags, opts.tags);
    const body: CreateBody = {
      run_id: newRunId(),
      experiment_id: opts.experimentId,
      run_name: opts.name,
      user_id: user,
      start_time: opts.startTime ?? Date.now(),
      tags: Object.entries(tags).map(([key, value]) => ({ key, value: String(value) })),
    };
    const run = this.mode === 'offline' ? await this.startOffline(body, opts.experiment, false) : await this.startOnline(body, opts.experiment);
    this.runs.add(run);
    if (opts.params) run.logParams(opts.params);
    if (source?.diff !== undefined) {
      await run.logArtifact(new TextEncoder().encode(source.diff), 'source/git.diff').catch((err: Error) => this.emit('error', err, run));
    }
    if (node && this.systemMetrics && typeof node.startSystemMetrics === 'function') {
      run.addStopper(node.startSystemMetrics(run, SYSTEM_METRICS_INTERVAL_MS));
    }
    return run;
  }

  /** The run created on the server; offline when the server stays unreachable (or failing) for offlineAfterMs. */
  private async startOnline(body: CreateBody, experiment: string | undefined): Promise<Run> {
    const giveUpAt = Date.now() + this.offlineAfterMs;
    const left = () => Math.max(0, giveUpAt - Date.now());
    try {
      body.experiment_id ??= experiment !== undefined ? await retryTransient(() => this.experimentId(experiment), left()) : '0';
      return new Run(this.host, await createRun(this.client, { ...body, experiment_id: body.experiment_id }, this.createState, left()));
    } catch (err) {
      if (!isRetryable(err)) throw err;
      return this.startOffline(body, experiment, true, err);
    }
  }

  /** A run whose creation and everything after go to the spool; `reconnect`: go live once the server answers. */
  private async startOffline(body: CreateBody, experiment: string | undefined, reconnect: boolean, cause?: unknown): Promise<Run> {
    const spool = await this.openSpool(body.run_id);
    if (!spool) throw cause ?? new Error('lablog-client: offline runs need Node (they are kept in a spool file)');
    let info;
    try {
      info = spoolCreation(spool, body, experiment);
    } catch (err) {
      throw cause ?? err; // the spool cannot be written either (disk full): the run cannot start
    }
    return new Run(this.host, info, { spool, autoReconnect: reconnect });
  }

  /** Node's part, with the exit handlers registered once (when handleExit). */
  private async registerExit(): Promise<NodeHooks | null> {
    const node = await this.node();
    if (node && this.handleExit && !this.exitRegistered && typeof node.registerExitHandlers === 'function') {
      node.registerExitHandlers(this);
      this.exitRegistered = true;
    }
    return node;
  }

  /**
   * A Run logging to an existing RUNNING run (e.g. a sweep trial's, created by the server); ended like a
   * started one. A run that ended (or is deleted) is refused: its end() or the exit handlers would
   * overwrite the status it has.
   */
  async attachRun(runId: string): Promise<Run> {
    const { run: existing } = await this.retrying(() => this.client.runs.get({ run_id: runId }));
    const { status, lifecycle_stage: stage } = existing.info;
    if (stage === 'deleted' || status !== 'RUNNING') {
      throw new LablogApiError('INVALID_PARAMETER_VALUE', 0, `run ${runId} is ${stage === 'deleted' ? 'deleted' : status}: attachRun continues a RUNNING run only`);
    }
    const node = await this.registerExit();
    const run = new Run(this.host, existing.info);
    this.runs.add(run);
    if (node && this.systemMetrics && typeof node.startSystemMetrics === 'function') {
      run.addStopper(node.startSystemMetrics(run, SYSTEM_METRICS_INTERVAL_MS));
    }
    return run;
  }

  /**
   * A hyperparameter sweep: created from `config` (in `experimentId`, else the experiment named
   * `experiment`, created if missing, else "0"), or attached when one with the same name and config
   * exists; or, given a sweep id, that sweep. Run trials with `sweep.agent(fn)`; its params are typed
   * from `config.parameters`.
   */
  sweep<const C extends SweepConfig>(config: C): Promise<Sweep<SweepParamsOf<C['parameters']>>>;
  sweep(id: string): Promise<Sweep>;
  sweep(configOrId: SweepConfig | string): Promise<Sweep>;
  async sweep(configOrId: SweepConfig | string): Promise<Sweep<unknown>> {
    const host: SweepHost = {
      client: this.client,
      offlineAfterMs: this.offlineAfterMs,
      attachRun: (runId) => this.attachRun(runId),
      emit: (err, run) => this.emit('error', err, run),
    };
    if (typeof configOrId === 'string') return Sweep.attach(host, configOrId);
    const c = configOrId;
    // Retried as the create is, so that every worker started at once rides out a server restart.
    const experimentId = c.experimentId ?? (c.experiment !== undefined ? await this.retrying(() => this.experimentId(c.experiment!)) : '0');
    return Sweep.create(host, sweepConfigToWire(c, experimentId));
  }

  /** Runs `fn` in a new run: ended FINISHED when it resolves, FAILED (and the error rethrown) when it throws. */
  async withRun<T>(opts: StartRunOptions, fn: (run: Run) => Promise<T> | T): Promise<T> {
    const run = await this.startRun(opts);
    let result: T;
    try {
      result = await fn(run);
    } catch (err) {
      await run.end('FAILED').catch((e: Error) => this.emit('error', e, run));
      throw err;
    }
    await run.end('FINISHED');
    return result;
  }

  /** Every run matching, following every page. Experiments are given by name or id (a name that is not found is taken as an id). */
  async *searchRuns(opts: SearchRunsOptions = {}): AsyncGenerator<RunJson, void, undefined> {
    const ids = [...(opts.experimentIds ?? [])];
    for (const e of opts.experiments ?? []) ids.push(await this.searchable(e));
    if (opts.experiments === undefined && opts.experimentIds === undefined) {
      let token: string | undefined;
      do {
        const page = await this.client.experiments.search({ view_type: 'ALL', max_results: 1000, page_token: token });
        for (const e of page.experiments ?? []) if (opts.viewType === 'ALL' || e.lifecycle_stage !== 'deleted') ids.push(e.experiment_id);
        token = page.next_page_token;
      } while (token);
    }
    if (ids.length === 0) return;
    let token: string | undefined;
    do {
      const page = await this.client.runs.search({
        experiment_ids: ids,
        filter: opts.filter,
        order_by: opts.orderBy,
        max_results: opts.maxResults,
        run_view_type: opts.viewType,
        page_token: token,
      });
      for (const r of page.runs ?? []) yield r;
      token = page.next_page_token;
    } while (token);
  }

  /** An experiment for search: its id when `nameOrId` names one (deleted ones included), else `nameOrId` itself. */
  private async searchable(nameOrId: string): Promise<string> {
    try {
      return (await this.client.experiments.getByName({ experiment_name: nameOrId })).experiment.experiment_id;
    } catch (err) {
      if (err instanceof LablogApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return nameOrId;
      throw err;
    }
  }

  /** Replays the spool files in `dir` (default spoolDir) into this server, exactly once (Node). */
  async sync(dir?: string, opts: { onProgress?: (done: number, total: number) => void } = {}): Promise<SyncReport> {
    const node = await this.node();
    if (typeof node?.syncSpools !== 'function') throw new Error('lablog-client: sync() needs Node');
    return node.syncSpools(dir ?? this.spoolDir, { ...this.syncOptions(), onProgress: opts.onProgress });
  }

  private retrying<T>(fn: () => Promise<T>): Promise<T> {
    return retryTransient(fn, this.offlineAfterMs);
  }
}
