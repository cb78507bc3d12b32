import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { screenshotPath, skipReason, type Env } from './browser.js';
import { ADMIN, bearer, createUser, http, loginAs, newPage, startAuthEnv } from './auth-seed.js';

describe('tokens page', { skip: skipReason() }, () => {
  let env: Env;
  before(async () => {
    env = await startAuthEnv();
    await createUser(env, 'grace', 'grace-password-1', 'editor');
  });
  after(async () => env?.close());

  test('a created token is shown once, then only listed; it works until revoked, then gets 401', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, 'grace', 'grace-password-1');
    await page.click('[data-testid=user-menu]');
    await page.click('text=Tokens');
    await page.waitForURL(`${env.url}/settings/tokens`);
    await page.waitForSelector('text=No tokens.');

    await page.fill('input[name=token-name]', 'laptop');
    await page.fill('input[name=token-days]', '30');
    await page.click('button:text-is("Create token")');
    const shown = await page.waitForSelector('[data-testid=new-token]');
    assert.match(await shown.innerText(), /will not be shown again/);
    const value = await page.inputValue('[data-testid=token-value]');
    assert.ok(value.length >= 20, 'the token value');
    await page.waitForSelector('table.tokens td.name:text-is("laptop")');
    await page.waitForSelector('button:text-is("Copy")');

    // The token works as a Bearer credential.
    const me = await http(env, 'GET', '/api/2.0/lablog/me', undefined, bearer(value));
    assert.equal(me.status, 200);
    assert.equal(me.json.user.username, 'grace');
    await page.setViewportSize({ width: 1280, height: 520 });
    await page.screenshot({ path: screenshotPath('tokens') });

    // Never shown again: after a reload the list has it, the page does not hold its value.
    await page.reload();
    await page.waitForSelector('table.tokens td.name:text-is("laptop")');
    assert.equal(await page.$('[data-testid=new-token]'), null);
    assert.ok(!(await page.content()).includes(value));
    assert.deepEqual(await page.$$eval('table.tokens th', (ths) => ths.map((th) => th.textContent)), ['Name', 'Created', 'Expires', 'Last used', '']);

    await page.click('tr:has(td.name:text-is("laptop")) button:text-is("Revoke")');
    await page.waitForSelector('text=No tokens.');
    const after = await http(env, 'GET', '/api/2.0/lablog/me', undefined, bearer(value));
    assert.equal(after.status, 401);
    assert.equal(after.json.error_code, 'UNAUTHENTICATED');
    await page.context().close();
  });

  test('an admin sees and creates the tokens of a chosen user', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.goto(`${env.url}/settings/tokens`);
    await page.waitForSelector('select[name=owner]');
    await page.selectOption('select[name=owner]', 'grace');
    await page.waitForURL(/user=grace/);
    await page.fill('input[name=token-name]', 'ci-for-grace');
    await page.click('button:text-is("Create token")');
    const value = await page.inputValue('[data-testid=token-value]');
    await page.waitForSelector('table.tokens td.name:text-is("ci-for-grace")');
    const me = await http(env, 'GET', '/api/2.0/lablog/me', undefined, bearer(value));
    assert.equal(me.status, 200);
    assert.equal(me.json.user.username, 'grace');
    const graces = await env.api('GET', '/api/2.0/lablog/tokens/list', { username: 'grace' });
    assert.deepEqual(
      graces.tokens.map((t: { name: string }) => t.name),
      ['ci-for-grace'],
    );
    await page.context().close();
  });
});
