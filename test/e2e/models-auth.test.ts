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
  });
  after(() => env?.close());

  /** None of the selectors is on the page. */
  const absent = async (page: Page, selectors: string[]) => {
    for (const s of selectors) assert.equal(await page.locator(s).count(), 0, `${s} is shown`);
  };

  it('a viewer reads the Models, model, version and run pages without any write control', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, `${env.url}/models`, 'vera', 'vera-password-1');
    await page.locator('tr[data-model="guarded"] td[data-stage=Staging]:text-is("v1")').waitFor();
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
});
