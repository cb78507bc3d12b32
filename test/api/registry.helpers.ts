import assert from 'node:assert/strict';
import { injectJson, type TestApp } from '../helper.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * One registry call the way the stock client sends it: GET parameters in the query string, every
 * other method (POST, PATCH, DELETE) with a JSON body. `path` is relative to /api/2.0/mlflow/.
 */
export function reg(t: TestApp, method: Method, path: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const url = path.startsWith('/') ? path : `/api/2.0/mlflow/${path}`;
  if (method === 'GET') {
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(body)) query[k] = Array.isArray(v) ? v.map(String) : String(v);
    return injectJson(t.app, { method, url, query, headers });
  }
  return injectJson(t.app, { method, url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/** A call that must answer 200; returns the JSON. */
export async function ok(t: TestApp, method: Method, path: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await reg(t, method, path, body, headers);
  assert.equal(res.status, 200, `${method} ${path}: ${res.body}`);
  return res.json as any;
}

export const createModel = (t: TestApp, name: string, extra: Record<string, unknown> = {}) => ok(t, 'POST', 'registered-models/create', { name, ...extra });

export const createVersion = (t: TestApp, name: string, source: string, extra: Record<string, unknown> = {}) =>
  ok(t, 'POST', 'model-versions/create', { name, source, ...extra });

/** A run in experiment 0; returns its id and artifact URI. */
export async function newRun(t: TestApp): Promise<{ runId: string; artifactUri: string; experimentId: string }> {
  const res = await t.post('runs/create', { experiment_id: '0' });
  assert.equal(res.status, 200, res.body);
  return { runId: res.json.run.info.run_id, artifactUri: res.json.run.info.artifact_uri, experimentId: res.json.run.info.experiment_id };
}
