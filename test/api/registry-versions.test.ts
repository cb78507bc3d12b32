// Model versions over HTTP: create (numbering, also 50 at once and after deletes), get, update,
// transition-stage with archive_existing_versions, delete, get-download-uri, tags; stored rows asserted.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import path from 'node:path';
import { createLocalArtifactStore } from '../../server/artifacts/local.js';
import { collectGarbage } from '../../server/tracking/gc.service.js';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError, manualClock } from './api.helpers.js';
import { createModel, createVersion, newRun, ok, reg } from './registry.helpers.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  const clock = manualClock();
  beforeEach(async () => {
    clock.ms = 1_700_000_000_000;
    t = await buildTestApp({ backend, now: clock.now });
    await createModel(t, 'm');
  });
  afterEach(() => t.close());

  const stages = async () => t.sql<{ version: number; current_stage: string }>('SELECT version, current_stage FROM model_versions ORDER BY version');

  describe('model-versions', () => {
    it('create from a run: the whole model_version as MLflow writes it, and the stored row', async () => {
      const run = await newRun(t);
      clock.advance(10);
      const res = await createVersion(t, 'm', `${run.artifactUri}/model`, {
        run_id: run.runId,
        description: 'first',
        tags: [{ key: 'k', value: 'v' }],
        run_link: 'http://elsewhere/run',
      });
      assert.deepEqual(res, {
        model_version: {
          name: 'm',
          version: '1',
          creation_timestamp: clock.ms,
          last_updated_timestamp: clock.ms,
          current_stage: 'None',
          description: 'first',
          source: `${run.artifactUri}/model`,
          run_id: run.runId,
          status: 'READY',
          tags: [{ key: 'k', value: 'v' }],
          run_link: 'http://elsewhere/run',
        },
      });
      assert.deepEqual(await t.sql('SELECT name, version, current_stage, source, storage_location, run_id, status, description FROM model_versions'), [
        { name: 'm', version: 1, current_stage: 'None', source: `${run.artifactUri}/model`, storage_location: `${run.artifactUri}/model`, run_id: run.runId, status: 'READY', description: 'first' },
      ]);
      // The model's last_updated_timestamp moved with the new version.
      const model = await ok(t, 'GET', 'registered-models/get', { name: 'm' });
      assert.equal(model.registered_model.last_updated_timestamp, clock.ms);
      assert.deepEqual(model.registered_model.latest_versions.map((v: any) => v.version), ['1']);
      // Without optional fields: run_id, run_link and description are empty strings (proto2 fields the handler sets).
      const bare = await createVersion(t, 'm', 's3://bucket/model');
      assert.equal(bare.model_version.version, '2');
      assert.equal(bare.model_version.run_id, '');
      assert.equal(bare.model_version.run_link, '');
      assert.equal(bare.model_version.description, '');
      assert.equal(bare.model_version.user_id, undefined);
    });

    it('versions start at 1 and never repeat: 50 concurrent creates get 1..50, deletes leave gaps', async () => {
      const created = await Promise.all(Array.from({ length: 50 }, () => reg(t, 'POST', 'model-versions/create', { name: 'm', source: 's3://b/m' })));
      const numbers = created.map((r) => {
        assert.equal(r.status, 200, r.body);
        return Number(r.json.model_version.version);
      });
      assert.deepEqual([...numbers].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.deepEqual(await t.sql('SELECT count(DISTINCT version) AS n, max(version) AS top FROM model_versions'), [{ n: 50, top: 50 }]);
      await ok(t, 'DELETE', 'model-versions/delete', { name: 'm', version: '50' });
      await ok(t, 'DELETE', 'model-versions/delete', { name: 'm', version: '49' });
      assert.equal((await createVersion(t, 'm', 's3://b/m')).model_version.version, '51');
      assertError(await reg(t, 'GET', 'model-versions/get', { name: 'm', version: '50' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=m, version=50) not found');
      assert.deepEqual(await t.sql("SELECT next_version FROM registered_models WHERE name = 'm'"), [{ next_version: 52 }]);
    });

    it('create on a missing model is 404; missing name or source is refused', async () => {
      assertError(await reg(t, 'POST', 'model-versions/create', { name: 'nope', source: 's3://b/m' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Registered Model with name=nope not found');
      assertError(await reg(t, 'POST', 'model-versions/create', { name: 'm' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'source'/);
      assertError(await reg(t, 'POST', 'model-versions/create', { source: 's3://b/m' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'name'/);
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM model_versions'), [{ n: 0 }]);
    });

    it('get, update (PATCH) and its description; bad version numbers', async () => {
      await createVersion(t, 'm', 's3://b/m', { description: 'd0' });
      clock.advance(100);
      const upd = await ok(t, 'PATCH', 'model-versions/update', { name: 'm', version: '1', description: 'better' });
      assert.equal(upd.model_version.description, 'better');
      assert.equal(upd.model_version.last_updated_timestamp, clock.ms);
      assert.deepEqual(await t.sql('SELECT description, last_updated_time FROM model_versions'), [{ description: 'better', last_updated_time: clock.ms }]);
      const got = await ok(t, 'GET', 'model-versions/get', { name: 'm', version: '1' });
      assert.deepEqual(got, upd);
      assertError(await reg(t, 'GET', 'model-versions/get', { name: 'm', version: 'x' }), 400, 'INVALID_PARAMETER_VALUE', "Parameter 'version' must be an integer, got 'x'.");
      assertError(await reg(t, 'GET', 'model-versions/get', { name: 'm' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'version'/);
      // MLflow looks the version up directly: a missing model reads as a missing version.
      assertError(await reg(t, 'GET', 'model-versions/get', { name: 'other', version: '1' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=other, version=1) not found');
      assertError(await reg(t, 'POST', 'registered-models/alias', { name: 'other', alias: 'a', version: '1' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=other, version=1) not found');
    });

    it('transition-stage: canonical stages, archive_existing_versions archives the others in that stage only', async () => {
      for (let i = 0; i < 4; i++) await createVersion(t, 'm', 's3://b/m');
      await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '1', stage: 'Production', archive_existing_versions: false });
      await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '2', stage: 'production', archive_existing_versions: false });
      await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '3', stage: 'staging', archive_existing_versions: false });
      assert.deepEqual(await stages(), [
        { version: 1, current_stage: 'Production' },
        { version: 2, current_stage: 'Production' },
        { version: 3, current_stage: 'Staging' },
        { version: 4, current_stage: 'None' },
      ]);
      clock.advance(7);
      const res = await ok(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '4', stage: 'PRODUCTION', archive_existing_versions: true });
      assert.equal(res.model_version.current_stage, 'Production');
      assert.equal(res.model_version.last_updated_timestamp, clock.ms);
      assert.deepEqual(await stages(), [
        { version: 1, current_stage: 'Archived' },
        { version: 2, current_stage: 'Archived' },
        { version: 3, current_stage: 'Staging' },
        { version: 4, current_stage: 'Production' },
      ]);
      assert.deepEqual(await t.sql('SELECT last_updated_time FROM model_versions WHERE version IN (1, 2)'), [{ last_updated_time: clock.ms }, { last_updated_time: clock.ms }]);
      assertError(
        await reg(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '3', stage: 'Archived', archive_existing_versions: true }),
        400,
        'INVALID_PARAMETER_VALUE',
        "Model version transition cannot archive existing model versions because 'Archived' is not an Active stage. Valid stages are ['Staging', 'Production']",
      );
      assertError(
        await reg(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '3', stage: 'Live' }),
        400,
        'INVALID_PARAMETER_VALUE',
        'Invalid Model Version stage: Live. Value must be one of None, Staging, Production, Archived.',
      );
      assertError(await reg(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '9', stage: 'None' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=m, version=9) not found');
      assertError(await reg(t, 'POST', 'model-versions/transition-stage', { name: 'm', version: '3' }), 400, 'INVALID_PARAMETER_VALUE', /^Missing value for required parameter 'stage'/);
      assert.equal((await stages())[2].current_stage, 'Staging');
    });

    it('delete removes the version with its tags; a second delete is 404', async () => {
      await createVersion(t, 'm', 's3://b/m', { tags: [{ key: 'a', value: '1' }] });
      assert.deepEqual(await ok(t, 'DELETE', 'model-versions/delete', { name: 'm', version: '1' }), {});
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM model_versions'), [{ n: 0 }]);
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM model_version_tags'), [{ n: 0 }]);
      assertError(await reg(t, 'DELETE', 'model-versions/delete', { name: 'm', version: '1' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=m, version=1) not found');
    });

    it('set-tag / delete-tag on a version', async () => {
      await createVersion(t, 'm', 's3://b/m');
      assert.deepEqual(await ok(t, 'POST', 'model-versions/set-tag', { name: 'm', version: '1', key: 'validated', value: 'yes' }), {});
      await ok(t, 'POST', 'model-versions/set-tag', { name: 'm', version: 1, key: 'validated', value: 'no' });
      assert.deepEqual(await t.sql('SELECT name, version, key, value FROM model_version_tags'), [{ name: 'm', version: 1, key: 'validated', value: 'no' }]);
      assert.deepEqual(await ok(t, 'DELETE', 'model-versions/delete-tag', { name: 'm', version: '1', key: 'validated' }), {});
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM model_version_tags'), [{ n: 0 }]);
      assertError(await reg(t, 'POST', 'model-versions/set-tag', { name: 'm', version: '2', key: 'k', value: 'v' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=m, version=2) not found');
      assertError(await reg(t, 'POST', 'model-versions/set-tag', { name: 'm', version: '1', key: 'bad!key', value: 'v' }), 400, 'INVALID_PARAMETER_VALUE', /Invalid tag name: 'bad!key'/);
    });

    it('get-download-uri: runs:/ sources resolve to the run artifact URI, others are answered as given', async () => {
      const run = await newRun(t);
      await createVersion(t, 'm', `runs:/${run.runId}/model`, { run_id: run.runId });
      await createVersion(t, 'm', 's3://bucket/path/model');
      await createVersion(t, 'm', 'models:/m/1');
      assert.deepEqual(await ok(t, 'GET', 'model-versions/get-download-uri', { name: 'm', version: '1' }), { artifact_uri: `${run.artifactUri}/model` });
      assert.equal(run.artifactUri, `mlflow-artifacts:/0/${run.runId}/artifacts`);
      assert.deepEqual(await ok(t, 'GET', 'model-versions/get-download-uri', { name: 'm', version: '2' }), { artifact_uri: 's3://bucket/path/model' });
      assert.deepEqual(await ok(t, 'GET', 'model-versions/get-download-uri', { name: 'm', version: '3' }), { artifact_uri: `${run.artifactUri}/model` });
      // The version keeps the source it was given.
      assert.equal((await ok(t, 'GET', 'model-versions/get', { name: 'm', version: '1' })).model_version.source, `runs:/${run.runId}/model`);
      assertError(await reg(t, 'GET', 'model-versions/get-download-uri', { name: 'm', version: '7' }), 404, 'RESOURCE_DOES_NOT_EXIST', 'Model Version (name=m, version=7) not found');
    });

    it('gc of a deleted run a version was registered from: the version stays (as in MLflow), its download URI points at the purged folder', async () => {
      const run = await newRun(t);
      await createVersion(t, 'm', `runs:/${run.runId}/model`, { run_id: run.runId });
      await t.post('runs/delete', { run_id: run.runId });
      const report = await collectGarbage(
        { store: t.store, artifacts: createLocalArtifactStore(path.join(t.dir, 'artifacts')) },
        { olderThanMs: null, runIds: [run.runId], experimentIds: [], dryRun: false, now: clock.ms + 1 },
      );
      assert.deepEqual(report.runs.map((r) => [r.id, r.status]), [[run.runId, 'removed']]);
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM runs'), [{ n: 0 }]);
      const v = await ok(t, 'GET', 'model-versions/get', { name: 'm', version: '1' });
      assert.equal(v.model_version.run_id, run.runId);
      assert.deepEqual(await ok(t, 'GET', 'model-versions/get-download-uri', { name: 'm', version: '1' }), { artifact_uri: `${run.artifactUri}/model` });
    });
  });
});
