import type { TestApp } from '../helper.js';

export const basic = (username: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}` });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const TABLES = ['experiments', 'experiment_tags', 'runs', 'params', 'tags', 'metric_series', 'metric_tail', 'sweeps', 'sweep_trials', 'users', 'api_tokens', 'experiment_permissions'];

/** Row counts of every table a write could touch: equal before and after a refused request. */
export function rowCounts(t: TestApp): Record<string, number> {
  return Object.fromEntries(TABLES.map((name) => [name, t.db.prepare(`SELECT count(*) FROM ${name}`).pluck().get() as number]));
}
