// Wire shapes of the MLflow REST API 2.0 as lablog serves them (snake_case, int64 as numbers), and the
// SDK's option types. Doubles may come back as the string "NaN" (MLflow 2.10's form).

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
export type WireDouble = number | string;

export interface KeyValue {
  key: string;
  value: string;
}

export interface MetricJson {
  key: string;
  value: WireDouble;
  timestamp: number;
  step: number;
  run_id?: string;
}

export interface ExperimentJson {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: 'active' | 'deleted';
  last_update_time?: number;
  creation_time?: number;
  tags?: KeyValue[];
}

export interface RunInfoJson {
  run_id: string;
  run_uuid: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: 'active' | 'deleted';
}

export interface DatasetJson {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface RunJson {
  info: RunInfoJson;
  data: { metrics?: MetricJson[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: { tags?: KeyValue[]; dataset: DatasetJson }[] };
}

export interface FileInfoJson {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

export interface MetricInput {
  key: string;
  value: number | string;
  timestamp: number;
  step?: number;
}

/** lablog's sampled read: per bucket min, max and last value with their x, in columns. */
export interface SampledSeriesJson {
  run_id: string;
  key: string;
  min_x: number[];
  min: WireDouble[];
  max_x: number[];
  max: WireDouble[];
  last_x: number[];
  last: WireDouble[];
  count: number[];
}

export interface ArtifactPreviewJson {
  path: string;
  kind: 'text' | 'csv' | 'json' | 'binary';
  content_type: string;
  total_size: number;
  truncated: boolean;
  content?: string;
}

export interface LablogOptions {
  /** Server base URL. Default: env LABLOG_TRACKING_URI, then MLFLOW_TRACKING_URI, then http://127.0.0.1:5000. */
  url?: string;
  /** Bearer token. Default: env LABLOG_TRACKING_TOKEN, then MLFLOW_TRACKING_TOKEN. */
  token?: string;
  /** Basic auth. Default: env MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD. */
  username?: string;
  password?: string;
  /** How often buffered points are sent (ms). Default 1000. */
  flushIntervalMs?: number;
  /**
   * Continuous failure after which batches go to the spool instead of memory, and after which a run the
   * server cannot create (unreachable at start) starts offline (ms). Default 30000.
   */
  offlineAfterMs?: number;
  /**
   * 'offline': runs never touch the network; everything goes to the spool for `lablog sync`.
   * 'online' (default): runs go to the server, and to the spool while it cannot be reached.
   * Default: env LABLOG_MODE, else 'online'.
   */
  mode?: 'online' | 'offline';
  /** Where spool files go (Node only). Default './lablog-spool'. */
  spoolDir?: string;
  /** Flush and end runs on exit, SIGINT and SIGTERM (Node only). Default true in Node. */
  handleExit?: boolean;
  /** Log system/* metrics every 10 s. Default false, or true when env LABLOG_SYSTEM_METRICS=1. */
  systemMetrics?: boolean;
  /** Reproducibility tags (git, source, lockfile hash) and the uncommitted diff. Default true (Node only). */
  captureSource?: boolean;
  /** Timeout of one HTTP request (ms); a timed-out batch is retried with the same idempotency key. Default 30000. */
  requestTimeoutMs?: number;
  /** The fetch to use. Default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface StartRunOptions {
  /** Experiment name; created when missing. */
  experiment?: string;
  /** Experiment id (wins over `experiment`). Default "0". */
  experimentId?: string;
  /** Run name (tag mlflow.runName). */
  name?: string;
  params?: Record<string, unknown>;
  tags?: Record<string, string>;
  /** Parent run (tag mlflow.parentRunId). */
  parent?: { readonly id: string } | string;
  /** Start time in ms since the epoch. Default now. */
  startTime?: number;
}

export interface SearchRunsOptions {
  /** Experiment names or ids. Default: every active experiment. */
  experiments?: string[];
  /** Experiment ids, taken as they are. */
  experimentIds?: string[];
  filter?: string;
  orderBy?: string[];
  /** Page size. Default 1000. */
  maxResults?: number;
  viewType?: ViewType;
}

/** What `lab.sync()` and `lablog sync` report (produced by the Node part, sync.ts). */
export interface SyncReport {
  /** Spool files looked at. */
  files: number;
  /** Entries the server accepted and wrote now. */
  batches: number;
  /** Metric points in those entries. */
  points: number;
  /** Runs started offline that the server created now (lablog's runs/create under the run's own id). */
  runs?: number;
  /** Artifacts (files logged while offline) uploaded. */
  artifacts?: number;
  /** Run status updates (a run ended while offline) applied; not counted in batches. */
  updates?: number;
  /** Entries the server already had (answered `Idempotent-Replayed: true`), not written again. */
  replayed: number;
  /** Entries refused with a 4xx (kept in `<file>.rejected`), not retried. */
  rejected?: number;
  /** Lines that could not be read: a torn last line of a crashed writer, or garbage. */
  skippedLines?: number;
  /** Files kept for a later sync (writer still alive, or their run could not be made or found). */
  keptFiles?: number;
  /** One message per rejected entry or kept file. */
  errors?: string[];
}

/** Where a spool line goes; absent means 'runs/log-batch'. */
export type SpoolEndpoint = 'runs/log-batch' | 'runs/update' | 'lablog/runs/create' | 'artifact';

/**
 * One spool line: a log-batch body; a run's final status ('runs/update'); the creation of a run started
 * offline ('lablog/runs/create', with the experiment's name when only the name is known); or a file
 * logged while offline ('artifact': `body` is `{ path, file }`, the artifact path in the run and the
 * copy kept beside the spool file).
 */
export interface SpoolEntry {
  runId: string;
  /** The request body, as it would be POSTed. */
  body: Record<string, unknown>;
  /** Sent as the Idempotency-Key header of a log-batch, so a replay is never written twice. */
  idempotencyKey: string;
  endpoint?: SpoolEndpoint;
  /** 'lablog/runs/create': the experiment's name, resolved (and created if missing) at sync time. */
  experiment?: string;
}

export interface Spool {
  /** Synchronous; one line per entry, appended in a single write. */
  append(entry: SpoolEntry): void;
  /** Writes the end marker and closes the file. */
  close?(): void;
  /** The file's path. */
  readonly path?: string;
  /** Bytes appended so far (the offset a replay must reach to have delivered everything). */
  size?(): number;
  /** Copies a file (or bytes) beside the spool and appends an 'artifact' entry for it. */
  addFile?(runId: string, artifactPath: string, source: string | Uint8Array): Promise<void>;
  /** Closes and removes the file (and what lies beside it): for a spool that was delivered in full. */
  discard?(): void;
}

/** What replaying one spool file from this process achieved (see `replaySpool` in sync.ts). */
export interface ReplayResult {
  /** Every complete line up to `offset` is delivered. */
  offset: number;
  /** Stopped early (server unreachable again, credentials refused, the run could not be made). */
  stopped?: string;
  /** The stop was the network or the server failing for a while: worth trying again, nothing to report. */
  transient?: boolean;
  /** The run as the server created it, when a 'lablog/runs/create' line was replayed. */
  run?: RunInfoJson;
  report: SyncReport;
}

export interface SyncCallOptions {
  url: string;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  onProgress?: (done: number, total: number) => void;
  /** Retries of one request on network errors, 408, 429 and 5xx before sync stops (default 6). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry, with jitter (default 250). */
  retryBaseMs?: number;
  /** Timeout of one request (ms; uploads have none). Default 60000. */
  requestTimeoutMs?: number;
}

/** What the SDK uses from `./node.js` (every member optional: each use is guarded). */
export interface NodeHooks {
  openSpool?(dir: string, runId: string): Spool;
  captureSourceTags?(): Promise<{ tags: Record<string, string>; diff?: string }>;
  startSystemMetrics?(run: { log(m: Record<string, number>, o?: { step?: number }): void }, intervalMs?: number): () => void;
  registerExitHandlers?(lab: { activeRuns(): { end(status: 'FINISHED' | 'FAILED' | 'KILLED', o?: { timeoutMs?: number }): Promise<void> }[] }, opts?: { timeoutMs?: number }): void;
  syncSpools?(dir: string, opts: SyncCallOptions): Promise<SyncReport>;
  replaySpool?(file: string, opts: SyncCallOptions): Promise<ReplayResult>;
}

// Sweeps (docs/sweeps.md): the wire shapes, and the camelCase config `lab.sweep()` takes.

export type SweepScalar = number | string | boolean;
/** Parameter name -> value; only the parameters active under their `when` conditions. */
export type SweepParams = Record<string, SweepScalar>;
/** Parent name -> the value (or values) that enable a parameter. */
export type SweepCondition = Record<string, SweepScalar | readonly SweepScalar[]>;

/** One parameter of a search space, exactly as on the wire. */
export type SweepParamSpec = { when?: SweepCondition } & (
  | { values: readonly SweepScalar[] }
  | { value: SweepScalar }
  | { distribution: 'uniform' | 'log_uniform' | 'int_uniform'; min: number; max: number }
  | { distribution: 'q_uniform'; min: number; max: number; q: number }
  | { distribution: 'normal'; mu: number; sigma: number }
);

/** The type of one parameter's value: the listed values, the constant, or a number for a distribution. */
export type SweepParamValue<S> = S extends { values: readonly (infer V)[] } ? V : S extends { value: infer V } ? V : S extends { distribution: string } ? number : SweepScalar;

/**
 * A trial's params as typed by the search space `lab.sweep(config)` was given: `{ values: ['sgd', 'adam'] }`
 * gives `'sgd' | 'adam'`, a distribution a number; a parameter with `when` may be absent, so it is optional.
 */
export type SweepParamsOf<P> = Flat<
  { -readonly [K in keyof P as P[K] extends { when: object } ? never : K]: SweepParamValue<P[K]> } & {
    -readonly [K in keyof P as P[K] extends { when: object } ? K : never]?: SweepParamValue<P[K]>;
  }
>;
type Flat<T> = { [K in keyof T]: T[K] } & {};

export type SweepMethod = 'grid' | 'random' | 'bayes';
export type SweepStatus = 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FINISHED';
export type TrialStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'STOPPED';

export type SweepGoal = 'minimize' | 'maximize';
export interface EarlyTerminateJson {
  type: 'asha' | 'median';
  min_iter?: number;
  eta?: number;
  min_trials?: number;
}

/** A sweep's config as `sweeps/create` takes it. */
export interface SweepConfigJson {
  experiment_id: string;
  name: string;
  method: SweepMethod;
  /** `goal` defaults to minimize. */
  metric: { name: string; goal?: SweepGoal };
  parameters: Record<string, SweepParamSpec>;
  run_cap?: number;
  early_terminate?: EarlyTerminateJson;
  seed?: number;
  heartbeat_timeout_ms?: number;
  tpe?: { n_startup_trials?: number; n_ei_candidates?: number };
}

/** The config a Sweep carries: normalized, the defaults filled in (seed, a grid's run_cap, timeouts, tpe). */
export interface SweepSettingsJson {
  method: SweepMethod;
  metric: { name: string; goal: SweepGoal };
  parameters: Record<string, SweepParamSpec>;
  run_cap?: number | null;
  early_terminate?: EarlyTerminateJson | null;
  seed: number;
  heartbeat_timeout_ms: number;
  tpe: { n_startup_trials: number; n_ei_candidates: number };
}

export interface TrialJson {
  number: number;
  run_id: string;
  status: TrialStatus;
  params: SweepParams;
  worker?: string | null;
  start_time: number;
  end_time?: number | null;
  last_heartbeat_time?: number | null;
  value?: WireDouble | null;
  step?: number | null;
  /** Why the trial was STOPPED (the early-stopping decision) or FAILED by a heartbeat timeout. */
  stop_reason?: string;
}

export interface SweepJson {
  sweep_id: string;
  experiment_id: string;
  name: string;
  status: SweepStatus;
  config: SweepSettingsJson;
  /** Absent once the parent run is gone (garbage-collected). */
  parent_run_id?: string;
  creation_time: number;
  last_update_time: number;
  grid_size?: number;
  counts: { running: number; completed: number; failed: number; stopped: number };
  best_trial?: TrialJson;
}

/** `sweeps/{id}/next`: a trial, or a wait (`retry_after_ms`), or neither when the sweep is over. */
export interface SweepNextJson {
  sweep: SweepJson;
  trial?: TrialJson;
  retry_after_ms?: number;
}

export interface ShouldStopJson {
  should_stop: boolean;
  /** The trial after the decision: STOPPED when pruned, FAILED when it had timed out. */
  trial_status?: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'STOPPED';
  reason: string;
  step?: number;
}

export interface SweepImportanceJson {
  /** Every parameter, most important first; the importances sum to 1 (all 0 when nothing stands out). */
  importance: { name: string; importance: number }[];
  method: string;
  /** The completed trials it was computed over. */
  trials: number;
}

/** `lab.sweep(config)`: the wire config in the SDK's camelCase. */
export interface SweepConfig {
  /** Experiment name; created when missing. */
  experiment?: string;
  /** Experiment id (wins over `experiment`). Default "0". */
  experimentId?: string;
  name: string;
  method: SweepMethod;
  /** `goal` defaults to minimize. */
  metric: { name: string; goal?: SweepGoal };
  /** The search space, in the wire's shape (declaration order is kept: parents before children). */
  parameters: Record<string, SweepParamSpec>;
  runCap?: number;
  earlyTerminate?: { type: 'asha' | 'median'; minIter?: number; eta?: number; minTrials?: number };
  seed?: number;
  heartbeatTimeoutMs?: number;
  tpe?: { nStartupTrials?: number; nEiCandidates?: number };
}

export interface AgentOptions {
  /** The most trials this agent runs. Default: until the sweep is over. */
  count?: number;
  /** A label for this worker, shown on its trials. */
  worker?: string;
  /**
   * How often a heartbeat is sent while a trial runs (ms). Default 30000; never more than a third of the
   * sweep's `heartbeat_timeout_ms`, so a trial is not timed out while its worker is alive.
   */
  heartbeatMs?: number;
  /** The longest wait between two `next` calls when the server answers `retry_after_ms` (ms). Default: the server's. */
  maxWaitMs?: number;
  /**
   * Stops the agent: no trial is asked for once it is aborted, and a wait for one (a paused sweep) ends at
   * once. A trial already running goes on to its end; pass the same signal to the training to cut it short.
   */
  signal?: AbortSignal;
}

/**
 * What `sweep.agent()` did: trials run (stopped and failed ones included), stopped early, failed (by
 * throwing, or failed by the server: timed out, or its run ended by someone else).
 */
export interface AgentSummary {
  trials: number;
  stopped: number;
  failed: number;
}
