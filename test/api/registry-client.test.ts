// The stock mlflow 2.10 client's registry flows, as the JSON sequences it sends, over a real socket:
// log_model(..., registered_model_name=...) (artifacts, log-model, create model tolerating
// RESOURCE_ALREADY_EXISTS, runs/get for the runs:/ URI, create version, poll get until READY),
// register_model from runs:/ and mlflow-artifacts: sources, and loading models:/name/1,
// models:/name/Production and models:/name@alias down to the bytes through the proxied artifacts API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends, buildTestApp, listen, type TestApp } from '../helper.js';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  let t: TestApp;
  let base: string;
  before(async () => {
    t = await buildTestApp({ backend });
    base = `http://127.0.0.1:${await listen(t)}`;
  });
  after(() => t.close());

  /** The client's call_endpoint: GET with the query string, everything else with a JSON body. */
  async function call(method: string, route: string, body: Record<string, unknown> = {}): Promise<{ status: number; json: any }> {
    const url = new URL(`${base}/api/2.0/mlflow/${route}`);
    const init: RequestInit = { method };
    if (method === 'GET') {
      for (const [k, v] of Object.entries(body)) for (const x of [v].flat()) url.searchParams.append(k, String(x));
    } else {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const res = await fetch(url, init);
    return { status: res.status, json: await res.json() };
  }
  async function ok(method: string, route: string, body: Record<string, unknown> = {}) {
    const res = await call(method, route, body);
    assert.equal(res.status, 200, `${method} ${route}: ${JSON.stringify(res.json)}`);
    return res.json;
  }

  const FILES: Record<string, Buffer> = {
    MLmodel: Buffer.from('artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n'),
    'model.pkl': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
    'conda.yaml': Buffer.from('name: mlflow-env\n'),
    'metadata/requirements.txt': Buffer.from('scikit-learn==1.3.2\n'),
  };

  /** What MlflowArtifactsRepository does with an mlflow-artifacts: URI: list recursively, download each file. */
  async function downloadTree(artifactUri: string): Promise<Record<string, Buffer>> {
    assert.match(artifactUri, /^mlflow-artifacts:\//);
    const root = artifactUri.replace(/^mlflow-artifacts:\/*/, '');
    const out: Record<string, Buffer> = {};
    const walk = async (dir: string) => {
      const res = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts?${new URLSearchParams({ path: dir })}`);
      assert.equal(res.status, 200);
      for (const f of ((await res.json()) as any).files ?? []) {
        const p = `${dir}/${f.path}`;
        if (f.is_dir) await walk(p);
        else {
          const file = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${p}`);
          assert.equal(file.status, 200);
          out[p.slice(root.length + 1)] = Buffer.from(await file.arrayBuffer());
        }
      }
    };
    await walk(root);
    return out;
  }

  /** mlflow.<flavor>.log_model(model, "model", registered_model_name=name) inside a run. */
  async function logModel(name: string): Promise<{ runId: string; version: string }> {
    const run = (await ok('POST', 'runs/create', { experiment_id: '0', start_time: String(Date.now()), tags: [] })).run.info;
    for (const [rel, bytes] of Object.entries(FILES)) {
      const put = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/0/${run.run_id}/artifacts/model/${rel}`, { method: 'PUT', body: new Uint8Array(bytes) });
      assert.equal(put.status, 200);
    }
    const modelJson = { artifact_path: 'model', flavors: { python_function: {} }, utc_time_created: '2024-01-02 03:04:05.000000', run_id: run.run_id };
    await ok('POST', 'runs/log-model', { run_id: run.run_id, model_json: JSON.stringify(modelJson) });
    // _register_model: create the model, tolerating RESOURCE_ALREADY_EXISTS.
    const created = await call('POST', 'registered-models/create', { name });
    if (created.status !== 200) {
      assert.equal(created.status, 400);
      assert.equal(created.json.error_code, 'RESOURCE_ALREADY_EXISTS');
    }
    // RunsArtifactRepository.get_underlying_uri: the run's artifact_uri + the path.
    const artifactUri = (await ok('GET', 'runs/get', { run_id: run.run_id })).run.info.artifact_uri;
    const mv = (await ok('POST', 'model-versions/create', { name, source: `${artifactUri}/model`, run_id: run.run_id })).model_version;
    // _await_model_version_creation polls get until the status is READY.
    const polled = (await ok('GET', 'model-versions/get', { name, version: mv.version })).model_version;
    assert.equal(polled.status, 'READY');
    return { runId: run.run_id, version: mv.version };
  }

  describe('stock client registry flows', () => {
    it('log_model with registered_model_name twice: versions 1 and 2, the second create tolerated', async () => {
      const first = await logModel('sk-model');
      const second = await logModel('sk-model');
      assert.deepEqual([first.version, second.version], ['1', '2']);
      const search = await ok('GET', 'model-versions/search', { filter: `run_id = '${second.runId}'` });
      assert.deepEqual(search.model_versions.map((v: any) => v.version), ['2']);
    });

    it('register_model from runs:/ and from an mlflow-artifacts: source', async () => {
      const { runId } = await logModel('registered');
      // mlflow.register_model("runs:/<id>/model", "from-runs")
      await ok('POST', 'registered-models/create', { name: 'from-runs' });
      const runUri = (await ok('GET', 'runs/get', { run_id: runId })).run.info.artifact_uri;
      const v = (await ok('POST', 'model-versions/create', { name: 'from-runs', source: `${runUri}/model`, run_id: runId })).model_version;
      assert.deepEqual([v.version, v.source, v.run_id], ['1', `mlflow-artifacts:/0/${runId}/artifacts/model`, runId]);
      // mlflow.register_model("mlflow-artifacts:/0/<id>/artifacts/model", "from-artifacts"): no run id.
      await ok('POST', 'registered-models/create', { name: 'from-artifacts' });
      const w = (await ok('POST', 'model-versions/create', { name: 'from-artifacts', source: `mlflow-artifacts:/0/${runId}/artifacts/model` })).model_version;
      assert.deepEqual([w.version, w.run_id], ['1', '']);
      const files = await downloadTree((await ok('GET', 'model-versions/get-download-uri', { name: 'from-artifacts', version: '1' })).artifact_uri);
      assert.deepEqual(files, FILES);
    });

    it('models:/name/1, models:/name/Production and models:/name@champion resolve and download byte-exact', async () => {
      const v1 = await logModel('served');
      const v2 = await logModel('served');
      // A version registered from a runs:/ URI directly (MlflowClient.create_model_version) resolves too.
      await ok('POST', 'model-versions/create', { name: 'served', source: `runs:/${v1.runId}/model`, run_id: v1.runId });
      await ok('POST', 'model-versions/transition-stage', { name: 'served', version: v2.version, stage: 'Production', archive_existing_versions: false });
      await ok('POST', 'registered-models/alias', { name: 'served', alias: 'champion', version: '3' });

      // models:/served/1
      const byNumber = (await ok('GET', 'model-versions/get-download-uri', { name: 'served', version: '1' })).artifact_uri;
      assert.equal(byNumber, `mlflow-artifacts:/0/${v1.runId}/artifacts/model`);
      assert.deepEqual(await downloadTree(byNumber), FILES);
      // models:/served/Production
      const latest = await ok('POST', 'registered-models/get-latest-versions', { name: 'served', stages: ['Production'] });
      assert.deepEqual(latest.model_versions.map((v: any) => v.version), ['2']);
      const byStage = (await ok('GET', 'model-versions/get-download-uri', { name: 'served', version: latest.model_versions[0].version })).artifact_uri;
      assert.equal(byStage, `mlflow-artifacts:/0/${v2.runId}/artifacts/model`);
      assert.deepEqual(await downloadTree(byStage), FILES);
      // models:/served@champion
      const byAlias = (await ok('GET', 'registered-models/alias', { name: 'served', alias: 'champion' })).model_version;
      assert.deepEqual([byAlias.version, byAlias.aliases], ['3', ['champion']]);
      const aliasUri = (await ok('GET', 'model-versions/get-download-uri', { name: 'served', version: byAlias.version })).artifact_uri;
      assert.equal(aliasUri, `mlflow-artifacts:/0/${v1.runId}/artifacts/model`);
      assert.deepEqual(await downloadTree(aliasUri), FILES);
      // models:/served/latest: get-latest-versions over all stages, the highest version wins.
      const all = await ok('POST', 'registered-models/get-latest-versions', { name: 'served' });
      assert.equal(Math.max(...all.model_versions.map((v: any) => Number(v.version))), 3);
    });

    it("the MLflow UI's /model-versions/get-artifact: one file of a version as an attachment; unsafe paths refused", async () => {
      await logModel('ui-model');
      const res = await fetch(`${base}/model-versions/get-artifact?${new URLSearchParams({ name: 'ui-model', version: '1', path: 'metadata/requirements.txt' })}`);
      assert.equal(res.status, 200);
      assert.match(String(res.headers.get('content-disposition')), /^attachment/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), FILES['metadata/requirements.txt']);
      for (const [path, status] of [['../../../etc/passwd', 400], ['missing.txt', 404]] as const) {
        const bad = await fetch(`${base}/model-versions/get-artifact?${new URLSearchParams({ name: 'ui-model', version: '1', path })}`);
        assert.equal(bad.status, status, path);
        assert.ok(((await bad.json()) as any).error_code);
      }
      const noVersion = await fetch(`${base}/model-versions/get-artifact?${new URLSearchParams({ name: 'ui-model', version: '9', path: 'MLmodel' })}`);
      assert.equal(noVersion.status, 404);
    });
  });
});
