/**
 * LABLOG_AUTH=on with LABLOG_DATABASE_URL, as real processes: two servers starting at once on one
 * empty database make one first admin between them; users, tokens, browser sessions and grants made
 * through one server hold on the other; `lablog users` / `lablog tokens` work on the same database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLI_JS, runToExit } from '../support/lablog-process.js';
import { postgresSkip } from '../support/postgres.js';
import { basic, call, serversOnOneDatabase } from '../support/postgres-servers.js';

const skip = postgresSkip() ?? false;
const LABLOG = '/api/2.0/lablog';
const T = { timeout: 240_000 };

describe('auth with two lablog servers on one PostgreSQL database', { skip }, () => {
  let env: Awaited<ReturnType<typeof serversOnOneDatabase>>;
  let servers: typeof env.servers;
  let admin: Record<string, string>;

  const lablog = async (args: string[]) => {
    const r = await runToExit(args, { script: CLI_JS, env: { LABLOG_DATABASE_URL: env.db } });
    return { code: r.code, stdout: r.lines.map((l) => ('raw' in l ? l.raw : JSON.stringify(l))).join('\n'), stderr: r.stderr };
  };
  const one = async (text: string, values: unknown[] = []) => (await env.pool.query(text, values)).rows[0];

  before(async () => {
    // No LABLOG_ADMIN_PASSWORD: each server would generate one; only the one that made the admin prints it.
    env = await serversOnOneDatabase(2, { LABLOG_AUTH: 'on' });
    servers = env.servers;
    const printed = servers.map((s) => /first admin 'admin' created with password: (\S+)/.exec(s.stderr())?.[1]);
    assert.equal(printed.filter(Boolean).length, 1, `stderr: ${servers.map((s) => s.stderr()).join(' | ')}`);
    admin = basic('admin', printed.find(Boolean)!);
  });
  after(async () => assert.deepEqual(await env?.close(), [{ code: 0, signal: null }, { code: 0, signal: null }]));

  it('one first admin between both servers, whose password works on either', T, async () => {
    assert.deepEqual(await one("SELECT count(*)::int AS n, min(username) AS name, min(role) AS role FROM users"), { n: 1, name: 'admin', role: 'admin' });
    for (const s of servers) {
      assert.equal((await call(s.url, 'GET', 'experiments/search', undefined, admin)).status, 200);
      assert.equal((await call(s.url, 'GET', 'experiments/search', undefined, {})).status, 401);
    }
  });

  it('a user and a token made through one server work on the other; a grant holds there too', T, async () => {
    const [a, b] = servers.map((s) => s.url);
    assert.equal((await call(a, 'POST', `${LABLOG}/users/create`, { username: 'vera', password: 'vera-password-1', role: 'viewer' }, admin)).status, 200);
    const vera = basic('vera', 'vera-password-1');
    const token = await call(b, 'POST', `${LABLOG}/tokens/create`, { name: 'script' }, vera);
    assert.equal(token.status, 200, token.text);
    const bearer = { authorization: `Bearer ${token.json.token.value}` };
    assert.equal((await call(a, 'GET', 'experiments/search', undefined, bearer)).status, 200);

    // A viewer cannot write; an experiment made by the admin on a, granted to vera on b, is hers to read.
    const exp = await call(a, 'POST', 'experiments/create', { name: 'private' }, admin);
    assert.equal((await call(a, 'POST', 'experiments/create', { name: 'by-vera' }, bearer)).status, 403);
    assert.equal((await call(b, 'POST', `${LABLOG}/permissions/set`, { experiment_id: exp.json.experiment_id, username: 'vera', permission: 'NO_PERMISSIONS' }, admin)).status, 200);
    const hidden = await call(a, 'GET', `experiments/get?experiment_id=${exp.json.experiment_id}`, undefined, vera);
    assert.equal(hidden.status, 403, hidden.text);
    assert.deepEqual(await one('SELECT p.permission FROM experiment_permissions p JOIN users u ON u.id = p.user_id WHERE u.username = $1', ['vera']), { permission: 'NO_PERMISSIONS' });

    // Revoked on a before b ever saw it: b refuses it (nothing cached there).
    const second = await call(a, 'POST', `${LABLOG}/tokens/create`, { name: 'short-lived' }, vera);
    assert.equal((await call(a, 'POST', `${LABLOG}/tokens/revoke`, { id: second.json.token.id }, vera)).status, 200);
    assert.equal((await call(b, 'GET', 'experiments/search', undefined, { authorization: `Bearer ${second.json.token.value}` })).status, 401);
  });

  it('a browser session from a login on one server is valid on the other, and a logout ends it on both', T, async () => {
    const [a, b] = servers.map((s) => s.url);
    const login = await call(a, 'POST', `${LABLOG}/auth/login`, { username: 'vera', password: 'vera-password-1' }, {});
    assert.equal(login.status, 200, login.text);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const session = { cookie, 'x-csrf-token': login.json.csrf_token as string };
    assert.equal((await call(b, 'GET', 'experiments/search', undefined, session)).status, 200);
    assert.equal((await call(b, 'POST', `${LABLOG}/auth/logout`, {}, session)).status, 200);
    assert.deepEqual(await one("SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'vera'"), { n: 0 });
    assert.equal((await call(a, 'GET', 'experiments/search', undefined, session)).status, 401);
  });

  it('every write is in the audit log, whichever server took it', T, async () => {
    const audit = await call(servers[1].url, 'GET', `${LABLOG}/audit/list?username=vera`, undefined, admin);
    assert.equal(audit.status, 200, audit.text);
    const seen = (audit.json.entries as { route: string; status: number }[]).map((e) => `${e.route} ${e.status}`);
    for (const [route, status] of [['tokens/create', 200], ['experiments/create', 403], ['tokens/revoke', 200]] as const) {
      assert.ok(seen.some((e) => e.includes(route) && e.endsWith(` ${status}`)), `${route} ${status} not in ${seen.join(', ')}`);
    }
  });

  it('lablog users / tokens on the same database: create, recover a password, list, revoke', T, async () => {
    const created = await lablog(['users', 'create', 'carl', '--role', 'editor', '--password', 'carl-password-1']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, "created editor 'carl'");
    assert.equal((await call(servers[0].url, 'GET', 'experiments/search', undefined, basic('carl', 'carl-password-1'))).status, 200);

    // Recovery: a new admin password set from the command line works at once on a server that never cached the new one.
    const reset = await lablog(['users', 'update', 'admin', '--password', 'new-admin-password-1']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal((await call(servers[1].url, 'GET', 'experiments/search', undefined, basic('admin', 'new-admin-password-1'))).status, 200);

    const token = await lablog(['tokens', 'create', '--user', 'carl', '--name', 'ci']);
    assert.equal(token.code, 0, token.stderr);
    const value = token.stdout.split('\n')[1];
    assert.equal((await call(servers[0].url, 'GET', 'experiments/search', undefined, { authorization: `Bearer ${value}` })).status, 200);
    const listed = await lablog(['users', 'list']);
    assert.deepEqual(listed.stdout.split('\n').map((l) => l.split('\t').slice(0, 3).join(' ')), ['admin admin local', 'carl editor local', 'vera viewer local']);
    const id = /^token (\d+)/.exec(token.stdout)![1];
    assert.equal((await lablog(['tokens', 'revoke', id])).stdout, `revoked token ${id}`);
    assert.ok((await one('SELECT revoked_at FROM api_tokens WHERE id = $1', [Number(id)])).revoked_at > 0);

    const bad = await runToExit(['users', 'list', '--database-url', 'mysql://x@y/z'], { script: CLI_JS });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /must look like postgres:\/\//);
  });
});
