// Response schemas for the API reference only. They are written into the OpenAPI document by the swagger
// transform and never given to the routes: a route `response` schema would make Fastify serialize
// through it (dropping any field it does not list, and costing time on the hot paths).

type Json = Record<string, unknown>;

const str = { type: 'string' };
const int = { type: 'integer' };
const obj = (properties: Json, required: string[] = []): Json => ({ type: 'object', properties, ...(required.length ? { required } : {}) });
const list = (items: Json): Json => ({ type: 'array', items });
const kv = obj({ key: str, value: str });
/** MLflow writes NaN as "NaN"; other values as numbers. */
const double = { anyOf: [{ type: 'number' }, { type: 'string', enum: ['NaN'] }] };

export const errorBody = obj(
  { error_code: { type: 'string', examples: ['INVALID_PARAMETER_VALUE', 'RESOURCE_DOES_NOT_EXIST'] }, message: str },
  ['error_code', 'message'],
);

const experiment = obj({
  experiment_id: str,
  name: str,
  artifact_location: str,
  lifecycle_stage: { type: 'string', enum: ['active', 'deleted'] },
  last_update_time: int,
  creation_time: int,
  tags: list(kv),
});
const runInfo = obj({
  run_id: str,
  run_uuid: str,
  run_name: str,
  experiment_id: str,
  user_id: str,
  status: { type: 'string', enum: ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] },
  start_time: int,
  end_time: int,
  artifact_uri: str,
  lifecycle_stage: { type: 'string', enum: ['active', 'deleted'] },
});
const metric = obj({ key: str, value: double, timestamp: int, step: int });
const metricOfRun = obj({ key: str, value: double, timestamp: int, step: int, run_id: str });
const dataset = obj({ name: str, digest: str, source_type: str, source: str, schema: str, profile: str });
const run = obj({
  info: runInfo,
  data: obj({ metrics: list(metric), params: list(kv), tags: list(kv) }),
  inputs: obj({ dataset_inputs: list(obj({ tags: list(kv), dataset })) }),
});
const fileInfo = obj({ path: str, is_dir: { type: 'boolean' }, file_size: int });
const page = (field: string, items: Json) => obj({ [field]: list(items), next_page_token: str });
const empty = obj({}, []);

/** The 200 body of MLflow endpoints, by the path after `/mlflow/` (the same under /api and /ajax-api). */
const MLFLOW_OK: Record<string, Json> = {
  'experiments/create': obj({ experiment_id: str }),
  'experiments/get': obj({ experiment: experiment }),
  'experiments/get-by-name': obj({ experiment: experiment }),
  'experiments/search': page('experiments', experiment),
  'experiments/list': page('experiments', experiment),
  'experiments/search-datasets': obj({ dataset_summaries: list(obj({ experiment_id: str, name: str, digest: str, context: str })) }),
  'runs/create': obj({ run }),
  'runs/get': obj({ run }),
  'runs/update': obj({ run_info: runInfo }),
  'runs/search': page('runs', run),
  'metrics/get-history': page('metrics', metric),
  'metrics/get-history-bulk': obj({ metrics: list(metricOfRun) }),
  'metrics/get-history-bulk-interval': obj({ metrics: list(metricOfRun) }),
  'artifacts/list': obj({ root_uri: str, files: list(fileInfo), next_page_token: str }),
};
for (const p of [
  'experiments/update',
  'experiments/delete',
  'experiments/restore',
  'experiments/set-experiment-tag',
  'experiments/delete-experiment-tag',
  'runs/delete',
  'runs/restore',
  'runs/log-metric',
  'runs/log-parameter',
  'runs/set-tag',
  'runs/delete-tag',
  'runs/log-batch',
  'runs/log-model',
  'runs/log-inputs',
  'upload-artifact',
]) {
  MLFLOW_OK[p] = empty;
}

/** The 200 body of lablog's own endpoints that answer MLflow shapes, by the path after `/lablog/`. */
const LABLOG_OK: Record<string, Json> = {
  'runs/create': obj({ run }),
};

/** The documented responses of a route: its 200 body where known, and MLflow's error body for 4xx and 5xx. */
export function responsesOf(url: string): Record<string, Json> {
  const m = /^\/(?:ajax-)?api\/2\.0\/mlflow\/(.+)$/.exec(url);
  const l = /^\/api\/2\.0\/lablog\/(.+)$/.exec(url);
  const ok = m ? MLFLOW_OK[m[1]] : l ? LABLOG_OK[l[1]] : undefined;
  const error = { description: 'An error, in MLflow\'s shape', ...errorBody };
  return {
    ...(ok ? { 200: { description: 'Success', ...ok } } : {}),
    '4XX': error,
    '5XX': error,
  };
}
