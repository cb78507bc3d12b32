import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLI_JS, cleanup, runToExit, startLablog, stop, tempDir } from '../support/lablog-process.js';
import { until } from '../support/poll.js';

// `lablog users ...` and `lablog tokens ...` as a user types them, and the server started with
// LABLOG_AUTH=on on the same data dir: real child processes, real SQLite file.

const T = { timeout: 240_000 };
after(cleanup);

const lablog = async (args: string[], env: Record<string, string> = {}) => {
  const r = await runToExit(args, { script: CLI_JS, env });
  return { code: r.code, stdout: r.lines.map((l) => ('raw' in l ? l.raw : JSON.stringify(l))).join('\n'), stderr: r.stderr };
};

function rows<T>(dir: string, sql: string, ...args: unknown[]): T[] {
  const db = new Database(path.join(dir, 'lablog.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

async function get(url: string, route: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/2.0/mlflow/${route}`, { headers });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

describe('lablog users / tokens', () => {
  it('create, list, update, delete users; create, list, revoke tokens; the token works against a server', T, async () => {
    const dir = tempDir();
    const d = ['--data-dir', dir];

    const created = await lablog(['users', 'create', 'alice', '--role', 'viewer', '--password', 'alice-password-1', ...d]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, "created viewer 'alice'");
    const [alice] = rows<{ role: string; auth_source: string; password_hash: string }>(dir, "SELECT role, auth_source, password_hash FROM users WHERE username = 'alice'");
    assert.equal(alice.role, 'viewer');
    assert.equal(alice.auth_source, 'local');
    assert.ok(alice.password_hash.startsWith('scrypt$') && !alice.password_hash.includes('alice-password-1'));

    // Without --password one is generated and shown once; the default role is viewer.
    const gen = await lablog(['users', 'create', 'bob', ...d]);
    assert.equal(gen.code, 0, gen.stderr);
    const shown = /^password: (\S+)   \(shown once\)$/m.exec(gen.stdout);
    assert.ok(shown, gen.stdout);
    assert.match(gen.stdout, /^created viewer 'bob'$/m);

    const dup = await lablog(['users', 'create', 'alice', '--password', 'another-pass', ...d]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /User 'alice' already exists/);

    const list = await lablog(['users', 'list', ...d]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.split('\n').map((l) => l.split('\t').slice(0, 3)), [
      ['alice', 'viewer', 'local'],
      ['bob', 'viewer', 'local'],
    ]);

    const upd = await lablog(['users', 'update', 'alice', '--role', 'editor', ...d]);
    assert.equal(upd.code, 0, upd.stderr);
    assert.equal(upd.stdout, "updated 'alice' (editor)");
    assert.deepEqual(rows(dir, "SELECT role FROM users WHERE username = 'alice'"), [{ role: 'editor' }]);

    const del = await lablog(['users', 'delete', 'bob', ...d]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "deleted 'bob'");
    assert.deepEqual(rows(dir, "SELECT username FROM users WHERE username = 'bob'"), []);

    const tok = await lablog(['tokens', 'create', '--user', 'alice', '--name', 'ci', ...d]);
    assert.equal(tok.code, 0, tok.stderr);
    const [head, value, ...rest] = tok.stdout.split('\n');
    assert.match(head, /^token (\d+) 'ci' for 'alice':$/);
    assert.match(value, /^llt_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(rest, []);
    const tokenId = Number(/^token (\d+)/.exec(head)![1]);
    assert.deepEqual(rows(dir, 'SELECT token_hash FROM api_tokens WHERE id = ?', tokenId), [{ token_hash: createHash('sha256').update(value).digest('hex') }]);

    const tokList = await lablog(['tokens', 'list', ...d]);
    assert.equal(tokList.code, 0, tokList.stderr);
    assert.match(tokList.stdout, new RegExp(`^${tokenId}\\talice\\tci\\tcreated `));
    assert.ok(!tokList.stdout.includes(value), 'tokens list never prints the value');
    const byUser = await lablog(['tokens', 'list', '--user', 'alice', ...d]);
    assert.equal(byUser.stdout, tokList.stdout);

    // The token against a server on this data dir with auth on (users exist: no admin is created).
    const s = await startLablog(['server', '--port', '0', ...d], { script: CLI_JS, env: { LABLOG_AUTH: 'on' } });
    try {
      assert.equal(s.stderr(), '', 'no first admin on a data dir with users');
      const anon = await get(s.url, 'experiments/search');
      assert.equal(anon.status, 401);
      assert.equal(anon.json.error_code, 'UNAUTHENTICATED');
      const ok = await get(s.url, 'experiments/search', { authorization: `Bearer ${value}` });
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.json.experiments.map((e: any) => e.name), ['Default']);
      assert.equal((await get(s.url, 'experiments/search', basic('alice', value))).status, 200);
      assert.equal((await get(s.url, 'experiments/search', basic('alice', 'alice-password-1'))).status, 200);
    } finally {
      assert.deepEqual(await stop(s), { code: 0, signal: null });
    }
    assert.ok((rows<{ last_used_at: number | null }>(dir, 'SELECT last_used_at FROM api_tokens WHERE id = ?', tokenId)[0].last_used_at ?? 0) > 0, 'the server recorded its use');

    const rev = await lablog(['tokens', 'revoke', String(tokenId), ...d]);
    assert.equal(rev.code, 0, rev.stderr);
    assert.equal(rev.stdout, `revoked token ${tokenId}`);
    assert.ok(rows<{ revoked_at: number | null }>(dir, 'SELECT revoked_at FROM api_tokens WHERE id = ?', tokenId)[0].revoked_at);
    assert.equal((await lablog(['tokens', 'list', ...d])).stdout, '');
    const again = await lablog(['tokens', 'revoke', String(tokenId), ...d]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`Token with id ${tokenId} not found`));

    const s2 = await startLablog(['server', '--port', '0', ...d], { script: CLI_JS, env: { LABLOG_AUTH: 'on' } });
    try {
      const refused = await get(s2.url, 'experiments/search', { authorization: `Bearer ${value}` });
      assert.equal(refused.status, 401, refused.text);
      assert.deepEqual(refused.json, { error_code: 'UNAUTHENTICATED', message: 'Invalid credentials.' });
    } finally {
      assert.deepEqual(await stop(s2), { code: 0, signal: null });
    }
  });

  it('next to a running server: a token revoked, a user demoted or deleted with lablog is refused within moments, not after the cache lifetime of 30 s', T, async () => {
    const dir = tempDir();
    const d = ['--data-dir', dir];
    for (const name of ['vic', 'wes']) assert.equal((await lablog(['users', 'create', name, '--role', 'editor', '--password', `${name}-password-1`, ...d])).code, 0);
    const tok = await lablog(['tokens', 'create', '--user', 'vic', '--name', 'ci', ...d]);
    const [head, value] = tok.stdout.split('\n');
    const tokenId = /^token (\d+)/.exec(head)![1];
    const s = await startLablog(['server', '--port', '0', ...d], { script: CLI_JS, env: { LABLOG_AUTH: 'on' } });
    try {
      const post = async (route: string, body: unknown, headers: Record<string, string>) => {
        const res = await fetch(`${s.url}/api/2.0/mlflow/${route}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, json: await res.json() };
      };
      // Each credential verified once: the server caches it (30 s) and each user's permissions (5 s).
      const vic = basic('vic', 'vic-password-1');
      const wes = basic('wes', 'wes-password-1');
      assert.equal((await post('experiments/create', { name: 'vic-1' }, vic)).status, 200);
      assert.equal((await get(s.url, 'experiments/search', { authorization: `Bearer ${value}` })).status, 200);
      assert.equal((await get(s.url, 'experiments/search', wes)).status, 200);

      // The command wrote to the file from another process: the server drops what it cached (it looks
      // every 20 ms; the bound is far below the cache's 30 s, so without that this fails).
      const changed = <R extends { status: number }>(ask: () => Promise<R>, what: string) => until(ask, (r) => r.status !== 200, what, 10_000);
      assert.equal((await lablog(['users', 'update', 'vic', '--role', 'viewer', ...d])).code, 0);
      assert.deepEqual(await changed(() => post('experiments/create', { name: 'vic-2' }, vic), 'vic is a viewer'), {
        status: 403,
        json: { error_code: 'PERMISSION_DENIED', message: "Permission denied: user 'vic' is a viewer and may not create experiments." },
      });
      assert.equal((await lablog(['tokens', 'revoke', tokenId, ...d])).code, 0);
      const revoked = await changed(() => get(s.url, 'experiments/search', { authorization: `Bearer ${value}` }), 'the token is revoked');
      assert.deepEqual([revoked.status, revoked.json], [401, { error_code: 'UNAUTHENTICATED', message: 'Invalid credentials.' }]);
      assert.equal((await lablog(['users', 'delete', 'wes', ...d])).code, 0);
      const deleted = await changed(() => get(s.url, 'experiments/search', wes), 'wes is deleted');
      assert.deepEqual([deleted.status, deleted.json], [401, { error_code: 'UNAUTHENTICATED', message: 'Invalid credentials.' }]);
    } finally {
      assert.deepEqual(await stop(s), { code: 0, signal: null });
    }
    assert.deepEqual(rows(dir, 'SELECT name FROM experiments ORDER BY name'), [{ name: 'Default' }, { name: 'vic-1' }]);
  });

  it('bad flags exit 2 with the usage; an unknown user exits 1 with a message', T, async () => {
    const dir = tempDir();
    const d = ['--data-dir', dir];
    assert.equal((await lablog(['users', 'create', 'carl', '--password', 'carl-password', ...d])).code, 0);

    const bad: [string[], RegExp][] = [
      [['users', 'create', 'x', '--bogus', '1', ...d], /Unknown option '--bogus'/],
      [['users', 'create', 'x', '--role', 'god', ...d], /--role must be one of admin, editor, viewer/],
      [['users', 'update', 'carl', ...d], /users update needs --role or --password/],
      [['users', 'create', ...d], /users create needs a username/],
      [['tokens', 'create', ...d], /tokens create needs --user NAME/],
      [['tokens', 'revoke', 'abc', ...d], /'abc' is not a token id/],
      [['users', 'frob', ...d], /unknown command 'users frob'/],
      [['users', 'create', 'x', '--password', ...d.slice(0, 1)], /--password/],
    ];
    for (const [args, message] of bad) {
      const r = await lablog(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /usage:\n {2}users create NAME \[--role admin\|editor\|viewer\]/, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
    // A data dir without a database is not created by a command that only reads.
    const empty = tempDir();
    const none = await lablog(['users', 'list', '--data-dir', empty]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no lablog data in/);

    const unknown: [string[], RegExp][] = [
      [['users', 'update', 'nobody', '--role', 'viewer', ...d], /^lablog users: User with username 'nobody' not found\.\n$/],
      [['users', 'delete', 'nobody', ...d], /^lablog users: User with username 'nobody' not found\.\n$/],
      [['tokens', 'create', '--user', 'nobody', ...d], /^lablog tokens: User with username 'nobody' not found\.\n$/],
      [['tokens', 'list', '--user', 'nobody', ...d], /^lablog tokens: User with username 'nobody' not found\.\n$/],
    ];
    for (const [args, message] of unknown) {
      const r = await lablog(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.deepEqual(rows(dir, 'SELECT username FROM users'), [{ username: 'carl' }]);
  });
});

describe('the first admin of a server with LABLOG_AUTH=on', () => {
  it('without LABLOG_ADMIN_PASSWORD: a generated password printed once on stderr, never on stdout; it works; a second start prints nothing', T, async () => {
    const dir = tempDir();
    const env = { LABLOG_AUTH: 'on', LABLOG_DATA_DIR: dir, LABLOG_PORT: '0' };
    const s = await startLablog(['server'], { script: CLI_JS, env });
    let password: string;
    try {
      const printed = /first admin 'admin' created with password: (\S+)/.exec(s.stderr());
      assert.ok(printed, `stderr: ${s.stderr()}`);
      password = printed[1];
      assert.ok(password.length >= 16, password);
      assert.equal(s.stderr().split(password).length, 2, 'printed exactly once');
      const ok = await get(s.url, 'experiments/search', basic('admin', password));
      assert.equal(ok.status, 200, ok.text);
      const wrong = await get(s.url, 'experiments/search', basic('admin', `${password}x`));
      assert.equal(wrong.status, 401);
      const me = await fetch(`${s.url}/api/2.0/lablog/me`, { headers: basic('admin', password) });
      assert.equal((await me.json()).user.role, 'admin');
    } finally {
      assert.deepEqual(await stop(s), { code: 0, signal: null });
    }
    const stdout = s.lines.map((l) => JSON.stringify(l)).join('\n');
    assert.ok(s.lines.some((l) => l.msg === 'created the first admin'), 'the log says an admin was made');
    assert.ok(!stdout.includes(password), 'the password is not in the log');
    const [row] = rows<{ role: string; password_hash: string }>(dir, "SELECT role, password_hash FROM users WHERE username = 'admin'");
    assert.equal(row.role, 'admin');
    assert.ok(!row.password_hash.includes(password));

    const again = await startLablog(['server'], { script: CLI_JS, env });
    try {
      assert.equal(again.stderr(), '', 'nothing printed on the second start');
      assert.ok(!again.lines.some((l) => l.msg === 'created the first admin'));
      assert.equal((await get(again.url, 'experiments/search', basic('admin', password))).status, 200);
    } finally {
      assert.deepEqual(await stop(again), { code: 0, signal: null });
    }
    assert.equal(rows(dir, 'SELECT id FROM users').length, 1);
  });

  it('with LABLOG_ADMIN_PASSWORD (and a name): that password, nothing printed', T, async () => {
    const dir = tempDir();
    const s = await startLablog(['server', '--port', '0', '--data-dir', dir, '--auth', 'on'], {
      script: CLI_JS,
      env: { LABLOG_ADMIN_PASSWORD: 'chosen-admin-password', LABLOG_ADMIN_USERNAME: 'root' },
    });
    try {
      assert.equal(s.stderr(), '');
      assert.equal((await get(s.url, 'experiments/search', basic('root', 'chosen-admin-password'))).status, 200);
      assert.equal((await get(s.url, 'experiments/search', basic('admin', 'chosen-admin-password'))).status, 401);
    } finally {
      assert.deepEqual(await stop(s), { code: 0, signal: null });
    }
    assert.ok(!s.lines.map((l) => JSON.stringify(l)).join('\n').includes('chosen-admin-password'));
  });
});

describe('auth settings the server refuses', () => {
  it('a bad LABLOG_AUTH or LABLOG_DEFAULT_PERMISSION: exit 2, a message naming it, never listening', T, async () => {
    for (const [env, message] of [
      [{ LABLOG_AUTH: 'maybe' }, /auth: auth must be 'on' or 'off'/],
      [{ LABLOG_AUTH: 'on', LABLOG_DEFAULT_PERMISSION: 'WRITE' }, /defaultPermission: /],
    ] as const) {
      const r = await runToExit(['server', '--port', '0', '--data-dir', tempDir()], { script: CLI_JS, env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^lablog: invalid configuration:/);
      assert.match(r.stderr, message);
      assert.ok(!r.lines.some((l) => l.msg === 'lablog listening'));
    }
    const flag = await runToExit(['server', '--port', '0', '--data-dir', tempDir(), '--auth', 'yes'], { script: CLI_JS });
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /auth must be 'on' or 'off'/);
  });
});
