import type { Db } from '../db.js';
import type { DatasetSummary } from '../types.js';
import { experimentKey } from './experiments.sql.js';

/** The input tag holding a dataset input's context (MLflow's MLFLOW_DATASET_CONTEXT). */
const DATASET_CONTEXT_TAG = 'mlflow.data.context';

/**
 * MLflow's `_search_datasets`: the distinct (experiment, name, digest, context) of the dataset inputs
 * in some experiments, the context tag joined on the left so that inputs without one still count.
 * MLflow leaves the order to the database; on its SQLite schema (datasets keyed by experiment_id,
 * name, digest) that is the key order, which this query states explicitly (no context first).
 */
export function createDatasetStatements(db: Db) {
  const summaries = db.prepare<[string, string, number], { experiment_id: number; name: string; digest: string; context: string | null }>(
    `SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value AS context
     FROM datasets d
     JOIN inputs i ON i.dataset_id = d.id
     LEFT JOIN input_tags t ON t.input_id = i.id AND t.key = ?
     WHERE d.experiment_id IN (SELECT value FROM json_each(?))
     ORDER BY d.experiment_id, d.name, d.digest, t.value
     LIMIT ?`,
  );
  return {
    search(experimentIds: string[], limit: number): DatasetSummary[] {
      const keys = experimentIds.map(experimentKey).filter((k): k is number => k !== null);
      if (keys.length === 0) return [];
      return summaries.all(DATASET_CONTEXT_TAG, JSON.stringify(keys), limit).map((r) => ({
        experimentId: String(r.experiment_id),
        name: r.name,
        digest: r.digest,
        context: r.context,
      }));
    },
  };
}
