import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { skipReason, startEnv, type Env, screenshotPath } from './browser.js';
import { eventually, runNames, seedExperiment, type SeedRun } from './runs-seed.js';

const SCREENSHOT = screenshotPath('runs');

const RUNS: SeedRun[] = [
  { name: 'adam-lr1e-2', params: { optimizer: 'adam', lr: '0.01', batch: '64' }, metrics: { acc: [0.3, 0.85], loss: [2.1, 0.41] }, minutes: 12 },
  { name: 'adam-lr1e-3', params: { optimizer: 'adam', lr: '0.001', batch: '64' }, metrics: { acc: [0.4, 0.95], loss: [2.0, 0.18] }, minutes: 31 },
  { name: 'sgd-lr1e-1', params: { optimizer: 'sgd', lr: '0.1', batch: '64' }, metrics: { acc: [0.2, 0.92], loss: [2.3, 0.27] }, minutes: 8 },
  { name: 'sgd-lr5e-2', params: { optimizer: 'sgd', lr: '0.05', batch: '64' }, metrics: { acc: [0.2, 0.7], loss: [2.3, 0.8] }, status: 'FAILED', minutes: 3 },
  { name: 'rmsprop', params: { optimizer: 'rmsprop', lr: '0.01', batch: '64' }, metrics: { acc: [0.1, 0.6], loss: [2.4, 1.02] }, user: 'grace', minutes: 20 },
  { name: 'hpo-sweep', tags: { stage: 'search' }, minutes: 45 },
  { name: 'trial-1', parent: 'hpo-sweep', params: { optimizer: 'momentum', lr: '0.2', batch: '64' }, metrics: { acc: [0.5], loss: [1.3] } },
  { name: 'trial-2', parent: 'hpo-sweep', params: { optimizer: 'momentum', lr: '0.3', batch: '64' }, metrics: { acc: [0.55], loss: [1.2] } },
];
const TOP = ['hpo-sweep', 'rmsprop', 'sgd-lr5e-2', 'sgd-lr1e-1', 'adam-lr1e-3', 'adam-lr1e-2'];

describe('runs page', { skip: skipReason() }, () => {
  let env: Env;
  let exp: { id: string; runs: Record<string, string> };
  before(async () => {
    env = await startEnv();
    exp = await seedExperiment(env, 'mnist-sweep', RUNS);
  });
  after(async () => env?.close());

  const open = async (query = '') => {
    await env.page.goto(`${env.url}/runs?experiments=${exp.id}${query}`);
    await env.page.waitForSelector('.vt-row .run-link');
  };
  const rowText = (name: string) => env.page.$eval(`.vt-row:has(.run-link:text-is("${name}"))`, (el) => (el as HTMLElement).innerText);

  test('shows the seeded runs, folded, with their params and latest metric values', async () => {
    await open();
    assert.deepEqual(await eventually(() => runNames(env.page), TOP), TOP);
    const row = await rowText('adam-lr1e-3');
    for (const v of ['FINISHED', 'ada', 'adam', '0.001', '0.95', '0.18', '31m 0s']) assert.ok(row.includes(v), `${v} in ${row}`);
    assert.ok(!row.includes('64'), 'batch is the same in every run: not a default column');
    assert.ok((await rowText('sgd-lr5e-2')).includes('FAILED'));
    const heads = await env.page.$$eval('.vt-head [data-col]', (els) => els.map((e) => e.getAttribute('data-col')));
    assert.ok(heads.includes('params.optimizer') && heads.includes('params.lr') && heads.includes('metrics.acc') && heads.includes('metrics.loss'));
    assert.ok(!heads.includes('params.batch'));
    assert.match(await env.page.innerText('h1'), /mnist-sweep/);
  });

  test('nested runs are folded under their parent and expand', async () => {
    await open();
    assert.ok((await rowText('hpo-sweep')).includes('(2)'));
    await env.page.click('.vt-row:has(.run-link:text-is("hpo-sweep")) button.fold');
    const want = ['hpo-sweep', 'trial-2', 'trial-1', ...TOP.slice(1)];
    assert.deepEqual(await eventually(() => runNames(env.page), want), want);
  });

  test('the filter box filters with OR and shows a parse error at its position', async () => {
    await open();
    await env.page.fill('input[name=filter]', "params.optimizer = 'adam' OR metrics.acc > 0.9");
    await env.page.press('input[name=filter]', 'Enter');
    const want = ['sgd-lr1e-1', 'adam-lr1e-3', 'adam-lr1e-2'];
    assert.deepEqual(await eventually(() => runNames(env.page), want), want);
    assert.equal(new URL(env.page.url()).searchParams.get('filter'), "params.optimizer = 'adam' OR metrics.acc > 0.9");

    await env.page.fill('input[name=filter]', 'params.optimizer = adam');
    await env.page.press('input[name=filter]', 'Enter');
    const alert = await env.page.waitForSelector('.filter-err');
    assert.match(await alert.innerText(), /at position 19/);
    const caret = await env.page.innerText('pre.caret');
    assert.equal(caret, `${' '.repeat(19)}^`);
  });

  test('sorting by a metric column sorts (ascending, then descending), missing values last', async () => {
    await open();
    await env.page.click('.vt-head [data-col="metrics.acc"]');
    const asc = ['rmsprop', 'sgd-lr5e-2', 'adam-lr1e-2', 'sgd-lr1e-1', 'adam-lr1e-3', 'hpo-sweep'];
    assert.deepEqual(await eventually(() => runNames(env.page), asc), asc);
    await env.page.click('.vt-head [data-col="metrics.acc"]');
    const desc = ['adam-lr1e-3', 'sgd-lr1e-1', 'adam-lr1e-2', 'sgd-lr5e-2', 'rmsprop', 'hpo-sweep'];
    assert.deepEqual(await eventually(() => runNames(env.page), desc), desc);
    assert.equal(new URL(env.page.url()).searchParams.get('sort'), '-metrics.acc');
    await env.page.click('.vt-head [data-col="duration"]');
    const byDuration = ['sgd-lr5e-2', 'sgd-lr1e-1', 'adam-lr1e-2', 'rmsprop', 'adam-lr1e-3', 'hpo-sweep'];
    assert.deepEqual(await eventually(() => runNames(env.page), byDuration), byDuration);
  });

  test('CSV export holds the table as shown', async () => {
    await open('&sort=-metrics.acc');
    await eventually(() => runNames(env.page), ['adam-lr1e-3', 'sgd-lr1e-1', 'adam-lr1e-2', 'sgd-lr5e-2', 'rmsprop', 'hpo-sweep']);
    const [download] = await Promise.all([env.page.waitForEvent('download'), env.page.click('text=Export CSV')]);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    assert.equal(csv[0], 'Run,Status,User,Start,Duration,params.lr,params.optimizer,metrics.acc,metrics.loss');
    assert.equal(csv.length, 7);
    assert.equal(csv[1], `adam-lr1e-3,FINISHED,ada,${new Date(Date.UTC(2026, 10, 20, 9, 7)).toISOString()},1860,0.001,adam,0.95,0.18`);
    assert.match(csv[6], /^hpo-sweep,FINISHED,ada,[^,]+,2700,,,,$/);
  });

  test('selecting two runs and Compare navigates to /compare?runs=...', async () => {
    await open();
    for (const name of ['adam-lr1e-3', 'sgd-lr1e-1']) await env.page.check(`.vt-row:has(.run-link:text-is("${name}")) input[type=checkbox]`);
    assert.match(await env.page.innerText('button.primary'), /Compare \(2\)/);
    await env.page.click('button.primary');
    await env.page.waitForURL(/\/compare\?/);
    const ids = new URL(env.page.url()).searchParams.get('runs')!.split(',').sort();
    assert.deepEqual(ids, [exp.runs['adam-lr1e-3'], exp.runs['sgd-lr1e-1']].sort());
  });

  test('delete and restore selected runs (the server agrees)', async () => {
    await open();
    await env.page.check('.vt-row:has(.run-link:text-is("rmsprop")) input[type=checkbox]');
    await env.page.click('button:text-is("Delete")');
    const left = TOP.filter((n) => n !== 'rmsprop');
    assert.deepEqual(await eventually(() => runNames(env.page), left), left);
    assert.equal((await env.api('GET', 'runs/get', { run_id: exp.runs.rmsprop })).run.info.lifecycle_stage, 'deleted');
    await env.page.selectOption('select[aria-label=lifecycle]', 'deleted');
    assert.deepEqual(await eventually(() => runNames(env.page), ['rmsprop']), ['rmsprop']);
    await env.page.check('.vt-row:has(.run-link:text-is("rmsprop")) input[type=checkbox]');
    await env.page.click('button:text-is("Restore")');
    assert.deepEqual(await eventually(() => runNames(env.page), []), []);
    assert.equal((await env.api('GET', 'runs/get', { run_id: exp.runs.rmsprop })).run.info.lifecycle_stage, 'active');
  });

  test('the column chooser adds a column and the URL keeps it', async () => {
    await open();
    await env.page.click('text=Columns');
    await env.page.fill('.chooser-panel input[type=search]', 'batch');
    await env.page.check('.chooser-list label:has-text("batch") input');
    await env.page.waitForSelector('.vt-head [data-col="params.batch"]');
    assert.ok((await rowText('adam-lr1e-2')).includes('64'));
    await env.page.reload();
    await env.page.waitForSelector('.vt-head [data-col="params.batch"]');
  });

  test('rows and columns are virtualized: only what is in view is in the DOM', async () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ name: `v-${String(i).padStart(3, '0')}`, metrics: Object.fromEntries(Array.from({ length: 600 }, (_, k) => [`k${String(k).padStart(3, '0')}`, [i + k / 1000]])) }));
    const big = await seedExperiment(env, 'wide-and-long', many);
    await env.page.goto(`${env.url}/runs?experiments=${big.id}&sort=attributes.run_name`);
    await env.page.waitForSelector('.vt-row .run-link');
    const dom = () => env.page.evaluate(() => ({ rows: document.querySelectorAll('.vt-row').length, heads: document.querySelectorAll('.vt-head [data-col]').length }));
    const before = await dom();
    assert.ok(before.rows < 50 && before.heads < 30, JSON.stringify(before));
    await env.page.waitForFunction(() => document.querySelector('[data-testid=run-count]')?.textContent?.startsWith('200 runs ·'));
    assert.match(await env.page.innerText('[data-testid=run-count]'), /^200 runs · 0 params · 600 metrics$/);
    await env.page.$eval('.vt', (el) => { el.scrollTop = el.scrollHeight; el.scrollLeft = el.scrollWidth; });
    await env.page.waitForSelector('.vt-row .run-link:text-is("v-199")');
    await env.page.waitForSelector('.vt-head [data-col="metrics.k599"]');
    assert.ok((await rowText('v-199')).includes('199.599'));
    const after = await dom();
    assert.ok(after.rows < 50 && after.heads < 30, JSON.stringify(after));
  });

  test('live: a RUNNING run\'s cells update without a reload, keeping scroll and selection', async () => {
    const live = await seedExperiment(env, 'live-table', [
      { name: 'done-run', metrics: { loss: [0.9, 0.5] }, minutes: 4 },
      { name: 'live-run', metrics: { loss: [1.5, 1.25] }, status: 'RUNNING' },
    ]);
    const id = live.runs['live-run'];
    await env.page.setViewportSize({ width: 700, height: 900 }); // narrower than the table: it scrolls sideways
    await env.page.goto(`${env.url}/runs?experiments=${live.id}&sel=${live.runs['done-run']}`);
    const colCell = async (col: string) =>
      env.page.evaluate(
        ({ col }) => {
          const heads = [...document.querySelectorAll('.vt-head .vt-cell')];
          const i = heads.findIndex((h) => h.querySelector(`[data-col="${col}"]`));
          const row = [...document.querySelectorAll('.vt-row')].find((r) => r.querySelector('.run-link')?.textContent === 'live-run');
          return i < 0 || !row ? null : (row.querySelectorAll('.vt-cell')[i] as HTMLElement).innerText;
        },
        { col },
      );
    await env.page.waitForSelector('[data-testid=runs-live]');
    assert.equal(await colCell('metrics.loss'), '1.25');
    assert.equal(await colCell('attributes.status'), 'RUNNING');
    assert.match((await colCell('duration')) ?? '', /\d/, 'a running run shows the time elapsed so far');
    const scrolled = await env.page.$eval('.vt', (el) => ((el.scrollLeft = 40), el.scrollLeft));
    assert.equal(scrolled, 40);

    // A new value and a new key arrive: the cell changes and the new key becomes a (default) column.
    await env.api('POST', 'runs/log-batch', { run_id: id, metrics: [{ key: 'loss', value: 0.75, step: 2, timestamp: Date.now() }, { key: 'val_acc', value: 0.5, step: 2, timestamp: Date.now() }] });
    await env.page.waitForFunction(() => {
      const row = [...document.querySelectorAll('.vt-row')].find((r) => r.querySelector('.run-link')?.textContent === 'live-run');
      return (row as HTMLElement | undefined)?.innerText.includes('0.75') && document.querySelector('[data-testid=run-count]')?.textContent?.includes('2 metrics');
    });
    assert.equal(await colCell('metrics.loss'), '0.75');
    assert.equal(await env.page.$eval('.vt', (el) => el.scrollLeft), scrolled);

    // Finishing the run: the status cell changes, the duration is the run's, and polling stops.
    const { run } = await env.api('GET', 'runs/get', { run_id: id });
    await env.api('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: Number(run.info.start_time) + 9 * 60_000 });
    await env.page.waitForFunction(() => {
      const row = [...document.querySelectorAll('.vt-row')].find((r) => r.querySelector('.run-link')?.textContent === 'live-run');
      return !!row?.querySelector('.status-FINISHED');
    });
    assert.equal(await colCell('attributes.status'), 'FINISHED');
    assert.equal(await colCell('duration'), '9m 0s');
    await env.page.waitForSelector('[data-testid=runs-live]', { state: 'detached' });
    assert.equal(await env.page.$eval('.vt', (el) => el.scrollLeft), scrolled);
    await env.page.$eval('.vt', (el) => void (el.scrollLeft = el.scrollWidth));
    await env.page.waitForSelector('.vt-head [data-col="metrics.val_acc"]');
    assert.equal(await colCell('metrics.val_acc'), '0.5');
    assert.equal(new URL(env.page.url()).searchParams.get('sel'), live.runs['done-run']);
    assert.ok(await env.page.isChecked('.vt-row:has(.run-link:text-is("done-run")) input[type=checkbox]'));
    await env.page.setViewportSize({ width: 1400, height: 900 });
  });

  test('screenshot', async () => {
    await env.page.goto(`${env.url}/runs?experiments=${exp.id}&sort=-metrics.acc&sel=${exp.runs['adam-lr1e-3']},${exp.runs['sgd-lr1e-1']}`);
    await env.page.waitForSelector('.vt-row .run-link');
    await env.page.click('.vt-row:has(.run-link:text-is("hpo-sweep")) button.fold');
    await env.page.setViewportSize({ width: 1360, height: 560 });
    await env.page.mouse.move(1300, 40);
    await env.page.screenshot({ path: SCREENSHOT });
  });
});
