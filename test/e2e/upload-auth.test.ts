import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipReason, type Env } from './browser.js';
import { ADMIN, createUser, loginAs, newPage, startAuthEnv } from './auth-seed.js';

describe('upload artifact under auth', { skip: skipReason() }, () => {
  let env: Env;
  let runId: string;
  before(async () => {
    env = await startAuthEnv();
    const experimentId = (await env.api('POST', 'experiments/create', { name: 'guarded' })).experiment_id as string;
    runId = (await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: 'r', start_time: Date.now() })).run.info.run_id;
    await env.api('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
    await createUser(env, 'vera', 'vera-password-1', 'viewer');
  });
  after(() => env?.close());

  it('is hidden from a viewer', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, `${env.url}/run/${runId}`, 'vera', 'vera-password-1');
    await page.locator('[data-testid=artifact-tree]').waitFor();
    assert.equal(await page.locator('[data-testid=artifact-upload]').count(), 0);
  });

  it('uploads for the admin’s session (cookie and CSRF header)', async () => {
    const page = await newPage(env.browser);
    await loginAs(page, `${env.url}/run/${runId}`, ADMIN.username, ADMIN.password);
    await page.setInputFiles('[data-testid=upload-file]', { name: 'a.txt', mimeType: 'text/plain', buffer: Buffer.from('signed in') });
    await page.click('[data-testid=upload-button]');
    await page.locator('[data-testid=upload-status]:has-text("Uploaded a.txt")').waitFor();
    await page.locator('[data-testid=artifact-tree] .tree-row[data-path="a.txt"]').waitFor();
  });
});
