// The registry through the real Python `mlflow` package (where it is installed; skipped otherwise,
// with the reason): log_model(..., registered_model_name=...), register_model from runs:/ and from an
// mlflow-artifacts: URI, stage, alias, and models:/ downloads by number, stage and alias.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildTestApp, listen, type TestApp } from '../helper.js';

const probe = (args: string[]) => spawnSync('python3', args, { encoding: 'utf8' });
const PYTHON = probe(['--version']).status === 0;
const MLFLOW = PYTHON && probe(['-c', 'import mlflow']).status === 0;

const SCRIPT = String.raw`
import os, tempfile
import mlflow
from mlflow import MlflowClient

class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input

mlflow.set_experiment("registry-py")
with mlflow.start_run() as run:
    mlflow.pyfunc.log_model("model", python_model=Echo(), pip_requirements=[], registered_model_name="py-model")
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(bytes(range(256)) * 16)
    mlflow.log_artifacts(d, "raw")

client = MlflowClient()
assert client.get_registered_model("py-model").name == "py-model"
mv = mlflow.register_model(f"runs:/{run.info.run_id}/raw", "py-raw")
assert mv.version == "1", mv.version
mv2 = mlflow.register_model(f"{run.info.artifact_uri}/raw", "py-raw")
assert mv2.version == "2", mv2.version
client.transition_model_version_stage("py-raw", "1", "Production")
client.set_registered_model_alias("py-raw", "champion", "2")
assert client.get_model_version_by_alias("py-raw", "champion").version == "2"
assert [v.version for v in client.get_latest_versions("py-raw", stages=["Production"])] == ["1"]
for uri in ["models:/py-raw/1", "models:/py-raw/Production", "models:/py-raw@champion"]:
    out = mlflow.artifacts.download_artifacts(uri)
    with open(os.path.join(out, "weights.bin"), "rb") as f:
        assert f.read() == bytes(range(256)) * 16, uri
loaded = mlflow.pyfunc.load_model("models:/py-model/1")
assert list(loaded.predict([1, 2, 3])) == [1, 2, 3]
names = sorted(m.name for m in client.search_registered_models())
assert names == ["py-model", "py-raw"], names
client.delete_registered_model_alias("py-raw", "champion")
client.delete_model_version("py-raw", "2")
assert [v.version for v in client.search_model_versions("name='py-raw'")] == ["1"]
print("REGISTRY-OK")
`;

let t: TestApp;
let url = '';
let cwd = '';
before(async () => {
  if (!MLFLOW) return;
  t = await buildTestApp();
  url = `http://127.0.0.1:${await listen(t)}`;
  cwd = mkdtempSync(path.join(os.tmpdir(), 'lablog-registry-py-'));
});
after(async () => {
  if (!MLFLOW) return;
  await t.close();
  rmSync(cwd, { recursive: true, force: true });
});

test('the Python mlflow client registers and loads models', { timeout: 300_000 }, async (ctx) => {
  if (!MLFLOW) return ctx.skip(PYTHON ? 'the mlflow package is not installed for python3' : 'python3 is not on PATH');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MLFLOW_') && !k.startsWith('LABLOG_')) env[k] = v;
  env.MLFLOW_TRACKING_URI = url;
  const child = spawn('python3', ['-c', SCRIPT], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /REGISTRY-OK/);
});
