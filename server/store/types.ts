import type { AuthStore, ReadableBy } from './auth-types.js';
import type { ImportStore } from './import-types.js';
import type { RegistryStore } from './registry-types.js';
import type { SweepStore } from './sweep-types.js';
import type { Expr, OrderKey } from '../search/ast.js';

export type LifecycleStage = 'active' | 'deleted';
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  creationTime: number;
  lastUpdateTime: number;
  tags: KeyValue[];
}

export interface RunInfo {
  runId: string;
  runName: string;
  experimentId: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  artifactUri: string;
  lifecycleStage: LifecycleStage;
}

/** A run of points in columns (step, timestamp, value), as read from storage: no object per point. */
export interface Series {
  steps: Float64Array;
  timestamps: Float64Array;
  values: Float64Array;
}

/** value NaN/±Infinity are kept as such; the wire layer encodes them. */
export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface Dataset {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string | null;
  profile?: string | null;
}

export interface DatasetInput {
  tags: KeyValue[];
  dataset: Dataset;
}

/** One distinct (experiment, dataset, context) of the runs' dataset inputs; context null when untagged. */
export interface DatasetSummary {
  experimentId: string;
  name: string;
  digest: string;
  context: string | null;
}

export interface Run {
  info: RunInfo;
  data: { metrics: MetricPoint[]; params: KeyValue[]; tags: KeyValue[] };
  inputs: { datasetInputs: DatasetInput[] };
}

export interface Page<T> {
  items: T[];
  /** Offset of the next page, or null when this was the last. */
  nextOffset: number | null;
}

export interface NewExperiment {
  name: string;
  artifactLocation: string | null;
  tags: KeyValue[];
  now: number;
}

export interface NewRun {
  runUuid: string;
  experimentId: string;
  userId: string;
  runName: string;
  startTime: number;
  tags: KeyValue[];
  /** Builds the artifact URI from the experiment's artifact location, once the experiment is known. */
  artifactUri: (experimentArtifactLocation: string) => string;
}

export interface RunUpdate {
  status?: RunStatus;
  endTime?: number;
  runName?: string;
}

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface Batch {
  metrics: MetricPoint[];
  params: KeyValue[];
  tags: KeyValue[];
}

export interface RunSearch {
  experimentIds: string[];
  filter: Expr | null;
  orderBy: OrderKey[];
  viewType: ViewType;
  offset: number;
  limit: number;
}

export interface ExperimentSearch {
  filter: Expr | null;
  /** Only experiments this user may read (absent: all). */
  readableBy?: ReadableBy;
  orderBy: OrderKey[];
  viewType: ViewType;
  offset: number;
  limit: number;
}

export interface HistoryQuery {
  runId: string;
  key: string;
  offset: number;
  limit: number | null;
}

export interface RangeQuery {
  runIds: string[];
  key: string;
  startStep: number | null;
  endStep: number | null;
}

export interface SampledQuery {
  runIds: string[];
  keys: string[];
  x: 'step' | 'time';
  start: number | null;
  end: number | null;
  buckets: number;
}

/** One bucket of a sampled series: the extreme and last points with their x, so no spike is hidden. */
export interface Bucket {
  minX: number;
  min: number;
  maxX: number;
  max: number;
  lastX: number;
  last: number;
  count: number;
}

export interface SampledSeries {
  runId: string;
  key: string;
  buckets: Bucket[];
}

/** What gc needs to know of a run: where its artifacts are and how long ago it was deleted. */
export interface GcRun {
  runId: string;
  experimentId: string;
  artifactUri: string;
  lifecycleStage: LifecycleStage;
  /** When the run was deleted; for rows deleted before that was recorded, its end or start time. */
  deletedTime: number;
}

export interface GcExperiment {
  experimentId: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  lastUpdateTime: number;
}

/**
 * Everything the tracking services need from storage. Async so that a PostgreSQL implementation can
 * sit beside the SQLite one. Methods that name a run or experiment throw RESOURCE_DOES_NOT_EXIST.
 */
export interface TrackingStore extends SweepStore, AuthStore, ImportStore, RegistryStore {
  /**
   * A token that differs after any write to the store, by this process or another (null when none can
   * be given now, e.g. inside a transaction). Read before a read, it names the state that read sees, so
   * an answer kept under it is served again only while nothing was written since. A store that cannot
   * know every writer's writes (PostgreSQL with several servers) leaves it out: nothing is kept.
   */
  answerVersion?(): string | null;
  createExperiment(e: NewExperiment): Promise<string>;
  getExperiment(id: string): Promise<Experiment>;
  getExperimentByName(name: string): Promise<Experiment | null>;
  searchExperiments(q: ExperimentSearch): Promise<Page<Experiment>>;
  renameExperiment(id: string, name: string, now: number): Promise<void>;
  setExperimentLifecycle(id: string, stage: LifecycleStage, now: number): Promise<void>;
  setExperimentTag(id: string, tag: KeyValue, now: number): Promise<void>;
  deleteExperimentTag(id: string, key: string): Promise<void>;

  createRun(r: NewRun): Promise<RunInfo>;
  /**
   * Creates the run under the id `r.runUuid` names unless a run with that id exists; an existing run is
   * returned as it is (`created` false), whatever its experiment: one transaction either way.
   */
  ensureRun(r: NewRun): Promise<{ info: RunInfo; created: boolean }>;
  getRun(runId: string): Promise<Run>;
  getRunInfo(runId: string): Promise<RunInfo>;
  updateRun(runId: string, u: RunUpdate): Promise<RunInfo>;
  setRunLifecycle(runId: string, stage: LifecycleStage, now: number): Promise<void>;
  /** Atomic: every point, param and tag is written, or (on any error) none is. */
  /**
   * With an idempotency key already applied to this run, nothing is written and `replayed` is true
   * (keys are kept at least IDEMPOTENCY_TTL_MS).
   */
  logBatch(runId: string, batch: Batch, idempotency?: { key: string; now: number }): Promise<{ replayed: boolean }>;
  deleteTag(runId: string, key: string): Promise<void>;
  /**
   * Read-modify-write of one tag of an active run in one transaction: `rewrite` gets the current value
   * (undefined when unset) and returns the new one; when it throws, nothing is written. Concurrent
   * rewrites of the same tag never lose an update.
   */
  rewriteRunTag(runId: string, key: string, rewrite: (previous: string | undefined) => string): Promise<void>;
  logInputs(runId: string, inputs: DatasetInput[]): Promise<void>;
  /** The distinct dataset summaries of these experiments (ids that do not exist match nothing), at most `limit`. */
  searchDatasets(experimentIds: string[], limit: number): Promise<DatasetSummary[]>;
  searchRuns(q: RunSearch): Promise<Page<Run>>;

  /** One page of a series in (step, timestamp) order. */
  getMetricHistory(q: HistoryQuery): Promise<{ points: Series; nextOffset: number | null }>;
  /**
   * The same page as pieces decoded lazily, for streaming long histories over many event-loop turns.
   * The page is the series as it was at this call (points logged later are not in it); a series deleted
   * or replaced while it is iterated makes the iteration throw.
   */
  streamMetricHistory(q: HistoryQuery): Promise<{ count: number; pieces: AsyncIterable<Series>; nextOffset: number | null }>;
  /** The first `limit` points of a series in (timestamp, step, value) order, as get-history-bulk answers. */
  getEarliestMetricPoints(q: { runId: string; key: string; limit: number }): Promise<Series>;
  /** All points of one key for several runs within an optional step range, sorted by step. */
  getMetricRange(q: RangeQuery): Promise<Map<string, Series>>;
  sampleMetrics(q: SampledQuery): Promise<SampledSeries[]>;

  // Permanent removal (lablog gc). Lookups return only what exists; the caller reports the rest.
  /** Deleted runs whose deletedTime <= deletedBefore (all deleted runs when null), oldest first. */
  gcListDeletedRuns(deletedBefore: number | null): Promise<GcRun[]>;
  gcGetRuns(runIds: string[]): Promise<GcRun[]>;
  /** Every run of these experiments, whatever its stage. */
  gcListExperimentRuns(experimentIds: string[]): Promise<GcRun[]>;
  /** Deleted experiments whose lastUpdateTime <= updatedBefore (all when null). */
  gcListDeletedExperiments(updatedBefore: number | null): Promise<GcExperiment[]>;
  gcGetExperiments(experimentIds: string[]): Promise<GcExperiment[]>;
  /**
   * Removes a run and everything hanging off it (params, tags, metrics, inputs; not datasets) in one
   * transaction, only if it is still deleted: false when it was restored or is gone meanwhile.
   */
  hardDeleteRun(runId: string): Promise<boolean>;
  /**
   * Removes a deleted experiment with its tags and datasets; false when it is not (or no longer) in
   * the deleted stage or does not exist. Throws INVALID_STATE while it still has runs.
   */
  hardDeleteExperiment(experimentId: string): Promise<boolean>;

  close(): Promise<void>;
}
