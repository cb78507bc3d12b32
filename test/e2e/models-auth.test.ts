import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { skipReason, type Env } from './browser.js';
import { ADMIN, basic, createUser, http, loginAs, newPage, startAuthEnv } from './auth-seed.js';
import { seedModelRuns, seedModels, type RegistrySeed } from './models-seed.js';

/** With auth on, the registry pages show a viewer no write control (and the server refuses the writes anyway). */
describe('Model Registry UI with auth on', { skip: skipReason() }, () => {
  let env: Env;
  let seed: RegistrySeed;
  before(async () => {
    env = await startAuthEnv();
    seed = await seedModelRuns(env, 'registry-auth', ['train-a']);
    await seedModels(env, seed, [{ name: 'guarded', description: 'Guarded model.', tags: { team: 'core' }, versions: [{ run: 'train-a', stage: 'Staging' }], aliases: { champion: '1' } }]);
    await createUser(env, 'vera', 'vera-password-1', 'viewer');
    await createUser(env, 'eddie', 'eddie-password-1', 'editor');
  });
  after(() => env?.close());

  /** None of the selectors is on the page. */
  const absent = async (page: Page, selectors: string[]) => {
    for (const s of selectors) assert.equal(await page.locator(s).count(), 0, `${s} is shown`);
  };

  it('a viewer reads the Models, model, version and run pages without any write control', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, `${env.url}/models`, 'vera', 'vera-password-1');
    await page.locator('tr[data-model="guarded"] td[data-stage=Staging] a:text-is("v1")').waitFor();
    await absent(page, ['input[name=new-model]', 'button:has-text("Create model")']);

    await page.click('tr[data-model="guarded"] a:text-is("guarded")');
    await page.locator('tr[data-version="1"] a.run-link').waitFor();
    await page.locator('[data-testid=aliases] tr[data-alias=champion]').waitFor();
    await absent(page, [
      '[data-testid=description-edit]',
      'input[name=tag-key]',
      'button[aria-label^="remove tag"]',
      'input[name=alias]',
      'button[aria-label^="remove alias"]',
      'button:has-text("Transition")',
      'button:text-is("Rename")',
      'button:text-is("Delete")',
    ]);

    await page.click('tr[data-version="1"] a.version-link');
    await page.locator('[data-testid=version-source]').waitFor();
    await absent(page, ['[data-testid=description-edit]', 'input[name=tag-key]', 'button:has-text("Transition")', 'button:has-text("Delete version")']);

    await page.goto(`${env.url}/run/${seed.runs['train-a']}`);
    await page.locator('[data-testid=run-models] tr[data-model="guarded"]').waitFor();
    const folder = page.locator('.tree-row[data-path="model"]');
    await folder.scrollIntoViewIfNeeded();
    await folder.click();
    await page.locator('.tree-row[data-path="model/MLmodel"]').waitFor();
    await absent(page, ['[data-testid=register-model]', '[data-testid=artifact-upload]']);

    // What the page does not offer, the server refuses.
    const refused = await http(env, 'POST', 'model-versions/transition-stage', { name: 'guarded', version: '1', stage: 'Production', archive_existing_versions: false }, basic('vera', 'vera-password-1'));
    assert.equal(refused.status, 403);
    await page.context().close();
  });

  it('the admin sees the write controls on the same pages', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, `${env.url}/models/guarded`, ADMIN.username, ADMIN.password);
    await page.locator('tr[data-version="1"] button:has-text("Transition")').waitFor();
    for (const s of ['[data-testid=description-edit]', 'input[name=tag-key]', 'input[name=alias]', 'button:text-is("Rename")', 'button:text-is("Delete")']) await page.locator(s).first().waitFor();
    await page.goto(`${env.url}/run/${seed.runs['train-a']}`);
    const folder = page.locator('.tree-row[data-path="model"]');
    await folder.scrollIntoViewIfNeeded();
    await folder.click();
    await page.locator('[data-testid=register-model] button:text-is("Register model")').waitFor();
    await page.context().close();
  });

  it('an editor manages the model they create, and gets EDIT on another through its permissions dialog', async () => {
    const eddie = await newPage(env.browser);
    await loginAs(eddie, `${env.url}/models`, 'eddie', 'eddie-password-1');
    await eddie.fill('input[name=new-model]', 'eddies-model');
    await eddie.click('button:text-is("Create model")');
    await eddie.waitForURL(/\/models\/eddies-model$/);
    // The creator's MANAGE: every control of the page, Permissions included.
    for (const s of ['button:text-is("Rename")', 'button:text-is("Delete")', 'button:text-is("Permissions")', '[data-testid=description-edit]']) await eddie.locator(s).waitFor();

    // The default READ on someone else's model: reading only.
    await eddie.goto(`${env.url}/models/guarded`);
    await eddie.locator('tr[data-version="1"] a.run-link').waitFor();
    await absent(eddie, ['button:has-text("Transition")', 'input[name=alias]', '[data-testid=description-edit]', 'button:text-is("Permissions")']);

    const admin = await newPage(env.browser);
    await loginAs(admin, `${env.url}/models/guarded`, ADMIN.username, ADMIN.password);
    await admin.click('[data-testid=model-name] button:text-is("Permissions")');
    await admin.locator('[data-testid=permissions-dialog] table.permissions, [data-testid=permissions-dialog] p.muted:text-is("No explicit permissions.")').first().waitFor();
    await admin.fill('input[name=perm-username]', 'eddie');
    await admin.selectOption('select[name=perm-level]', 'EDIT');
    await admin.click('[data-testid=permissions-dialog] button:text-is("Set")');
    await admin.locator('[data-testid=permissions-dialog] tr[data-username=eddie]').waitFor();
    const { permissions } = await env.api('GET', '/api/2.0/lablog/permissions/list', { registered_model_name: 'guarded' });
    assert.deepEqual(
      permissions.filter((p: { username: string }) => p.username === 'eddie'),
      [{ registered_model_name: 'guarded', username: 'eddie', permission: 'EDIT' }],
    );
    await admin.context().close();

    // EDIT: transitions and aliases, but no delete (MANAGE).
    await eddie.reload();
    await eddie.locator('tr[data-version="1"] button:has-text("Transition")').waitFor();
    await eddie.locator('input[name=alias]').waitFor();
    await absent(eddie, ['[data-testid=model-name] button:text-is("Delete")', 'button:text-is("Permissions")']);
    await eddie.context().close();
  });
});
