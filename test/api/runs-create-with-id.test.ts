import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, buildTestApp, seedRun, type TestApp } from '../helper.js';
import { assertError, byKey, storedRunRow, storedTagRows, tableCountsOf } from './api.helpers.js';

// POST /api/2.0/lablog/runs/create: a run under an id the client made (an SDK run started offline, or
// a create retried after a lost answer). Idempotent per (id, experiment); the rows are checked directly.

const URL = '/api/2.0/lablog/runs/create';
const ID = 'c0ffee00c0ffee00c0ffee00c0ffee00';

const runRow = async (t: TestApp, id: string) => {
  const r = await storedRunRow(t, id);
  return r && { run_uuid: r.run_uuid, name: r.name, experiment_id: r.experiment_id, user_id: r.user_id, status: r.status, start_time: r.start_time, end_time: r.end_time, lifecycle_stage: r.lifecycle_stage, artifact_uri: r.artifact_uri };
};
const tagRows = (t: TestApp, id: string) => storedTagRows(t, id);

// Every suite runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('lablog runs/create with a client-made id', () => {
    let t: TestApp;
    let exp = '';
    let other = '';
    before(async () => {
      t = await buildTestApp({ backend });
      exp = (await t.post('experiments/create', { name: 'offline-exp' })).json.experiment_id;
      other = (await t.post('experiments/create', { name: 'other-exp' })).json.experiment_id;
    });
    after(() => t.close());

    test('creates the run under that id, with MLflow create\'s defaults and tags', async () => {
      const res = await t.call('POST', URL, {
        run_id: ID,
        experiment_id: exp,
        start_time: 1_700_000_000_000,
        user_id: 'ada',
        tags: [{ key: 'mlflow.runName', value: 'offline-owl' }, { key: 'phase', value: 'offline' }],
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.headers['idempotent-replayed'], undefined);
      const info = res.json.run.info;
      assert.equal(info.run_id, ID);
      assert.equal(info.run_uuid, ID);
      assert.equal(info.experiment_id, exp);
      assert.equal(info.run_name, 'offline-owl');
      assert.equal(info.status, 'RUNNING');
      assert.deepEqual(await runRow(t, ID), {
        run_uuid: ID,
        name: 'offline-owl',
        experiment_id: Number(exp),
        user_id: 'ada',
        status: 'RUNNING',
        start_time: 1_700_000_000_000,
        end_time: null,
        lifecycle_stage: 'active',
        artifact_uri: `mlflow-artifacts:/${exp}/${ID}/artifacts`,
      });
      assert.deepEqual(await tagRows(t, ID), [
        { key: 'mlflow.runName', value: 'offline-owl' },
        { key: 'phase', value: 'offline' },
      ]);
      // The run is a run like any other: it takes a batch and reads back.
      assert.equal((await t.post('runs/log-batch', { run_id: ID, metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }] })).status, 200);
      const got = await t.get('runs/get', { run_id: ID });
      assert.deepEqual(byKey(got.json.run.data.metrics), [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }]);
    });

    test('the same id in the same experiment answers the run as it is, written once', async () => {
      const before = await tableCountsOf(t);
      // A replay may differ (a later start time, other tags): the first create wins, nothing is rewritten.
      for (const experiment_id of [exp, `0${exp}`, Number(exp)]) {
        const again = await t.call('POST', URL, { run_id: ID, experiment_id, start_time: 5, tags: [{ key: 'phase', value: 'changed' }] });
        assert.equal(again.status, 200, again.body);
        assert.equal(again.headers['idempotent-replayed'], 'true');
        assert.equal(again.json.run.info.run_id, ID);
        assert.equal(again.json.run.info.start_time, 1_700_000_000_000);
        assert.equal(again.json.run.info.run_name, 'offline-owl');
      }
      assert.deepEqual(await tableCountsOf(t), before);
      assert.equal((await runRow(t, ID))?.start_time, 1_700_000_000_000);
      assert.equal((await tagRows(t, ID)).find((r) => r.key === 'phase')?.value, 'offline');
    });

    test('the same id in another experiment is RESOURCE_ALREADY_EXISTS, nothing written', async () => {
      const before = await tableCountsOf(t);
      const res = await t.call('POST', URL, { run_id: ID, experiment_id: other, tags: [{ key: 'intruder', value: '1' }] });
      assertError(res, 400, 'RESOURCE_ALREADY_EXISTS', `Run with id=${ID} already exists in another experiment.`);
      assert.deepEqual(await tableCountsOf(t), before);
      assert.equal((await runRow(t, ID))?.experiment_id, Number(exp));
      // An id the server made (MLflow's runs/create) is the same kind of id.
      const made = await seedRun(t, { experiment: 'other-exp', runName: 'server-made' });
      const same = await t.call('POST', URL, { run_id: made.runId, experiment_id: other });
      assert.equal(same.status, 200, same.body);
      assert.equal(same.headers['idempotent-replayed'], 'true');
      assert.equal(same.json.run.info.run_name, 'server-made');
    });

    test('defaults: experiment "0", a generated name, the server clock, the user from mlflow.user', async () => {
      const id = 'abcdef0123456789abcdef0123456789';
      const res = await t.call('POST', URL, { run_id: id, tags: [{ key: 'mlflow.user', value: 'grace' }] });
      assert.equal(res.status, 200, res.body);
      const row = (await runRow(t, id))!;
      assert.equal(row.experiment_id, 0);
      assert.equal(row.user_id, 'grace');
      assert.match(row.name, /^[a-z]+-[a-z]+-\d+$/);
      assert.ok(row.start_time > 1_600_000_000_000);
      assert.equal((await tagRows(t, id)).find((r) => r.key === 'mlflow.runName')?.value, row.name);
    });

    test('a run id that is not 32 lowercase hex digits is refused, nothing written', async () => {
      const before = await tableCountsOf(t);
      const bad: unknown[] = [ID.toUpperCase(), ID.slice(1), `${ID}0`, `${ID.slice(2)}zz`, `${ID.slice(4)}-abc`, 12345, ['x']];
      for (const run_id of bad) {
        const res = await t.call('POST', URL, { run_id, experiment_id: exp });
        assertError(res, 400, 'INVALID_PARAMETER_VALUE', /^Invalid value .* for parameter 'run_id' supplied/);
      }
      for (const run_id of [undefined, null, '']) {
        assertError(await t.call('POST', URL, { run_id, experiment_id: exp }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'run_id'/);
      }
      assert.deepEqual(await tableCountsOf(t), before);
    });

    test('an unknown or deleted experiment is refused as runs/create refuses it, nothing written', async () => {
      const gone = (await t.post('experiments/create', { name: 'gone-exp' })).json.experiment_id;
      assert.equal((await t.post('experiments/delete', { experiment_id: gone })).status, 200);
      const before = await tableCountsOf(t);
      for (const [id, experiment_id] of [['1'.repeat(32), '987654'], ['2'.repeat(32), gone]]) {
        const res = await t.call('POST', URL, { run_id: id, experiment_id });
        const viaMlflow = await t.post('runs/create', { experiment_id });
        assert.ok(viaMlflow.status === 400 || viaMlflow.status === 404, viaMlflow.body);
        assertError(res, viaMlflow.status, viaMlflow.json.error_code, viaMlflow.json.message);
        assert.equal(await runRow(t, id), undefined);
      }
      assert.deepEqual(await tableCountsOf(t), before);
    });

    test('bad tags and a run name that contradicts mlflow.runName are refused as runs/create refuses them', async () => {
      const before = await tableCountsOf(t);
      const clash = await t.call('POST', URL, { run_id: '3'.repeat(32), run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] });
      assertError(clash, 400, 'INVALID_PARAMETER_VALUE', /^Both 'run_name' argument and 'mlflow.runName' tag are specified/);
      const badTag = await t.call('POST', URL, { run_id: '3'.repeat(32), tags: [{ key: 'bad$key', value: '1' }] });
      assertError(badTag, 400, 'INVALID_PARAMETER_VALUE', /Invalid tag name/);
      assert.deepEqual(await tableCountsOf(t), before);
    });
  });

  // The same contract through HTTP alone: concurrent creates of one id make one run.
  describe('concurrent creates', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend });
    });
    after(() => t.close());

    test('eight concurrent creates of one id: one run, seven replays; another experiment is refused', async () => {
      const exp = (await t.post('experiments/create', { name: `concurrent-${backend}` })).json.experiment_id;
      const id = 'feed0000feed0000feed0000feed0000';
      const answers = await Promise.all(Array.from({ length: 8 }, () => t.call('POST', URL, { run_id: id, experiment_id: exp, tags: [{ key: 'k', value: 'v' }] })));
      assert.deepEqual(answers.map((a) => a.status), Array(8).fill(200));
      assert.equal(answers.filter((a) => a.headers['idempotent-replayed'] === 'true').length, 7);
      assert.ok(answers.every((a) => a.json.run.info.run_id === id && a.json.run.info.experiment_id === exp));
      const found = await t.post('runs/search', { experiment_ids: [exp] });
      assert.deepEqual(found.json.runs.map((r: { info: { run_id: string } }) => r.info.run_id), [id]);
      assert.deepEqual(found.json.runs[0].data.tags.filter((x: { key: string }) => x.key === 'k'), [{ key: 'k', value: 'v' }]);
      const elsewhere = (await t.post('experiments/create', { name: `elsewhere-${backend}` })).json.experiment_id;
      const clash = await t.call('POST', URL, { run_id: id, experiment_id: elsewhere });
      assert.equal(clash.status, 400);
      assert.equal(clash.json.error_code, 'RESOURCE_ALREADY_EXISTS');
    });
  });
});
