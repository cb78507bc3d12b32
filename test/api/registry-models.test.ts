// Registered models over HTTP: create/get/rename/update/delete, tags, aliases, get-latest-versions,
// with the stored rows and MLflow's errors asserted.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, manualClock } from './api.helpers.js';
import { createModel, createVersion, ok, reg } from './registry.helpers.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  const clock = manualClock();
  beforeEach(async () => {
    clock.ms = 1_700_000_000_000;
    t = await buildTestApp({ backend, now: clock.now });
  });
  afterEach(() => t.close());

  const SRC = 'mlflow-artifacts:/0/abc/artifacts/model';

  describe('registered-models', () => {
    it('create answers the model as MLflow does and stores it with its tags', async () => {
      const res = await createModel(t, 'churn', { description: 'predicts churn', tags: [{ key: 'team', value: 'growth' }, { key: 'a', value: '1' }, { key: 'a', value: '2' }] });
      assert.deepEqual(res, {
        registered_model: {
          name: 'churn',
          creation_timestamp: clock.ms,
          last_updated_timestamp: clock.ms,
          description: 'predicts churn',
          tags: [{ key: 'a', value: '2' }, { key: 'team', value: 'growth' }],
        },
      });
      assert.deepEqual(await t.sql('SELECT name, creation_time, last_updated_time, description, next_version FROM registered_models'), [
        { name: 'churn', creation_time: clock.ms, last_updated_time: clock.ms, description: 'predicts churn', next_version: 1 },
      ]);
      assert.deepEqual(await t.sql('SELECT name, key, value FROM registered_model_tags ORDER BY key'), [
        { name: 'churn', key: 'a', value: '2' },
        { name: 'churn', key: 'team', value: 'growth' },
      ]);
      // The same through /ajax-api (MLflow's UI prefix).
      const again = await ok(t, 'GET', '/ajax-api/2.0/mlflow/registered-models/get', { name: 'churn' });
      assert.deepEqual(again, res);
    });

    it('a second create with the same name is RESOURCE_ALREADY_EXISTS (400); a missing or empty name is refused', async () => {
      await createModel(t, 'm');
      assertError(await reg(t, 'POST', 'registered-models/create', { name: 'm' }), 400, 'RESOURCE_ALREADY_EXISTS', 'Registered Model (name=m) already exists.');
      assertError(await reg(t, 'POST', 'registered-models/create', {}), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'name'/);
      assertError(await reg(t, 'POST', 'registered-models/create', { name: '' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'name'/);
      assertError(await reg(t, 'POST', 'registered-models/create', { name: 5 }), 400, 'INVALID_PARAMETER_VALUE');
      assert.equal((await t.sql('SELECT * FROM registered_models')).length, 1);
    });

    it('get, update, delete of a missing model: 404 RESOURCE_DOES_NOT_EXIST with MLflow message', async () => {
      const msg = 'Registered Model with name=nope not found';
      assertError(await reg(t, 'GET', 'registered-models/get', { name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', msg);
      assertError(await reg(t, 'PATCH', 'registered-models/update', { name: 'nope', description: 'x' }), 404, 'RESOURCE_DOES_NOT_EXIST', msg);
      assertError(await reg(t, 'DELETE', 'registered-models/delete', { name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', msg);
      assertError(await reg(t, 'POST', 'registered-models/rename', { name: 'nope', new_name: 'x' }), 404, 'RESOURCE_DOES_NOT_EXIST', msg);
      assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'nope', key: 'k', value: 'v' }), 404, 'RESOURCE_DOES_NOT_EXIST', msg);
      assertError(await reg(t, 'POST', 'registered-models/get-latest-versions', { name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', msg);
    });

    it('update (PATCH) sets the description and last_updated_timestamp', async () => {
      await createModel(t, 'm');
      clock.advance(5000);
      const res = await ok(t, 'PATCH', 'registered-models/update', { name: 'm', description: 'v2' });
      assert.equal(res.registered_model.description, 'v2');
      assert.equal(res.registered_model.last_updated_timestamp, clock.ms);
      assert.equal(res.registered_model.creation_timestamp, clock.ms - 5000);
      assert.deepEqual(await t.sql('SELECT description, last_updated_time FROM registered_models'), [{ description: 'v2', last_updated_time: clock.ms }]);
      assertError(await reg(t, 'POST', 'registered-models/update', { name: 'm' }), 404, 'ENDPOINT_NOT_FOUND');
    });

    it('rename carries versions, tags and aliases; the old name is gone; a taken name is RESOURCE_ALREADY_EXISTS', async () => {
      await createModel(t, 'old', { tags: [{ key: 'k', value: 'v' }] });
      await createVersion(t, 'old', SRC, { tags: [{ key: 'vt', value: '1' }] });
      await createVersion(t, 'old', SRC);
      await ok(t, 'POST', 'registered-models/alias', { name: 'old', alias: 'champion', version: '2' });
      await createModel(t, 'taken');
      assertError(await reg(t, 'POST', 'registered-models/rename', { name: 'old', new_name: 'taken' }), 400, 'RESOURCE_ALREADY_EXISTS', 'Registered Model (name=taken) already exists.');
      assertError(await reg(t, 'POST', 'registered-models/rename', { name: 'old' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'new_name'/);
      clock.advance(1000);
      const res = await ok(t, 'POST', 'registered-models/rename', { name: 'old', new_name: 'new' });
      assert.equal(res.registered_model.name, 'new');
      assert.deepEqual(res.registered_model.tags, [{ key: 'k', value: 'v' }]);
      assert.deepEqual(res.registered_model.aliases, [{ alias: 'champion', version: '2' }]);
      assert.deepEqual(res.registered_model.latest_versions.map((v: any) => [v.name, v.version, v.last_updated_timestamp]), [['new', '2', clock.ms]]);
      assertError(await reg(t, 'GET', 'registered-models/get', { name: 'old' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      const v1 = await ok(t, 'GET', 'model-versions/get', { name: 'new', version: '1' });
      assert.deepEqual(v1.model_version.tags, [{ key: 'vt', value: '1' }]);
      const byAlias = await ok(t, 'GET', 'registered-models/alias', { name: 'new', alias: 'champion' });
      assert.equal(byAlias.model_version.version, '2');
      assert.deepEqual(await t.sql("SELECT count(*) AS n FROM model_versions WHERE name = 'old'"), [{ n: 0 }]);
      assert.deepEqual(await t.sql('SELECT name, version FROM model_versions ORDER BY version'), [
        { name: 'new', version: 1 },
        { name: 'new', version: 2 },
      ]);
      assert.deepEqual(await t.sql('SELECT name, key FROM model_version_tags'), [{ name: 'new', key: 'vt' }]);
      // The counter moved too: the next version is 3.
      assert.equal((await createVersion(t, 'new', SRC)).model_version.version, '3');
    });

    it('delete removes the model with its versions, tags and aliases', async () => {
      await createModel(t, 'gone', { tags: [{ key: 'k', value: 'v' }] });
      await createVersion(t, 'gone', SRC, { tags: [{ key: 'x', value: 'y' }] });
      await ok(t, 'POST', 'registered-models/alias', { name: 'gone', alias: 'a', version: '1' });
      assert.deepEqual(await ok(t, 'DELETE', 'registered-models/delete', { name: 'gone' }), {});
      for (const table of ['registered_models', 'registered_model_tags', 'model_versions', 'model_version_tags', 'registered_model_aliases']) {
        assert.deepEqual(await t.sql(`SELECT count(*) AS n FROM ${table}`), [{ n: 0 }], table);
      }
      // A new model of the same name starts again at version 1 (it is another model).
      await createModel(t, 'gone');
      assert.equal((await createVersion(t, 'gone', SRC)).model_version.version, '1');
    });

    it('set-tag overwrites, delete-tag removes (a missing tag is fine), bad keys are refused', async () => {
      await createModel(t, 'm');
      assert.deepEqual(await ok(t, 'POST', 'registered-models/set-tag', { name: 'm', key: 'k', value: 'v1' }), {});
      await ok(t, 'POST', 'registered-models/set-tag', { name: 'm', key: 'k', value: 'v2' });
      await ok(t, 'POST', 'registered-models/set-tag', { name: 'm', key: 'other', value: 'o' });
      assert.deepEqual(await t.sql('SELECT key, value FROM registered_model_tags ORDER BY key'), [
        { key: 'k', value: 'v2' },
        { key: 'other', value: 'o' },
      ]);
      assert.deepEqual(await ok(t, 'DELETE', 'registered-models/delete-tag', { name: 'm', key: 'k' }), {});
      await ok(t, 'DELETE', 'registered-models/delete-tag', { name: 'm', key: 'never' });
      assert.deepEqual((await ok(t, 'GET', 'registered-models/get', { name: 'm' })).registered_model.tags, [{ key: 'other', value: 'o' }]);
      assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'm', key: '../x', value: 'v' }), 400, 'INVALID_PARAMETER_VALUE', /Invalid tag name: '..\/x'/);
      assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'm', key: 'k', value: 'x'.repeat(5001) }), 400, 'INVALID_PARAMETER_VALUE', /length limit of 5000/);
      assertError(await reg(t, 'POST', 'registered-models/set-tag', { name: 'm', value: 'v' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'key'/);
    });

    it('aliases: set (moves), get by alias, delete; MLflow name rules and errors', async () => {
      await createModel(t, 'm');
      await createVersion(t, 'm', SRC);
      await createVersion(t, 'm', SRC);
      assert.deepEqual(await ok(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'champion', version: '1' }), {});
      await ok(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'champion', version: 2 });
      await ok(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'backup', version: '1' });
      assert.deepEqual(await t.sql('SELECT alias, version FROM registered_model_aliases ORDER BY alias'), [
        { alias: 'backup', version: 1 },
        { alias: 'champion', version: 2 },
      ]);
      const got = await ok(t, 'GET', 'registered-models/alias', { name: 'm', alias: 'champion' });
      assert.equal(got.model_version.version, '2');
      assert.deepEqual(got.model_version.aliases, ['champion']);
      assert.deepEqual((await ok(t, 'GET', 'registered-models/get', { name: 'm' })).registered_model.aliases, [
        { alias: 'backup', version: '1' },
        { alias: 'champion', version: '2' },
      ]);
      assert.deepEqual(await ok(t, 'DELETE', 'registered-models/alias', { name: 'm', alias: 'backup' }), {});
      assertError(await reg(t, 'GET', 'registered-models/alias', { name: 'm', alias: 'backup' }), 400, 'INVALID_PARAMETER_VALUE', 'Registered model alias backup not found.');
      assertError(await reg(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'x', version: '9' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=m, version=9) not found');
      assertError(await reg(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'latest', version: '1' }), 400, 'INVALID_PARAMETER_VALUE', "'latest' alias name (case insensitive) is reserved.");
      assertError(await reg(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'v3', version: '1' }), 400, 'INVALID_PARAMETER_VALUE', "Version alias name 'v3' is reserved.");
      assertError(
        await reg(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'a b', version: '1' }),
        400,
        'INVALID_PARAMETER_VALUE',
        "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-).",
      );
      assertError(await reg(t, 'POST', 'registered-models/alias', { name: 'm', alias: 'x', version: 'one' }), 400, 'INVALID_PARAMETER_VALUE', "Parameter 'version' must be an integer, got 'one'.");
      // Deleting the version drops the alias pointing at it.
      await ok(t, 'DELETE', 'model-versions/delete', { name: 'm', version: '2' });
      assert.deepEqual(await t.sql('SELECT alias FROM registered_model_aliases'), []);
    });

    it('get-latest-versions: newest per stage, POST and GET, stage names in any case, a bad stage refused', async () => {
      await createModel(t, 'm');
      for (let i = 0; i < 5; i++) await createVersion(t, 'm', SRC);
      await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '2', stage: 'production', archive_existing_versions: false });
      await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '3', stage: 'Production', archive_existing_versions: false });
      await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '4', stage: 'STAGING', archive_existing_versions: false });
      const all = await ok(t, 'POST', 'registered-models/get-latest-versions', { name: 'm' });
      // MLflow's order: each stage where its oldest version stands (None from v1, Production from v2, Staging from v4).
      assert.deepEqual(all.model_versions.map((v: any) => [v.version, v.current_stage]), [['5', 'None'], ['3', 'Production'], ['4', 'Staging']]);
      const prod = await ok(t, 'POST', 'registered-models/get-latest-versions', { name: 'm', stages: ['PRODUCTION'] });
      assert.deepEqual(prod.model_versions.map((v: any) => v.version), ['3']);
      const viaGet = await ok(t, 'GET', 'registered-models/get-latest-versions', { name: 'm', stages: ['Staging', 'None'] });
      assert.deepEqual(viaGet.model_versions.map((v: any) => v.version), ['5', '4']);
      assert.deepEqual(await ok(t, 'POST', 'registered-models/get-latest-versions', { name: 'm', stages: ['Archived'] }), {});
      assertError(
        await reg(t, 'POST', 'registered-models/get-latest-versions', { name: 'm', stages: ['Prod'] }),
        400,
        'INVALID_PARAMETER_VALUE',
        'Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived.',
      );
      const model = await ok(t, 'GET', 'registered-models/get', { name: 'm' });
      assert.deepEqual(model.registered_model.latest_versions.map((v: any) => v.version), ['5', '3', '4']);
    });

    it('the API reference lists every registry route under the registry tag', async () => {
      const doc = await ok(t, 'GET', '/api/openapi.json');
      const registry = Object.entries(doc.paths as Record<string, Record<string, { tags: string[] }>>).filter(([p]) => /registered-models|model-versions/.test(p));
      // 10 registered-models and 9 model-versions paths, each under both prefixes, and the UI's get-artifact.
      assert.equal(registry.length, 2 * (10 + 9) + 1);
      assert.ok(doc.paths['/model-versions/get-artifact'].get);
      for (const [p, ops] of registry) for (const op of Object.values(ops)) assert.deepEqual(op.tags, ['registry'], p);
      const methods = Object.keys(doc.paths['/api/2.0/mlflow/registered-models/alias']).sort();
      assert.deepEqual(methods, ['delete', 'get', 'post']);
      assert.deepEqual(Object.keys(doc.paths['/api/2.0/mlflow/registered-models/get-latest-versions']).sort(), ['get', 'post']);
    });
  });
});
