/**
 * Two real lablog processes with LABLOG_AUTH=on on one PostgreSQL database: each caches verified
 * credentials (30 s) and users' permissions (5 s), and a change made through the other one drops them
 * at once (NOTIFY, heard by a listening connection of its own), also after that connection was killed.
 *
 * Each check polls server b with a bound well under the cache's lifetime: without the change feed, b
 * keeps answering from its cache until the entry expires, so these tests fail without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LISTENER_NAME } from '../../server/store/postgres/auth-changes.js';
import { postgresSkip } from '../support/postgres.js';
import { basic, call, serversOnOneDatabase } from '../support/postgres-servers.js';
import { until } from '../support/poll.js';

const skip = postgresSkip() ?? false;
const LABLOG = '/api/2.0/lablog';
const T = { timeout: 240_000 };
// A credential is cached for 30 s: refused within 10 s means the change was heard.
const CREDENTIAL_BOUND_MS = 10_000;
// Permissions are cached for 5 s from when b read them: 4 s after that, the change was heard.
const PERMISSION_BOUND_MS = 4_000;
const ADMIN_PASSWORD = 'admin-password-1';
const HEARING = 'listening for auth changes made through other servers';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const admin = basic('admin', ADMIN_PASSWORD);

type Reply = Awaited<ReturnType<typeof call>>;

/** Asks again until the answer is no longer `from` (200 by default), for at most `withinMs`. */
const changedFrom = (ask: () => Promise<Reply>, what: string, withinMs: number, from = 200) =>
  until(ask, (r) => r.status !== from, what, withinMs);

function assertError(r: Reply, status: number, code: string, message: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error_code, code);
  assert.match(r.json.message, message);
}

describe('auth caches with two lablog servers on one PostgreSQL database', { skip }, () => {
  let env: Awaited<ReturnType<typeof serversOnOneDatabase>>;
  let a: string;
  let b: string;

  const ok = async (base: string, method: 'GET' | 'POST', route: string, body: unknown, headers: Record<string, string>) => {
    const r = await call(base, method, route, body, headers);
    assert.equal(r.status, 200, `${route}: ${r.text}`);
    return r.json;
  };
  const user = (username: string, role: string) => ok(a, 'POST', `${LABLOG}/users/create`, { username, password: `${username}-password-1`, role }, admin);
  const token = async (username: string, name: string) => (await ok(a, 'POST', `${LABLOG}/tokens/create`, { name, username }, admin)).token as { id: number; value: string };
  const hearing = (i: number) => env.servers[i].lines.filter((l) => l.msg === HEARING).length;

  before(async () => {
    env = await serversOnOneDatabase(2, { LABLOG_AUTH: 'on', LABLOG_ADMIN_PASSWORD: ADMIN_PASSWORD, LABLOG_DEFAULT_PERMISSION: 'NO_PERMISSIONS' });
    [a, b] = env.servers.map((s) => s.url);
    // Until it listens a server caches nothing, and these tests would pass without the feed.
    await until(() => [hearing(0), hearing(1)], (n) => n.every((x) => x === 1), 'both servers listen', CREDENTIAL_BOUND_MS);
  });
  after(async () => assert.deepEqual(await env?.close(), [{ code: 0, signal: null }, { code: 0, signal: null }]));

  it('a token b verified, revoked through a: b refuses it', T, async () => {
    await user('tess', 'editor');
    const t = await token('tess', 'laptop');
    await ok(b, 'GET', 'experiments/search', undefined, bearer(t.value));
    await ok(a, 'POST', `${LABLOG}/tokens/revoke`, { id: t.id }, admin);
    const r = await changedFrom(() => call(b, 'GET', 'experiments/search', undefined, bearer(t.value)), 'b refuses the revoked token', CREDENTIAL_BOUND_MS);
    assertError(r, 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
  });

  it('a user deleted through a: b refuses their password and their token', T, async () => {
    await user('dave', 'editor');
    const t = await token('dave', 'ci');
    const creds = [basic('dave', 'dave-password-1'), bearer(t.value)];
    for (const h of creds) await ok(b, 'GET', 'experiments/search', undefined, h);
    await ok(a, 'POST', `${LABLOG}/users/delete`, { username: 'dave' }, admin);
    for (const h of creds) {
      const r = await changedFrom(() => call(b, 'GET', 'experiments/search', undefined, h), 'b refuses the deleted user', CREDENTIAL_BOUND_MS);
      assertError(r, 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
    }
    assert.equal((await env.pool.query("SELECT count(*)::int AS n FROM users WHERE username = 'dave'")).rows[0].n, 0);
  });

  it('a user demoted, then their password changed through a: b stops their writes, then their old password', T, async () => {
    await user('edna', 'editor');
    const edna = basic('edna', 'edna-password-1');
    const exp = await ok(b, 'POST', 'experiments/create', { name: 'edna-own' }, edna);
    const tag = () => call(b, 'POST', 'experiments/set-experiment-tag', { experiment_id: exp.experiment_id, key: 'k', value: 'v' }, edna);
    assert.equal((await tag()).status, 200);
    await ok(a, 'POST', `${LABLOG}/users/update`, { username: 'edna', role: 'viewer' }, admin);
    // A viewer's own experiment is capped at READ.
    assertError(await changedFrom(tag, 'b knows edna is a viewer', CREDENTIAL_BOUND_MS), 403, 'PERMISSION_DENIED', /needs EDIT on experiment/);

    // That 403 verified her password on b again: cached anew.
    await ok(a, 'POST', `${LABLOG}/users/update`, { username: 'edna', password: 'edna-password-2' }, admin);
    const old = () => call(b, 'GET', 'experiments/search', undefined, edna);
    assertError(await changedFrom(old, 'b refuses the old password', CREDENTIAL_BOUND_MS), 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
    await ok(b, 'GET', 'experiments/search', undefined, basic('edna', 'edna-password-2'));
  });

  it('a permission granted, then taken away through a: b lets the user read, then refuses', T, async () => {
    await user('pia', 'viewer');
    const pia = basic('pia', 'pia-password-1');
    const exp = await ok(a, 'POST', 'experiments/create', { name: 'shared' }, admin);
    const read = () => call(b, 'GET', `experiments/get?experiment_id=${exp.experiment_id}`, undefined, pia);
    // The default permission is NO_PERMISSIONS: b reads pia's (empty) grants and caches them.
    assertError(await read(), 403, 'PERMISSION_DENIED', /needs READ on experiment/);
    let cachedAt = Date.now();
    await ok(a, 'POST', `${LABLOG}/permissions/set`, { experiment_id: exp.experiment_id, username: 'pia', permission: 'READ' }, admin);
    const granted = await changedFrom(read, 'b lets pia read', cachedAt + PERMISSION_BOUND_MS - Date.now(), 403);
    assert.equal(granted.status, 200, granted.text);
    assert.equal(granted.json.experiment.name, 'shared');

    cachedAt = Date.now();
    await ok(a, 'POST', `${LABLOG}/permissions/delete`, { experiment_id: exp.experiment_id, username: 'pia' }, admin);
    assertError(await changedFrom(read, 'b refuses pia', cachedAt + PERMISSION_BOUND_MS - Date.now()), 403, 'PERMISSION_DENIED', /needs READ on experiment/);
    assert.deepEqual((await env.pool.query("SELECT count(*)::int AS n FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = 'pia'")).rows, [{ n: 0 }]);
  });

  it('the listening connections killed: a change right then and one after they are back are both heard', T, async () => {
    await user('kim', 'editor');
    const [first, second] = [await token('kim', 'one'), await token('kim', 'two')];
    for (const t of [first, second]) await ok(b, 'GET', 'experiments/search', undefined, bearer(t.value));

    const killed = await env.pool.query<{ pid: number; done: boolean }>('SELECT pid, pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1', [LISTENER_NAME]);
    assert.deepEqual(killed.rows.map((r) => r.done), [true, true]);
    // Whether b is still without its listener or already back, it must not answer from what it cached.
    await ok(a, 'POST', `${LABLOG}/tokens/revoke`, { id: first.id }, admin);
    const r = await changedFrom(() => call(b, 'GET', 'experiments/search', undefined, bearer(first.value)), 'b refuses the token revoked at the kill', CREDENTIAL_BOUND_MS);
    assertError(r, 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);

    await until(() => [hearing(0), hearing(1)], (n) => n.every((x) => x === 2), 'both servers listen again', CREDENTIAL_BOUND_MS);
    for (const s of env.servers) {
      const lost = s.lines.filter((l) => l.msg.startsWith('lost the connection that listens for auth changes'));
      assert.deepEqual(lost.map((l) => [l.level, l.err?.code]), [[40, '57P01']]);
    }
    const now = await env.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [LISTENER_NAME]);
    assert.equal(now.rows.length, 2);
    assert.ok(now.rows.every((row) => !killed.rows.some((k) => k.pid === row.pid)), 'new connections');

    // Cached again on b now that it listens again; revoked through a: heard.
    await ok(b, 'GET', 'experiments/search', undefined, bearer(second.value));
    await ok(a, 'POST', `${LABLOG}/tokens/revoke`, { id: second.id }, admin);
    const after = await changedFrom(() => call(b, 'GET', 'experiments/search', undefined, bearer(second.value)), 'b refuses the token revoked after', CREDENTIAL_BOUND_MS);
    assertError(after, 401, 'UNAUTHENTICATED', /^Invalid credentials\.$/);
  });
});
