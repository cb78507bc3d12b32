import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { ADMIN, backends, buildTestApp, injectJson, type TestApp } from '../helper.js';
import { until } from '../support/poll.js';
import { oneRowOf, pluck, tableNames } from '../support/rows.js';
import { assertError, basic, bearer, createToken, createUser, dump, manualClock, rowCounts } from './auth.helpers.js';

// Browser sessions and CSRF, failed-login and request limits, the verified-credential cache, what is
// stored of each secret, and the trusted proxy header.

const LABLOG = '/api/2.0/lablog';
const admin = basic(ADMIN.username, ADMIN.password);

interface Cookie {
  name: string;
  value: string;
  attrs: Record<string, string | true>;
}

function parseCookies(setCookie: string | string[] | undefined): Record<string, Cookie> {
  const out: Record<string, Cookie> = {};
  for (const line of [setCookie ?? []].flat()) {
    const [pair, ...rest] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const attrs: Record<string, string | true> = {};
    for (const a of rest) {
      const i = a.indexOf('=');
      attrs[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? true : a.slice(i + 1);
    }
    out[pair.slice(0, eq)] = { name: pair.slice(0, eq), value: decodeURIComponent(pair.slice(eq + 1)), attrs };
  }
  return out;
}

async function inject(t: TestApp, o: { method: 'GET' | 'POST'; url: string; body?: unknown; headers?: Record<string, string>; remoteAddress?: string }) {
  const opts: InjectOptions = { method: o.method, url: o.url.startsWith('/') ? o.url : `/api/2.0/mlflow/${o.url}`, headers: o.headers, remoteAddress: o.remoteAddress };
  if (o.body !== undefined) {
    if (o.method === 'GET') opts.query = o.body as Record<string, string>;
    else opts.payload = o.body as object;
  }
  return injectJson(t.app, opts);
}

async function login(t: TestApp, username: string, password: string, remoteAddress?: string) {
  const res = await inject(t, { method: 'POST', url: `${LABLOG}/auth/login`, body: { username, password }, remoteAddress });
  assert.equal(res.status, 200, res.body);
  const cookies = parseCookies(res.headers['set-cookie']);
  return { res, cookies, cookie: `lablog_session=${cookies.lablog_session.value}; lablog_csrf=${cookies.lablog_csrf.value}`, csrf: res.json.csrf_token as string };
}

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('browser sessions and CSRF', () => {
    const clock = manualClock();
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, now: clock.now, auth: {} });
      await createUser(t, admin, 'sam', 'sam-password-1', 'editor');
    });
    after(() => t.close());

    it('auth/login sets lablog_session (HttpOnly, SameSite=Strict) and lablog_csrf (readable by scripts)', async () => {
      const { res, cookies, csrf } = await login(t, 'sam', 'sam-password-1');
      assert.equal(res.json.user.username, 'sam');
      assert.equal(res.json.user.role, 'editor');
      const s = cookies.lablog_session;
      assert.match(s.value, /^lls_/);
      assert.equal(s.attrs.httponly, true);
      assert.equal(String(s.attrs.samesite).toLowerCase(), 'strict');
      assert.equal(s.attrs.path, '/');
      assert.equal(s.attrs['max-age'], String(168 * 3600));
      const c = cookies.lablog_csrf;
      assert.equal(c.value, csrf);
      assert.equal(c.attrs.httponly, undefined, 'the UI reads the CSRF cookie');
      assert.equal(String(c.attrs.samesite).toLowerCase(), 'strict');
      // The stored session is the hash of the id, with this CSRF token.
      const row = (await oneRowOf(t, 'SELECT * FROM sessions WHERE id_hash = ?', createHash('sha256').update(s.value).digest('hex'))) as any;
      assert.ok(row, 'a session row keyed by the hash of the id');
      assert.equal(row.csrf_token, csrf);
      assert.equal(row.expires_at, clock.now() + 168 * 3_600_000);
    });

    it('GET with the cookie works; a POST without X-CSRF-Token is 403 and writes nothing; with it, 200', async () => {
      const { cookie, csrf } = await login(t, 'sam', 'sam-password-1');
      const list = await inject(t, { method: 'GET', url: 'experiments/search', body: { max_results: '10' }, headers: { cookie } });
      assert.equal(list.status, 200, list.body);
      assert.ok(Array.isArray(list.json.experiments));

      for (const [what, headers] of [
        ['no header', { cookie }],
        ['a wrong token', { cookie, 'x-csrf-token': 'not-the-token' }],
        ['another session’s token', { cookie, 'x-csrf-token': (await login(t, 'sam', 'sam-password-1')).csrf }],
      ] as const) {
        const counts = await rowCounts(t);
        const rows = await dump(t);
        const res = await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'csrf-victim' }, headers });
        assertError(res, 403, 'PERMISSION_DENIED', /^CSRF token missing or invalid/, what);
        assert.deepEqual(await rowCounts(t), counts, what);
        assert.deepEqual(await dump(t), rows, what);
        assert.equal(await pluck(t, "SELECT count(*) FROM experiments WHERE name = 'csrf-victim'"), 0);
      }
      const ok = await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'csrf-victim' }, headers: { cookie, 'x-csrf-token': csrf } });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(await pluck(t, "SELECT count(*) FROM experiments WHERE name = 'csrf-victim'"), 1);
    });

    it('logout ends the session: the cookie then gets 401 on data routes, and the row is gone', async () => {
      const { cookie, csrf, cookies } = await login(t, 'sam', 'sam-password-1');
      const idHash = createHash('sha256').update(cookies.lablog_session.value).digest('hex');
      const out = await inject(t, { method: 'POST', url: `${LABLOG}/auth/logout`, headers: { cookie, 'x-csrf-token': csrf } });
      assert.equal(out.status, 200, out.body);
      assert.deepEqual(out.json, {});
      const cleared = parseCookies(out.headers['set-cookie']);
      assert.equal(cleared.lablog_session.value, '');
      assert.equal(await pluck(t, 'SELECT count(*) FROM sessions WHERE id_hash = ?', idHash), 0);
      for (const [method, url] of [['GET', 'experiments/search'], ['GET', `${LABLOG}/me`], ['POST', 'experiments/create']] as const) {
        const res = await inject(t, { method, url, body: method === 'POST' ? { name: 'after-logout' } : undefined, headers: { cookie, 'x-csrf-token': csrf } });
        assertError(res, 401, 'UNAUTHENTICATED', /^Your session has ended; log in again\.$/, `${method} ${url}`);
      }
      // The login page itself still answers with the stale cookie.
      assert.equal((await inject(t, { method: 'POST', url: `${LABLOG}/auth/login`, body: { username: 'sam', password: 'sam-password-1' }, headers: { cookie } })).status, 200);
    });

    it('a session expires after its TTL (clock moved past it)', async () => {
      const { cookie } = await login(t, 'sam', 'sam-password-1');
      clock.t += 168 * 3_600_000;
      try {
        assertError(await inject(t, { method: 'GET', url: 'experiments/search', headers: { cookie } }), 401, 'UNAUTHENTICATED', /session has ended/);
      } finally {
        clock.t -= 168 * 3_600_000;
      }
    });

    it("changing a user's password ends their sessions (by an admin, or by themselves)", async () => {
      const a = await login(t, 'sam', 'sam-password-1');
      const b = await login(t, 'sam', 'sam-password-1');
      assert.equal((await inject(t, { method: 'GET', url: `${LABLOG}/me`, headers: { cookie: a.cookie } })).status, 200);
      const upd = await inject(t, { method: 'POST', url: `${LABLOG}/users/update`, body: { username: 'sam', password: 'sam-password-2' }, headers: admin });
      assert.equal(upd.status, 200, upd.body);
      for (const s of [a, b]) assertError(await inject(t, { method: 'GET', url: `${LABLOG}/me`, headers: { cookie: s.cookie } }), 401, 'UNAUTHENTICATED', /session has ended/);
      assert.equal(await pluck(t, "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'sam'"), 0);
      // The old password no longer works, the new one does.
      assertError(await inject(t, { method: 'GET', url: 'experiments/search', headers: basic('sam', 'sam-password-1') }), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
      const c = await login(t, 'sam', 'sam-password-2');
      const self = await inject(t, { method: 'POST', url: `${LABLOG}/users/update`, body: { username: 'sam', password: 'sam-password-1' }, headers: { cookie: c.cookie, 'x-csrf-token': c.csrf } });
      assert.equal(self.status, 200, self.body);
      assertError(await inject(t, { method: 'GET', url: `${LABLOG}/me`, headers: { cookie: c.cookie } }), 401, 'UNAUTHENTICATED', /session has ended/);
    });
  });

  describe('failed logins: LABLOG_LOGIN_MAX_FAILURES per username and per address', () => {
    const clock = manualClock();
    const MAX = 3;
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, now: clock.now, auth: { loginMaxFailures: MAX } });
      for (const u of ['ursula', 'una', 'uma', 'ulf']) await createUser(t, admin, u, `${u}-password`, 'editor');
    });
    after(() => t.close());

    const tryLogin = (username: string, password: string, remoteAddress: string) =>
      inject(t, { method: 'POST', url: `${LABLOG}/auth/login`, body: { username, password }, remoteAddress });

    function assertLocked(res: Awaited<ReturnType<typeof tryLogin>>, where: string) {
      assertError(res, 429, 'REQUEST_LIMIT_EXCEEDED', /^Too many failed logins; try again in \d+ seconds\.$/, where);
      const retry = Number(res.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry > 0 && retry <= 900, `${where}: Retry-After ${res.headers['retry-after']}`);
      assert.ok(!('set-cookie' in res.headers), `${where}: no session for a locked login`);
    }

    it('per username: locked after MAX wrong passwords (from several addresses), even for the right password, from anywhere; open again after the window', async () => {
      // A right password just used (so in the verified-credential cache) is locked out all the same.
      assert.equal((await tryLogin('ursula', 'ursula-password', '10.0.0.99')).status, 200);
      for (let i = 0; i < MAX; i++) {
        assertError(await tryLogin('ursula', 'wrong-password', `10.0.0.${i + 1}`), 401, 'UNAUTHENTICATED', /^Invalid username or password\.$/);
      }
      const sessions = await pluck(t, 'SELECT count(*) FROM sessions');
      assertLocked(await tryLogin('ursula', 'ursula-password', '10.9.9.9'), 'right password, fresh address');
      // The same limit guards Basic passwords on data routes.
      assertLocked(await inject(t, { method: 'GET', url: 'experiments/search', headers: basic('ursula', 'ursula-password'), remoteAddress: '10.9.9.8' }), 'Basic');
      assert.equal(await pluck(t, 'SELECT count(*) FROM sessions'), sessions, 'no session was made');
      assert.equal(Number((await tryLogin('ursula', 'ursula-password', '10.9.9.9')).headers['retry-after']), 900);
      // Other users are unaffected.
      assert.equal((await tryLogin('una', 'una-password', '10.9.9.9')).status, 200);
      clock.t += 10 * 60_000;
      assert.equal(Number((await tryLogin('ursula', 'ursula-password', '10.9.9.9')).headers['retry-after']), 300, 'the wait counts down');
      clock.t += 5 * 60_000;
      assert.equal((await tryLogin('ursula', 'ursula-password', '10.9.9.9')).status, 200, 'open again after 15 minutes');
    });

    it('per address: MAX wrong passwords for various users from one address lock that address, not others', async () => {
      const users = ['una', 'uma', 'ulf'];
      for (let i = 0; i < MAX; i++) assertError(await tryLogin(users[i % users.length], 'wrong-password', '192.0.2.7'), 401, 'UNAUTHENTICATED', /Invalid/);
      assertLocked(await tryLogin('ulf', 'ulf-password', '192.0.2.7'), 'right password from the locked address');
      assertLocked(await tryLogin('ursula', 'ursula-password', '192.0.2.7'), 'another user from the locked address');
      // One failure each for una, uma, ulf: none of them is locked by name; another address lets them in.
      for (const u of users) assert.equal((await tryLogin(u, `${u}-password`, '192.0.2.8')).status, 200, u);
    });
  });

  describe('the request rate limit per credential', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, auth: { rateLimit: 5 } });
      await createUser(t, admin, 'rita', 'rita-password', 'editor');
      await createUser(t, admin, 'rolf', 'rolf-password', 'editor');
    });
    after(() => t.close());

    it('the 6th request a minute is 429 REQUEST_LIMIT_EXCEEDED with Retry-After, in MLflow shape; another credential is unaffected', async () => {
      const token = await createToken(t, admin, 'rita-token', { username: 'rita' });
      const rita = bearer(token.value);
      for (let i = 0; i < 5; i++) assert.equal((await inject(t, { method: 'GET', url: 'experiments/search', headers: rita })).status, 200, `request ${i + 1}`);
      const counts = await rowCounts(t);
      const over = await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'over-the-limit' }, headers: rita });
      assertError(over, 429, 'REQUEST_LIMIT_EXCEEDED', /^Rate limit exceeded: at most 5 requests a minute per credential/);
      const retry = Number(over.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${over.headers['retry-after']}`);
      assert.deepEqual(await rowCounts(t), counts);
      assert.equal(await pluck(t, "SELECT count(*) FROM experiments WHERE name = 'over-the-limit'"), 0);
      // The limit is the user's, whichever way they authenticate.
      assertError(await inject(t, { method: 'GET', url: 'experiments/search', headers: basic('rita', 'rita-password') }), 429, 'REQUEST_LIMIT_EXCEEDED', /Rate limit/);
      // rolf is unaffected.
      for (let i = 0; i < 5; i++) assert.equal((await inject(t, { method: 'GET', url: 'experiments/search', headers: basic('rolf', 'rolf-password') })).status, 200);
    });
  });

  describe('the verified-credential cache', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, auth: {} });
      await createUser(t, admin, 'cora', 'cora-password', 'editor');
    });
    after(() => t.close());

    it('a token used once, then revoked: the very next request is 401', async () => {
      const token = await createToken(t, basic('cora', 'cora-password'), 'once');
      for (const h of [bearer(token.value), basic('cora', token.value)]) assert.equal((await inject(t, { method: 'GET', url: 'experiments/search', headers: h })).status, 200);
      const rev = await inject(t, { method: 'POST', url: `${LABLOG}/tokens/revoke`, body: { id: token.id }, headers: basic('cora', 'cora-password') });
      assert.equal(rev.status, 200, rev.body);
      assert.ok(await pluck(t, 'SELECT revoked_at FROM api_tokens WHERE id = ?', token.id));
      for (const h of [bearer(token.value), basic('cora', token.value)]) {
        assertError(await inject(t, { method: 'GET', url: 'experiments/search', headers: h }), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
      }
    });

    it('an editor demoted to viewer can no longer write, at once, with any credential', async () => {
      const token = await createToken(t, basic('cora', 'cora-password'), 'writer');
      const creds = [basic('cora', 'cora-password'), bearer(token.value)];
      for (const [i, h] of creds.entries()) {
        const res = await inject(t, { method: 'POST', url: 'experiments/create', body: { name: `cora-${i}` }, headers: h });
        assert.equal(res.status, 200, res.body);
      }
      const demote = await inject(t, { method: 'POST', url: `${LABLOG}/users/update`, body: { username: 'cora', role: 'viewer' }, headers: admin });
      assert.equal(demote.status, 200, demote.body);
      assert.equal(demote.json.user.role, 'viewer');
      for (const h of creds) {
        const counts = await rowCounts(t);
        assertError(await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'cora-after' }, headers: h }), 403, 'PERMISSION_DENIED', /user 'cora' is a viewer/);
        // Her own experiment (MANAGE as creator) is capped at READ now.
        const id = await pluck(t, "SELECT experiment_id FROM experiments WHERE name = 'cora-0'");
        assertError(await inject(t, { method: 'POST', url: 'experiments/set-experiment-tag', body: { experiment_id: String(id), key: 'k', value: 'v' }, headers: h }), 403, 'PERMISSION_DENIED', /needs EDIT/);
        assert.deepEqual(await rowCounts(t), counts);
      }
      const me = await inject(t, { method: 'GET', url: `${LABLOG}/me`, headers: bearer(token.value) });
      assert.equal(me.json.user.role, 'viewer');
    });

    it('a grant (the experiment its creator made) keeps the verified credential; a change to the account drops it', async () => {
      // On PostgreSQL nothing is cached until the app's listening connection is up.
      await until(() => t.store.authChangesHeard(), Boolean, 'the store hears every change', 10_000);
      await createUser(t, admin, 'gus', 'gus-password', 'editor');
      const token = await createToken(t, basic('gus', 'gus-password'), 'cached');
      const other = await createToken(t, basic('gus', 'gus-password'), 'other');
      const search = () => inject(t, { method: 'GET', url: 'experiments/search', headers: bearer(token.value) });
      assert.equal((await search()).status, 200);
      // Revoked behind the cache's back (no write through the store tells of it): only the cache lets it in now.
      await t.sql('UPDATE api_tokens SET revoked_at = 1 WHERE id = ?', token.id);
      const created = await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'gus-exp' }, headers: bearer(token.value) });
      assert.equal(created.status, 200, created.body);
      assert.deepEqual(await t.sql("SELECT p.permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = 'gus'"), [{ permission: 'MANAGE' }]);
      assert.equal((await search()).status, 200);
      // Another token of gus revoked: every credential of gus is checked anew.
      assert.equal((await inject(t, { method: 'POST', url: `${LABLOG}/tokens/revoke`, body: { id: other.id }, headers: basic('gus', 'gus-password') })).status, 200);
      assertError(await search(), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
    });

    it('a deleted user is refused at once, by password and by token', async () => {
      await createUser(t, admin, 'dora', 'dora-password', 'editor');
      const token = await createToken(t, basic('dora', 'dora-password'), 't');
      for (const h of [basic('dora', 'dora-password'), bearer(token.value)]) assert.equal((await inject(t, { method: 'GET', url: 'experiments/search', headers: h })).status, 200);
      assert.equal((await inject(t, { method: 'POST', url: `${LABLOG}/users/delete`, body: { username: 'dora' }, headers: admin })).status, 200);
      for (const h of [basic('dora', 'dora-password'), bearer(token.value)]) {
        assertError(await inject(t, { method: 'GET', url: 'experiments/search', headers: h }), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
      }
    });
  });

  describe('stored secrets', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, auth: {} });
    });
    after(() => t.close());

    it('passwords are scrypt hashes, tokens SHA-256 hashes, and no table holds a secret in clear', async () => {
      const password = 'Very-Secret-Password-42';
      await createUser(t, admin, 'sid', password, 'editor');
      const token = await createToken(t, basic('sid', password), 'mine', { expires_in_days: 30 });
      assert.match(token.value, /^llt_[A-Za-z0-9_-]{43}$/);
      const session = await login(t, 'sid', password);
      const sessionId = session.cookies.lablog_session.value;
      // Use every secret, so that any "last used" or audit record is written.
      assert.equal((await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'sid-exp' }, headers: bearer(token.value) })).status, 200);
      assert.equal((await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'sid-exp-2' }, headers: basic('sid', password) })).status, 200);
      assert.equal((await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'sid-exp-3' }, headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } })).status, 200);

      const hash = (await pluck(t, "SELECT password_hash FROM users WHERE username = 'sid'")) as string;
      assert.match(hash, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
      assert.ok(!hash.includes(password));
      const adminHash = (await pluck(t, 'SELECT password_hash FROM users WHERE username = ?', ADMIN.username)) as string;
      assert.ok(adminHash.startsWith('scrypt$') && !adminHash.includes(ADMIN.password));
      const tokenHash = await pluck(t, 'SELECT token_hash FROM api_tokens WHERE id = ?', token.id);
      assert.equal(tokenHash, createHash('sha256').update(token.value).digest('hex'));

      const secrets = { password, adminPassword: ADMIN.password, token: token.value, tokenBody: token.value.slice(4), sessionId, sessionBody: sessionId.slice(4) };
      const tables = await tableNames(t);
      assert.ok(tables.includes('sessions') && tables.includes('audit_log') && tables.includes('api_tokens'));
      let scanned = 0;
      const columns = new Set<string>();
      for (const table of tables) {
        for (const row of await t.sql(`SELECT * FROM "${table}"`)) {
          for (const [col, v] of Object.entries(row)) {
            const text = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('latin1') : null;
            if (text === null) continue;
            scanned++;
            columns.add(`${table}.${col}`);
            for (const [what, secret] of Object.entries(secrets)) assert.ok(!text.includes(secret), `${table}.${col} holds the ${what}`);
          }
        }
      }
      assert.ok(scanned > 40, `only ${scanned} text values scanned`);
      // The columns where a secret would most likely land were among them.
      for (const c of ['users.password_hash', 'api_tokens.token_hash', 'sessions.id_hash', 'sessions.csrf_token', 'audit_log.route', 'experiments.name']) assert.ok(columns.has(c), `${c} was not scanned`);
    });

    it('tokens/list never answers a value; tokens/create answers it once', async () => {
      const created = await createToken(t, admin, 'listed');
      assert.match(created.value, /^llt_/);
      for (const q of [undefined, { username: ADMIN.username }, { username: 'sid' }]) {
        const list = await inject(t, { method: 'GET', url: `${LABLOG}/tokens/list`, body: q, headers: admin });
        assert.equal(list.status, 200, list.body);
        assert.ok(list.json.tokens.length >= 1);
        for (const tok of list.json.tokens) {
          assert.deepEqual(Object.keys(tok).filter((k) => !['id', 'name', 'username', 'created_at', 'expires_at', 'last_used_at'].includes(k)), [], JSON.stringify(tok));
          assert.ok(!('value' in tok));
        }
        assert.ok(!list.body.includes(created.value));
        assert.ok(!list.body.includes('llt_'));
      }
      // A non-admin lists only their own, and not another user's.
      const sid = basic('sid', 'Very-Secret-Password-42');
      const own = await inject(t, { method: 'GET', url: `${LABLOG}/tokens/list`, headers: sid });
      assert.deepEqual(own.json.tokens.map((x: any) => x.username), ['sid']);
      assertError(await inject(t, { method: 'GET', url: `${LABLOG}/tokens/list`, body: { username: ADMIN.username }, headers: sid }), 403, 'PERMISSION_DENIED', /only admins/);
    });
  });

  describe('the trusted proxy header', () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ backend, auth: { trustedProxyHeader: 'X-Forwarded-Email', trustedProxies: ['127.0.0.1'] } });
    });
    after(() => t.close());

    it('honoured from a trusted address: the user is created on first sight as a viewer', async () => {
      assert.equal(await pluck(t, "SELECT count(*) FROM users WHERE username = 'pat@example.com'"), 0);
      const res = await inject(t, { method: 'GET', url: `${LABLOG}/me`, headers: { 'x-forwarded-email': 'pat@example.com' }, remoteAddress: '127.0.0.1' });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.json.user.username, 'pat@example.com');
      assert.equal(res.json.user.role, 'viewer');
      assert.equal(res.json.user.auth_source, 'proxy');
      const row = await oneRowOf(t, "SELECT role, auth_source, password_hash FROM users WHERE username = 'pat@example.com'");
      assert.deepEqual(row, { role: 'viewer', auth_source: 'proxy', password_hash: null });
      // A viewer: reads, does not write.
      assert.equal((await inject(t, { method: 'GET', url: 'experiments/search', headers: { 'x-forwarded-email': 'pat@example.com' } })).status, 200);
      const counts = await rowCounts(t);
      assertError(
        await inject(t, { method: 'POST', url: 'experiments/create', body: { name: 'by-proxy' }, headers: { 'x-forwarded-email': 'pat@example.com' } }),
        403,
        'PERMISSION_DENIED',
        /viewer/,
      );
      assert.deepEqual(await rowCounts(t), counts);
      // Seen again: the same user, not a second one.
      await inject(t, { method: 'GET', url: `${LABLOG}/me`, headers: { 'x-forwarded-email': 'pat@example.com' } });
      assert.equal(await pluck(t, "SELECT count(*) FROM users WHERE username = 'pat@example.com'"), 1);
    });

    it('ignored from another address: 401, and no user is created', async () => {
      const counts = await rowCounts(t);
      for (const url of [`${LABLOG}/me`, 'experiments/search']) {
        const res = await inject(t, { method: 'GET', url, headers: { 'x-forwarded-email': 'mallory@example.com' }, remoteAddress: '203.0.113.5' });
        assertError(res, 401, 'UNAUTHENTICATED', /^Authentication required/, url);
      }
      // Not even to act as an existing user.
      assertError(
        await inject(t, { method: 'GET', url: 'experiments/search', headers: { 'x-forwarded-email': ADMIN.username }, remoteAddress: '203.0.113.5' }),
        401,
        'UNAUTHENTICATED',
        /^Authentication required/,
      );
      assert.deepEqual(await rowCounts(t), counts);
      assert.equal(await pluck(t, "SELECT count(*) FROM users WHERE username = 'mallory@example.com'"), 0);
    });
  });
});
