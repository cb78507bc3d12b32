import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends, buildTestApp, seedRun, type TestApp } from '../helper.js';

// Issue 11: validation errors worded as MLflow 2.10 words them. One row per case, sent over HTTP
// (inject); each row names the MLflow REST test (tests/tracking/test_rest_tracking.py) or handler it
// comes from. MLflow's tests assert substrings; these rows assert the whole message. docs/validation.md
// has the rules.

const DOCS = ' See the API docs for more information about request parameters.';
const invalid = (value: string, param: string, type: string) => `Invalid value ${value} for parameter '${param}' supplied. Hint: Value was of type '${type}'.${DOCS}`;
const missing = (param: string) => `Missing value for required parameter '${param}'.${DOCS}`;

interface Row {
  /** The MLflow test (or handler) the expectation comes from. */
  cite: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  /** A JSON body, or for GET the query; RUN is replaced by a real run id. */
  body?: unknown;
  /** The body as text, when the way a number is written matters (`9.0`). */
  raw?: string;
  contentType?: string;
  status?: number;
  code?: string;
  message: string;
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

const ROWS: Row[] = [
  // test_create_experiment_validation
  { cite: 'test_create_experiment_validation', method: 'POST', url: 'experiments/create', body: { name: 123 }, message: invalid('123', 'name', 'int') },
  { cite: 'test_create_experiment_validation', method: 'POST', url: 'experiments/create', body: {}, message: missing('name') },
  {
    cite: 'test_create_experiment_validation',
    method: 'POST',
    url: 'experiments/create',
    raw: '{"name": "experiment name", "artifact_location": 9.0, "tags": [{"key": "key", "value": "value"}]}',
    message: invalid('9.0', 'artifact_location', 'float'),
  },
  { cite: 'test_create_experiment_validation', method: 'POST', url: 'experiments/create', body: { name: 'experiment name', artifact_location: 'my_location', tags: '5' }, message: invalid('5', 'tags', 'str') },
  // How other JSON values print (Python str() of the parsed value; handlers.py _validate_param_against_schema).
  { cite: '_validate_param_against_schema (bool)', method: 'POST', url: 'experiments/create', body: { name: true }, message: invalid('True', 'name', 'bool') },
  { cite: '_validate_param_against_schema (list)', method: 'POST', url: 'experiments/create', body: { name: ['a', "it's"] }, message: invalid(`['a', "it's"]`, 'name', 'list') },
  { cite: '_validate_param_against_schema (dict)', method: 'POST', url: 'experiments/create', body: { name: { a: 1.5, b: null } }, message: invalid("{'a': 1.5, 'b': None}", 'name', 'dict') },
  { cite: '_assert_required (null)', method: 'POST', url: 'experiments/create', body: { name: null }, message: missing('name') },
  { cite: '_update_experiment schema order', method: 'POST', url: 'experiments/update', body: { new_name: 5 }, message: missing('experiment_id') },
  { cite: '_update_experiment schema order', method: 'POST', url: 'experiments/update', body: { experiment_id: '0', new_name: 5 }, message: invalid('5', 'new_name', 'int') },

  // test_log_metric_validation
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: 31, key: 'metric', value: 41, timestamp: 59, step: 26 }, message: invalid('31', 'run_id', 'int') },
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: 'RUN', key: 31, value: 41, timestamp: 59, step: 26 }, message: invalid('31', 'key', 'int') },
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: 'RUN', key: 'foo', value: 31, timestamp: 59, step: 'foo' }, message: invalid('foo', 'step', 'str') },
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: 'RUN', key: 'foo', value: 31, timestamp: 'foo', step: 41 }, message: invalid('foo', 'timestamp', 'str') },
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: null, key: 'foo', value: 31, timestamp: 59, step: 41 }, message: missing('run_id') },
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: 'RUN', value: 31, timestamp: 59, step: 41 }, message: missing('key') },
  { cite: 'test_log_metric_validation', method: 'POST', url: 'runs/log-metric', body: { run_id: 'RUN', key: null, value: 31, timestamp: 59, step: 41 }, message: missing('key') },
  { cite: '_log_metric schema (_assert_floatlike)', method: 'POST', url: 'runs/log-metric', body: { run_id: 'RUN', key: 'm', value: 'abc', timestamp: 1 }, message: invalid('abc', 'value', 'str') },
  // MLFLOW-API.md "observed": log-metric without timestamp; run_uuid stands in for run_id.
  { cite: 'observed on MLflow 2.10', method: 'POST', url: 'runs/log-metric', body: { run_uuid: 'RUN', key: 'm', value: 1 }, message: missing('timestamp') },
  { cite: '_log_metric schema order', method: 'POST', url: 'runs/log-metric', body: { key: 31, value: 1, timestamp: 1 }, message: missing('run_id') },

  // test_log_param_validation
  { cite: 'test_log_param_validation', method: 'POST', url: 'runs/log-parameter', body: { run_id: 31, key: 'param', value: 41 }, message: invalid('31', 'run_id', 'int') },
  { cite: 'test_log_param_validation', method: 'POST', url: 'runs/log-parameter', body: { run_id: 'RUN', key: 31, value: 41 }, message: invalid('31', 'key', 'int') },

  // test_set_tag_validation
  { cite: 'test_set_tag_validation', method: 'POST', url: 'runs/set-tag', body: { run_id: 31, key: 'tag', value: 41 }, message: invalid('31', 'run_id', 'int') },
  { cite: 'test_set_tag_validation', method: 'POST', url: 'runs/set-tag', body: { run_id: 'RUN', key: 'param', value: 41 }, message: invalid('41', 'value', 'int') },
  { cite: 'test_set_tag_validation', method: 'POST', url: 'runs/set-tag', body: { run_id: 'RUN', value: 'value' }, message: missing('key') },

  // test_path_validation: the whole body is {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}.
  { cite: 'test_path_validation', method: 'GET', url: 'artifacts/list', body: { run_id: 'RUN', path: '../path' }, message: 'Invalid path' },
  { cite: 'test_path_validation', method: 'GET', url: '/get-artifact', body: { run_id: 'RUN', path: '../path' }, message: 'Invalid path' },
  { cite: 'validate_path_is_safe (proxied artifacts)', method: 'GET', url: '/api/2.0/mlflow-artifacts/artifacts', body: { path: '../path' }, message: 'Invalid path' },
  { cite: 'validate_path_is_safe (proxied artifacts)', method: 'GET', url: '/api/2.0/mlflow-artifacts/artifacts/a%2F..%2F..%2Fx', message: 'Invalid path' },

  // test_log_batch_validation
  ...['metrics', 'params', 'tags'].map((field): Row => ({ cite: 'test_log_batch_validation', method: 'POST', url: 'runs/log-batch', body: { run_id: 'RUN', [field]: 'foo' }, message: invalid('foo', field, 'str') })),
  {
    cite: 'test_log_batch_validation (missing timestamp)',
    method: 'POST',
    url: 'runs/log-batch',
    body: { run_id: 'RUN', metrics: [{ key: 'mae', value: 2.5 }] },
    message: invalid("[{'key': 'mae', 'value': 2.5}]", 'metrics', 'list'),
  },

  // test_search_validation (the handler's bound), and the store's bounds for the rest.
  { cite: 'test_search_validation', method: 'POST', url: 'runs/search', body: { experiment_ids: ['0'], max_results: 123456789 }, message: invalid('123456789', 'max_results', 'int') },
  { cite: 'validation.py _validate_max_results_param', method: 'POST', url: 'runs/search', body: { experiment_ids: ['0'], max_results: 0 }, message: "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer" },
  { cite: 'test_search_experiments_max_results_validation', method: 'POST', url: 'experiments/search', body: { max_results: 1_000_000 }, message: "Invalid value 1000000 for parameter 'max_results' supplied. It must be at most 50000" },
  { cite: 'test_search_experiments_max_results_validation', method: 'POST', url: 'experiments/search', body: { max_results: 0 }, message: "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer" },
  { cite: '_search_experiments schema (_assert_intlike)', method: 'GET', url: 'experiments/search', body: { max_results: 'abc' }, message: invalid('abc', 'max_results', 'str') },
  { cite: '_search_runs schema (_assert_array)', method: 'POST', url: 'runs/search', body: { experiment_ids: '0' }, message: invalid('0', 'experiment_ids', 'str') },

  // test_get_metric_history_bulk_rejects_invalid_requests
  { cite: 'test_get_metric_history_bulk_rejects_invalid_requests', method: 'GET', url: '/ajax-api/2.0/mlflow/metrics/get-history-bulk', body: { metric_key: 'key' }, message: 'GetMetricHistoryBulk request must specify at least one run_id.' },
  {
    cite: 'test_get_metric_history_bulk_rejects_invalid_requests',
    method: 'GET',
    url: '/ajax-api/2.0/mlflow/metrics/get-history-bulk',
    body: { run_id: ids(1000, 'id_'), metric_key: 'key' },
    message: 'GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 1000 run_ids.',
  },
  { cite: 'test_get_metric_history_bulk_rejects_invalid_requests', method: 'GET', url: '/ajax-api/2.0/mlflow/metrics/get-history-bulk', body: { run_id: '123' }, message: 'GetMetricHistoryBulk request must specify a metric_key.' },

  // test_get_metric_history_bulk_interval_rejects_invalid_requests
  { cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests', method: 'GET', url: 'metrics/get-history-bulk-interval', body: { metric_key: 'key' }, message: missing('run_ids') },
  {
    cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests',
    method: 'GET',
    url: 'metrics/get-history-bulk-interval',
    body: { run_ids: ids(1000, 'id_'), metric_key: 'key' },
    message: `GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 1000 run_ids.${DOCS}`,
  },
  { cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests', method: 'GET', url: 'metrics/get-history-bulk-interval', body: { run_ids: '123', metric_key: 'key', max_results: '0' }, message: `max_results must be between 1 and 2500.${DOCS}` },
  { cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests', method: 'GET', url: 'metrics/get-history-bulk-interval', body: { run_ids: '123', metric_key: '' }, message: missing('metric_key') },
  { cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests', method: 'GET', url: 'metrics/get-history-bulk-interval', body: { run_ids: '123', max_results: '5' }, message: missing('metric_key') },
  {
    cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests',
    method: 'GET',
    url: 'metrics/get-history-bulk-interval',
    body: { run_ids: '123', metric_key: 'key', start_step: '1', end_step: '0', max_results: '5' },
    message: 'end_step must be greater than start_step. ',
  },
  {
    cite: 'test_get_metric_history_bulk_interval_rejects_invalid_requests',
    method: 'GET',
    url: 'metrics/get-history-bulk-interval',
    body: { run_ids: '123', metric_key: 'key', start_step: '1', max_results: '5' },
    message: 'If either start step or end step are specified, both must be specified.',
  },
  { cite: '_get_metric_history schema', method: 'GET', url: 'metrics/get-history', body: { run_id: 'RUN' }, message: missing('metric_key') },

  // test_search_dataset_handler_rejects_invalid_requests
  { cite: 'test_search_dataset_handler_rejects_invalid_requests', method: 'POST', url: '/ajax-api/2.0/mlflow/experiments/search-datasets', body: {}, message: 'SearchDatasets request must specify at least one experiment_id.' },
  {
    cite: 'test_search_dataset_handler_rejects_invalid_requests',
    method: 'POST',
    url: '/ajax-api/2.0/mlflow/experiments/search-datasets',
    body: { experiment_ids: ids(1000, '') },
    message: 'SearchDatasets request cannot specify more than 20 experiment_ids. Received 1000 experiment_ids.',
  },

  // test_log_inputs_validation: a missing run_id is reported before the malformed datasets.
  { cite: 'test_log_inputs_validation', method: 'POST', url: 'runs/log-inputs', body: { datasets: ['{"dataset": {"name": "name1"}}'] }, message: missing('run_id') },
  { cite: 'test_log_inputs_validation', method: 'POST', url: 'runs/log-inputs', body: { run_id: 'RUN' }, message: missing('datasets') },

  // log-model (handlers.py _log_model schema: run_id, then model_json).
  { cite: '_log_model schema', method: 'POST', url: 'runs/log-model', body: { model_json: 5 }, message: missing('run_id') },
  { cite: '_log_model schema', method: 'POST', url: 'runs/log-model', body: { run_id: 'RUN', model_json: 5 }, message: invalid('5', 'model_json', 'int') },

  // _validate_content_type
  { cite: '_validate_content_type', method: 'POST', url: 'experiments/create', raw: 'name=x', contentType: 'text/plain', message: "Bad Request. Content-Type must be one of ['application/json']." },

  // The Model Registry's handlers (handlers.py, MLflow 2.10): the same helpers, their own field order.
  { cite: '_create_registered_model schema', method: 'POST', url: 'registered-models/create', body: {}, message: missing('name') },
  { cite: '_create_registered_model schema', method: 'POST', url: 'registered-models/create', body: { name: 5 }, message: invalid('5', 'name', 'int') },
  { cite: '_create_registered_model schema', method: 'POST', url: 'registered-models/create', body: { name: 'm', tags: 'x' }, message: invalid('x', 'tags', 'str') },
  { cite: '_rename_registered_model schema', method: 'POST', url: 'registered-models/rename', body: { name: 'm' }, message: missing('new_name') },
  { cite: '_update_registered_model schema', method: 'PATCH', url: 'registered-models/update', body: { name: '' }, message: missing('name') },
  { cite: '_set_registered_model_tag schema', method: 'POST', url: 'registered-models/set-tag', body: { name: 'm', value: 'v' }, message: missing('key') },
  { cite: '_get_latest_versions schema', method: 'POST', url: 'registered-models/get-latest-versions', body: { name: 'm', stages: 'Production' }, message: invalid('Production', 'stages', 'str') },
  { cite: '_search_registered_models schema', method: 'GET', url: 'registered-models/search', body: { max_results: 'many' }, message: invalid('many', 'max_results', 'str') },
  { cite: '_create_model_version schema (name before source)', method: 'POST', url: 'model-versions/create', body: { source: 7 }, message: missing('name') },
  { cite: '_create_model_version schema', method: 'POST', url: 'model-versions/create', body: { name: 'm' }, message: missing('source') },
  { cite: '_create_model_version schema', method: 'POST', url: 'model-versions/create', body: { name: 'm', source: 'runs:/RUN/model', run_id: 12 }, message: invalid('12', 'run_id', 'int') },
  { cite: '_transition_stage schema', method: 'POST', url: 'model-versions/transition-stage', body: { name: 'm', version: '1' }, message: missing('stage') },
  { cite: '_transition_stage schema', method: 'POST', url: 'model-versions/transition-stage', body: { name: 'm', version: '1', stage: 'Staging', archive_existing_versions: 'yes' }, message: invalid('yes', 'archive_existing_versions', 'str') },
  { cite: '_set_model_version_tag schema', method: 'POST', url: 'model-versions/set-tag', body: { name: 'm', version: true, key: 'k' }, message: invalid('True', 'version', 'bool') },
  { cite: '_delete_model_version schema', method: 'DELETE', url: 'model-versions/delete', body: { name: 'm' }, message: missing('version') },
  { cite: '_set_registered_model_alias schema', method: 'POST', url: 'registered-models/alias', body: { name: 'm', version: '1' }, message: missing('alias') },
  // lablog's own routes word their schema failures the same way.
  { cite: 'lablog sweeps/create', method: 'POST', url: '/api/2.0/lablog/sweeps/create', body: {}, message: missing('experiment_id') },
  { cite: 'lablog sweeps/create', method: 'POST', url: '/api/2.0/lablog/sweeps/create', body: { experiment_id: '0', name: 's', method: 'annealing' }, message: invalid('annealing', 'method', 'str') },
  { cite: 'lablog sweeps heartbeat', method: 'POST', url: '/api/2.0/lablog/sweeps/1/heartbeat', body: { run_id: '' }, message: missing('run_id') },
  { cite: 'lablog metrics/sampled', method: 'GET', url: '/api/2.0/lablog/metrics/sampled', body: { run_ids: 'RUN', keys: 'm', buckets: '0' }, message: invalid('0', 'buckets', 'str') },
];

// Every row on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('validation messages are worded as MLflow words them', () => {
    let t: TestApp;
    let runId: string;
    before(async () => {
      t = await buildTestApp({ backend });
      ({ runId } = await seedRun(t));
    });
    after(() => t.close());

    const fill = (v: unknown): unknown =>
      v === 'RUN' ? runId : Array.isArray(v) ? v.map(fill) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)])) : v;

    for (const [i, row] of ROWS.entries()) {
      it(`${i + 1}. ${row.method} ${row.url} ${row.raw ?? JSON.stringify(row.body ?? '').slice(0, 80)} (${row.cite})`, async () => {
        const body = fill(row.body);
        const res =
          row.raw !== undefined
            ? await t.call(row.method, row.url, row.raw, { 'content-type': row.contentType ?? 'application/json' })
            : await t.call(row.method, row.url, body);
        assert.equal(res.status, row.status ?? 400, res.body.slice(0, 300));
        assert.deepEqual(res.json, { error_code: row.code ?? 'INVALID_PARAMETER_VALUE', message: row.message });
      });
    }

    it('wrote nothing for any of the refused requests', async () => {
      const run = await t.get('runs/get', { run_id: runId });
      assert.equal(run.status, 200);
      assert.equal(run.json.run.data.metrics, undefined);
      assert.equal(run.json.run.data.params, undefined);
      assert.deepEqual(run.json.run.data.tags.map((x: { key: string }) => x.key), ['mlflow.runName']);
      assert.deepEqual(run.json.run.inputs, {});
    });
  });
});
