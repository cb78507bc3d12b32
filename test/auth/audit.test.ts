import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, backends, buildTestApp, type TestApp } from '../helper.js';
import { basic, createUser, manualClock } from './auth.helpers.js';

// GET /api/2.0/lablog/audit/list over the API: what a write leaves in the log, the filters, and paging.

const LIST = '/api/2.0/lablog/audit/list';

// An entry as the API answers it (experiment_id and run_id left out when there are none).
type Entry = Record<string, any>;

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('the audit log', () => {
    const clock = manualClock();
    const admin = basic(ADMIN.username, ADMIN.password);
    const ada = basic('ada', 'ada-password-1');
    let t: TestApp;
    let exp = '';
    let run = '';
    let start = 0;

    const list = async (q: Record<string, string> = {}) => {
      const res = await t.call('GET', LIST, q, admin);
      assert.equal(res.status, 200, res.body);
      return res.json as { entries?: Entry[]; next_page_token?: string };
    };

    before(async () => {
      t = await buildTestApp({ backend, now: clock.now, auth: {} });
      await createUser(t, admin, 'ada', 'ada-password-1', 'editor');
      start = clock.t += 1000;
      exp = (await t.call('POST', 'experiments/create', { name: 'ada-exp' }, ada)).json.experiment_id;
      clock.t += 1000;
      run = (await t.call('POST', 'runs/create', { experiment_id: exp, run_name: 'r' }, ada)).json.run.info.run_id;
      clock.t += 1000;
      assert.equal((await t.call('POST', 'runs/log-batch', { run_id: run, metrics: [{ key: 'loss', value: 1, timestamp: 1, step: 0 }] }, ada)).status, 200);
      clock.t += 1000;
      // A refused write is recorded too, with its status.
      assert.equal((await t.call('POST', `/api/2.0/lablog/users/create`, { username: 'x', password: 'x-password-1', role: 'admin' }, ada)).status, 403);
    });
    after(() => t.close());

    it("records each of a user's writes, newest first, with method, route, status, experiment and run", async () => {
      const { entries } = await list({ username: 'ada' });
      assert.deepEqual(
        entries!.map((e) => [e.time - start, e.username, e.method, e.route, e.status, e.experiment_id, e.run_id]),
        [
          [3000, 'ada', 'POST', '/api/2.0/lablog/users/create', 403, undefined, undefined],
          [2000, 'ada', 'POST', '/api/2.0/mlflow/runs/log-batch', 200, undefined, run],
          [1000, 'ada', 'POST', '/api/2.0/mlflow/runs/create', 200, exp, run],
          [0, 'ada', 'POST', '/api/2.0/mlflow/experiments/create', 200, exp, undefined],
        ],
      );
    });

    it('filters by experiment and by time; an unknown user has no entries', async () => {
      const byExp = (await list({ experiment_id: exp })).entries!;
      assert.ok(byExp.length >= 1 && byExp.every((e) => e.experiment_id === exp), JSON.stringify(byExp));
      const window = (await list({ username: 'ada', start_time: String(start + 1000), end_time: String(start + 2000) })).entries!;
      assert.deepEqual(window.map((e) => e.time - start), [2000, 1000]);
      assert.deepEqual(await list({ username: 'nobody' }), {});
    });

    it('pages with max_results and next_page_token, every entry once', async () => {
      const all = (await list({ max_results: '1000' })).entries!;
      const seen: number[] = [];
      let token: string | undefined;
      do {
        const page = await list({ max_results: '2', ...(token ? { page_token: token } : {}) });
        assert.ok(page.entries!.length <= 2);
        seen.push(...page.entries!.map((e) => e.id));
        token = page.next_page_token;
      } while (token);
      assert.deepEqual(seen, all.map((e) => e.id));
      assert.equal(new Set(seen).size, seen.length);
    });
  });
});
