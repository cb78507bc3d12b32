// The registry import API of the store (what an MLflow importer writes): models and versions with
// their own timestamps, numbers and stages, idempotent when run twice, and the counter kept above them.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { ok } from '../api/registry.helpers.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ backend });
  });
  afterEach(() => t.close());

  const model = { name: 'imported', creationTime: 1000, lastUpdatedTime: 2000, description: 'from mlflow', tags: [{ key: 'team', value: 'risk' }] };
  const version = (n: number, stage: 'None' | 'Production' = 'None') => ({
    name: 'imported',
    version: n,
    creationTime: 1000 + n,
    lastUpdatedTime: 2000 + n,
    description: `v${n}`,
    userId: 'old-user',
    currentStage: stage,
    source: `mlflow-artifacts:/1/r${n}/artifacts/model`,
    storageLocation: `mlflow-artifacts:/1/r${n}/artifacts/model`,
    runId: `r${n}`,
    runLink: '',
    tags: [{ key: 'k', value: String(n) }],
  });

  describe('registry import (store)', () => {
    it('writes models and versions as given, twice without duplicates; new versions continue after the highest', async () => {
      for (let pass = 0; pass < 2; pass++) {
        await t.store.importRegisteredModel(model);
        await t.store.importModelVersion(version(3, 'Production'));
        await t.store.importModelVersion(version(7));
        await t.store.setRegisteredModelAlias('imported', 'champion', 3);
      }
      assert.deepEqual(await t.sql('SELECT name, creation_time, last_updated_time, description, next_version FROM registered_models'), [
        { name: 'imported', creation_time: 1000, last_updated_time: 2000, description: 'from mlflow', next_version: 8 },
      ]);
      assert.deepEqual(await t.sql('SELECT version, current_stage, creation_time, user_id FROM model_versions ORDER BY version'), [
        { version: 3, current_stage: 'Production', creation_time: 1003, user_id: 'old-user' },
        { version: 7, current_stage: 'None', creation_time: 1007, user_id: 'old-user' },
      ]);
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM model_version_tags'), [{ n: 2 }]);
      const got = await ok(t, 'GET', 'registered-models/get', { name: 'imported' });
      assert.deepEqual(got.registered_model.aliases, [{ alias: 'champion', version: '3' }]);
      assert.deepEqual(got.registered_model.latest_versions.map((v: any) => [v.version, v.current_stage]), [['3', 'Production'], ['7', 'None']]);
      const next = await ok(t, 'POST', 'model-versions/create', { name: 'imported', source: 's3://b/m' });
      assert.equal(next.model_version.version, '8');
      await assert.rejects(t.store.importModelVersion({ ...version(1), name: 'missing' }), /Registered Model with name=missing not found/);
    });
  });
});
