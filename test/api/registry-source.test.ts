// model-versions/create's source check, MLflow 2.10's handler `_validate_source`: a table of sources
// accepted and refused (with MLflow's messages); a refused create writes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { assertError } from './api.helpers.js';
import { createModel, newRun, reg } from './registry.helpers.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  let runId: string;
  let artifactUri: string;
  before(async () => {
    t = await buildTestApp({ backend });
    await createModel(t, 'm');
    ({ runId, artifactUri } = await newRun(t));
  });
  after(() => t.close());

  const relative = (s: string) =>
    `Invalid model version source: '${s}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, ` +
    'an absolute path must be provided without relative path references present. Please provide an absolute path.';
  const local = (s: string) =>
    `Invalid model version source: '${s}'. To use a local path as a model version source, the run_id request parameter has to be specified ` +
    'and the local path has to be contained within the artifact directory of the run specified by the run_id.';
  const fileUri = (s: string) =>
    `Invalid model version source: '${s}'. MLflow tracking server doesn't allow using a file URI as a model version source for security reasons. ` +
    'To disable this check, set the MLFLOW_ALLOW_FILE_URI_AS_MODEL_VERSION_SOURCE environment variable to True.';

  describe('model version source validation', () => {
    it('accepts run-relative, mlflow-artifacts and remote sources', async () => {
      const accepted: [string, string | undefined][] = [
        [`runs:/${runId}/model`, runId],
        [`runs:/${runId}/model`, undefined],
        [`${artifactUri}/model`, runId],
        ['mlflow-artifacts:/0/abc/artifacts/model', undefined],
        ['mlflow-artifacts://host:5000/0/abc/artifacts/model', undefined],
        ['s3://bucket/models/m', undefined],
        ['https://host/api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts/model', undefined],
        ['gs://bucket/a/b/c/', undefined],
        ['models:/m/1', undefined],
      ];
      for (const [source, run] of accepted) {
        const res = await reg(t, 'POST', 'model-versions/create', { name: 'm', source, ...(run ? { run_id: run } : {}) });
        assert.equal(res.status, 200, `${source}: ${res.body}`);
        assert.equal(res.json.model_version.source, source);
      }
    });

    it('refuses traversal, NUL bytes, local paths and file URIs with MLflow messages; nothing is written', async () => {
      const before = await t.sql('SELECT count(*) AS n FROM model_versions');
      const refused: [string, string | undefined, string][] = [
        ['mlflow-artifacts://host:5000/../../../../etc', undefined, relative('mlflow-artifacts://host:5000/../../../../etc')],
        ['http://host/api/2.0/mlflow-artifacts/artifacts/../../../../x', undefined, relative('http://host/api/2.0/mlflow-artifacts/artifacts/../../../../x')],
        ['https://host/a/../b', undefined, relative('https://host/a/../b')],
        ['s3:/my_bucket/models/path/../../other/path', undefined, relative('s3:/my_bucket/models/path/../../other/path')],
        ['mlflow-artifacts://host:5000/..%2f..%2f..%2fetc', undefined, relative('mlflow-artifacts://host:5000/..%2f..%2f..%2fetc')],
        ['mlflow-artifacts:/0/x/%252e%252e/%252e%252e/y', undefined, relative('mlflow-artifacts:/0/x/%252e%252e/%252e%252e/y')],
        ['http://host/api/2.0/mlflow-artifacts/artifacts%00', undefined, relative('http://host/api/2.0/mlflow-artifacts/artifacts%00')],
        ['s3://bucket/a/./b', undefined, relative('s3://bucket/a/./b')],
        [`runs:/${runId}/../../x`, runId, relative(`runs:/${runId}/../../x`)],
        ['mlflow-artifacts:', undefined, relative('mlflow-artifacts:')],
        ['/etc/passwd', undefined, local('/etc/passwd')],
        ['model', undefined, local('model')],
        // With a run id the message shows the resolved path; lablog's run roots are proxied, so no local path is inside one.
        ['/tmp/../etc/passwd', runId, local('/etc/passwd')],
        ['file:///etc/passwd', undefined, local('file:///etc/passwd')],
        ['file://localhost/etc/passwd', runId, local('/etc/passwd')],
      ];
      for (const [source, run, message] of refused) {
        const res = await reg(t, 'POST', 'model-versions/create', { name: 'm', source, ...(run ? { run_id: run } : {}) });
        assertError(res, 400, 'INVALID_PARAMETER_VALUE', message);
      }
      // A file: URI naming another host is not local; MLflow 2.10 refuses every such file URI.
      for (const source of ['file://remote/etc/passwd', 'file://fileserver.lan/share/model']) {
        assertError(await reg(t, 'POST', 'model-versions/create', { name: 'm', source }), 400, 'INVALID_PARAMETER_VALUE', fileUri(source));
      }
      assert.deepEqual(await t.sql('SELECT count(*) AS n FROM model_versions'), before);
    });

    it('a local source with an unknown run id: the run lookup answers 404', async () => {
      assertError(await reg(t, 'POST', 'model-versions/create', { name: 'm', source: '/x/model', run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });
  });
});
