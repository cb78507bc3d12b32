// runs/log-model (MLflow's experimental LogModel): validation messages, the mlflow.log-model.history
// tag after one, two and many concurrent calls, the tag value limit, and deleted runs.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError } from './api.helpers.js';

const TAG = 'mlflow.log-model.history';

// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  let runId: string;

  beforeEach(async () => {
    t = await buildTestApp({ backend });
    const res = await t.post('runs/create', { experiment_id: '0', run_name: 'models' });
    assert.equal(res.status, 200, res.body);
    runId = res.json.run.info.run_id;
  });
  afterEach(() => t.close());

  const model = (extra: Record<string, unknown> = {}) => ({
    artifact_path: 'model',
    flavors: { python_function: { loader_module: 'mlflow.sklearn', python_version: '3.11.4' } },
    utc_time_created: '2024-01-02 03:04:05.678901',
    run_id: runId,
    ...extra,
  });
  const logModel = (m: unknown, url = 'runs/log-model') => t.post(url, { run_id: runId, model_json: typeof m === 'string' ? m : JSON.stringify(m) });
  const tagValue = async (): Promise<string | undefined> => {
    const res = await t.get('runs/get', { run_id: runId });
    assert.equal(res.status, 200, res.body);
    return res.json.run.data.tags.find((x: { key: string }) => x.key === TAG)?.value;
  };

  describe('runs/log-model', () => {
    it('creates the history tag as a one-element list, written as Python json.dumps does', async () => {
      const res = await logModel(model());
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json, {});
      const value = await tagValue();
      assert.deepEqual(JSON.parse(value!), [model()]);
      assert.equal(
        value,
        `[{"artifact_path": "model", "flavors": {"python_function": {"loader_module": "mlflow.sklearn", "python_version": "3.11.4"}}, "utc_time_created": "2024-01-02 03:04:05.678901", "run_id": "${runId}"}]`,
      );
    });

    it('appends a second model after the first, under both prefixes', async () => {
      assert.equal((await logModel(model())).status, 200);
      const res = await logModel(model({ artifact_path: 'second', note: 'é' }), '/ajax-api/2.0/mlflow/runs/log-model');
      assert.equal(res.status, 200, res.body);
      const value = (await tagValue())!;
      assert.deepEqual(JSON.parse(value), [model(), model({ artifact_path: 'second', note: 'é' })]);
      assert.match(value, /"note": "\\u00e9"/, 'non-ASCII escaped as json.dumps does');
    });

    it('keeps every one of 20 concurrent calls on one run', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => logModel(model({ artifact_path: `m${i}` }))));
      for (const r of results) assert.equal(r.status, 200, r.body);
      const history = JSON.parse((await tagValue())!) as { artifact_path: string }[];
      assert.equal(history.length, 20);
      assert.deepEqual(history.map((m) => m.artifact_path).sort(), Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
    });

    it('refuses a model that would take the tag over 5000 characters, and writes nothing', async () => {
      assert.equal((await logModel(model())).status, 200);
      const before = await tagValue();
      const res = await logModel(model({ big: 'x'.repeat(5000) }));
      assertError(res, 400, 'INVALID_PARAMETER_VALUE', /^Tag value '.*' had length \d+, which exceeded length limit of 5000$/s);
      assert.equal(await tagValue(), before);
    });

    it('refuses an over-limit first model and leaves the tag unset', async () => {
      const res = await logModel(model({ big: 'x'.repeat(5000) }));
      assertError(res, 400, 'INVALID_PARAMETER_VALUE', /exceeded length limit of 5000$/);
      assert.equal(await tagValue(), undefined);
    });

    it('refuses malformed JSON with MLflow message', async () => {
      for (const bad of ['not a valid JSON', '[1, 2]', '"text"', '42', 'null']) {
        const res = await logModel(bad);
        assertError(res, 400, 'INVALID_PARAMETER_VALUE', `Malformed model info. \n ${bad} \n is not a valid JSON.`);
      }
      assert.equal(await tagValue(), undefined);
    });

    it('names the missing mandatory fields as a Python set', async () => {
      assertError(await logModel({ some: 'data' }), 400, 'INVALID_PARAMETER_VALUE', "Model json is missing mandatory fields: {'artifact_path', 'flavors', 'utc_time_created', 'run_id'}");
      const { flavors: _f, ...noFlavors } = model();
      assertError(await logModel(noFlavors), 400, 'INVALID_PARAMETER_VALUE', "Model json is missing mandatory fields: {'flavors'}");
      assert.equal(await tagValue(), undefined);
    });

    it('requires run_id and model_json', async () => {
      assertError(
        await t.post('runs/log-model', { model_json: JSON.stringify(model()) }),
        400,
        'INVALID_PARAMETER_VALUE',
        "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.",
      );
      assertError(
        await t.post('runs/log-model', { run_id: runId }),
        400,
        'INVALID_PARAMETER_VALUE',
        "Missing value for required parameter 'model_json'. See the API docs for more information about request parameters.",
      );
    });

    it('refuses a deleted run and an unknown one', async () => {
      assert.equal((await t.post('runs/delete', { run_id: runId })).status, 200);
      assertError(await logModel(model()), 400, 'INVALID_PARAMETER_VALUE', `The run ${runId} must be in the 'active' state. Current state is deleted.`);
      assert.equal((await t.post('runs/restore', { run_id: runId })).status, 200);
      assert.equal(await tagValue(), undefined);
      const res = await t.post('runs/log-model', { run_id: 'f'.repeat(32), model_json: JSON.stringify(model()) });
      assertError(res, 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });
});
