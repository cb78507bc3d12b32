import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { skipReason, type Env } from './browser.js';
import { ADMIN, basic, createUser, http, loginAs, newPage, startAuthEnv } from './auth-seed.js';

describe('audit page (admin)', { skip: skipReason() }, () => {
  let env: Env;
  let experimentId: string;
  before(async () => {
    env = await startAuthEnv();
    await createUser(env, 'ada', 'ada-password-1', 'editor');
    const made = await http(env, 'POST', 'experiments/create', { name: 'ada-exp' }, basic('ada', 'ada-password-1'));
    assert.equal(made.status, 200);
    experimentId = made.json.experiment_id;
    assert.equal((await http(env, 'POST', 'runs/create', { experiment_id: experimentId, run_name: 'r1' }, basic('ada', 'ada-password-1'))).status, 200);
  });
  after(async () => env?.close());

  const rows = (page: import('playwright-core').Page) =>
    page.$$eval('table.audit tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));

  test('lists the writes with user, method, route and status; filters by user and experiment', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, env.url, ADMIN.username, ADMIN.password);
    await page.click('[data-testid=user-menu]');
    await page.click('text=Audit');
    await page.waitForURL(`${env.url}/admin/audit`);
    await page.waitForSelector('table.audit td.route');
    const all = await rows(page);
    const create = all.find((r) => r[1] === 'ada' && r[3].includes('experiments/create'));
    assert.ok(create, `an experiments/create by ada in ${JSON.stringify(all)}`);
    assert.equal(create[2], 'POST');
    assert.equal(create[4], '200');

    await page.fill('input[name=audit-user]', 'ada');
    await page.fill('input[name=audit-experiment]', experimentId);
    await page.click('button:text-is("Apply")');
    await page.waitForURL(/user=ada/);
    await page.waitForFunction(() => [...document.querySelectorAll('table.audit td.user')].every((td) => td.textContent === 'ada'));
    const filtered = await rows(page);
    assert.ok(filtered.length >= 1);
    assert.ok(filtered.some((r) => r[3].includes('runs/create') && r[5] === experimentId), JSON.stringify(filtered));

    await page.fill('input[name=audit-user]', 'nobody');
    await page.click('button:text-is("Apply")');
    await page.waitForSelector('text=No entries.');
    await page.context().close();
  });

  test('pages through next_page_token', async () => {
    for (let i = 0; i < 55; i++) await env.api('POST', 'experiments/set-experiment-tag', { experiment_id: experimentId, key: `k${i}`, value: 'v' });
    const page = await newPage(env.browser);
    await loginAs(page, `${env.url}/admin/audit`, ADMIN.username, ADMIN.password);
    await page.waitForSelector('table.audit td.route');
    const ids = () => page.$$eval('table.audit tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-id')));
    const first = await ids();
    assert.equal(first.length, 50);
    await page.click('button:text-is("Next")');
    await page.waitForSelector('text=page 2');
    await page.waitForFunction((id) => document.querySelector('table.audit tbody tr')?.getAttribute('data-id') !== id, first[0]);
    const second = await ids();
    assert.ok(second.length >= 1);
    assert.deepEqual(second.filter((id) => first.includes(id)), [], 'no entry on both pages');
    await page.click('button:text-is("Previous")');
    await page.waitForSelector('text=page 1');
    await page.waitForFunction((id) => document.querySelector('table.audit tbody tr')?.getAttribute('data-id') === id, first[0]);
    await page.context().close();
  });
});
