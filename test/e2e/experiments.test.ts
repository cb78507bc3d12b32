import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { skipReason, startEnv, type Env, screenshotPath } from './browser.js';
import { eventually, seedExperiment, type SeedRun } from './runs-seed.js';

const SCREENSHOT = screenshotPath('experiments');

const runs = (n: number, prefix: string): SeedRun[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, params: { lr: String(0.1 / (i + 1)) }, metrics: { loss: [1 / (i + 1)] } }));

describe('experiments page', { skip: skipReason() }, () => {
  let env: Env;
  const ids: Record<string, string> = {};
  before(async () => {
    env = await startEnv();
    env.page.on('dialog', (d) => void d.accept());
    ids['mnist-cnn'] = (await seedExperiment(env, 'mnist-cnn', runs(4, 'cnn'))).id;
    ids['cifar10-resnet'] = (await seedExperiment(env, 'cifar10-resnet', runs(7, 'resnet'))).id;
    ids['lr-range-test'] = (await seedExperiment(env, 'lr-range-test', runs(1, 'range'))).id;
    ids['empty'] = (await env.api('POST', 'experiments/create', { name: 'empty' })).experiment_id;
  });
  after(async () => env?.close());

  /** "name: run count" lines as the table shows them, sorted. */
  const table = async () => {
    await env.page.waitForSelector('table.experiments');
    return env.page.$$eval('table.experiments tbody tr', (trs) =>
      trs.map((tr) => `${(tr.querySelector('td.name') as HTMLElement).innerText.trim()}: ${(tr.querySelector('td.count') as HTMLElement).innerText.trim()}`).sort(),
    );
  };

  test('lists the seeded experiments with their run counts', async () => {
    await env.page.goto(env.url);
    const want = ['Default: 0', 'cifar10-resnet: 7', 'empty: 0', 'lr-range-test: 1', 'mnist-cnn: 4'];
    assert.deepEqual(await eventually(table, want), want);
    await env.page.setViewportSize({ width: 1280, height: 420 });
    await env.page.screenshot({ path: SCREENSHOT });
    await env.page.setViewportSize({ width: 1400, height: 900 });
  });

  test('the search box filters by name and the URL keeps it', async () => {
    await env.page.goto(env.url);
    await env.page.fill('input[name=search]', 'RES');
    const want = ['cifar10-resnet: 7'];
    assert.deepEqual(await eventually(table, want), want);
    assert.equal(new URL(env.page.url()).searchParams.get('q'), 'RES');
  });

  test('text typed before the page has subscribed to the URL still filters', async () => {
    // Types the moment the field is first rendered (a MutationObserver's callback runs before the
    // page's effects, which wait for a paint): the URL change happens before the router listens.
    const page = await env.browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await page.addInitScript(() => {
        new MutationObserver((_, observer) => {
          const input = document.querySelector<HTMLInputElement>('input[name=search]');
          if (!input) return;
          observer.disconnect();
          input.value = 'RES';
          input.dispatchEvent(new Event('input', { bubbles: true }));
        }).observe(document, { childList: true, subtree: true });
      });
      await page.goto(env.url);
      const rows = () =>
        page.$$eval('table.experiments tbody tr', (trs) => trs.map((tr) => (tr.querySelector('td.name') as HTMLElement).innerText.trim()).sort());
      await page.waitForSelector('table.experiments');
      assert.deepEqual(await eventually(rows, ['cifar10-resnet']), ['cifar10-resnet']);
      assert.equal(new URL(page.url()).searchParams.get('q'), 'RES');
    } finally {
      await page.close();
    }
  });

  test('clicking an experiment opens its runs; several can be opened together', async () => {
    await env.page.goto(env.url);
    await env.page.click('a:text-is("mnist-cnn")');
    await env.page.waitForURL(`${env.url}/runs?experiments=${ids['mnist-cnn']}`);
    await env.page.waitForSelector('.vt-row .run-link');
    await env.page.goto(env.url);
    for (const n of ['mnist-cnn', 'lr-range-test']) await env.page.check(`tr:has(a:text-is("${n}")) input[type=checkbox]`);
    await env.page.click('text=Open runs of 2 selected');
    await env.page.waitForURL(/\/runs\?experiments=/);
    assert.deepEqual(new URL(env.page.url()).searchParams.get('experiments')!.split(',').sort(), [ids['mnist-cnn'], ids['lr-range-test']].sort());
    await eventually(() => env.page.$$eval('.vt-row .run-link', (els) => els.length), 5);
    assert.equal(await env.page.$$eval('.vt-row .run-link', (els) => els.length), 5);
  });

  test('create, rename, delete and restore (the server agrees)', async () => {
    await env.page.goto(env.url);
    await env.page.fill('input[name=new-name]', 'speech-ctc');
    await env.page.click('button:text-is("Create")');
    await env.page.waitForSelector('a:text-is("speech-ctc")');
    const { experiment } = await env.api('GET', 'experiments/get-by-name', { experiment_name: 'speech-ctc' });
    assert.equal(experiment.lifecycle_stage, 'active');

    await env.page.click('tr:has(a:text-is("speech-ctc")) button:text-is("Rename")');
    await env.page.fill('input[name=rename]', 'speech-transducer');
    await env.page.press('input[name=rename]', 'Enter');
    await env.page.waitForSelector('a:text-is("speech-transducer")');
    assert.equal((await env.api('GET', 'experiments/get', { experiment_id: experiment.experiment_id })).experiment.name, 'speech-transducer');

    await env.page.click('tr:has(a:text-is("speech-transducer")) button:text-is("Delete")');
    await env.page.waitForSelector('a:text-is("speech-transducer")', { state: 'detached' });
    assert.equal((await env.api('GET', 'experiments/get', { experiment_id: experiment.experiment_id })).experiment.lifecycle_stage, 'deleted');

    await env.page.check('input[name=show-deleted]');
    await env.page.click('tr.deleted:has(a:text-is("speech-transducer")) button:text-is("Restore")');
    await env.page.waitForSelector('tr:not(.deleted):has(a:text-is("speech-transducer"))');
    assert.equal((await env.api('GET', 'experiments/get', { experiment_id: experiment.experiment_id })).experiment.lifecycle_stage, 'active');
  });
});
