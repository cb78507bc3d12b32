import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ADMIN, backends, buildTestApp, seedRun, type TestApp } from '../helper.js';
import { assertError, basic, createUser } from '../auth/auth.helpers.js';

const URL = '/ajax-api/2.0/mlflow/experiments/search-datasets';
const CONTEXT = 'mlflow.data.context';

const dataset = (name: string, digest: string) => ({ name, digest, source_type: 'local', source: `{"uri": "/data/${name}"}` });

/** log-inputs for one run: each entry a dataset with an optional context tag. */
async function logInputs(t: TestApp, runId: string, list: { name: string; digest: string; context?: string }[], headers?: Record<string, string>) {
  const datasets = list.map((d) => ({ tags: d.context === undefined ? [] : [{ key: CONTEXT, value: d.context }], dataset: dataset(d.name, d.digest) }));
  const res = await t.post('runs/log-inputs', { run_id: runId, datasets }, headers);
  assert.equal(res.status, 200, res.body);
}

// Runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('experiments/search-datasets', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp({ backend });
    });
    afterEach(() => t.close());

    it('answers the distinct (experiment, name, digest, context) of the runs’ inputs, in key order', async () => {
      const a1 = await seedRun(t, { experiment: 'a' });
      const a2 = await seedRun(t, { experiment: 'a' });
      const b = await seedRun(t, { experiment: 'b' });
      const other = await seedRun(t, { experiment: 'not-asked' });
      await logInputs(t, a1.runId, [
        { name: 'mnist', digest: 'd2', context: 'training' },
        { name: 'mnist', digest: 'd1', context: 'eval' },
        { name: 'cifar', digest: 'c1' },
      ]);
      // The same dataset in another run of the same experiment: once with the same context (no new
      // summary), once in a run with a second context (a new summary), once without a context.
      await logInputs(t, a2.runId, [{ name: 'mnist', digest: 'd2', context: 'training' }]);
      await logInputs(t, a2.runId, [{ name: 'mnist', digest: 'd1', context: 'training' }]);
      await logInputs(t, b.runId, [
        { name: 'mnist', digest: 'd2' },
        { name: 'imdb', digest: 'i1', context: 'test' },
      ]);
      await logInputs(t, other.runId, [{ name: 'hidden', digest: 'h1', context: 'training' }]);
      const res = await t.post(URL, { experiment_ids: [b.experimentId, a1.experimentId] });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json, {
        dataset_summaries: [
          { experiment_id: a1.experimentId, name: 'cifar', digest: 'c1' },
          { experiment_id: a1.experimentId, name: 'mnist', digest: 'd1', context: 'eval' },
          { experiment_id: a1.experimentId, name: 'mnist', digest: 'd1', context: 'training' },
          { experiment_id: a1.experimentId, name: 'mnist', digest: 'd2', context: 'training' },
          { experiment_id: b.experimentId, name: 'imdb', digest: 'i1', context: 'test' },
          { experiment_id: b.experimentId, name: 'mnist', digest: 'd2' },
        ],
      });
      assert.ok(Number(a1.experimentId) < Number(b.experimentId));
    });

    it('ignores input tags other than the context, and answers [] for experiments without datasets or that do not exist', async () => {
      const r = await seedRun(t, { experiment: 'tags' });
      const res = await t.post('runs/log-inputs', { run_id: r.runId, datasets: [{ tags: [{ key: 'other', value: 'x' }], dataset: dataset('d', 'x1') }] });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual((await t.post(URL, { experiment_ids: [r.experimentId] })).json, {
        dataset_summaries: [{ experiment_id: r.experimentId, name: 'd', digest: 'x1' }],
      });
      assert.deepEqual((await t.post(URL, { experiment_ids: ['0', '999', 'nope'] })).json, { dataset_summaries: [] });
    });

    it('accepts 1..20 experiment_ids with MLflow’s messages', async () => {
      assertError(await t.post(URL, {}), 400, 'INVALID_PARAMETER_VALUE', /^SearchDatasets request must specify at least one experiment_id\.$/);
      assertError(await t.post(URL, { experiment_ids: [] }), 400, 'INVALID_PARAMETER_VALUE', /^SearchDatasets request must specify at least one experiment_id\.$/);
      const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i));
      assert.equal((await t.post(URL, { experiment_ids: ids(20) })).status, 200);
      assertError(
        await t.post(URL, { experiment_ids: ids(21) }),
        400,
        'INVALID_PARAMETER_VALUE',
        /^SearchDatasets request cannot specify more than 20 experiment_ids\. Received 21 experiment_ids\.$/,
      );
    });

    it('requires a JSON body', async () => {
      const missing = await t.app.inject({ method: 'POST', url: URL });
      assert.equal(missing.statusCode, 400, missing.body);
      assert.deepEqual(JSON.parse(missing.body), { error_code: 'INVALID_PARAMETER_VALUE', message: 'Bad Request. Content-Type header is missing.' });
      const text = await t.app.inject({ method: 'POST', url: URL, headers: { 'content-type': 'text/plain' }, payload: '{"experiment_ids": ["0"]}' });
      assert.equal(text.statusCode, 400, text.body);
      assert.deepEqual(JSON.parse(text.body), { error_code: 'INVALID_PARAMETER_VALUE', message: "Bad Request. Content-Type must be one of ['application/json']." });
    });

    it('is served under /ajax-api only, as in MLflow', async () => {
      assertError(await t.post('/api/2.0/mlflow/experiments/search-datasets', { experiment_ids: ['0'] }), 404, 'ENDPOINT_NOT_FOUND', /search-datasets/);
    });

    it('answers at most 1000 summaries', async () => {
      const r = await seedRun(t, { experiment: 'many' });
      const list = Array.from({ length: 1005 }, (_, i) => ({ name: `ds-${String(i).padStart(4, '0')}`, digest: 'x' }));
      await logInputs(t, r.runId, list);
      const res = await t.post(URL, { experiment_ids: [r.experimentId] });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.dataset_summaries.length, 1000);
      assert.deepEqual(res.json.dataset_summaries[0], { experiment_id: r.experimentId, name: 'ds-0000', digest: 'x' });
      assert.deepEqual(res.json.dataset_summaries[999], { experiment_id: r.experimentId, name: 'ds-0999', digest: 'x' });
    });
  });

  describe('experiments/search-datasets with auth on', () => {
    it('leaves out the experiments the caller may not read', async (ctx) => {
      const t = await buildTestApp({ backend, auth: {} });
      ctx.after(() => t.close());
      const admin = basic(ADMIN.username, ADMIN.password);
      const open = (await t.post('experiments/create', { name: 'open' }, admin)).json.experiment_id as string;
      const secret = (await t.post('experiments/create', { name: 'secret' }, admin)).json.experiment_id as string;
      for (const [experimentId, name] of [[open, 'public-data'], [secret, 'secret-data']]) {
        const run = await t.post('runs/create', { experiment_id: experimentId }, admin);
        assert.equal(run.status, 200, run.body);
        await logInputs(t, run.json.run.info.run_id, [{ name, digest: 'd', context: 'training' }], admin);
      }
      await createUser(t, admin, 'bob', 'bob-password-1', 'viewer');
      const set = await t.post('/api/2.0/lablog/permissions/set', { experiment_id: secret, username: 'bob', permission: 'NO_PERMISSIONS' }, admin);
      assert.equal(set.status, 200, set.body);
      const bob = basic('bob', 'bob-password-1');

      const both = { experiment_ids: [open, secret] };
      const asAdmin = await t.post(URL, both, admin);
      assert.deepEqual(asAdmin.json.dataset_summaries.map((d: { name: string }) => d.name), ['public-data', 'secret-data']);
      const asBob = await t.post(URL, both, bob);
      assert.equal(asBob.status, 200, asBob.body);
      assert.deepEqual(asBob.json, { dataset_summaries: [{ experiment_id: open, name: 'public-data', digest: 'd', context: 'training' }] });
      assert.deepEqual((await t.post(URL, { experiment_ids: [secret] }, bob)).json, { dataset_summaries: [] });
      assertError(await t.post(URL, both), 401, 'UNAUTHENTICATED', /./);
    });
  });
});
