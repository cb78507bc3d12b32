import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { safeNext } from '../../server/auth/oidc.service.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { ADMIN, backends, buildTestApp, listen, type TestApp } from '../helper.js';
import { oneRowOf, pluck } from '../support/rows.js';
import { basic } from './auth.helpers.js';

// Single sign-on against a real OpenID Connect provider (oidc-provider in its own process), driven over
// real sockets the way a browser would: fetch with manual redirects and a cookie jar, the provider's
// login and consent forms submitted as forms.

const IDP_JS = fileURLToPath(new URL('../support/oidc-idp.js', import.meta.url));
const CLIENT = { id: 'lablog-test', secret: 'lablog-test-client-secret' };
const LOGIN = '/api/2.0/lablog/auth/oidc/login';
const CALLBACK = '/api/2.0/lablog/auth/oidc/callback';

const ACCOUNTS: Record<string, Record<string, unknown>> = {
  alice: { preferred_username: 'alice', email: 'alice@example.org', groups: ['lablog-users'] },
  bob: { preferred_username: 'bob', email: 'bob@example.org', groups: ['lablog-users', 'lablog-admins'] },
  // No preferred_username: the email names her.
  carol: { email: 'carol@example.org', groups: 'lablog-admins' },
  // The provider calls someone "admin": that must not become lablog's local admin.
  mallory: { preferred_username: 'admin', email: 'mallory@example.org', groups: [] },
};

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The browser's cookies: by host (cookies ignore ports) and path; Max-Age=0 deletes. */
class Jar {
  private cookies: { host: string; name: string; value: string; path: string }[] = [];

  store(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (n: string) => attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.slice(n.length + 1);
      const cookiePath = attr('path') ?? '/';
      const gone = attr('max-age') === '0' || (attr('expires') !== undefined && Date.parse(attr('expires')!) < Date.now()) || value === '';
      this.cookies = this.cookies.filter((c) => !(c.host === url.hostname && c.name === name && c.path === cookiePath));
      if (!gone) this.cookies.push({ host: url.hostname, name, value, path: cookiePath });
    }
  }

  header(url: URL): string {
    return this.cookies
      .filter((c) => c.host === url.hostname && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }
}

/** One request as a browser makes it: the jar's cookies, no automatic redirects. */
async function request(jar: Jar, url: string, init: { method?: string; form?: Record<string, string> } = {}) {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  const cookie = jar.header(u);
  if (cookie) headers.cookie = cookie;
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(u, { method: init.method ?? 'GET', headers, redirect: 'manual', body: init.form ? new URLSearchParams(init.form).toString() : undefined });
  jar.store(u, res);
  const body = await res.text();
  const location = res.headers.get('location');
  return { url: u, status: res.status, body, location: location ? new URL(location, u).href : null, headers: res.headers };
}

/** The first form of an HTML page: its action and its fields (hidden ones with their values). */
function formOf(html: string, base: URL): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  assert.ok(form, `no form in ${html.slice(0, 500)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2].matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    if (name) fields[name] = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
  }
  return { action: new URL(form[1].replace(/&amp;/g, '&'), base).href, fields };
}

/**
 * Walks from lablog's login route through the provider's login and consent pages until the provider
 * sends the browser back to lablog's callback; `atCallback` may change that URL (a tampering test).
 * Answers the callback's response.
 */
async function signIn(jar: Jar, start: string, login: string, atCallback: (url: URL) => URL = (u) => u) {
  let res = await request(jar, start);
  for (let step = 0; step < 20; step++) {
    if (res.location) {
      const next = new URL(res.location);
      if (next.pathname === CALLBACK) return request(jar, atCallback(next).href);
      res = await request(jar, next.href);
      continue;
    }
    assert.equal(res.status, 200, `${res.url}: ${res.status} ${res.body.slice(0, 300)}`);
    const form = formOf(res.body, res.url);
    if ('login' in form.fields) Object.assign(form.fields, { login, password: 'any-password' });
    res = await request(jar, form.action, { method: 'POST', form: form.fields });
  }
  throw new Error('the sign-in did not come back to lablog');
}

async function startIdp(dir: string, redirectUri: string): Promise<{ issuer: string; child: ChildProcess; accountsFile: string }> {
  const accountsFile = path.join(dir, 'accounts.json');
  writeFileSync(accountsFile, JSON.stringify(ACCOUNTS));
  const child = spawn(process.execPath, [IDP_JS], {
    env: { ...process.env, OIDC_CLIENT_ID: CLIENT.id, OIDC_CLIENT_SECRET: CLIENT.secret, OIDC_REDIRECT_URI: redirectUri, OIDC_ACCOUNTS_FILE: accountsFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the OIDC provider exited (${code}): ${stderr}`)));
  });
  return { issuer: JSON.parse(line).issuer as string, child, accountsFile };
}

describe('single sign-on settings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-oidc-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = (extra: Record<string, string>) => ({ LABLOG_DATA_DIR: dir, ...extra });

  it('issuer, client id and secret go together, and need the public URL', () => {
    assert.throws(() => loadConfig([], env({ LABLOG_OIDC_ISSUER: 'https://idp.example', LABLOG_PUBLIC_URL: 'https://lablog.example' })), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /missing: LABLOG_OIDC_CLIENT_ID, LABLOG_OIDC_CLIENT_SECRET/);
      return true;
    });
    assert.throws(() => loadConfig([], env({ LABLOG_OIDC_ISSUER: 'https://idp.example', LABLOG_OIDC_CLIENT_ID: 'x', LABLOG_OIDC_CLIENT_SECRET: 'y' })), /LABLOG_PUBLIC_URL/);
    const ok = loadConfig([], env({ LABLOG_OIDC_ISSUER: 'https://idp.example', LABLOG_OIDC_CLIENT_ID: 'x', LABLOG_OIDC_CLIENT_SECRET: 'y', LABLOG_PUBLIC_URL: 'https://lablog.example' }));
    assert.equal(ok.oidcClientId, 'x');
    assert.equal(loadConfig([], env({})).oidcIssuer, undefined);
  });
});

// The suites below run on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('single sign-on with OpenID Connect against a real provider', () => {
    let dir: string;
    let idp: Awaited<ReturnType<typeof startIdp>>;
    let t: TestApp;
    let base: string;

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-oidc-'));
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      idp = await startIdp(dir, `${base}${CALLBACK}`);
      t = await buildTestApp({
        backend,
        auth: {
          publicUrl: base,
          oidcIssuer: idp.issuer,
          oidcClientId: CLIENT.id,
          oidcClientSecret: CLIENT.secret,
          oidcDefaultRole: 'editor',
          oidcAdminClaim: 'groups=lablog-admins',
        },
      });
      await t.app.listen({ port, host: '127.0.0.1' });
    });
    after(async () => {
      await t?.close();
      if (idp?.child.exitCode === null) {
        const exited = new Promise((resolve) => idp.child.once('exit', resolve));
        idp.child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });

    const userRow = (username: string) => oneRowOf<Record<string, unknown>>(t, 'SELECT username, role, auth_source FROM users WHERE username = ?', username);
    const me = async (jar: Jar) => request(jar, `${base}/api/2.0/lablog/me`);

    it('auth/config tells the login page about single sign-on, without credentials', async () => {
      const res = await request(new Jar(), `${base}/api/2.0/lablog/auth/config`);
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { auth_enabled: true, oidc_enabled: true, oidc_login_url: LOGIN });
    });

    it('the login route sends the browser to the provider with PKCE, state and nonce, and keeps them in a Lax HttpOnly cookie', async () => {
      const res = await request(new Jar(), `${base}${LOGIN}?next=/experiments`);
      assert.equal(res.status, 302);
      const to = new URL(res.location!);
      assert.equal(`${to.origin}${to.pathname}`, `${idp.issuer}/auth`);
      assert.equal(to.searchParams.get('client_id'), CLIENT.id);
      assert.equal(to.searchParams.get('redirect_uri'), `${base}${CALLBACK}`);
      assert.equal(to.searchParams.get('response_type'), 'code');
      assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
      for (const p of ['code_challenge', 'state', 'nonce']) assert.ok((to.searchParams.get(p) ?? '').length >= 32, p);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('lablog_oidc='))!;
      assert.ok(cookie, 'no pending-login cookie');
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      assert.match(cookie, new RegExp(`Path=${CALLBACK}`));
      // Sealed: neither the verifier nor the state can be read from it.
      assert.ok(!cookie.includes(to.searchParams.get('state')!));
    });

    it('alice signs in: a session, her user created with the default role and auth_source oidc, back at next', async () => {
      assert.equal(await userRow('alice'), undefined);
      const jar = new Jar();
      const cb = await signIn(jar, `${base}${LOGIN}?next=${encodeURIComponent('/experiments/1?tab=runs')}`, 'alice');
      assert.equal(cb.status, 302, cb.body);
      assert.equal(cb.location, `${base}/experiments/1?tab=runs`);
      assert.ok(jar.get('lablog_session'), 'no session cookie');
      assert.equal(jar.get('lablog_oidc'), undefined, 'the pending login outlived its use');
      const res = await me(jar);
      assert.equal(res.status, 200, res.body);
      const body = JSON.parse(res.body);
      assert.equal(body.user.username, 'alice');
      assert.equal(body.user.role, 'editor');
      assert.equal(body.user.auth_source, 'oidc');
      assert.equal(body.csrf_token, jar.get('lablog_csrf'));
      assert.deepEqual(await userRow('alice'), { username: 'alice', role: 'editor', auth_source: 'oidc' });
      // The session writes like a password login's (with its CSRF token).
      const made = await fetch(`${base}/api/2.0/mlflow/experiments/create`, {
        method: 'POST',
        headers: { cookie: jar.header(new URL(base)), 'content-type': 'application/json', 'x-csrf-token': body.csrf_token },
        body: JSON.stringify({ name: 'alice-sso-experiment' }),
      });
      assert.equal(made.status, 200, await made.text());
    });

    it('a second login finds the same user, not a new one', async () => {
      const cb = await signIn(new Jar(), `${base}${LOGIN}`, 'alice');
      assert.equal(cb.status, 302, cb.body);
      assert.equal(cb.location, `${base}/`);
      assert.equal(await pluck(t, "SELECT count(*) FROM users WHERE username = 'alice'"), 1);
    });

    it('bob, in the admin group, is an admin', async () => {
      const jar = new Jar();
      const cb = await signIn(jar, `${base}${LOGIN}`, 'bob');
      assert.equal(cb.status, 302, cb.body);
      const body = JSON.parse((await me(jar)).body);
      assert.equal(body.user.username, 'bob');
      assert.equal(body.user.role, 'admin');
      assert.deepEqual(await userRow('bob'), { username: 'bob', role: 'admin', auth_source: 'oidc' });
    });

    it('carol is named by her email and her admin role follows the claim on each login', async () => {
      let jar = new Jar();
      assert.equal((await signIn(jar, `${base}${LOGIN}`, 'carol')).status, 302);
      assert.equal(JSON.parse((await me(jar)).body).user.role, 'admin');
      assert.deepEqual(await userRow('carol@example.org'), { username: 'carol@example.org', role: 'admin', auth_source: 'oidc' });
      // The provider takes her out of the admin group: at her next login she is back to the default role.
      writeFileSync(idp.accountsFile, JSON.stringify({ ...ACCOUNTS, carol: { email: 'carol@example.org', groups: ['lablog-users'] } }));
      jar = new Jar();
      assert.equal((await signIn(jar, `${base}${LOGIN}`, 'carol')).status, 302);
      assert.equal(JSON.parse((await me(jar)).body).user.role, 'editor');
      assert.equal((await userRow('carol@example.org'))!.role, 'editor');
      writeFileSync(idp.accountsFile, JSON.stringify(ACCOUNTS));
    });

    it('a tampered state is refused: 401, no session, no user', async () => {
      ACCOUNTS.dave = { preferred_username: 'dave', email: 'dave@example.org' };
      writeFileSync(idp.accountsFile, JSON.stringify(ACCOUNTS));
      const jar = new Jar();
      const cb = await signIn(jar, `${base}${LOGIN}`, 'dave', (u) => {
        u.searchParams.set('state', `${u.searchParams.get('state')}x`);
        return u;
      });
      assert.equal(cb.status, 401, cb.body);
      assert.equal(JSON.parse(cb.body).error_code, 'UNAUTHENTICATED');
      assert.match(JSON.parse(cb.body).message, /state/);
      assert.equal(jar.get('lablog_session'), undefined);
      assert.equal(await userRow('dave'), undefined);
      assert.equal((await me(jar)).status, 401);
    });

    it('a callback in a browser that did not start the login (login CSRF) is refused', async () => {
      const jar = new Jar();
      let stolen: URL | null = null;
      await signIn(jar, `${base}${LOGIN}`, 'dave', (u) => {
        stolen = u;
        return u;
      });
      const res = await request(new Jar(), stolen!.href);
      assert.equal(res.status, 401, res.body);
      assert.equal(JSON.parse(res.body).error_code, 'UNAUTHENTICATED');
    });

    it('an error from the provider (the user aborts) is a 401, not a 5xx', async () => {
      const jar = new Jar();
      let res = await request(jar, `${base}${LOGIN}`);
      while (res.location && !res.location.startsWith(base)) res = await request(jar, res.location);
      if (!res.location) {
        // At the provider's login page: abort there.
        const uid = /\/interaction\/([^/"]+)/.exec(res.body)![1];
        res = await request(jar, `${idp.issuer}/interaction/${uid}/abort`);
        while (res.location && !res.location.startsWith(base)) res = await request(jar, res.location);
      }
      assert.ok(res.location?.startsWith(`${base}${CALLBACK}`), `ended at ${res.location}`);
      assert.equal(new URL(res.location!).searchParams.get('error'), 'access_denied');
      const cb = await request(jar, res.location!);
      assert.equal(cb.status, 401, cb.body);
      assert.match(JSON.parse(cb.body).message, /access_denied/);
      assert.equal(jar.get('lablog_session'), undefined);
    });

    it('next may only be a path on this server', async () => {
      for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
        const cb = await signIn(new Jar(), `${base}${LOGIN}?next=${encodeURIComponent(next)}`, 'alice');
        assert.equal(cb.location, `${base}/`, next);
      }
      assert.equal(safeNext('/runs?x=1#y'), '/runs?x=1#y');
      assert.equal(safeNext('/%2F%2Fevil.example'), '/%2F%2Fevil.example');
      assert.equal(safeNext(undefined), '/');
    });

    it('a provider user named like a local account does not take it over', async () => {
      const jar = new Jar();
      const cb = await signIn(jar, `${base}${LOGIN}`, 'mallory');
      assert.equal(cb.status, 401, cb.body);
      assert.match(JSON.parse(cb.body).message, /local login/);
      assert.equal(jar.get('lablog_session'), undefined);
      assert.deepEqual(await userRow('admin'), { username: 'admin', role: 'admin', auth_source: 'local' });
    });
  });

  describe('single sign-on with an unreachable issuer', () => {
    let t: TestApp;
    let base: string;
    before(async () => {
      const deadIssuer = `http://127.0.0.1:${await freePort()}`;
      t = await buildTestApp({ backend, auth: { publicUrl: 'http://127.0.0.1:1', oidcIssuer: deadIssuer, oidcClientId: CLIENT.id, oidcClientSecret: CLIENT.secret } });
      base = `http://127.0.0.1:${await listen(t)}`;
    });
    after(() => t.close());

    it('the login route answers a clear 503 and the server keeps serving everything else', async () => {
      const res = await fetch(`${base}${LOGIN}`, { redirect: 'manual' });
      assert.equal(res.status, 503);
      const body = await res.json();
      assert.equal(body.error_code, 'TEMPORARILY_UNAVAILABLE');
      assert.match(body.message, /OpenID Connect issuer http:\/\/127\.0\.0\.1:\d+ could not be reached/);
      assert.equal((await fetch(`${base}/health`)).status, 200);
      assert.equal((await fetch(`${base}/api/2.0/lablog/auth/config`)).status, 200);
      const login = await t.post('/api/2.0/lablog/auth/login', ADMIN);
      assert.equal(login.status, 200, login.body);
      const list = await t.call('GET', 'experiments/search', { max_results: '10' }, basic(ADMIN.username, ADMIN.password));
      assert.equal(list.status, 200, list.body);
    });
  });

  describe('the trusted-proxy alternative (oauth2-proxy), over a real socket', () => {
    const apps: TestApp[] = [];
    after(() => Promise.all(apps.map((a) => a.close())));
    const serve = async (proxies: string[]) => {
      const t = await buildTestApp({ backend, auth: { trustedProxyHeader: 'X-Forwarded-Email', trustedProxies: proxies, oidcDefaultRole: 'editor' } });
      apps.push(t);
      return { t, base: `http://127.0.0.1:${await listen(t)}` };
    };

    it('the header names the user when it comes from a trusted address, and is ignored from any other', async () => {
      const trusted = await serve(['127.0.0.1']);
      const res = await fetch(`${trusted.base}/api/2.0/lablog/me`, { headers: { 'x-forwarded-email': 'erin@example.org' } });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual([body.user.username, body.user.role, body.user.auth_source], ['erin@example.org', 'editor', 'proxy']);

      const untrusted = await serve(['10.9.8.7']);
      const refused = await fetch(`${untrusted.base}/api/2.0/lablog/me`, { headers: { 'x-forwarded-email': 'admin' } });
      assert.equal(refused.status, 401);
      assert.equal(await pluck(untrusted.t, "SELECT count(*) FROM users WHERE username = 'erin@example.org'"), 0);
    });
  });
});
