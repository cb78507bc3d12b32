import { invalid } from '../errors.js';
import { missingValue } from '../http/validation-messages.js';

/** MLflow serves every endpoint under both prefixes; its own UI calls ajax-api. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
export const LABLOG_PREFIX = '/api/2.0/lablog';

export const SEARCH_MAX_RESULTS = 50_000;
export const SEARCH_DEFAULT_RESULTS = 1000;

/** `run_id`, or the deprecated `run_uuid` that old clients send. */
export function runIdOf(body: { run_id?: string; run_uuid?: string }): string {
  const id = body.run_id || body.run_uuid;
  if (!id) throw invalid(missingValue('run_id'));
  return id;
}

export function checkMaxResults(n: number | undefined, fallback = SEARCH_DEFAULT_RESULTS): number {
  const value = n ?? fallback;
  // MLflow's store (validation.py _validate_max_results_param) words both bounds this way.
  if (value < 1) throw invalid(`Invalid value ${value} for parameter 'max_results' supplied. It must be a positive integer`);
  if (value > SEARCH_MAX_RESULTS) throw invalid(`Invalid value ${value} for parameter 'max_results' supplied. It must be at most ${SEARCH_MAX_RESULTS}`);
  return value;
}
