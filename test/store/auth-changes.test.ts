// The store's auth change feed (AuthChanges) on both backends: which writes tell the listeners of
// which user, that a change made through another process (another server on the PostgreSQL database,
// a `lablog users` command on the SQLite file) reaches them, and on PostgreSQL what the listening
// connection does when it is killed or the store is closed. Over HTTP with two server processes:
// test/postgres/auth-changes-two-servers.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { backends, openTestStore, type Backend } from '../helper.js';
import type { AuthChange } from '../../server/store/auth-types.js';
import { LISTENER_NAME, type ListenerState } from '../../server/store/postgres/auth-changes.js';
import { openPostgresStore } from '../../server/store/postgres/index.js';
import { OTHERS_EVERY_MS } from '../../server/store/sqlite/auth.sql.js';
import { openSqliteStore } from '../../server/store/sqlite/index.js';
import type { TrackingStore } from '../../server/store/types.js';
import { until } from '../support/poll.js';

// Far above what a notification takes on one machine; a bound only so that a lost one fails the test.
const WITHIN_MS = 10_000;

const ANYONE: AuthChange = { userId: null, what: 'user' };
const account = (userId: number): AuthChange => ({ userId, what: 'user' });
const grants = (userId: number): AuthChange => ({ userId, what: 'permissions' });
const order = (a: AuthChange, b: AuthChange) => (a.userId ?? -1) - (b.userId ?? -1) || a.what.localeCompare(b.what);

/** Another process's view of the same database: a second store on it. */
function secondStore(backend: Backend, dir: string, url: string | null, onAuthListener?: (s: ListenerState) => void): Promise<TrackingStore> | TrackingStore {
  return backend === 'sqlite' ? openSqliteStore(dir) : openPostgresStore(url!, { poolSize: 2, onAuthListener });
}

/** The sessions of lablog's auth listeners on this database. */
const listeners = async (pool: pg.Pool): Promise<number[]> =>
  (await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() ORDER BY pid', [LISTENER_NAME])).rows.map((r) => r.pid);

/** Subscribes to `store`'s feed; `heard` fills as changes arrive. Waits until the store hears every change. */
async function hear(store: TrackingStore) {
  const heard: AuthChange[] = [];
  const stop = store.onAuthChanged((c) => heard.push(c));
  await until(() => store.authChangesHeard(), Boolean, 'the store hears every auth change', WITHIN_MS);
  heard.length = 0;
  return { heard, stop };
}

for (const { backend, skip } of backends()) describe(`auth changes: ${backend}`, { skip }, () => {
  let dir: string;
  let opened: Awaited<ReturnType<typeof openTestStore>>;
  let store: TrackingStore;
  let others: TrackingStore[];
  let alice: number;
  let bob: number;
  let experimentId: string;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-auth-changes-'));
    opened = await openTestStore(backend, dir);
    store = opened.store;
    others = [];
    const user = async (username: string) => (await store.createUser({ username, passwordHash: null, role: 'editor', authSource: 'local', now: 1 })).id;
    alice = await user('alice');
    bob = await user('bob');
    experimentId = await store.createExperiment({ name: 'e', artifactLocation: null, tags: [], now: 1 });
  });
  afterEach(async () => {
    for (const other of others) await other.close();
    await store.close();
    await opened.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each write that changes what a credential proves or a user may do tells the listeners whose; creating users, tokens, sessions does not', async () => {
    const { heard, stop } = await hear(store);
    // On PostgreSQL a change is heard twice: at the commit in this process, and back through NOTIFY.
    const copies = backend === 'postgres' ? 2 : 1;
    const step = async (what: string, changes: AuthChange[], write: () => Promise<unknown>) => {
      const before = heard.length;
      await write();
      const expected = changes.flatMap((c) => Array.from({ length: copies }, () => c)).sort(order);
      await until(() => heard.length - before, (n) => n >= expected.length, `${what}: ${expected.length} changes`, WITHIN_MS);
      assert.deepEqual(heard.slice(before).sort(order), expected, what);
    };

    const token = await store.createToken({ userId: alice, name: 't', tokenHash: 'h1', now: 1, expiresAt: null });
    await step('nothing cached is changed by new rows', [], async () => {
      await store.createUser({ username: 'carl', passwordHash: null, role: 'viewer', authSource: 'local', now: 1 });
      await store.createToken({ userId: bob, name: 't', tokenHash: 'h2', now: 1, expiresAt: null });
      await store.touchToken(token.id, 2);
      await store.createSession({ idHash: 's1', userId: alice, csrfToken: 'c', now: 1, expiresAt: 100 });
      await store.deleteSession('s1');
    });
    await step('a grant', [grants(alice)], () => store.setPermission(experimentId, alice, 'READ'));
    await step('a grant taken away', [grants(alice)], () => store.deletePermission(experimentId, alice));
    await step('no grant to take away', [], async () => assert.equal(await store.deletePermission(experimentId, alice), false));
    await step('a grant refused (no such experiment)', [], () => assert.rejects(store.setPermission('9999', alice, 'READ'), { errorCode: 'RESOURCE_DOES_NOT_EXIST' }));
    await step('a new role', [account(bob)], () => store.updateUser('bob', { role: 'viewer' }, 2));
    await step('a new password', [account(bob)], () => store.updateUser('bob', { passwordHash: 'x' }, 3));
    await step('a token revoked', [account(alice)], () => store.revokeToken(token.id, 4));
    await step('a token revoked again', [], () => store.revokeToken(token.id, 5));

    await store.createRegisteredModel({ name: 'm', description: null, tags: [], now: 1 });
    await step('a model grant', [grants(alice)], () => store.setModelPermission('m', alice, 'EDIT'));
    await step('another model grant', [grants(bob)], () => store.setModelPermission('m', bob, 'READ'));
    await step('a model renamed: its grantees', [grants(alice), grants(bob)], () => store.renameRegisteredModel('m', 'm2', 2));
    await step('a model grant taken away', [grants(bob)], () => store.deleteModelPermission('m2', bob));
    await step('a model deleted: its grantees', [grants(alice)], () => store.deleteRegisteredModel('m2'));
    await step('a model without grants deleted', [], async () => {
      await store.createRegisteredModel({ name: 'm3', description: null, tags: [], now: 1 });
      await store.deleteRegisteredModel('m3');
    });

    await step('a user deleted', [account(alice)], async () => assert.equal(await store.deleteUser('alice'), true));
    await step('no such user to delete', [], async () => assert.equal(await store.deleteUser('alice'), false));
    stop();
    await step('after stop(): nothing', [], () => store.setPermission(experimentId, bob, 'EDIT'));
    assert.deepEqual(await store.permissionsOf(bob), new Map([[experimentId, 'EDIT']]));
  });

  it('a change made through another process reaches the listeners', async () => {
    const other = await secondStore(backend, dir, opened.url);
    others.push(other);
    const { heard } = await hear(store);
    // Writes through this store that no listener cares about (a run's data) change nothing heard.
    const runs = await other.createExperiment({ name: 'runs', artifactLocation: null, tags: [], now: 1 });
    await other.setPermission(experimentId, bob, 'READ');
    if (backend === 'postgres') {
      // The other server's NOTIFY names the user; no other process wrote an auth change before.
      await until(() => heard.length, (n) => n >= 1, 'the other store\'s change', WITHIN_MS);
      assert.deepEqual(heard, [grants(bob)]);
    } else {
      // SQLite sees only that another connection committed (when asked whether it hears every change,
      // at most every OTHERS_EVERY_MS): anyone may have changed, once.
      assert.deepEqual(heard, []);
      await until(() => (store.authChangesHeard(), heard.length), (n) => n >= 1, 'the other connection\'s commit', WITHIN_MS);
      // This store's own writes do not count as another process's.
      await store.setExperimentTag(runs, { key: 'k', value: 'v' }, 2);
      await sleep(3 * OTHERS_EVERY_MS);
      assert.equal(store.authChangesHeard(), true);
      assert.deepEqual(heard, [ANYONE]);
    }
    assert.deepEqual(await store.permissionsOf(bob), new Map([[experimentId, 'READ']]));
  });

  it('the listening connection killed: everything is dropped, nothing trusted until it is back, and it comes back', { skip: backend === 'sqlite' && 'SQLite has no listening connection' }, async () => {
    const states: ListenerState[] = [];
    const server = await secondStore(backend, dir, opened.url, (s) => states.push(s));
    others.push(server);
    const pool = opened.pool!;
    const { heard } = await hear(server);
    const [first] = await listeners(pool);
    assert.equal((await listeners(pool)).length, 1);
    assert.deepEqual(states, [{ listening: true }]);

    assert.deepEqual((await pool.query('SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE pid = $1', [first])).rows, [{ done: true }]);
    await until(() => states.length, (n) => n >= 3, 'lost and listening again', WITHIN_MS);
    assert.deepEqual(
      states.map((s) => (s.listening ? 'listening' : `lost: ${(s.error as Error & { code?: string }).code}`)),
      // 57P01: admin_shutdown, what pg_terminate_backend sends.
      ['listening', 'lost: 57P01', 'listening'],
    );
    // Dropped when it was lost, and again when it was back (what changed in between was not heard).
    assert.deepEqual(heard, [ANYONE, ANYONE]);
    assert.equal(server.authChangesHeard(), true);
    const again = await listeners(pool);
    assert.equal(again.length, 1);
    assert.notEqual(again[0], first);

    await store.deleteUser('bob');
    await until(() => heard.length, (n) => n >= 3, 'a change after the reconnection', WITHIN_MS);
    assert.deepEqual(heard, [ANYONE, ANYONE, account(bob)]);
  });

  it('no listening connection until someone listens; close() ends it', { skip: backend === 'sqlite' && 'SQLite has no listening connection' }, async () => {
    const server = await secondStore(backend, dir, opened.url);
    assert.equal(server.authChangesHeard(), false);
    assert.deepEqual(await listeners(opened.pool!), []);
    const { stop } = await hear(server);
    assert.equal((await listeners(opened.pool!)).length, 1);
    stop();
    await server.close();
    assert.equal(server.authChangesHeard(), false);
    // The server process behind the session goes a moment after the connection closed.
    await until(() => listeners(opened.pool!), (pids) => pids.length === 0, 'no listener left', WITHIN_MS);
  });
});
