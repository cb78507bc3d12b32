import assert from 'node:assert/strict';
import type { TestApp } from '../helper.js';
import { allRows, countRows, tableNames } from '../support/rows.js';

export const basic = (username: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}` });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const TABLES = ['experiments', 'experiment_tags', 'runs', 'params', 'tags', 'metric_series', 'metric_tail', 'sweeps', 'sweep_trials', 'users', 'api_tokens', 'experiment_permissions'];

/** Row counts of every table a write could touch: equal before and after a refused request. */
export function rowCounts(t: TestApp): Promise<Record<string, number>> {
  return countRows(t, TABLES);
}

/**
 * Every row of every table but the audit log (which records refused writes on purpose): a refused
 * request must leave this exactly as it was, updates and deletes included, not only the counts.
 */
export async function dump(t: TestApp): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const name of await tableNames(t)) if (name !== 'audit_log') out[name] = await allRows(t, name);
  return out;
}

/** Asserts MLflow's error shape: exactly `{error_code, message}`, with this code and a message matching `message`. */
export function assertError(res: { status: number; json: any; body: string }, status: number, code: string, message: RegExp, where = ''): void {
  assert.equal(res.status, status, `${where}: ${res.status} ${res.body.slice(0, 300)}`);
  assert.deepEqual(Object.keys(res.json ?? {}).sort(), ['error_code', 'message'], `${where}: ${res.body.slice(0, 300)}`);
  assert.equal(res.json.error_code, code, where);
  assert.match(res.json.message, message, where);
}

/** A clock a test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

/** Creates a local user as the admin; answers the user JSON. */
export async function createUser(t: TestApp, admin: Record<string, string>, username: string, password: string, role: 'admin' | 'editor' | 'viewer') {
  const res = await t.call('POST', '/api/2.0/lablog/users/create', { username, password, role }, admin);
  assert.equal(res.status, 200, res.body);
  return res.json.user as { id: number; username: string; role: string };
}

/** Creates a token (as `as`, for `username` when given); answers `{id, value}`. */
export async function createToken(t: TestApp, as: Record<string, string>, name: string, extra: { username?: string; expires_in_days?: number } = {}) {
  const res = await t.call('POST', '/api/2.0/lablog/tokens/create', { name, ...extra }, as);
  assert.equal(res.status, 200, res.body);
  return res.json.token as { id: number; value: string; username: string; expires_at?: number };
}
