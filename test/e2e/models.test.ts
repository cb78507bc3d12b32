import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { screenshotPath, skipReason, startEnv, type Env } from './browser.js';
import { MLMODEL, seedModelRuns, seedModels, storedStages, type RegistrySeed } from './models-seed.js';

/**
 * The Model Registry pages against a real server: seeded over MLflow's registry API, driven in the
 * browser, and every write checked in what the server then answers.
 */

const rowsOf = (page: Page, table: string, attr: string) => page.locator(`${table} tbody tr[${attr}]`).evaluateAll((rows, a) => rows.map((r) => r.getAttribute(a)), attr);
const text = (page: Page, selector: string) => page.locator(selector).innerText();

describe('Model Registry UI', { skip: skipReason() }, () => {
  let env: Env;
  let seed: RegistrySeed;
  before(async () => {
    env = await startEnv();
    seed = await seedModelRuns(env, 'registry-e2e', ['train-a', 'train-b', 'train-c']);
    await seedModels(env, seed, [
      {
        name: 'churn-classifier',
        description: '## Churn\nPredicts **churn** from 30 days of usage.',
        tags: { team: 'growth' },
        versions: [{ run: 'train-a', stage: 'Production' }, { run: 'train-b', stage: 'Staging' }, { run: 'train-b' }],
        aliases: { champion: '1' },
      },
      { name: 'fraud-detector', tags: { team: 'risk' }, versions: [{ run: 'train-a', stage: 'Staging' }] },
      { name: 'ranker', description: 'Search ranking; no version yet.' },
    ]);
  });
  after(() => env?.close());

  it('the Models page lists the models with the latest version per stage and aliases; search narrows it', async () => {
    const { page } = env;
    await page.goto(`${env.url}/`);
    await page.click('header nav a:text-is("Models")');
    await page.waitForURL(/\/models$/);
    const churn = page.locator('tr[data-model="churn-classifier"]');
    await churn.waitFor();
    await page.locator('tr[data-model="ranker"]').waitFor();
    assert.deepEqual(await rowsOf(page, 'table.models', 'data-model'), ['churn-classifier', 'fraud-detector', 'ranker']);
    const stages = (model: string) =>
      page.locator(`tr[data-model="${model}"] td[data-stage]`).evaluateAll((tds) => Object.fromEntries(tds.map((td) => [td.getAttribute('data-stage'), (td as HTMLElement).innerText])));
    assert.deepEqual(await stages('churn-classifier'), { None: 'v3', Staging: 'v2', Production: 'v1', Archived: '—' });
    assert.deepEqual(await stages('fraud-detector'), { None: '—', Staging: 'v1', Production: '—', Archived: '—' });
    assert.deepEqual(await stages('ranker'), { None: '—', Staging: '—', Production: '—', Archived: '—' });
    assert.equal(await churn.locator('td.aliases').innerText(), '@champion → v1');
    assert.equal(await churn.locator('td.tags').innerText(), 'team: growth');
    assert.equal(await churn.locator('td.excerpt').innerText(), 'Churn');
    assert.equal(await churn.locator('td[data-stage=Production] a').getAttribute('href'), '/models/churn-classifier/versions/1');
    await page.screenshot({ path: screenshotPath('models') });

    // MLflow's `name ILIKE '%x%'`: any case, any part of the name.
    await page.fill('input[name=model-search]', 'FRAUD');
    await page.waitForFunction(() => document.querySelectorAll('table.models tbody tr').length === 1);
    assert.deepEqual(await rowsOf(page, 'table.models', 'data-model'), ['fraud-detector']);
    assert.equal(new URL(page.url()).searchParams.get('q'), 'FRAUD');
    await page.fill('input[name=model-search]', 'zzz');
    await page.locator('text=No registered models matching "zzz".').waitFor();
  });

  it('the model page shows the description and the versions with their run and source; a promotion with archive is stored', async () => {
    const { page } = env;
    await page.goto(`${env.url}/models/churn-classifier`);
    await page.locator('tr[data-version="1"]').waitFor();
    assert.equal(await page.locator('[data-testid=model-name]').evaluate((h) => h.firstChild?.textContent), 'churn-classifier');
    await page.locator('[data-testid=model-name] button:text-is("Rename")').waitFor();
    assert.equal(await page.locator('[data-testid=description-view] strong').innerText(), 'churn');
    assert.deepEqual(await rowsOf(page, 'table.versions', 'data-version'), ['3', '2', '1']);
    const v1 = page.locator('tr[data-version="1"]');
    assert.equal(await v1.locator('a.run-link').getAttribute('href'), `/run/${seed.runs['train-a']}`);
    await v1.locator('a.run-link:text-is("train-a")').waitFor();
    assert.equal(await v1.locator('td.source').innerText(), `runs:/${seed.runs['train-a']}/model`);
    assert.equal(await v1.locator('td.stage-cell').innerText(), 'Production');
    assert.equal(await v1.locator('td.aliases').innerText(), '@champion');
    assert.equal(await page.locator('tr[data-version="3"] a.run-link').getAttribute('href'), `/run/${seed.runs['train-b']}`);

    await page.locator('tr[data-version="3"] button:has-text("Transition")').click();
    const form = page.locator('[data-testid=promote-form]');
    await form.locator('select[name=stage]').selectOption('Production');
    await form.locator('input[name=archive-existing]').check();
    await form.locator('button[type=submit]').click();
    await page.locator('tr[data-version="1"] td.stage-cell:has-text("Archived")').waitFor();
    assert.equal(await page.locator('tr[data-version="3"] td.stage-cell').innerText(), 'Production');
    assert.equal(await page.locator('tr[data-version="2"] td.stage-cell').innerText(), 'Staging');
    assert.deepEqual(await storedStages(env, 'churn-classifier'), { '1': 'Archived', '2': 'Staging', '3': 'Production' });
    await page.screenshot({ path: screenshotPath('model'), fullPage: true });
  });

  it('aliases, tags and the description set from the model page are stored', async () => {
    const { page } = env;
    await page.goto(`${env.url}/models/churn-classifier`);
    await page.locator('tr[data-version="2"]').waitFor();
    await page.fill('input[name=alias]', 'challenger');
    await page.selectOption('select[name=alias-version]', '2');
    await page.click('button:text-is("Set alias")');
    await page.locator('[data-testid=aliases] tr[data-alias=challenger]').waitFor();
    await page.locator('tr[data-version="2"] td.aliases:has-text("@challenger")').waitFor();
    const byAlias = await env.api('GET', 'registered-models/alias', { name: 'churn-classifier', alias: 'challenger' });
    assert.equal(byAlias.model_version.version, '2');

    await page.click('button[aria-label="remove alias champion"]');
    await page.locator('[data-testid=aliases] tr[data-alias=champion]').waitFor({ state: 'detached' });
    const { registered_model: m1 } = await env.api('GET', 'registered-models/get', { name: 'churn-classifier' });
    assert.deepEqual(m1.aliases, [{ alias: 'challenger', version: '2' }]);

    await page.fill('[data-testid=tags] input[name=tag-key]', 'owner');
    await page.fill('[data-testid=tags] input[name=tag-value]', 'ada');
    await page.click('[data-testid=tags] button:text-is("Set tag")');
    await page.locator('[data-testid=tags] tr[data-key=owner]').waitFor();
    await page.click('button[aria-label="remove tag team"]');
    await page.locator('[data-testid=tags] tr[data-key=team]').waitFor({ state: 'detached' });

    await page.click('[data-testid=description-edit]');
    await page.fill('[data-testid=description-input]', 'Churn model, *retrained weekly*.');
    await page.click('[data-testid=description-save]');
    await page.locator('[data-testid=description-view] em:text-is("retrained weekly")').waitFor();
    const { registered_model: m2 } = await env.api('GET', 'registered-models/get', { name: 'churn-classifier' });
    assert.deepEqual(m2.tags, [{ key: 'owner', value: 'ada' }]);
    assert.equal(m2.description, 'Churn model, *retrained weekly*.');
  });

  it('the version page shows source, run and download URI, and stores its description and tags', async () => {
    const { page } = env;
    await page.goto(`${env.url}/models/churn-classifier`);
    await page.click('tr[data-version="2"] a.version-link');
    await page.waitForURL(/\/models\/churn-classifier\/versions\/2$/);
    await page.locator('[data-testid=version-source]').waitFor();
    assert.equal(await text(page, '[data-testid=version-source]'), `runs:/${seed.runs['train-b']}/model`);
    assert.equal(await page.locator('[data-testid=version-run]').getAttribute('href'), `/run/${seed.runs['train-b']}`);
    await page.locator('[data-testid=version-run]:text-is("train-b")').waitFor();
    const { artifact_uri } = await env.api('GET', 'model-versions/get-download-uri', { name: 'churn-classifier', version: '2' });
    assert.ok(artifact_uri);
    await page.locator(`[data-testid=download-uri]:text-is("${artifact_uri}")`).waitFor();
    const mlmodel = await fetch(new URL((await page.locator('[data-testid=mlmodel-link]').getAttribute('href'))!, env.url));
    assert.equal(mlmodel.status, 200);
    assert.equal(await mlmodel.text(), MLMODEL);

    await page.click('[data-testid=description-edit]');
    await page.fill('[data-testid=description-input]', 'Trained on **November** data.');
    await page.click('[data-testid=description-save]');
    await page.locator('[data-testid=description-view] strong:text-is("November")').waitFor();
    await page.fill('input[name=tag-key]', 'validated');
    await page.fill('input[name=tag-value]', 'yes');
    await page.click('button:text-is("Set tag")');
    await page.locator('[data-testid=tags] tr[data-key=validated]').waitFor();
    const { model_version } = await env.api('GET', 'model-versions/get', { name: 'churn-classifier', version: '2' });
    assert.equal(model_version.description, 'Trained on **November** data.');
    assert.deepEqual(model_version.tags, [{ key: 'validated', value: 'yes' }]);
  });

  it('the run page lists the model versions registered from the run, linking to their model', async () => {
    const { page } = env;
    await page.goto(`${env.url}/run/${seed.runs['train-a']}`);
    const section = page.locator('[data-testid=run-models]');
    await section.locator('tr[data-model="fraud-detector"]').waitFor();
    assert.deepEqual(
      await section.locator('tbody tr').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-model')} v${r.getAttribute('data-version')}`)),
      ['churn-classifier v1', 'fraud-detector v1'],
    );
    assert.equal(await section.locator('tr[data-model="churn-classifier"] td').nth(2).innerText(), 'Archived');
    await section.locator('tr[data-model="churn-classifier"] a:text-is("churn-classifier")').click();
    await page.waitForURL(/\/models\/churn-classifier$/);
    await page.locator('[data-testid=model-page]').waitFor();
  });

  it('"Register model" on a run’s model folder creates the model and a version with a runs:/ source', async () => {
    const { page } = env;
    const runId = seed.runs['train-c'];
    await page.goto(`${env.url}/run/${runId}`);
    await page.locator('[data-testid=run-models] >> text=No model registered from this run.').waitFor();
    const folder = page.locator('.tree-row[data-path="model"]');
    await folder.scrollIntoViewIfNeeded();
    await folder.click();
    await page.locator('.tree-row[data-path="model/MLmodel"]').waitFor();
    const bar = page.locator('[data-testid=register-model]');
    await bar.locator('button:text-is("Register model")').click();
    await bar.locator('input[name=register-name]').fill('new-model');
    await bar.locator('button:text-is("Register")').click();
    await bar.locator('[data-testid=register-done]:has-text("Registered new-model v1")').waitFor();
    await page.locator('[data-testid=run-models] tr[data-model="new-model"][data-version="1"]').waitFor();
    const { model_versions } = await env.api('GET', 'model-versions/search', { filter: "name='new-model'" });
    assert.deepEqual(
      model_versions.map((v: { version: string; source: string; run_id: string; current_stage: string }) => [v.version, v.source, v.run_id, v.current_stage]),
      [['1', `runs:/${runId}/model`, runId, 'None']],
    );

    // Into a model that exists: a new version of it.
    await bar.locator('button:text-is("Register model")').click();
    await bar.locator('input[name=register-name]').fill('churn-classifier');
    await bar.locator('button:text-is("Register")').click();
    await bar.locator('[data-testid=register-done]:has-text("Registered churn-classifier v4")').waitFor();
    const { model_version } = await env.api('GET', 'model-versions/get', { name: 'churn-classifier', version: '4' });
    assert.equal(model_version.source, `runs:/${runId}/model`);
    assert.equal(model_version.run_id, runId);
    await page.locator('[data-testid=run-models] tr[data-model="churn-classifier"][data-version="4"]').waitFor();
  });

  it('renames and deletes a model after confirmation', async () => {
    const { page } = env;
    page.once('dialog', (d) => void d.accept());
    await page.goto(`${env.url}/models/ranker`);
    await page.click('[data-testid=model-name] button:text-is("Rename")');
    await page.fill('input[name=rename-model]', 'ranker-v2');
    await page.click('[data-testid=model-name] button:text-is("Save")');
    await page.waitForURL(/\/models\/ranker-v2$/);
    await page.locator('[data-testid=model-name]:has-text("ranker-v2")').waitFor();
    assert.equal((await env.api('GET', 'registered-models/get', { name: 'ranker-v2' })).registered_model.description, 'Search ranking; no version yet.');
    await page.click('[data-testid=model-name] button:text-is("Delete")');
    await page.waitForURL(/\/models$/);
    await page.locator('tr[data-model="churn-classifier"]').waitFor();
    const { registered_models } = await env.api('GET', 'registered-models/search', {});
    assert.deepEqual(
      registered_models.map((m: { name: string }) => m.name),
      ['churn-classifier', 'fraud-detector', 'new-model'],
    );
  });

  it('deletes a version from its page after confirmation', async () => {
    const { page } = env;
    page.once('dialog', (d) => void d.accept());
    await page.goto(`${env.url}/models/churn-classifier/versions/4`);
    await page.locator('[data-testid=version-source]').waitFor();
    await page.click('button:text-is("Delete version")');
    await page.waitForURL(/\/models\/churn-classifier$/);
    await page.locator('tr[data-version="3"]').waitFor();
    assert.deepEqual(await rowsOf(page, 'table.versions', 'data-version'), ['3', '2', '1']);
    assert.deepEqual(Object.keys(await storedStages(env, 'churn-classifier')).sort(), ['1', '2', '3']);
  });

  it('a model whose name holds a slash, a quote and a percent sign opens with its versions', async () => {
    const name = "team/o'brien 100%";
    await seedModels(env, seed, [{ name, versions: [{ run: 'train-a' }] }]);
    const { page } = env;
    await page.goto(`${env.url}/models?q=${encodeURIComponent("O'BRIEN")}`);
    await page.locator(`tr[data-model="${name}"] td[data-stage=None] a:text-is("v1")`).click();
    await page.waitForURL(`${env.url}/models/${encodeURIComponent(name)}/versions/1`);
    await page.locator('[data-testid=version-source]').waitFor();
    await page.click(`.crumbs a:text-is("${name}")`);
    await page.locator('tr[data-version="1"] a.run-link:text-is("train-a")').waitFor();
    assert.equal(await page.locator('[data-testid=model-name]').evaluate((h) => h.firstChild?.textContent), name);
  });

  it('pages through more models than fit a page (page_token)', async () => {
    for (let i = 0; i < 52; i++) await env.api('POST', 'registered-models/create', { name: `paged-${String(i).padStart(2, '0')}` });
    const { page } = env;
    await page.goto(`${env.url}/models?q=paged-`);
    await page.locator('tr[data-model="paged-49"]').waitFor();
    const names = () => rowsOf(page, 'table.models', 'data-model');
    assert.deepEqual(await names(), Array.from({ length: 50 }, (_, i) => `paged-${String(i).padStart(2, '0')}`));
    await page.click('[data-testid=models-next]');
    await page.locator('tr[data-model="paged-51"]').waitFor();
    assert.deepEqual(await names(), ['paged-50', 'paged-51']);
    assert.equal(await page.locator('[data-testid=models-next]').isDisabled(), true);
    await page.click('button:text-is("← Previous")');
    await page.locator('tr[data-model="paged-00"]').waitFor();
    assert.equal((await names()).length, 50);
  });

  it('the run page offers Register model for each model the run logged (mlflow.log-model.history)', async () => {
    const logged = await seedModelRuns(env, 'logged-models', ['with-history']);
    const runId = logged.runs['with-history'];
    const model_json = JSON.stringify({ artifact_path: 'model', run_id: runId, utc_time_created: '2026-11-20 09:00:00.000000', flavors: { python_function: {} } });
    await env.api('POST', 'runs/log-model', { run_id: runId, model_json });
    const { page } = env;
    await page.goto(`${env.url}/run/${runId}`);
    const bar = page.locator('[data-testid=logged-models] [data-testid=register-model]');
    await bar.locator('button:text-is("Register model")').click();
    await bar.locator('input[name=register-name]').fill('from-history');
    await bar.locator('button:text-is("Register")').click();
    await page.locator('[data-testid=run-models] tr[data-model="from-history"][data-version="1"]').waitFor();
    const { model_versions } = await env.api('GET', 'model-versions/search', { filter: "name='from-history'" });
    assert.deepEqual(
      model_versions.map((v: { source: string; run_id: string }) => [v.source, v.run_id]),
      [[`runs:/${runId}/model`, runId]],
    );
  });
});
