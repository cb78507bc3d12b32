import assert from 'node:assert/strict';
import type { TestApp } from '../helper.js';

export const SWEEPS = '/api/2.0/lablog/sweeps';

/** Creates an experiment (once per name) and a sweep in it; returns the sweep JSON. */
export async function createSweep(t: TestApp, config: Record<string, unknown>, experiment = 'sweeps') {
  const found = await t.get('experiments/get-by-name', { experiment_name: experiment });
  const experimentId = found.status === 200 ? found.json.experiment.experiment_id : (await t.post('experiments/create', { name: experiment })).json.experiment_id;
  const res = await t.post(`${SWEEPS}/create`, { experiment_id: experimentId, name: 'sweep', metric: { name: 'loss', goal: 'minimize' }, ...config });
  assert.equal(res.status, 200, res.body);
  return res.json.sweep;
}

export async function next(t: TestApp, sweepId: string, worker = 'w') {
  const res = await t.post(`${SWEEPS}/${sweepId}/next`, { worker });
  assert.equal(res.status, 200, res.body);
  return res.json;
}

/** Logs `values[i]` at step i to the run's objective metric, then ends the run with `status`. */
export async function finishTrial(t: TestApp, runId: string, values: number[], status = 'FINISHED', key = 'loss') {
  if (values.length > 0) {
    const metrics = values.map((value, step) => ({ key, value, step, timestamp: 1 }));
    assert.equal((await t.post('runs/log-batch', { run_id: runId, metrics })).status, 200);
  }
  assert.equal((await t.post('runs/update', { run_id: runId, status, end_time: 2 })).status, 200);
}

export async function logSteps(t: TestApp, runId: string, points: [step: number, value: number][], key = 'loss') {
  const metrics = points.map(([step, value]) => ({ key, value, step, timestamp: 1 }));
  assert.equal((await t.post('runs/log-batch', { run_id: runId, metrics })).status, 200);
}

export async function trials(t: TestApp, sweepId: string) {
  const res = await t.get(`${SWEEPS}/${sweepId}/trials`);
  assert.equal(res.status, 200, res.body);
  return res.json.trials as { number: number; run_id: string; status: string; params: Record<string, unknown>; value?: number; stop_reason?: string }[];
}
