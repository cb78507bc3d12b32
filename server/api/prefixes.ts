import { invalid } from '../errors.js';

/** MLflow serves every endpoint under both prefixes; its own UI calls ajax-api. */
export const MLFLOW_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
export const LABLOG_PREFIX = '/api/2.0/lablog';

export const SEARCH_MAX_RESULTS = 50_000;
export const SEARCH_DEFAULT_RESULTS = 1000;

/** `run_id`, or the deprecated `run_uuid` that old clients send. */
export function runIdOf(body: { run_id?: string; run_uuid?: string }): string {
  const id = body.run_id || body.run_uuid;
  if (!id) throw invalid("Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.");
  return id;
}

export function checkMaxResults(n: number | undefined, fallback = SEARCH_DEFAULT_RESULTS): number {
  const value = n ?? fallback;
  if (value < 1 || value > SEARCH_MAX_RESULTS) {
    throw invalid(`Invalid value for request parameter max_results. It must be at most ${SEARCH_MAX_RESULTS} and at least 1, but got value ${value}`);
  }
  return value;
}
