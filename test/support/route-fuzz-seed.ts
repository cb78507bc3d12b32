import type { TestApp } from '../helper.js';
import type { FuzzSeed } from './route-fuzz.js';

async function ok(t: TestApp, method: 'GET' | 'POST', url: string, body: unknown) {
  const res = await t.call(method, url, body);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${res.body}`);
  return res.json;
}

/** An experiment, a run with data and an artifact, a registered model with a version, and a sweep. */
export async function seedFuzzTarget(t: TestApp): Promise<FuzzSeed> {
  const expId = (await ok(t, 'POST', 'experiments/create', { name: 'fuzz', tags: [{ key: 'owner', value: 'me' }] })).experiment_id as string;
  const runId = (await ok(t, 'POST', 'runs/create', { experiment_id: expId, run_name: 'target' })).run.info.run_id as string;
  await ok(t, 'POST', 'runs/log-batch', {
    run_id: runId,
    metrics: Array.from({ length: 50 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestamp: 1_700_000_000_000 + i, step: i })),
    params: [{ key: 'lr', value: '0.1' }],
    tags: [{ key: 'team', value: 'a' }],
  });
  const artifact = 'notes.txt';
  const put = await t.app.inject({ method: 'PUT', url: `/api/2.0/mlflow-artifacts/artifacts/${expId}/${runId}/artifacts/${artifact}`, payload: 'hello', headers: { 'content-type': 'application/octet-stream' } });
  if (put.statusCode !== 200) throw new Error(`artifact upload: ${put.body}`);
  const model = 'fuzz-model';
  await healModel(t, model, runId);
  const sweep = await ok(t, 'POST', '/api/2.0/lablog/sweeps/create', {
    experiment_id: expId,
    name: 'fuzz-sweep',
    method: 'random',
    metric: { name: 'loss', goal: 'minimize' },
    parameters: { lr: { distribution: 'log_uniform', min: 0.0001, max: 0.1 } },
    run_cap: 1000,
  });
  return { expId, runId, model, sweepId: String(sweep.sweep?.sweep_id ?? sweep.sweep_id), artifact };
}

async function healModel(t: TestApp, model: string, runId: string) {
  if ((await t.get('registered-models/get', { name: model })).status === 200) return;
  await t.post('registered-models/create', { name: model });
  await t.post('model-versions/create', { name: model, source: `runs:/${runId}/model`, run_id: runId });
}

/** Random successful writes delete, rename or archive the seeded entities; put them back. */
export async function healFuzzTarget(t: TestApp, seed: FuzzSeed): Promise<void> {
  await t.post('experiments/restore', { experiment_id: seed.expId });
  await t.post('runs/restore', { run_id: seed.runId });
  await healModel(t, seed.model, seed.runId);
}
