import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { skipReason, type Env } from './browser.js';
import { ADMIN, basic, createUser, http, loginAs, newPage, startAuthEnv } from './auth-seed.js';
import { seedExperiment } from './runs-seed.js';

describe('permissions and write controls (auth on, default READ)', { skip: skipReason() }, () => {
  let env: Env;
  let shared: { id: string; runs: Record<string, string> };
  before(async () => {
    env = await startAuthEnv();
    shared = await seedExperiment(env, 'shared', [{ name: 'baseline', metrics: { loss: [1, 0.5] } }]);
    await createUser(env, 'vera', 'vera-password-1', 'viewer');
    await createUser(env, 'eddie', 'eddie-password-1', 'editor');
    await createUser(env, 'mona', 'mona-password-1', 'editor');
  });
  after(async () => env?.close());

  const writeAs = (username: string, password: string) => http(env, 'POST', 'runs/create', { experiment_id: shared.id, run_name: `by-${username}` }, basic(username, password));

  test('a viewer sees no write controls', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, 'vera', 'vera-password-1');
    await page.waitForSelector('a:text-is("shared")');
    assert.equal(await page.$('input[name=new-name]'), null, 'no Create');
    for (const label of ['Create', 'Rename', 'Delete', 'Restore', 'Permissions']) assert.equal(await page.$(`button:text-is("${label}")`), null, label);

    await page.click('a:text-is("shared")');
    await page.waitForSelector('.vt-row .run-link');
    await page.check('.vt-row input[aria-label="select run"]');
    assert.equal(await page.$('button:text-is("Delete")'), null);
    assert.equal(await page.$('button:text-is("Restore")'), null);
    assert.equal(await page.$('button:text-is("Permissions")'), null);
    await page.waitForSelector('button:has-text("Compare (1)")'); // reading still works

    await page.goto(`${env.url}/run/${shared.runs.baseline}`);
    await page.waitForSelector('[data-testid=note]');
    assert.equal(await page.$('[data-testid=note-edit]'), null);
    assert.equal((await writeAs('vera', 'vera-password-1')).status, 403);
    await page.context().close();
  });

  test('an editor with READ may create experiments but not write to this one', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, 'eddie', 'eddie-password-1');
    await page.waitForSelector('a:text-is("shared")');
    await page.waitForSelector('input[name=new-name]');
    assert.equal(await page.$('tr:has(a:text-is("shared")) button:text-is("Rename")'), null);
    assert.equal(await page.$('tr:has(a:text-is("shared")) button:text-is("Delete")'), null);
    // Their own new experiment is theirs to manage (MANAGE for the creator).
    await page.fill('input[name=new-name]', 'eddies');
    await page.click('button:text-is("Create")');
    await page.waitForSelector('tr:has(a:text-is("eddies")) button:text-is("Permissions")');
    await page.waitForSelector('tr:has(a:text-is("eddies")) button:text-is("Rename")');
    await page.context().close();
  });

  test('the permissions dialog grants EDIT, and the grantee can then write', async () => {
    assert.equal((await writeAs('eddie', 'eddie-password-1')).status, 403);
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.click('tr:has(a:text-is("shared")) button:text-is("Permissions")');
    await page.waitForSelector('[data-testid=permissions-dialog] table.permissions');
    assert.match(await page.innerText('[data-testid=default-permission]'), /READ/);
    assert.equal(await page.$('[data-testid=permissions-dialog] tr[data-username=eddie]'), null);
    await page.fill('input[name=perm-username]', 'eddie');
    await page.selectOption('select[name=perm-level]', 'EDIT');
    await page.click('[data-testid=permissions-dialog] button:text-is("Set")');
    await page.waitForSelector('[data-testid=permissions-dialog] tr[data-username=eddie]');
    assert.equal(await page.inputValue('tr[data-username=eddie] select'), 'EDIT');
    const { permissions } = await env.api('GET', '/api/2.0/lablog/permissions/list', { experiment_id: shared.id });
    assert.deepEqual(
      permissions.filter((p: { username: string }) => p.username === 'eddie'),
      [{ experiment_id: shared.id, username: 'eddie', permission: 'EDIT' }],
    );
    assert.equal((await writeAs('eddie', 'eddie-password-1')).status, 200);

    // MANAGE for mona, who then manages it from the runs page header.
    await page.fill('input[name=perm-username]', 'mona');
    await page.selectOption('select[name=perm-level]', 'MANAGE');
    await page.click('[data-testid=permissions-dialog] button:text-is("Set")');
    await page.waitForSelector('[data-testid=permissions-dialog] tr[data-username=mona]');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=permissions-dialog]', { state: 'detached' });
    await page.context().close();

    const mona = await newPage(env.browser);
    await loginAs(mona, `${env.url}/runs?experiments=${shared.id}`, 'mona', 'mona-password-1');
    await mona.click('h1 button:text-is("Permissions")');
    await mona.waitForSelector('[data-testid=permissions-dialog] tr[data-username=eddie]');
    await mona.click('tr[data-username=eddie] button:text-is("Remove")');
    await mona.waitForSelector('[data-testid=permissions-dialog] tr[data-username=eddie]', { state: 'detached' });
    assert.equal((await writeAs('eddie', 'eddie-password-1')).status, 403);
    await mona.context().close();
  });
});
