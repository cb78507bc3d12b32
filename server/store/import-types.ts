import type { DatasetInput, KeyValue, LifecycleStage, RunStatus, Series } from './types.js';

/** An experiment as another MLflow server holds it, to be copied in under the same name. */
export interface ImportedExperiment {
  name: string;
  lifecycleStage: LifecycleStage;
  creationTime: number;
  lastUpdateTime: number;
  tags: KeyValue[];
}

/** A run copied from another MLflow server, keeping its id, times, status and stage. */
export interface ImportedRun {
  runUuid: string;
  /** The lablog experiment it goes into. */
  experimentId: string;
  userId: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  lifecycleStage: LifecycleStage;
  params: KeyValue[];
  tags: KeyValue[];
  inputs: DatasetInput[];
}

/** What an upsert found: rows it wrote and rows that already held the same value. */
export interface UpsertCounts {
  created: number;
  present: number;
}

export interface ImportedRunResult {
  created: boolean;
  artifactUri: string;
  params: UpsertCounts;
  tags: UpsertCounts;
  inputs: UpsertCounts;
}

/** A stored series' point count and latest point (MLflow's rule: highest step, then timestamp, then value). */
export interface SeriesSummary {
  count: number;
  step: number;
  timestamp: number;
  value: number;
}

/**
 * Writes for `lablog import-mlflow`: keyed by the source's identities (experiment name, run id, metric
 * key), so running the import again updates rows in place instead of adding new ones. No access checks:
 * the importing command acts with the data dir owner's authority.
 */
export interface ImportStore {
  /** Creates the experiment (original times and stage) or finds it by name (keeping its stage); tags are upserted. */
  importExperiment(e: ImportedExperiment): Promise<{ experimentId: string; created: boolean; tags: UpsertCounts }>;
  /**
   * Creates the run with its original id, or updates the stored one's info to the source's; params and
   * tags are upserted (the source wins), dataset inputs added when missing. One transaction.
   */
  importRun(r: ImportedRun): Promise<ImportedRunResult>;
  /** The stored series of a run by key (empty when the run has none). */
  seriesSummaries(runUuid: string): Promise<Map<string, SeriesSummary>>;
  /** Replaces a run's whole history of one key by `points` in one transaction (any order; stored sorted). */
  replaceMetricHistory(runUuid: string, key: string, points: Series): Promise<void>;
}
