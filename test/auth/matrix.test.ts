import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN, backends, buildTestApp, type TestApp } from '../helper.js';
import { pluck } from '../support/rows.js';
import { assertError, basic, bearer, createToken, createUser, dump, manualClock, rowCounts } from './auth.helpers.js';

// The auth matrix, route family by route family: who may do what, and that a refused request writes
// nothing at all (every row of every table compared, plus the one row the request would have made).

const LABLOG = '/api/2.0/lablog';
const ART = '/api/2.0/mlflow-artifacts/artifacts';
const DAY = 86_400_000;

type Method = 'GET' | 'POST' | 'PUT';
type Headers = Record<string, string>;

interface Op {
  family: string;
  method: Method;
  url: string;
  body?: unknown;
  /** read: needs READ; write: needs EDIT or more; admin: admins only (or MANAGE for permissions). */
  kind: 'read' | 'write';
  /** An editor may do it anyway (experiments/create): the "other member" case does not apply. */
  editorMay?: boolean;
  /** The thing the request would have written: it must not exist after a refusal. */
  absent?: (t: TestApp) => unknown;
}

const one = pluck;
/** A client-made run id (lablog's runs/create) that no refused caller may bring into being. */
const INTRUDER_RUN = 'badc0ffee0ddf00dbadc0ffee0ddf00d';
const BOB_RUN = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('auth matrix: every route family, every kind of caller', () => {
    const clock = manualClock();
    let t: TestApp;
    const admin = basic(ADMIN.username, ADMIN.password);
    const alice = basic('alice', 'alice-password');
    const bob = basic('bob', 'bob-password');
    const vic = basic('vic', 'vic-password');
    const carol = basic('carol', 'carol-password');
    let E: string;
    let R: string;
    let S: string;
    let revoked: string;
    let expiring: string;
    let ops: Op[];

    before(async () => {
      // Many wrong passwords below: the failed-login limit is not what this file is about.
      t = await buildTestApp({ backend, now: clock.now, auth: { loginMaxFailures: 100_000 } });
      await createUser(t, admin, 'alice', 'alice-password', 'editor');
      await createUser(t, admin, 'bob', 'bob-password', 'editor');
      await createUser(t, admin, 'vic', 'vic-password', 'viewer');
      await createUser(t, admin, 'carol', 'carol-password', 'editor');

      // alice's experiment, with a run, a metric, an artifact and a sweep in it.
      const exp = await t.call('POST', 'experiments/create', { name: 'alice-exp' }, alice);
      assert.equal(exp.status, 200, exp.body);
      E = exp.json.experiment_id;
      const run = await t.call('POST', 'runs/create', { experiment_id: E, run_name: 'r1', start_time: 1 }, alice);
      assert.equal(run.status, 200, run.body);
      R = run.json.run.info.run_id;
      const logged = await t.call('POST', 'runs/log-batch', { run_id: R, metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }] }, alice);
      assert.equal(logged.status, 200, logged.body);
      const put = await t.call('PUT', `${ART}/${E}/${R}/artifacts/f.txt`, 'hello', { ...alice, 'content-type': 'application/octet-stream' });
      assert.equal(put.status, 200, put.body);
      const sweep = await t.call(
        'POST',
        `${LABLOG}/sweeps/create`,
        { experiment_id: E, name: 'alice-sweep', method: 'grid', metric: { name: 'loss', goal: 'minimize' }, parameters: { x: { values: [1, 2, 3] } } },
        alice,
      );
      assert.equal(sweep.status, 200, sweep.body);
      S = sweep.json.sweep.sweep_id;

      // bob's tokens: one revoked, one expiring in a day.
      const r = await createToken(t, bob, 'to-revoke');
      assert.equal((await t.call('GET', 'experiments/get', { experiment_id: E }, bearer(r.value))).status, 200, 'the token worked before its revocation');
      assert.equal((await t.call('POST', `${LABLOG}/tokens/revoke`, { id: r.id }, bob)).status, 200);
      revoked = r.value;
      const x = await createToken(t, bob, 'expiring', { expires_in_days: 1 });
      assert.equal(x.expires_at, clock.now() + DAY);
      expiring = x.value;

      ops = [
        // experiments
        { family: 'experiments', method: 'POST', url: 'experiments/create', body: { name: 'intruder-exp' }, kind: 'write', editorMay: true, absent: async (t) => assert.equal(await one(t, 'SELECT count(*) FROM experiments WHERE name = ?', 'intruder-exp'), 0) },
        { family: 'experiments', method: 'POST', url: 'experiments/update', body: () => ({ experiment_id: E, new_name: 'renamed' }), kind: 'write', absent: async (t) => assert.equal(await one(t, 'SELECT name FROM experiments WHERE experiment_id = ?', Number(E)), 'alice-exp') },
        { family: 'experiments', method: 'POST', url: 'experiments/set-experiment-tag', body: () => ({ experiment_id: E, key: 'intruder', value: '1' }), kind: 'write', absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM experiment_tags WHERE key = 'intruder'"), 0) },
        { family: 'experiments', method: 'POST', url: 'experiments/delete', body: () => ({ experiment_id: E }), kind: 'write', absent: async (t) => assert.equal(await one(t, 'SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?', Number(E)), 'active') },
        { family: 'experiments', method: 'GET', url: 'experiments/get', body: () => ({ experiment_id: E }), kind: 'read' },
        { family: 'experiments', method: 'POST', url: 'experiments/search', body: { max_results: 10 }, kind: 'read' },
        // runs
        { family: 'runs', method: 'POST', url: 'runs/create', body: () => ({ experiment_id: E, run_name: 'intruder-run' }), kind: 'write', absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM runs WHERE name = 'intruder-run'"), 0) },
        {
          family: 'runs',
          method: 'POST',
          url: `${LABLOG}/runs/create`,
          body: () => ({ run_id: INTRUDER_RUN, experiment_id: E, run_name: 'intruder-offline-run' }),
          kind: 'write',
          absent: async (t) => assert.equal(await one(t, 'SELECT count(*) FROM runs WHERE run_uuid = ?', INTRUDER_RUN), 0),
        },
        {
          family: 'runs',
          method: 'POST',
          url: 'runs/log-batch',
          body: () => ({ run_id: R, metrics: [{ key: 'intruder-m', value: 1, timestamp: 1, step: 0 }], params: [{ key: 'intruder-p', value: '1' }], tags: [{ key: 'intruder-t', value: '1' }] }),
          kind: 'write',
          absent: async (t) => {
            assert.equal(await one(t, "SELECT count(*) FROM metric_series WHERE key = 'intruder-m'"), 0);
            assert.equal(await one(t, "SELECT count(*) FROM params WHERE key = 'intruder-p'"), 0);
            assert.equal(await one(t, "SELECT count(*) FROM tags WHERE key = 'intruder-t'"), 0);
          },
        },
        { family: 'runs', method: 'POST', url: 'runs/log-metric', body: () => ({ run_id: R, key: 'intruder-lm', value: 1, timestamp: 1 }), kind: 'write', absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM metric_series WHERE key = 'intruder-lm'"), 0) },
        { family: 'runs', method: 'POST', url: 'runs/set-tag', body: () => ({ run_id: R, key: 'intruder-st', value: 'x' }), kind: 'write', absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM tags WHERE key = 'intruder-st'"), 0) },
        { family: 'runs', method: 'POST', url: 'runs/delete', body: () => ({ run_id: R }), kind: 'write', absent: async (t) => assert.equal(await one(t, 'SELECT lifecycle_stage FROM runs WHERE run_uuid = ?', R), 'active') },
        { family: 'runs', method: 'GET', url: 'runs/get', body: () => ({ run_id: R }), kind: 'read' },
        { family: 'runs', method: 'POST', url: 'runs/search', body: () => ({ experiment_ids: [E] }), kind: 'read' },
        // metrics
        { family: 'metrics', method: 'GET', url: 'metrics/get-history', body: () => ({ run_id: R, metric_key: 'loss' }), kind: 'read' },
        // artifacts
        { family: 'artifacts', method: 'PUT', url: `${ART}/{E}/{R}/artifacts/intruder.txt`, body: 'intruder bytes', kind: 'write', absent: (t) => assert.ok(!existsSync(path.join(t.artifactsDir, E, R, 'artifacts', 'intruder.txt'))) },
        { family: 'artifacts', method: 'GET', url: `${ART}/{E}/{R}/artifacts/f.txt`, kind: 'read' },
        { family: 'artifacts', method: 'GET', url: '/get-artifact', body: () => ({ run_id: R, path: 'f.txt' }), kind: 'read' },
        // sweeps
        {
          family: 'sweeps',
          method: 'POST',
          url: `${LABLOG}/sweeps/create`,
          body: () => ({ experiment_id: E, name: 'intruder-sweep', method: 'grid', metric: { name: 'loss' }, parameters: { x: { values: [1] } } }),
          kind: 'write',
          absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM sweeps WHERE name = 'intruder-sweep'"), 0),
        },
        { family: 'sweeps', method: 'POST', url: `${LABLOG}/sweeps/{S}/next`, body: { worker: 'intruder' }, kind: 'write', absent: async (t) => assert.equal(await one(t, 'SELECT count(*) FROM sweep_trials'), 0) },
        { family: 'sweeps', method: 'POST', url: `${LABLOG}/sweeps/{S}/pause`, body: {}, kind: 'write', absent: async (t) => assert.equal(await one(t, 'SELECT status FROM sweeps WHERE id = ?', Number(S)), 'RUNNING') },
        { family: 'sweeps', method: 'GET', url: `${LABLOG}/sweeps/list`, kind: 'read' },
        // accounts
        { family: 'accounts', method: 'POST', url: `${LABLOG}/users/create`, body: { username: 'intruder', password: 'intruder-password', role: 'admin' }, kind: 'write', absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM users WHERE username = 'intruder'"), 0) },
        { family: 'accounts', method: 'GET', url: `${LABLOG}/users/list`, kind: 'write' },
        {
          family: 'permissions',
          method: 'POST',
          url: `${LABLOG}/permissions/set`,
          body: () => ({ experiment_id: E, username: 'carol', permission: 'MANAGE' }),
          kind: 'write',
          absent: async (t) => assert.equal(await one(t, "SELECT count(*) FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = 'carol'"), 0),
        },
      ];
    });
    after(() => t.close());

    const urlOf = (op: Op) => op.url.replace('{E}', E).replace('{R}', R).replace('{S}', S);
    const bodyOf = (op: Op) => (typeof op.body === 'function' ? (op.body as () => unknown)() : op.body);
    const call = (op: Op, headers: Headers = {}) =>
      t.call(op.method, urlOf(op), bodyOf(op), op.method === 'PUT' ? { ...headers, 'content-type': 'application/octet-stream' } : headers);

    /** Calls `op` as `headers` and asserts the refusal and that nothing at all was written. */
    async function refused(op: Op, headers: Headers, status: number, code: string, message: RegExp, who: string) {
      const counts = await rowCounts(t);
      const rows = await dump(t);
      const res = await call(op, headers);
      const where = `${who}: ${op.method} ${op.url}`;
      assertError(res, status, code, message, where);
      assert.deepEqual(await rowCounts(t), counts, `${where} changed row counts`);
      assert.deepEqual(await dump(t), rows, `${where} wrote something`);
      await op.absent?.(t);
    }

    /** A POST write the caller may not make: 403 PERMISSION_DENIED and nothing written. */
    const deniedWrite = (url: string, body: unknown, headers: Headers, message: RegExp, who: string) =>
      refused({ family: 'x', method: 'POST', url, body, kind: 'write' }, headers, 403, 'PERMISSION_DENIED', message, who);

    const unauthenticatedCases: [string, () => Headers, RegExp][] = [
      ['no credentials', () => ({}), /^Authentication required/],
      ['a wrong password', () => basic('alice', 'not-her-password'), /^Invalid credentials\.$/],
      ['an unknown user', () => basic('nobody', 'any-password-1'), /^Invalid credentials\.$/],
      ['a revoked token (Bearer)', () => bearer(revoked), /^Invalid credentials\.$/],
      ['a revoked token (Basic user:token)', () => basic('bob', revoked), /^Invalid credentials\.$/],
      ['a made-up token', () => bearer('llt_made-up'), /^Invalid credentials\.$/],
      ['a malformed Authorization header', () => ({ authorization: 'Token abc' }), /^Unsupported Authorization header/],
    ];

    for (const family of ['experiments', 'runs', 'metrics', 'artifacts', 'sweeps', 'accounts', 'permissions']) {
      describe(family, () => {
        it('401 UNAUTHENTICATED without valid credentials, nothing written', async () => {
          for (const op of ops.filter((o) => o.family === family)) {
            for (const [who, headers, message] of unauthenticatedCases) await refused(op, headers(), 401, 'UNAUTHENTICATED', message, who);
          }
        });

        it('401 for an expired token once the clock moves past its expiry (it worked before)', async () => {
          for (const op of ops.filter((o) => o.family === family)) {
            const ok = await t.call('GET', 'experiments/get', { experiment_id: E }, bearer(expiring));
            assert.equal(ok.status, 200, `the token works before it expires: ${ok.body}`);
            clock.t += DAY;
            try {
              await refused(op, bearer(expiring), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/, 'expired token');
              await refused(op, basic('bob', expiring), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/, 'expired token as Basic');
            } finally {
              clock.t -= DAY;
            }
          }
        });

        it('403 PERMISSION_DENIED for a viewer writing; a viewer reads', async () => {
          for (const op of ops.filter((o) => o.family === family)) {
            if (op.kind === 'write') await refused(op, vic, 403, 'PERMISSION_DENIED', /^Permission denied: (user 'vic'|only admins).*/, 'viewer');
            else {
              const res = await call(op, vic);
              assert.equal(res.status, 200, `viewer ${op.method} ${op.url}: ${res.body.slice(0, 200)}`);
            }
          }
        });

        it("403 for an editor writing to another member's experiment; with default READ they read it", async () => {
          for (const op of ops.filter((o) => o.family === family)) {
            if (op.kind === 'write' && !op.editorMay) await refused(op, bob, 403, 'PERMISSION_DENIED', /^Permission denied: (user 'bob' needs (EDIT|MANAGE) on experiment \d+|only admins may do this \(user 'bob' is editor\))\.$/, 'other editor');
            if (op.kind === 'read') {
              const res = await call(op, bob);
              assert.equal(res.status, 200, `bob ${op.method} ${op.url}: ${res.body.slice(0, 200)}`);
            }
          }
        });
      });
    }

    it('what a reader is answered holds the data (reads are real, not empty 200s)', async () => {
      const exp = await t.call('GET', 'experiments/get', { experiment_id: E }, bob);
      assert.equal(exp.json.experiment.name, 'alice-exp');
      const runs = await t.call('POST', 'runs/search', { experiment_ids: [E] }, vic);
      assert.deepEqual(runs.json.runs.map((r: any) => r.info.run_id).filter((id: string) => id === R), [R]);
      const hist = await t.call('GET', 'metrics/get-history', { run_id: R, metric_key: 'loss' }, bob);
      assert.deepEqual(hist.json.metrics.map((m: any) => m.value), [0.5]);
      const file = await t.call('GET', `${ART}/${E}/${R}/artifacts/f.txt`, undefined, vic);
      assert.equal(file.body, 'hello');
      const got = await t.call('GET', '/get-artifact', { run_id: R, path: 'f.txt' }, bob);
      assert.equal(got.body, 'hello');
      const sweeps = await t.call('GET', `${LABLOG}/sweeps/list`, undefined, bob);
      assert.deepEqual(sweeps.json.sweeps.map((s: any) => s.name), ['alice-sweep']);
    });

    describe('grants', () => {
      it('EDIT granted via permissions/set lets the grantee write, every family; revoking takes effect at once', async () => {
        const grant = await t.call('POST', `${LABLOG}/permissions/set`, { experiment_id: E, username: 'bob', permission: 'EDIT' }, alice);
        assert.equal(grant.status, 200, grant.body);
        assert.deepEqual(grant.json, {});
        assert.equal(
          await one(t, "SELECT permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = 'bob' AND p.experiment_id = ?", Number(E)),
          'EDIT',
        );

        const writes: [Method, string, unknown][] = [
          ['POST', 'experiments/set-experiment-tag', { experiment_id: E, key: 'by-bob', value: '1' }],
          ['POST', 'runs/log-batch', { run_id: R, metrics: [{ key: 'bob-m', value: 2, timestamp: 2, step: 1 }], params: [{ key: 'bob-p', value: 'v' }] }],
          ['POST', 'runs/log-metric', { run_id: R, key: 'bob-lm', value: 3, timestamp: 3 }],
          ['POST', 'runs/set-tag', { run_id: R, key: 'bob-t', value: 'v' }],
          ['PUT', `${ART}/${E}/${R}/artifacts/bob.txt`, 'from bob'],
          ['POST', `${LABLOG}/sweeps/${S}/pause`, {}],
          ['POST', `${LABLOG}/runs/create`, { run_id: BOB_RUN, experiment_id: E, run_name: 'bob-offline' }],
        ];
        for (const [method, url, body] of writes) {
          const res = await t.call(method, url, body, method === 'PUT' ? { ...bob, 'content-type': 'application/octet-stream' } : bob);
          assert.equal(res.status, 200, `${method} ${url}: ${res.body}`);
        }
        assert.equal(await one(t, "SELECT value FROM experiment_tags WHERE key = 'by-bob'"), '1');
        assert.equal(await one(t, "SELECT count(*) FROM metric_series WHERE key IN ('bob-m', 'bob-lm')"), 2);
        assert.equal(await one(t, "SELECT value FROM params WHERE key = 'bob-p'"), 'v');
        assert.equal(await one(t, "SELECT value FROM tags WHERE key = 'bob-t'"), 'v');
        assert.ok(existsSync(path.join(t.artifactsDir, E, R, 'artifacts', 'bob.txt')));
        assert.equal(await one(t, 'SELECT status FROM sweeps WHERE id = ?', Number(S)), 'PAUSED');
        assert.equal(await one(t, 'SELECT name FROM runs WHERE run_uuid = ? AND experiment_id = ?', BOB_RUN, Number(E)), 'bob-offline');
        // EDIT is not MANAGE: no deleting the experiment, no granting.
        await deniedWrite('experiments/delete', { experiment_id: E }, bob, /needs MANAGE/, 'EDIT grantee');
        await deniedWrite(`${LABLOG}/permissions/set`, { experiment_id: E, username: 'carol', permission: 'READ' }, bob, /needs MANAGE/, 'EDIT grantee');

        // Revoked: the very next write is refused (no cache keeps the old grant alive).
        const del = await t.call('POST', `${LABLOG}/permissions/delete`, { experiment_id: E, username: 'bob' }, alice);
        assert.equal(del.status, 200, del.body);
        await deniedWrite('runs/set-tag', { run_id: R, key: 'bob-after', value: 'v' }, bob, /needs EDIT/, 'after revoke');
        // Downgraded to READ explicitly: the same.
        assert.equal((await t.call('POST', `${LABLOG}/permissions/set`, { experiment_id: E, username: 'bob', permission: 'EDIT' }, alice)).status, 200);
        assert.equal((await t.call('POST', 'runs/set-tag', { run_id: R, key: 'bob-again', value: 'v' }, bob)).status, 200);
        assert.equal((await t.call('POST', `${LABLOG}/permissions/set`, { experiment_id: E, username: 'bob', permission: 'READ' }, alice)).status, 200);
        await deniedWrite('runs/set-tag', { run_id: R, key: 'bob-after', value: 'v' }, bob, /needs EDIT/, 'after downgrade');
        assert.equal((await t.call('POST', `${LABLOG}/sweeps/${S}/resume`, {}, alice)).status, 200);
      });

      it('MANAGE lets a non-admin grant; the grant works; an EDIT-only user cannot grant', async () => {
        const grant = await t.call('POST', `${LABLOG}/permissions/set`, { experiment_id: E, username: 'carol', permission: 'MANAGE' }, alice);
        assert.equal(grant.status, 200, grant.body);
        // carol, an editor with MANAGE but not the creator, grants bob EDIT.
        const byCarol = await t.call('POST', `${LABLOG}/permissions/set`, { experiment_id: E, username: 'bob', permission: 'EDIT' }, carol);
        assert.equal(byCarol.status, 200, byCarol.body);
        assert.equal((await t.call('POST', 'runs/set-tag', { run_id: R, key: 'via-carol', value: 'v' }, bob)).status, 200);
        const list = await t.call('GET', `${LABLOG}/permissions/list`, { experiment_id: E }, carol);
        assert.equal(list.status, 200, list.body);
        assert.deepEqual(list.json.permissions, [
          { experiment_id: E, username: 'alice', permission: 'MANAGE' },
          { experiment_id: E, username: 'bob', permission: 'EDIT' },
          { experiment_id: E, username: 'carol', permission: 'MANAGE' },
        ]);
        // A viewer with MANAGE on paper still never writes (its role caps it at READ), nor grants.
        assert.equal((await t.call('POST', `${LABLOG}/permissions/set`, { experiment_id: E, username: 'vic', permission: 'MANAGE' }, carol)).status, 200);
        await deniedWrite('runs/set-tag', { run_id: R, key: 'vic-t', value: 'v' }, vic, /user 'vic' needs EDIT/, 'viewer with MANAGE');
        await deniedWrite(`${LABLOG}/permissions/set`, { experiment_id: E, username: 'vic', permission: 'READ' }, vic, /user 'vic' needs MANAGE/, 'viewer with MANAGE');
        // carol's MANAGE revoked by alice: carol can no longer grant, at once.
        assert.equal((await t.call('POST', `${LABLOG}/permissions/delete`, { experiment_id: E, username: 'carol' }, alice)).status, 200);
        await deniedWrite(`${LABLOG}/permissions/set`, { experiment_id: E, username: 'bob', permission: 'MANAGE' }, carol, /user 'carol' needs MANAGE/, 'after MANAGE revoked');
      });
    });
  });
});
