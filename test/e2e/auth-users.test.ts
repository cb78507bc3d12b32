import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { screenshotPath, skipReason, type Env } from './browser.js';
import { ADMIN, basic, createUser, http, loginAs, newPage, startAuthEnv } from './auth-seed.js';

describe('users page (admin)', { skip: skipReason() }, () => {
  let env: Env;
  before(async () => {
    env = await startAuthEnv();
    await createUser(env, 'ada', 'ada-password-1', 'editor');
    await createUser(env, 'linus', 'linus-password-1', 'viewer');
  });
  after(async () => env?.close());

  const roleOf = async (username: string) => (await env.api('GET', '/api/2.0/lablog/users/list')).users.find((u: { username: string }) => u.username === username)?.role;

  test('an admin creates a user, who can then log in', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.click('[data-testid=user-menu]');
    await page.click('text=Users');
    await page.waitForURL(`${env.url}/admin/users`);
    await page.waitForSelector('tr[data-username=ada]');
    await page.fill('input[name=new-username]', 'marie');
    await page.fill('input[name=new-user-password]', 'marie-password-1');
    await page.selectOption('select[name=new-user-role]', 'editor');
    await page.click('button:text-is("Create user")');
    await page.waitForSelector('tr[data-username=marie]');
    assert.equal(await roleOf('marie'), 'editor');
    await page.setViewportSize({ width: 1280, height: 480 });
    await page.screenshot({ path: screenshotPath('users') });

    const marie = await newPage(env.browser);
    await loginAs(marie, env.url, 'marie', 'marie-password-1');
    assert.equal(await marie.innerText('[data-testid=user-name]'), 'marie');
    // Not an admin: no Users or Audit in the menu, and the admin pages are refused by the server.
    await marie.click('[data-testid=user-menu]');
    await marie.waitForSelector('.user-panel a:text-is("Tokens")');
    assert.equal(await marie.$('.user-panel a:text-is("Users")'), null);
    assert.equal(await marie.$('.user-panel a:text-is("Audit")'), null);
    await marie.context().close();
    await page.context().close();
  });

  test('change a role, reset a password, delete (never oneself)', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.goto(`${env.url}/admin/users`);
    await page.waitForSelector('tr[data-username=linus]');

    await page.selectOption('tr[data-username=linus] select[name=role]', 'editor');
    for (let i = 0; i < 50 && (await roleOf('linus')) !== 'editor'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await roleOf('linus'), 'editor');

    await page.click('tr[data-username=ada] button:text-is("Reset password")');
    await page.fill('tr[data-username=ada] input[name=new-password]', 'ada-new-password-2');
    await page.click('tr[data-username=ada] button:text-is("Save")');
    await page.waitForSelector('text=Password of ada changed.');
    assert.equal((await http(env, 'GET', '/api/2.0/lablog/me', undefined, basic('ada', 'ada-password-1'))).status, 401);
    assert.equal((await http(env, 'GET', '/api/2.0/lablog/me', undefined, basic('ada', 'ada-new-password-2'))).status, 200);

    assert.equal(await page.isDisabled(`tr[data-username=${ADMIN.username}] button:text-is("Delete")`), true, 'an admin cannot delete themself');
    await page.click('tr[data-username=ada] button:text-is("Delete")'); // the confirm() is accepted
    await page.waitForSelector('tr[data-username=ada]', { state: 'detached' });
    assert.equal(await roleOf('ada'), undefined);
    assert.equal((await http(env, 'GET', '/api/2.0/lablog/me', undefined, basic('ada', 'ada-new-password-2'))).status, 401);
    await page.context().close();
  });
});
