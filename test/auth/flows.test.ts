import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, backends, buildTestApp, listen, type TestApp } from '../helper.js';
import { parseJsonOr } from '../support/json.js';
import { pluck } from '../support/rows.js';
import { basic, bearer, createToken, createUser } from './auth.helpers.js';

// What a stock MLflow client does, over a real socket with fetch, with each kind of credential it can
// send; and searches that hold only what the caller may read.

const LABLOG = '/api/2.0/lablog';
type Headers = Record<string, string>;

async function http(port: number, method: 'GET' | 'POST', route: string, body: unknown, headers: Headers) {
  const path = route.startsWith('/') ? route : `/api/2.0/mlflow/${route}`;
  let url = `http://127.0.0.1:${port}${path}`;
  const init: RequestInit = { method, headers: { ...headers } };
  if (method === 'GET' && body !== undefined) url += `?${new URLSearchParams(body as Record<string, string>)}`;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Headers)['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, json: parseJsonOr(text, undefined), text, headers: res.headers };
}

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('the MLflow client flow over a real socket, with every kind of credential', () => {
    let t: TestApp;
    let port: number;
    const admin = basic(ADMIN.username, ADMIN.password);
    const credentials: Record<string, () => Headers> = {};

    before(async () => {
      t = await buildTestApp({ backend, auth: {} });
      await createUser(t, admin, 'eve', 'eve-password-1', 'editor');
      const token = await createToken(t, basic('eve', 'eve-password-1'), 'script');
      credentials['Bearer token'] = () => bearer(token.value);
      credentials['Basic user:password'] = () => basic('eve', 'eve-password-1');
      credentials['Basic user:token'] = () => basic('eve', token.value);
      port = await listen(t);
    });
    after(() => t.close());

    for (const kind of ['Bearer token', 'Basic user:password', 'Basic user:token']) {
      it(`create, log, read, search, finish: all 200 with ${kind}`, async () => {
        const h = credentials[kind]();
        // Without the credential the same first call is refused: the credential is what lets it through.
        const anon = await http(port, 'POST', 'experiments/create', { name: `flow ${kind}` }, {});
        assert.equal(anon.status, 401);
        assert.equal(anon.json.error_code, 'UNAUTHENTICATED');

        const exp = await http(port, 'POST', 'experiments/create', { name: `flow ${kind}` }, h);
        assert.equal(exp.status, 200, exp.text);
        const experimentId = exp.json.experiment_id as string;
        const run = await http(port, 'POST', 'runs/create', { experiment_id: experimentId, run_name: 'r', start_time: 1000, tags: [{ key: 'mlflow.user', value: 'eve' }] }, h);
        assert.equal(run.status, 200, run.text);
        const runId = run.json.run.info.run_id as string;
        const batch = {
          run_id: runId,
          metrics: [
            { key: 'loss', value: 0.9, timestamp: 1001, step: 0 },
            { key: 'loss', value: 0.4, timestamp: 1002, step: 1 },
          ],
          params: [{ key: 'lr', value: '0.1' }],
          tags: [{ key: 'kind', value: kind }],
        };
        const logged = await http(port, 'POST', 'runs/log-batch', batch, h);
        assert.equal(logged.status, 200, logged.text);
        assert.deepEqual(logged.json, {});

        const got = await http(port, 'GET', 'runs/get', { run_id: runId }, h);
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.json.run.data.metrics, [{ key: 'loss', value: 0.4, timestamp: 1002, step: 1 }]);
        assert.deepEqual(got.json.run.data.params, [{ key: 'lr', value: '0.1' }]);
        assert.equal(got.json.run.data.tags.find((x: any) => x.key === 'kind').value, kind);

        const search = await http(port, 'POST', 'runs/search', { experiment_ids: [experimentId], filter: "params.lr = '0.1'" }, h);
        assert.equal(search.status, 200, search.text);
        assert.deepEqual(search.json.runs.map((r: any) => r.info.run_id), [runId]);

        const history = await http(port, 'GET', 'metrics/get-history', { run_id: runId, metric_key: 'loss' }, h);
        assert.equal(history.status, 200, history.text);
        assert.deepEqual(history.json.metrics.map((m: any) => [m.step, m.value]), [[0, 0.9], [1, 0.4]]);

        const done = await http(port, 'POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: 2000 }, h);
        assert.equal(done.status, 200, done.text);
        assert.equal(done.json.run_info.status, 'FINISHED');
        assert.equal(done.json.run_info.end_time, 2000);
        assert.equal(await pluck(t, 'SELECT status FROM runs WHERE run_uuid = ?', runId), 'FINISHED');
        // The creator got MANAGE on the experiment.
        const perm = await pluck(t, "SELECT permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = 'eve' AND p.experiment_id = ?", Number(experimentId));
        assert.equal(perm, 'MANAGE');
      });
    }

    it('a token sent as Basic with another user name is refused', async () => {
      const token = await createToken(t, basic('eve', 'eve-password-1'), 'mismatch');
      const res = await http(port, 'GET', 'experiments/search', { max_results: '10' }, basic('admin', token.value));
      assert.equal(res.status, 401, res.text);
      assert.deepEqual(res.json, { error_code: 'UNAUTHENTICATED', message: 'Invalid credentials.' });
    });

    it('me answers role, permissions and csrf_token for a session', async () => {
      const login = await http(port, 'POST', `${LABLOG}/auth/login`, { username: 'eve', password: 'eve-password-1' }, {});
      assert.equal(login.status, 200, login.text);
      const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      assert.match(cookies, /lablog_session=lls_/);
      const me = await http(port, 'GET', `${LABLOG}/me`, undefined, { cookie: cookies });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json.user.username, 'eve');
      assert.equal(me.json.user.role, 'editor');
      assert.equal(me.json.user.auth_source, 'local');
      assert.equal(me.json.auth_enabled, true);
      assert.equal(me.json.default_permission, 'READ');
      assert.equal(me.json.csrf_token, login.json.csrf_token);
      assert.ok(me.json.csrf_token.length >= 16);
      const created = await t.sql("SELECT CAST(p.experiment_id AS TEXT) AS experiment_id, p.permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = 'eve' ORDER BY p.experiment_id");
      assert.equal(created.length, 3, 'eve created three experiments above');
      assert.deepEqual([...me.json.permissions].sort((a: any, b: any) => Number(a.experiment_id) - Number(b.experiment_id)), created);
      // With a token there is no session, so no CSRF token.
      const byToken = await http(port, 'GET', `${LABLOG}/me`, undefined, credentials['Bearer token']());
      assert.equal(byToken.status, 200);
      assert.equal(byToken.json.csrf_token, undefined);
      assert.equal(byToken.json.user.username, 'eve');
    });
  });

  /** All pages of a paged list, one item a page; asserts no page is short but the last. */
  async function allPages(fetchPage: (token?: string) => Promise<{ items: string[]; next?: string }>): Promise<string[][]> {
    const pages: string[][] = [];
    let token: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await fetchPage(token);
      pages.push(page.items);
      if (!page.next) return pages;
      token = page.next;
    }
    throw new Error('more than 50 pages');
  }

  describe('searches and lists hold only what the caller may read', () => {
    const admin = basic(ADMIN.username, ADMIN.password);
    const alice = basic('alice', 'alice-password');
    const bob = basic('bob', 'bob-password');

    describe('LABLOG_DEFAULT_PERMISSION=NO_PERMISSIONS', () => {
      let t: TestApp;
      let port: number;
      const ids: Record<string, string> = {};
      const runs: Record<string, string> = {};

      before(async () => {
        t = await buildTestApp({ backend, auth: { defaultPermission: 'NO_PERMISSIONS' } });
        port = await listen(t);
        await createUser(t, admin, 'alice', 'alice-password', 'editor');
        await createUser(t, admin, 'bob', 'bob-password', 'editor');
        const make = async (who: Headers, name: string) => {
          const e = await http(port, 'POST', 'experiments/create', { name }, who);
          assert.equal(e.status, 200, e.text);
          ids[name] = e.json.experiment_id;
          const r = await http(port, 'POST', 'runs/create', { experiment_id: ids[name], run_name: `run-${name}` }, who);
          assert.equal(r.status, 200, r.text);
          runs[name] = r.json.run.info.run_id;
          const s = await http(port, 'POST', `${LABLOG}/sweeps/create`, { experiment_id: ids[name], name: `sweep-${name}`, method: 'random', metric: { name: 'loss' }, parameters: { x: { values: [1, 2] } } }, who);
          assert.equal(s.status, 200, s.text);
        };
        // Interleaved, so that what bob may read is spread between what he may not.
        await make(alice, 'a1');
        await make(bob, 'b1');
        await make(alice, 'a2');
        await make(admin, 'c1');
        await make(alice, 'a3');
        await make(bob, 'b2');
        await make(alice, 'a4');
        assert.equal((await http(port, 'POST', `${LABLOG}/permissions/set`, { experiment_id: ids.a2, username: 'bob', permission: 'READ' }, alice)).status, 200);
        assert.equal((await http(port, 'POST', `${LABLOG}/permissions/set`, { experiment_id: ids.c1, username: 'bob', permission: 'EDIT' }, admin)).status, 200);
        // An explicit NO_PERMISSIONS is not a grant.
        assert.equal((await http(port, 'POST', `${LABLOG}/permissions/set`, { experiment_id: ids.a3, username: 'bob', permission: 'NO_PERMISSIONS' }, alice)).status, 200);
      });
      after(() => t.close());

      const bobSees = () => ['b1', 'a2', 'c1', 'b2'].map((n) => ids[n]).sort();

      it('experiments/search: only experiments bob created or was granted, whole pages of one', async () => {
        const all = await http(port, 'POST', 'experiments/search', { max_results: 100 }, bob);
        assert.equal(all.status, 200, all.text);
        assert.deepEqual(all.json.experiments.map((e: any) => e.experiment_id).sort(), bobSees());
        const pages = await allPages(async (token) => {
          const res = await http(port, 'POST', 'experiments/search', { max_results: 1, page_token: token }, bob);
          assert.equal(res.status, 200, res.text);
          return { items: res.json.experiments.map((e: any) => e.experiment_id), next: res.json.next_page_token };
        });
        for (const p of pages) assert.equal(p.length, 1, `a page of ${JSON.stringify(pages)} is not whole`);
        assert.deepEqual(pages.flat().sort(), bobSees());
        // The GET form, and the admin sees everything.
        const get = await http(port, 'GET', 'experiments/search', { max_results: '100' }, bob);
        assert.deepEqual(get.json.experiments.map((e: any) => e.experiment_id).sort(), bobSees());
        const byAdmin = await http(port, 'POST', 'experiments/search', { max_results: 100 }, admin);
        assert.equal(byAdmin.json.experiments.length, 8, 'seven made plus Default');
        // A hidden experiment is not readable directly either.
        const hidden = await http(port, 'GET', 'experiments/get', { experiment_id: ids.a1 }, bob);
        assert.equal(hidden.status, 403);
        assert.equal(hidden.json.error_code, 'PERMISSION_DENIED');
      });

      it('runs/search over every experiment id: only runs of readable experiments, whole pages of one', async () => {
        const everyId = Object.values(ids);
        const expected = ['b1', 'a2', 'c1', 'b2'].flatMap((n) => [runs[n]]);
        const all = await http(port, 'POST', 'runs/search', { experiment_ids: everyId, max_results: 100 }, bob);
        assert.equal(all.status, 200, all.text);
        const seen: string[] = all.json.runs.map((r: any) => r.info.run_id);
        // Each sweep made a parent run in its experiment: those of readable experiments are there too.
        for (const id of expected) assert.ok(seen.includes(id), `run of a readable experiment missing: ${id}`);
        const readable = new Set(bobSees());
        for (const r of all.json.runs) assert.ok(readable.has(r.info.experiment_id), `run ${r.info.run_id} of experiment ${r.info.experiment_id} leaked`);
        assert.equal(seen.length, 8, 'a run and a sweep parent run in each of four experiments');
        const pages = await allPages(async (token) => {
          const res = await http(port, 'POST', 'runs/search', { experiment_ids: everyId, max_results: 1, page_token: token }, bob);
          assert.equal(res.status, 200, res.text);
          return { items: res.json.runs.map((r: any) => r.info.run_id), next: res.json.next_page_token };
        });
        for (const p of pages) assert.equal(p.length, 1, `a page of ${JSON.stringify(pages)} is not whole`);
        assert.deepEqual(pages.flat().sort(), [...seen].sort());
      });

      it('sweeps/list: only sweeps of readable experiments, whole pages of one', async () => {
        const all = await http(port, 'GET', `${LABLOG}/sweeps/list`, { max_results: '100' }, bob);
        assert.equal(all.status, 200, all.text);
        const expected = ['b1', 'a2', 'c1', 'b2'].map((n) => `sweep-${n}`).sort();
        assert.deepEqual(all.json.sweeps.map((s: any) => s.name).sort(), expected);
        const pages = await allPages(async (token) => {
          const q: Record<string, string> = { max_results: '1' };
          if (token) q.page_token = token;
          const res = await http(port, 'GET', `${LABLOG}/sweeps/list`, q, bob);
          assert.equal(res.status, 200, res.text);
          return { items: res.json.sweeps.map((s: any) => s.name), next: res.json.next_page_token };
        });
        for (const p of pages) assert.equal(p.length, 1, `a page of ${JSON.stringify(pages)} is not whole`);
        assert.deepEqual(pages.flat().sort(), expected);
        // Filtered by a hidden experiment: nothing, not its sweeps.
        const hidden = await http(port, 'GET', `${LABLOG}/sweeps/list`, { experiment_id: ids.a1 }, bob);
        assert.equal(hidden.status, 200, hidden.text);
        assert.deepEqual(hidden.json.sweeps ?? [], []);
      });
    });

    describe('LABLOG_DEFAULT_PERMISSION=READ: an explicit NO_PERMISSIONS hides that experiment', () => {
      let t: TestApp;
      let port: number;
      const ids: Record<string, string> = {};

      before(async () => {
        t = await buildTestApp({ backend, auth: {} });
        port = await listen(t);
        await createUser(t, admin, 'alice', 'alice-password', 'editor');
        await createUser(t, admin, 'bob', 'bob-password', 'viewer');
        for (const name of ['open', 'secret']) {
          const e = await http(port, 'POST', 'experiments/create', { name }, alice);
          ids[name] = e.json.experiment_id;
          assert.equal((await http(port, 'POST', 'runs/create', { experiment_id: ids[name] }, alice)).status, 200);
          const s = await http(port, 'POST', `${LABLOG}/sweeps/create`, { experiment_id: ids[name], name: `sweep-${name}`, method: 'random', metric: { name: 'loss' }, parameters: { x: { values: [1] } } }, alice);
          assert.equal(s.status, 200, s.text);
        }
      });
      after(() => t.close());

      it('before the NO_PERMISSIONS bob sees both; after it, the secret one is gone from every list', async () => {
        const names = async () => (await http(port, 'POST', 'experiments/search', { max_results: 100 }, bob)).json.experiments.map((e: any) => e.name).sort();
        assert.deepEqual(await names(), ['Default', 'open', 'secret']);
        const set = await http(port, 'POST', `${LABLOG}/permissions/set`, { experiment_id: ids.secret, username: 'bob', permission: 'NO_PERMISSIONS' }, alice);
        assert.equal(set.status, 200, set.text);
        assert.deepEqual(await names(), ['Default', 'open']);

        const r = await http(port, 'POST', 'runs/search', { experiment_ids: [ids.open, ids.secret], max_results: 100 }, bob);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.runs.length > 0);
        for (const run of r.json.runs) assert.equal(run.info.experiment_id, ids.open);
        const onlySecret = await http(port, 'POST', 'runs/search', { experiment_ids: [ids.secret] }, bob);
        assert.equal(onlySecret.status, 200, onlySecret.text);
        assert.deepEqual(onlySecret.json.runs ?? [], []);

        const s = await http(port, 'GET', `${LABLOG}/sweeps/list`, undefined, bob);
        assert.deepEqual(s.json.sweeps.map((x: any) => x.name), ['sweep-open']);
        const direct = await http(port, 'GET', 'experiments/get', { experiment_id: ids.secret }, bob);
        assert.equal(direct.status, 403);
        assert.deepEqual(Object.keys(direct.json).sort(), ['error_code', 'message']);
        assert.equal(direct.json.error_code, 'PERMISSION_DENIED');
        // alice still sees it.
        const hers = (await http(port, 'POST', 'experiments/search', { max_results: 100 }, alice)).json.experiments.map((e: any) => e.name);
        assert.ok(hers.includes('secret'));
      });
    });
  });
});
