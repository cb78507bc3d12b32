// search-registered-models and search-model-versions: filters (name =, !=, LIKE, ILIKE, tags.x, run_id,
// source_path, version_number), order_by, max_results bounds and paging through page_token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, manualClock } from './api.helpers.js';
import { createModel, createVersion, newRun, ok, reg } from './registry.helpers.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  const clock = manualClock();
  let runA: string;
  let runB: string;

  before(async () => {
    t = await buildTestApp({ backend, now: clock.now });
    runA = (await newRun(t)).runId;
    runB = (await newRun(t)).runId;
    // Created in this order, one second apart: last_updated order is the creation order.
    for (const [name, team] of [['Churn', 'growth'], ['churn-v2', 'growth'], ['fraud', 'risk'], ['forecast', 'growth'], ['FRAUD_eu', 'risk']]) {
      clock.advance(1000);
      await createModel(t, name, { tags: [{ key: 'team', value: team }] });
    }
    clock.advance(1000);
    await createVersion(t, 'fraud', `mlflow-artifacts:/0/${runA}/artifacts/model`, { run_id: runA, tags: [{ key: 'validated', value: 'true' }] });
    clock.advance(1000);
    await createVersion(t, 'fraud', `mlflow-artifacts:/0/${runB}/artifacts/model`, { run_id: runB });
    clock.advance(1000);
    await createVersion(t, 'Churn', `mlflow-artifacts:/0/${runA}/artifacts/churn`, { run_id: runA, tags: [{ key: 'validated', value: 'false' }] });
  });
  after(() => t.close());

  const models = async (body: Record<string, unknown>, method: 'GET' = 'GET') =>
    ((await ok(t, method, 'registered-models/search', body)).registered_models ?? []).map((m: any) => m.name);
  const versions = async (body: Record<string, unknown>) =>
    ((await ok(t, 'GET', 'model-versions/search', body)).model_versions ?? []).map((v: any) => `${v.name}/${v.version}`);

  describe('registered-models/search', () => {
    it('no filter: every model, name ASC (binary order), with latest versions', async () => {
      assert.deepEqual(await models({}), ['Churn', 'FRAUD_eu', 'churn-v2', 'forecast', 'fraud']);
      const res = await ok(t, 'GET', 'registered-models/search', { filter: "name = 'fraud'" });
      assert.deepEqual(res.registered_models[0].latest_versions.map((v: any) => v.version), ['2']);
      assert.deepEqual(res.registered_models[0].tags, [{ key: 'team', value: 'risk' }]);
      assert.equal(res.next_page_token, undefined);
    });

    it('filters on name (=, !=, LIKE case-sensitive, ILIKE) and tags, joined by AND', async () => {
      assert.deepEqual(await models({ filter: "name = 'fraud'" }), ['fraud']);
      assert.deepEqual(await models({ filter: "name != 'fraud'" }), ['Churn', 'FRAUD_eu', 'churn-v2', 'forecast']);
      assert.deepEqual(await models({ filter: "name LIKE 'fr%'" }), ['fraud']);
      assert.deepEqual(await models({ filter: "name ILIKE 'fr%'" }), ['FRAUD_eu', 'fraud']);
      assert.deepEqual(await models({ filter: "name LIKE '%churn%'" }), ['churn-v2']);
      assert.deepEqual(await models({ filter: "tags.team = 'growth'" }), ['Churn', 'churn-v2', 'forecast']);
      assert.deepEqual(await models({ filter: "tags.team = 'growth' AND name ILIKE 'c%'" }), ['Churn', 'churn-v2']);
      assert.deepEqual(await models({ filter: "tags.`team` != 'growth'" }), ['FRAUD_eu', 'fraud']);
      assert.deepEqual(await models({ filter: "tags.missing = 'x'" }), []);
    });

    it('order_by name / last_updated_timestamp / timestamp, ASC and DESC', async () => {
      assert.deepEqual(await models({ order_by: ['name DESC'] }), ['fraud', 'forecast', 'churn-v2', 'FRAUD_eu', 'Churn']);
      // fraud and Churn got versions later, which moved their last_updated_timestamp.
      assert.deepEqual(await models({ order_by: ['last_updated_timestamp DESC'] }), ['Churn', 'fraud', 'FRAUD_eu', 'forecast', 'churn-v2']);
      assert.deepEqual(await models({ order_by: ['timestamp ASC'] }), ['churn-v2', 'forecast', 'FRAUD_eu', 'fraud', 'Churn']);
      const post = await ok(t, 'GET', 'registered-models/search', { order_by: ['name ASC'], max_results: '2' });
      assert.deepEqual(post.registered_models.map((m: any) => m.name), ['Churn', 'FRAUD_eu']);
    });

    it('pages with max_results and page_token until the last page', async () => {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const res = await ok(t, 'GET', 'registered-models/search', { max_results: '2', ...(token ? { page_token: token } : {}) });
        seen.push(...res.registered_models.map((m: any) => m.name));
        token = res.next_page_token;
        pages++;
      } while (token);
      assert.equal(pages, 3);
      assert.deepEqual(seen, ['Churn', 'FRAUD_eu', 'churn-v2', 'forecast', 'fraud']);
    });

    it('bad filters, order keys and max_results are INVALID_PARAMETER_VALUE', async () => {
      assertError(await reg(t, 'GET', 'registered-models/search', { filter: "run_id = 'x'" }), 400, 'INVALID_PARAMETER_VALUE', /Invalid filter/);
      assertError(await reg(t, 'GET', 'registered-models/search', { filter: 'name = ' }), 400, 'INVALID_PARAMETER_VALUE', /Invalid filter/);
      assertError(await reg(t, 'GET', 'registered-models/search', { filter: "name > 'a'" }), 400, 'INVALID_PARAMETER_VALUE', /Invalid filter/);
      assertError(await reg(t, 'GET', 'registered-models/search', { order_by: ['creation_timestamp'] }), 400, 'INVALID_PARAMETER_VALUE', /Invalid order_by/);
      assertError(await reg(t, 'GET', 'registered-models/search', { order_by: ['name', 'name DESC'] }), 400, 'INVALID_PARAMETER_VALUE', /`order_by` contains duplicate fields/);
      assertError(
        await reg(t, 'GET', 'registered-models/search', { max_results: '1001' }),
        400,
        'INVALID_PARAMETER_VALUE',
        'Invalid value for request parameter max_results. It must be at most 1000, but got value 1001',
      );
      assertError(await reg(t, 'GET', 'registered-models/search', { max_results: '0' }), 400, 'INVALID_PARAMETER_VALUE', /must be a positive integer/);
      assertError(await reg(t, 'GET', 'registered-models/search', { page_token: 'not base64 json' }), 400, 'INVALID_PARAMETER_VALUE', /Invalid page token/);
    });
  });

  describe('model-versions/search', () => {
    it('default order: last_updated_timestamp DESC, then name ASC, version DESC', async () => {
      assert.deepEqual(await versions({}), ['Churn/1', 'fraud/2', 'fraud/1']);
    });

    it('filters on name, run_id, source_path, version_number and tags', async () => {
      assert.deepEqual(await versions({ filter: "name = 'fraud'" }), ['fraud/2', 'fraud/1']);
      assert.deepEqual(await versions({ filter: `run_id = '${runA}'` }), ['Churn/1', 'fraud/1']);
      assert.deepEqual(await versions({ filter: `run_id IN ('${runB}')` }), ['fraud/2']);
      assert.deepEqual(await versions({ filter: "source_path LIKE '%/churn'" }), ['Churn/1']);
      assert.deepEqual(await versions({ filter: "version_number > 1" }), ['fraud/2']);
      assert.deepEqual(await versions({ filter: "tags.validated = 'true'" }), ['fraud/1']);
      assert.deepEqual(await versions({ filter: "tags.validated != 'true'" }), ['Churn/1']);
      assert.deepEqual(await versions({ filter: "name ILIKE 'CHURN' AND tags.validated = 'false'" }), ['Churn/1']);
    });

    it('order_by and paging', async () => {
      assert.deepEqual(await versions({ order_by: ['name ASC', 'version_number ASC'] }), ['Churn/1', 'fraud/1', 'fraud/2']);
      assert.deepEqual(await versions({ order_by: ['creation_timestamp ASC'] }), ['fraud/1', 'fraud/2', 'Churn/1']);
      const first = await ok(t, 'GET', 'model-versions/search', { max_results: '2' });
      assert.deepEqual(first.model_versions.map((v: any) => v.version), ['1', '2']);
      assert.ok(first.next_page_token);
      const second = await ok(t, 'GET', 'model-versions/search', { max_results: '2', page_token: first.next_page_token });
      assert.deepEqual(second.model_versions.map((v: any) => `${v.name}/${v.version}`), ['fraud/1']);
      assert.equal(second.next_page_token, undefined);
      assertError(
        await reg(t, 'GET', 'model-versions/search', { max_results: '200001' }),
        400,
        'INVALID_PARAMETER_VALUE',
        'Invalid value for request parameter max_results. It must be at most 200000, but got value 200001',
      );
      assertError(await reg(t, 'GET', 'model-versions/search', { filter: "stage = 'None'" }), 400, 'INVALID_PARAMETER_VALUE', /Invalid filter/);
      assertError(await reg(t, 'GET', 'model-versions/search', { order_by: ['run_id'] }), 400, 'INVALID_PARAMETER_VALUE', /Invalid order_by/);
    });
  });
});
