import type pg from 'pg';
import { experimentKey } from '../sqlite/experiments.sql.js';
import { DATASET_CONTEXT_TAG } from '../sqlite/search.sql.js';
import type { DatasetSummary } from '../types.js';

/** MLflow's `_search_datasets` in store/sqlite/datasets.sql.ts's order: key order, no context first, bytewise. */
export async function searchDatasetsPg(pool: pg.Pool, experimentIds: string[], limit: number): Promise<DatasetSummary[]> {
  const keys = experimentIds.map(experimentKey).filter((k): k is number => k !== null);
  if (keys.length === 0) return [];
  const res = await pool.query<{ experiment_id: number; name: string; digest: string; context: string | null }>(
    `SELECT * FROM (
       SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value AS context
       FROM datasets d
       JOIN inputs i ON i.dataset_id = d.id
       LEFT JOIN input_tags t ON t.input_id = i.id AND t.key = $1
       WHERE d.experiment_id = ANY($2::bigint[])
     ) s
     ORDER BY experiment_id, name COLLATE "C", digest COLLATE "C", context COLLATE "C" NULLS FIRST
     LIMIT $3`,
    [DATASET_CONTEXT_TAG, keys, limit],
  );
  return res.rows.map((r) => ({ experimentId: String(r.experiment_id), name: r.name, digest: r.digest, context: r.context }));
}
