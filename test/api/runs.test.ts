import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, byKey, manualClock, oneRowOf, rowsOf, runPkOf, storedRunRow, storedTagRows, tableCountsOf } from './api.helpers.js';

// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  let clock: ReturnType<typeof manualClock>;

  beforeEach(async () => {
    clock = manualClock();
    t = await buildTestApp({ backend, now: clock.now });
  });
  afterEach(() => t.close());

  const runRow = (id: string) => storedRunRow(t, id);
  const tagRows = (id: string) => storedTagRows(t, id);

  async function newExperiment(name: string): Promise<string> {
    const res = await t.post('experiments/create', { name });
    assert.equal(res.status, 200, res.body);
    return res.json.experiment_id;
  }

  async function newRun(body: Record<string, unknown> = {}): Promise<any> {
    const res = await t.post('runs/create', { experiment_id: '0', ...body });
    assert.equal(res.status, 200, res.body);
    return res.json.run;
  }

  describe('runs/create', () => {
    it('generates an adj-noun-N name mirrored in mlflow.runName and answers the whole Run', async () => {
      const res = await t.post('runs/create', { experiment_id: '0' });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.json), ['run']);
      const run = res.json.run;
      const info = run.info;
      assert.match(info.run_id, /^[0-9a-f]{32}$/);
      assert.match(info.run_name, /^[a-z]+-[a-z]+-\d+$/);
      assert.deepEqual(info, {
        run_id: info.run_id,
        run_uuid: info.run_id,
        run_name: info.run_name,
        experiment_id: '0',
        user_id: '',
        status: 'RUNNING',
        start_time: clock.ms,
        artifact_uri: `mlflow-artifacts:/0/${info.run_id}/artifacts`,
        lifecycle_stage: 'active',
      });
      assert.deepEqual(run.data, { tags: [{ key: 'mlflow.runName', value: info.run_name }] });
      assert.deepEqual(run.inputs, {});
      assert.deepEqual(await runRow(info.run_id), {
        id: await runPkOf(t, info.run_id), run_uuid: info.run_id, name: info.run_name, experiment_id: 0, user_id: '', status: 'RUNNING',
        start_time: clock.ms, end_time: null, lifecycle_stage: 'active', artifact_uri: `mlflow-artifacts:/0/${info.run_id}/artifacts`, deleted_time: null, deleted_with_experiment: false,
      });
      assert.deepEqual(await tagRows(info.run_id), [{ key: 'mlflow.runName', value: info.run_name }]);
    });

    it('takes run_name, tags, user_id and start_time from the request', async () => {
      const exp = await newExperiment('e1');
      const run = await newRun({ experiment_id: exp, run_name: 'baseline', user_id: 'ann', start_time: 1234, tags: [{ key: 'stage', value: 'dev' }] });
      assert.equal(run.info.run_name, 'baseline');
      assert.equal(run.info.user_id, 'ann');
      assert.equal(run.info.start_time, 1234);
      assert.equal(run.info.experiment_id, exp);
      assert.equal(run.info.artifact_uri, `mlflow-artifacts:/${exp}/${run.info.run_id}/artifacts`);
      assert.deepEqual(byKey(run.data.tags), [{ key: 'mlflow.runName', value: 'baseline' }, { key: 'stage', value: 'dev' }]);
      const row = (await runRow(run.info.run_id))!;
      assert.deepEqual([row.name, row.user_id, row.start_time, row.experiment_id], ['baseline', 'ann', 1234, Number(exp)]);
      assert.deepEqual(await tagRows(run.info.run_id), [{ key: 'mlflow.runName', value: 'baseline' }, { key: 'stage', value: 'dev' }]);
    });

    it('accepts start_time as a numeric string and experiment_id as a number', async () => {
      const exp = await newExperiment('e1');
      assert.equal(exp, '1');
      const run = await newRun({ experiment_id: 1, start_time: '1700000000123' });
      assert.equal(run.info.experiment_id, '1');
      assert.equal(run.info.start_time, 1_700_000_000_123);
      assert.equal((await runRow(run.info.run_id))?.experiment_id, 1);
    });

    it('takes the run name from an mlflow.runName tag and the user from an mlflow.user tag', async () => {
      const run = await newRun({ tags: [{ key: 'mlflow.runName', value: 'from-tag' }, { key: 'mlflow.user', value: 'bob' }] });
      assert.equal(run.info.run_name, 'from-tag');
      assert.equal(run.info.user_id, 'bob');
      assert.deepEqual(byKey(run.data.tags), [{ key: 'mlflow.runName', value: 'from-tag' }, { key: 'mlflow.user', value: 'bob' }]);
      assert.equal((await runRow(run.info.run_id))?.user_id, 'bob');
      const same = await newRun({ run_name: 'x', tags: [{ key: 'mlflow.runName', value: 'x' }] });
      assert.deepEqual(same.data.tags, [{ key: 'mlflow.runName', value: 'x' }]);
    });

    it('refuses run_name conflicting with an mlflow.runName tag, and writes nothing', async () => {
      const before = await tableCountsOf(t);
      const res = await t.post('runs/create', { experiment_id: '0', run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] });
      assertError(res, 400, 'INVALID_PARAMETER_VALUE',
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b').");
      assert.deepEqual(await tableCountsOf(t), before);
    });

    it('refuses a deleted experiment (400) and an unknown one (404)', async () => {
      const exp = await newExperiment('gone');
      await t.post('experiments/delete', { experiment_id: exp });
      assertError(await t.post('runs/create', { experiment_id: exp }), 400, 'INVALID_PARAMETER_VALUE', /active/);
      assertError(await t.post('runs/create', { experiment_id: '4242' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.post('runs/create', { experiment_id: '0', tags: [{ key: 'bad$key', value: 'v' }] }), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM runs'))?.n, 0);
    });
  });

  describe('runs/get', () => {
    it('accepts run_id and the deprecated run_uuid', async () => {
      const run = await newRun({ run_name: 'r' });
      const a = await t.get('runs/get', { run_id: run.info.run_id });
      const b = await t.get('runs/get', { run_uuid: run.info.run_id });
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.deepEqual(a.json, { run });
      assert.deepEqual(b.json, a.json);
      assert.equal(a.json.run.info.run_uuid, run.info.run_id);
      const ajax = await t.get('/ajax-api/2.0/mlflow/runs/get', { run_id: run.info.run_id });
      assert.deepEqual(ajax.json, a.json);
    });

    it('answers 404 RESOURCE_DOES_NOT_EXIST for an unknown run and 400 without an id', async () => {
      assertError(await t.get('runs/get', { run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST', new RegExp('f'.repeat(32)));
      assertError(await t.get('runs/get'), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'run_id'/);
    });
  });

  describe('runs/update', () => {
    it('sets status and end_time and answers run_info', async () => {
      const run = await newRun({ run_name: 'r' });
      const res = await t.post('runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: 5000 });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { run_info: { ...run.info, status: 'FINISHED', end_time: 5000 } });
      const row = (await runRow(run.info.run_id))!;
      assert.deepEqual([row.status, row.end_time, row.name], ['FINISHED', 5000, 'r']);
      assert.deepEqual((await t.get('runs/get', { run_id: run.info.run_id })).json.run.info, res.json.run_info);
    });

    it('applies only the fields present; run_name updates the mlflow.runName tag too', async () => {
      const run = await newRun({ run_name: 'before' });
      await t.post('runs/update', { run_uuid: run.info.run_id, status: 'FAILED' });
      const res = await t.post('runs/update', { run_id: run.info.run_id, run_name: 'after', end_time: '7000' });
      assert.equal(res.status, 200);
      assert.equal(res.json.run_info.status, 'FAILED');
      assert.equal(res.json.run_info.run_name, 'after');
      assert.equal(res.json.run_info.end_time, 7000);
      assert.equal((await runRow(run.info.run_id))?.name, 'after');
      assert.deepEqual(await tagRows(run.info.run_id), [{ key: 'mlflow.runName', value: 'after' }]);
      assert.deepEqual((await t.get('runs/get', { run_id: run.info.run_id })).json.run.data.tags, [{ key: 'mlflow.runName', value: 'after' }]);
    });

    it('refuses a bad status, an unknown run and a deleted run', async () => {
      const run = await newRun();
      assertError(await t.post('runs/update', { run_id: run.info.run_id, status: 'DONE' }), 400, 'INVALID_PARAMETER_VALUE', /status/);
      assertError(await t.post('runs/update', { run_id: 'a'.repeat(32), status: 'FINISHED' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      await t.post('runs/delete', { run_id: run.info.run_id });
      assertError(await t.post('runs/update', { run_id: run.info.run_id, status: 'FINISHED' }), 400, 'INVALID_PARAMETER_VALUE', /active/);
      assert.equal((await runRow(run.info.run_id))?.status, 'RUNNING');
    });
  });

  describe('runs/delete and restore', () => {
    it('moves the lifecycle and records deleted_time', async () => {
      const run = await newRun();
      const id = run.info.run_id;
      const deletedAt = clock.advance();
      const del = await t.post('runs/delete', { run_id: id });
      assert.equal(del.status, 200);
      assert.deepEqual(del.json, {});
      assert.deepEqual([(await runRow(id))?.lifecycle_stage, (await runRow(id))?.deleted_time], ['deleted', deletedAt]);
      assert.equal((await t.get('runs/get', { run_id: id })).json.run.info.lifecycle_stage, 'deleted');
      assert.deepEqual((await t.post('runs/search', { experiment_ids: ['0'] })).json.runs ?? [], []);
      assert.equal((await t.post('runs/search', { experiment_ids: ['0'], run_view_type: 'DELETED_ONLY' })).json.runs[0].info.run_id, id);

      clock.advance();
      const res = await t.post('runs/restore', { run_id: id });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      assert.deepEqual([(await runRow(id))?.lifecycle_stage, (await runRow(id))?.deleted_time], ['active', null]);
      assert.equal((await t.get('runs/get', { run_id: id })).json.run.info.lifecycle_stage, 'active');
    });

    it('answers 404 for unknown runs and 400 without run_id', async () => {
      assertError(await t.post('runs/delete', { run_id: 'b'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.post('runs/restore', { run_id: 'b'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertError(await t.post('runs/delete', {}), 400, 'INVALID_PARAMETER_VALUE', /run_id/);
    });

    it("refuses every kind of logging to a deleted run ('active' state required), writing nothing", async () => {
      const id = (await newRun()).info.run_id;
      await t.post('runs/delete', { run_id: id });
      const before = await tableCountsOf(t);
      const calls: [string, Record<string, unknown>][] = [
        ['runs/log-metric', { key: 'm', value: 1, timestamp: 1 }],
        ['runs/log-parameter', { key: 'p', value: '1' }],
        ['runs/set-tag', { key: 't', value: '1' }],
        ['runs/delete-tag', { key: 'mlflow.runName' }],
        ['runs/log-batch', { metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] }],
        ['runs/log-inputs', { datasets: [{ dataset: { name: 'd', digest: 'x', source_type: 'local', source: '{}' } }] }],
      ];
      for (const [path, body] of calls) {
        assertError(await t.post(path, { run_id: id, ...body }), 400, 'INVALID_PARAMETER_VALUE', /'active'/);
      }
      assert.deepEqual(await tableCountsOf(t), before);
    });
  });

  describe('runs/set-tag and delete-tag', () => {
    it('sets and overwrites a tag; mlflow.runName renames the run', async () => {
      const id = (await newRun({ run_name: 'first' })).info.run_id;
      assert.deepEqual((await t.post('runs/set-tag', { run_id: id, key: 'stage', value: 'a' })).json, {});
      assert.equal((await t.post('runs/set-tag', { run_uuid: id, key: 'stage', value: 'b' })).status, 200);
      assert.equal((await t.post('runs/set-tag', { run_id: id, key: 'mlflow.runName', value: 'second' })).status, 200);
      assert.deepEqual(await tagRows(id), [{ key: 'mlflow.runName', value: 'second' }, { key: 'stage', value: 'b' }]);
      const run = (await t.get('runs/get', { run_id: id })).json.run;
      assert.equal(run.info.run_name, 'second');
      assert.deepEqual(byKey(run.data.tags), [{ key: 'mlflow.runName', value: 'second' }, { key: 'stage', value: 'b' }]);
      assert.equal((await runRow(id))?.name, 'second');
    });

    it('limits tag values to 5000 characters', async () => {
      const id = (await newRun()).info.run_id;
      assert.equal((await t.post('runs/set-tag', { run_id: id, key: 'long', value: 'v'.repeat(5000) })).status, 200);
      assertError(await t.post('runs/set-tag', { run_id: id, key: 'long', value: 'w'.repeat(5001) }), 400, 'INVALID_PARAMETER_VALUE', /5000/);
      assert.equal((await oneRowOf<{ value: string }>(t, "SELECT value FROM tags WHERE key = 'long'"))?.value, 'v'.repeat(5000));
    });

    it('deletes a tag; an unknown tag or run answers 404', async () => {
      const id = (await newRun({ tags: [{ key: 'temp', value: '1' }] })).info.run_id;
      const res = await t.post('runs/delete-tag', { run_id: id, key: 'temp' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      assert.deepEqual((await tagRows(id)).map((r) => r.key), ['mlflow.runName']);
      assert.equal((await t.get('runs/get', { run_id: id })).json.run.data.tags.some((x: { key: string }) => x.key === 'temp'), false);
      assertError(await t.post('runs/delete-tag', { run_id: id, key: 'temp' }), 404, 'RESOURCE_DOES_NOT_EXIST', /temp/);
      assertError(await t.post('runs/delete-tag', { run_id: 'c'.repeat(32), key: 'x' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe('runs/log-parameter', () => {
    it('logs a param; the same value again is fine; a different value is refused and the row is kept', async () => {
      const id = (await newRun()).info.run_id;
      assert.deepEqual((await t.post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.1' })).json, {});
      assert.equal((await t.post('runs/log-parameter', { run_uuid: id, key: 'lr', value: '0.1' })).status, 200);
      assertError(await t.post('runs/log-parameter', { run_id: id, key: 'lr', value: '0.2' }), 400, 'INVALID_PARAMETER_VALUE',
        `Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ID='${id}'. Attempted logging new value '0.2'.`);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM params WHERE run_id = ?', await runPkOf(t, id)), [{ key: 'lr', value: '0.1' }]);
      assert.deepEqual((await t.get('runs/get', { run_id: id })).json.run.data.params, [{ key: 'lr', value: '0.1' }]);
    });

    it('limits param values to 6000 characters', async () => {
      const id = (await newRun()).info.run_id;
      assert.equal((await t.post('runs/log-parameter', { run_id: id, key: 'ok', value: 'x'.repeat(6000) })).status, 200);
      assertError(await t.post('runs/log-parameter', { run_id: id, key: 'big', value: 'x'.repeat(6001) }), 400, 'INVALID_PARAMETER_VALUE', /6000/);
      assert.deepEqual(await rowsOf(t, 'SELECT key FROM params'), [{ key: 'ok' }]);
    });
  });

  describe('runs/log-inputs', () => {
    const dataset = { name: 'mnist', digest: 'abc123', source_type: 'local', source: '{"uri": "/data/mnist"}', schema: '{"cols": []}', profile: '{"rows": 10}' };

    it('records datasets with their tags, once per run however often logged', async () => {
      const id = (await newRun()).info.run_id;
      const body = { run_id: id, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }] };
      const res = await t.post('runs/log-inputs', body);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, {});
      assert.equal((await t.post('runs/log-inputs', body)).status, 200);
      const run = (await t.get('runs/get', { run_id: id })).json.run;
      assert.deepEqual(run.inputs, { dataset_inputs: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }] });
      assert.deepEqual(await rowsOf(t, 'SELECT name, digest, source_type, source, schema, profile, experiment_id FROM datasets'), [{ ...dataset, experiment_id: 0 }]);
      assert.deepEqual(await rowsOf(t, 'SELECT run_id FROM inputs'), [{ run_id: await runPkOf(t, id) }]);
      assert.deepEqual(await rowsOf(t, 'SELECT key, value FROM input_tags'), [{ key: 'mlflow.data.context', value: 'training' }]);
    });

    it('refuses a request without run_id or with an incomplete dataset', async () => {
      const id = (await newRun()).info.run_id;
      assertError(await t.post('runs/log-inputs', { datasets: [{ dataset }] }), 400, 'INVALID_PARAMETER_VALUE', /run_id/);
      assertError(await t.post('runs/log-inputs', { run_id: id, datasets: [{ dataset: { name: 'x' } }] }), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal((await oneRowOf<{ n: number }>(t, 'SELECT COUNT(*) AS n FROM datasets'))?.n, 0);
    });
  });
});
