import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { screenshotPath, skipReason, startEnv, type Env } from './browser.js';
import { ADMIN, http, loginAs, newPage, startAuthEnv } from './auth-seed.js';

describe('login (auth on)', { skip: skipReason() }, () => {
  let env: Env;
  let experimentId: string;
  before(async () => {
    env = await startAuthEnv();
    experimentId = (await env.api('POST', 'experiments/create', { name: 'vision' })).experiment_id;
  });
  after(async () => env?.close());

  test('a wrong password shows the server message; the right one opens the page asked for', async () => {
    const page = await newPage(env.browser);
    await page.goto(`${env.url}/runs?experiments=${experimentId}`);
    await page.waitForSelector('[data-testid=login-form]');
    await page.fill('input[name=username]', ADMIN.username);
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('button:text-is("Sign in")');
    const error = await page.waitForSelector('[data-testid=login-error]');
    assert.ok((await error.innerText()).length > 0);
    await page.setViewportSize({ width: 1000, height: 560 });
    await page.screenshot({ path: screenshotPath('login') });
    assert.equal(await page.$('[data-testid=user-menu]'), null);
    assert.equal(await page.$('[data-testid=sso]'), null, 'no SSO button without OIDC');

    await page.fill('input[name=password]', ADMIN.password);
    await page.click('button:text-is("Sign in")');
    await page.waitForSelector('[data-testid=user-menu]');
    assert.equal(await page.innerText('[data-testid=user-name]'), ADMIN.username);
    // Landed where the user asked to go: the runs page of that experiment.
    assert.equal(new URL(page.url()).pathname, '/runs');
    await page.waitForSelector('.exp-title:text-is("vision")');
    await page.context().close();
  });

  test('a request answering 401 later (session gone) returns to the login page, keeping the URL', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.click(`a:text-is("vision")`);
    await page.waitForSelector('.exp-title:text-is("vision")');
    const where = page.url();
    await page.context().clearCookies(); // the session expired
    await page.click('header a:text-is("Experiments")');
    await page.waitForSelector('[data-testid=login-form]');
    await page.fill('input[name=username]', ADMIN.username);
    await page.fill('input[name=password]', ADMIN.password);
    await page.click('button:text-is("Sign in")');
    await page.waitForSelector('table.experiments');
    assert.equal(new URL(page.url()).pathname, '/', 'the page the user was going to');
    assert.notEqual(where, page.url());
    await page.context().close();
  });

  test('log out ends the session: the login page, and the old cookie no longer works', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'lablog_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    await page.click('[data-testid=user-menu]');
    await page.click('text=Log out');
    await page.waitForSelector('[data-testid=login-form]');
    const me = await http(env, 'GET', '/api/2.0/lablog/me', undefined, { cookie: `lablog_session=${session.value}` });
    assert.equal(me.status, 401);
    await page.reload();
    await page.waitForSelector('[data-testid=login-form]');
    await page.context().close();
  });

  test('writes from the UI carry the CSRF token (a write without it is refused)', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.fill('input[name=new-name]', 'from-the-ui');
    await page.click('button:text-is("Create")');
    await page.waitForSelector('a:text-is("from-the-ui")');
    const session = (await page.context().cookies()).find((c) => c.name === 'lablog_session')!;
    const forged = await http(env, 'POST', 'experiments/create', { name: 'forged' }, { cookie: `lablog_session=${session.value}` });
    assert.equal(forged.status, 403);
    await page.context().close();
  });
});

describe('login rate limit', { skip: skipReason() }, () => {
  let env: Env;
  before(async () => (env = await startAuthEnv({ LABLOG_LOGIN_MAX_FAILURES: '2' })));
  after(async () => env?.close());

  test('too many failures show "retry in N s" from Retry-After', async () => {
    // Failures over HTTP from the same address, until the server refuses with 429.
    let last = 0;
    for (let i = 0; i < 5 && last !== 429; i++) last = (await http(env, 'POST', '/api/2.0/lablog/auth/login', { username: ADMIN.username, password: `wrong-${i}` })).status;
    assert.equal(last, 429);
    const page = await newPage(env.browser);
    await page.goto(env.url);
    await page.fill('input[name=username]', ADMIN.username);
    await page.fill('input[name=password]', ADMIN.password);
    await page.click('button:text-is("Sign in")');
    const error = await page.waitForSelector('[data-testid=login-error]');
    assert.match(await error.innerText(), /too many attempts, retry in \d+ s/i);
    assert.equal(await page.$('[data-testid=user-menu]'), null);
  });
});

describe('single sign-on on the login page', { skip: skipReason() }, () => {
  let env: Env;
  before(async () => {
    // The issuer is only reached when someone starts an SSO login, so a dead one is enough here.
    env = await startAuthEnv({ LABLOG_PUBLIC_URL: 'http://127.0.0.1:1', LABLOG_OIDC_ISSUER: 'http://127.0.0.1:9', LABLOG_OIDC_CLIENT_ID: 'lablog', LABLOG_OIDC_CLIENT_SECRET: 'secret' });
  });
  after(async () => env?.close());

  test('"Sign in with SSO" starts at the server\'s OIDC login and comes back to the page asked for', async () => {
    const page = await newPage(env.browser);
    await page.goto(`${env.url}/runs?experiments=0`);
    const sso = await page.waitForSelector('[data-testid=sso]');
    assert.equal(await sso.innerText(), 'Sign in with SSO');
    const href = new URL((await sso.getAttribute('href'))!, env.url);
    assert.equal(href.pathname, '/api/2.0/lablog/auth/oidc/login');
    assert.equal(href.searchParams.get('next'), '/runs?experiments=0');
    // The password form is still there for local accounts.
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.context().close();
  });
});

describe('auth off', { skip: skipReason() }, () => {
  let env: Env;
  before(async () => (env = await startEnv()));
  after(async () => env?.close());

  test('no login page; the header says auth is off; every write control is there', async () => {
    await env.page.goto(env.url);
    await env.page.waitForSelector('table.experiments');
    assert.equal(await env.page.$('[data-testid=login-form]'), null);
    assert.equal(await env.page.innerText('[data-testid=auth-off]'), 'auth off');
    await env.page.waitForSelector('button:text-is("Create")');
    await env.page.waitForSelector('tr:has(a:text-is("Default")) button:text-is("Rename")');
    assert.equal(await env.page.$('button:text-is("Permissions")'), null);
  });
});
