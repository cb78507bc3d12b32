import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putArtifact, screenshotPath, skipReason, startEnv, type Env } from './browser.js';
import { recordLiveReads } from './live-reads.js';
import { centrePixel, encodePng } from './png.js';

const SCREENSHOT = screenshotPath('compare');

interface Spec {
  name: string;
  lr: number;
  batch: number;
  optimizer: string;
  steps: number;
  running?: boolean;
}

/** TensorBoard's debiased EMA, as the UI must compute it. */
function ema(values: number[], w: number): number[] {
  let last = 0;
  return values.map((v, i) => {
    last = last * w + (1 - w) * v;
    return last / (1 - Math.pow(w, i + 1));
  });
}

/** A deterministic noisy training curve: loss falls faster with a larger lr, then plateaus. */
function curve(spec: Spec, s: number) {
  const r = ((Math.sin(s * 12.9898 + spec.lr * 78.233) * 43758.5453) % 1) * 2 - 1;
  const noise = 0.06 * r * (0.4 + 0.6 * Math.exp(-s / 800)) + Math.sin(s * 0.31) * 0.01;
  const loss = 0.15 + 2.2 * Math.exp(-s * spec.lr * (spec.optimizer === 'adam' ? 0.6 : 0.35)) + noise;
  const acc = Math.min(0.99, 0.1 + 0.85 * (1 - Math.exp(-s * spec.lr * 0.5)) + noise / 4);
  // An LR range test schedule: lr grows exponentially from 1e-5 over the run.
  const lr = 1e-5 * Math.pow(10, (5 * s) / spec.steps);
  return { loss, acc, lr };
}

async function seed(env: Env, exp: string, specs: Spec[], from = 0): Promise<string[]> {
  const { experiment_id } = await env.api('POST', 'experiments/create', { name: exp });
  const t0 = Date.now() - 2 * 3600_000;
  const ids: string[] = [];
  for (const spec of specs) {
    const { run } = await env.api('POST', 'runs/create', { experiment_id, run_name: spec.name, start_time: t0 });
    const id = run.info.run_id as string;
    ids.push(id);
    const params = [
      { key: 'lr', value: String(spec.lr) },
      { key: 'batch_size', value: String(spec.batch) },
      { key: 'optimizer', value: spec.optimizer },
      { key: 'seed', value: '42' },
    ];
    await env.api('POST', 'runs/log-batch', { run_id: id, params });
    await logSteps(env, id, spec, from, spec.steps, t0);
    if (!spec.running) await env.api('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: t0 + spec.steps * 1000 });
  }
  return ids;
}

async function logSteps(env: Env, id: string, spec: Spec, a: number, b: number, t0: number) {
  const metrics = [];
  for (let s = a; s < b; s++) {
    const c = curve(spec, s);
    const timestamp = t0 + s * 1000;
    metrics.push({ key: 'loss', value: c.loss, timestamp, step: s }, { key: 'acc', value: c.acc, timestamp, step: s }, { key: 'lr', value: c.lr, timestamp, step: s });
  }
  for (let i = 0; i < metrics.length; i += 999) await env.api('POST', 'runs/log-batch', { run_id: id, metrics: metrics.slice(i, i + 999) });
}

/** A solid-colour 8-bit RGB PNG of w x h pixels. */
function solidPng(w: number, h: number, rgb: [number, number, number]): Buffer {
  return encodePng(w, h, () => rgb);
}

describe('compare page', { skip: skipReason() }, () => {
  let env: Env;
  let ids: string[];
  const errors: string[] = [];
  const specs: Spec[] = [
    { name: 'lr-0.1', lr: 0.1, batch: 64, optimizer: 'adam', steps: 300 },
    { name: 'lr-0.03', lr: 0.03, batch: 64, optimizer: 'sgd', steps: 300 },
    { name: 'lr-0.01', lr: 0.01, batch: 32, optimizer: 'adam', steps: 200, running: true },
  ];
  const chart = (key: string) => env.page.locator(`.mchart[data-metric="${key}"]`);
  const attr = async (key: string, name: string) => (await chart(key).getAttribute(name)) ?? '';
  const open = async (query: string) => {
    await env.page.goto(`${env.url}/compare?runs=${ids.join(',')}${query}`);
    await env.page.locator('.mchart[data-metric="loss"][data-loaded="1"]').waitFor();
  };

  before(async () => {
    env = await startEnv();
    env.page.on('pageerror', (e) => errors.push(e.message));
    ids = await seed(env, 'lr-sweep', specs);
  });
  after(async () => env?.close());

  it('draws one series per selected run', async () => {
    await open('');
    assert.equal(await env.page.locator('h1').textContent().then((t) => t?.includes('Compare 3 runs')), true);
    for (const key of ['loss', 'acc', 'lr']) {
      await env.page.locator(`.mchart[data-metric="${key}"][data-loaded="1"]`).waitFor();
      assert.equal(await attr(key, 'data-series-count'), '3', key);
    }
    assert.equal(await chart('loss').locator('.mchart-legend .item').count(), 3);
    assert.equal(await attr('loss', 'data-points'), String(300 + 300 + 200));
    // Hovering shows every run's value at that x in the legend.
    const over = (await chart('loss').locator('.u-over').boundingBox())!;
    await chart('loss').scrollIntoViewIfNeeded();
    await env.page.mouse.move(over.x + over.width / 2, over.y + over.height / 2);
    await chart('loss').locator('.mchart-head', { hasText: /step \d+/ }).waitFor();
    assert.equal((await chart('loss').locator('.mchart-legend .val').allTextContents()).filter((t) => /\d/.test(t)).length, 3);
    // Hiding a run through its legend entry drops its series.
    await chart('loss').locator(`.mchart-legend .item[data-run-id="${ids[1]}"]`).click();
    await env.page.locator('.mchart[data-metric="loss"][data-series-count="2"]').waitFor();
    // Only the selected runs: two of three.
    await env.page.goto(`${env.url}/compare?runs=${ids[0]},${ids[2]}`);
    await env.page.locator('.mchart[data-metric="loss"][data-loaded="1"][data-series-count="2"]').waitFor();
  });

  it('draws loss against lr when the x-axis is switched to the metric lr', async () => {
    await open('');
    assert.equal(await attr('loss', 'data-x-key'), 'step');
    await env.page.locator('select[name=x]').selectOption('metric:lr');
    await env.page.locator('.mchart[data-metric="loss"][data-x-key="metric:lr"][data-loaded="1"]').waitFor();
    await env.page.waitForFunction(() => document.querySelector('.mchart[data-metric="loss"]')?.getAttribute('data-first-x') === String(1e-5));
    assert.match(env.page.url(), /x=metric%3Alr/);
    assert.equal(await attr('loss', 'data-series-count'), '3');
    // Wall time and time relative to each run's first point.
    await env.page.locator('select[name=x]').selectOption('time');
    await env.page.locator('.mchart[data-metric="loss"][data-x-key="time"][data-loaded="1"]').waitFor();
    await env.page.waitForFunction(() => Number(document.querySelector('.mchart[data-metric="loss"]')?.getAttribute('data-first-x')) > 1.7e9);
    await env.page.locator('select[name=x]').selectOption('relative');
    await env.page.locator('.mchart[data-metric="loss"][data-x-key="relative"][data-first-x="0"]').waitFor();
    await env.page.locator('select[name=x]').selectOption('metric:lr');
    await env.page.locator('.mchart[data-metric="loss"][data-x-key="metric:lr"][data-loaded="1"]').waitFor();
    // Log x is what an LR range test wants; the URL keeps it.
    await env.page.locator('input[name=logx]').check();
    await env.page.waitForURL(/logx=1/);
    assert.equal(await attr('loss', 'data-series-count'), '3');
  });

  it('smooths the drawn values with the debiased EMA', async () => {
    await open('&x=step');
    const rawLosses = Array.from({ length: 300 }, (_, s) => curve(specs[0], s).loss);
    assert.ok(Math.abs(Number(await attr('loss', 'data-last-y')) - rawLosses[299]) < 1e-9);
    await env.page.locator('input[name=smooth]').fill('0.9');
    await env.page.waitForURL(/smooth=0.9/);
    const want = ema(rawLosses, 0.9)[299];
    await env.page.waitForFunction((w) => Math.abs(Number(document.querySelector('.mchart[data-metric="loss"]')?.getAttribute('data-last-y')) - w) < 1e-9, want);
    assert.notEqual(want, rawLosses[299]);
  });

  it('highlights the params that differ', async () => {
    await open('');
    const row = (k: string) => env.page.locator(`.ctable tr[data-kind=param][data-key="${k}"]`);
    for (const k of ['lr', 'batch_size', 'optimizer']) assert.equal(await row(k).getAttribute('data-diff'), '1', k);
    assert.equal(await row('seed').getAttribute('data-diff'), '0');
    assert.match((await row('optimizer').textContent()) ?? '', /adam.*sgd.*adam/);
    assert.equal(await row('lr').evaluate((el) => el.classList.contains('diff')), true);
  });

  it('filters runs by brushing a parallel-coordinates axis', async () => {
    await open('');
    const pc = env.page.locator('.pcoords');
    assert.equal(await pc.locator('path.pc-run').count(), 3);
    const hit = pc.locator('.pc-axis[data-axis="lr"] .pc-hit');
    await pc.scrollIntoViewIfNeeded();
    const box = (await hit.boundingBox())!;
    // Drag from the top of the lr axis to 40% of its height: only lr=0.1 lies in that band.
    await env.page.mouse.move(box.x + box.width / 2, box.y + 2);
    await env.page.mouse.down();
    await env.page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2, { steps: 3 });
    await env.page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.4, { steps: 3 });
    await env.page.mouse.up();
    await env.page.locator('.pcoords[data-matching="1"]').waitFor();
    assert.equal(await pc.locator('path.pc-run.off').count(), 2);
    assert.deepEqual(await pc.locator('.pc-matching .pc-chip').allTextContents(), ['lr-0.1']);
    assert.match(env.page.url(), /brush=/);
    // The brush narrows the charts too when asked.
    await env.page.locator('input[name=only]').check();
    await env.page.locator('.mchart[data-metric="loss"][data-series-count="1"]').waitFor();
    // A shared URL reproduces the filtered view.
    await env.page.reload();
    await env.page.locator('.pcoords[data-matching="1"]').waitFor();
  });

  it("grows a RUNNING run's chart as points arrive, following the page's poll", async () => {
    // The finished runs alongside are compared too: the page polls all three, the chart re-reads for the running one.
    await env.page.goto(`${env.url}/compare?runs=${ids.join(',')}&keys=loss`);
    await env.page.locator('.mchart[data-metric="loss"][data-loaded="1"]').waitFor();
    assert.equal(await attr('loss', 'data-points'), '800');
    const reads = recordLiveReads(env.page, ids[2], 'loss');
    const points = (n: number) => env.page.waitForFunction((want) => Number(document.querySelector('.mchart[data-metric="loss"]')?.getAttribute('data-points')) === want, n);
    const t0 = Date.now() - 2 * 3600_000;
    await logSteps(env, ids[2], specs[2], 200, 260, t0);
    await points(860);
    await logSteps(env, ids[2], specs[2], 260, 300, t0);
    await points(900);
    // Points logged right before the end are read once more when the page sees the run finish.
    await logSteps(env, ids[2], specs[2], 300, 310, t0);
    await env.api('POST', 'runs/update', { run_id: ids[2], status: 'FINISHED', end_time: t0 + 310 * 1000 });
    await env.page.locator('h1:not(:has(.cmp-live))', { hasText: 'Compare 3 runs' }).waitFor();
    await points(910);
    const seen = reads.stop();
    assert.ok(seen.gets >= 2, `the page polled the run: ${JSON.stringify(seen)}`);
    assert.equal(seen.unfollowed, 0, `every runs/get is the page's poll, followed by the chart's re-read: ${JSON.stringify(seen)}`);
    // One re-read per poll (the last for the finish), plus one when recording began between a poll and its re-read.
    assert.ok(seen.reads === seen.gets || seen.reads === seen.gets + 1, `one re-read per poll: ${JSON.stringify(seen)}`);
  });

  it('shows logged images side by side with one shared step slider', async () => {
    const { experiment_id } = await env.api('POST', 'experiments/create', { name: 'image-exp' });
    const colours: Record<string, Record<number, [number, number, number]>> = {
      'img-a': { 10: [255, 0, 0], 20: [0, 0, 255] },
      'img-b': { 10: [0, 200, 0], 20: [255, 200, 0] },
    };
    const imgIds: string[] = [];
    for (const [name, byStep] of Object.entries(colours)) {
      const { run } = await env.api('POST', 'runs/create', { experiment_id, run_name: name, start_time: Date.now() });
      const id = run.info.run_id as string;
      imgIds.push(id);
      await env.api('POST', 'runs/set-tag', { run_id: id, key: 'lablog.images', value: JSON.stringify(['predictions']) });
      for (const [step, rgb] of Object.entries(byStep)) await putArtifact(env, run.info.artifact_uri, `images/predictions/step_${String(step).padStart(9, '0')}.png`, solidPng(16, 16, rgb));
      await env.api('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: Date.now() });
    }
    const { page } = env;
    await page.goto(`${env.url}/compare?runs=${imgIds.join(',')}`);
    const gallery = page.locator('[data-testid=compare-images] [data-testid=image-gallery][data-key=predictions]');
    await gallery.scrollIntoViewIfNeeded();
    const cell = (id: string) => gallery.locator(`figure[data-run-id="${id}"] [data-testid=gallery-image]`);
    const check = async (step: number) => {
      await gallery.locator('[data-testid=gallery-step]', { hasText: `step ${step}` }).waitFor();
      for (const [i, id] of imgIds.entries()) {
        await page.waitForFunction(([sel, s]) => document.querySelector(sel)?.getAttribute('data-step') === s, [`figure[data-run-id="${id}"] [data-testid=gallery-image]`, String(step)] as const);
        assert.match(String(await cell(id).getAttribute('src')), new RegExp(`step_${String(step).padStart(9, '0')}\\.png`));
        assert.deepEqual(await centrePixel(cell(id)), colours[Object.keys(colours)[i]][step], `run ${i} at step ${step}`);
      }
    };
    // Both runs, side by side (same row, left to right), at the latest step.
    await cell(imgIds[0]).waitFor();
    await cell(imgIds[1]).waitFor();
    await check(20);
    const [a, b] = [(await cell(imgIds[0]).boundingBox())!, (await cell(imgIds[1]).boundingBox())!];
    assert.ok(Math.abs(a.y - b.y) < 2 && b.x > a.x + a.width - 1, `side by side: ${JSON.stringify([a, b])}`);
    assert.equal(await gallery.locator('[data-testid=step-slider]').count(), 1);
    // One slider moves both runs' images; the URL keeps the step.
    await gallery.locator('[data-testid=step-slider]').fill('0');
    await check(10);
    await page.waitForURL(/istep=10/);
    // A shared URL reopens at that step.
    await page.reload();
    await check(10);
    await gallery.locator('[data-testid=step-slider]').fill('1');
    await check(20);
  });

  it('saves a screenshot of the compare page', async () => {
    const many: Spec[] = [0.3, 0.1, 0.05, 0.03, 0.01, 0.005].map((lr, i) => ({ name: `resnet-lr${lr}`, lr: lr / 10, batch: [32, 64, 128][i % 3], optimizer: i % 2 ? 'sgd' : 'adam', steps: 4000 }));
    const shot = await seed(env, 'resnet-sweep', many);
    await env.page.setViewportSize({ width: 1400, height: 1500 });
    const brush = encodeURIComponent(JSON.stringify({ 'lr|param': [0.15, 1] }));
    await env.page.goto(`${env.url}/compare?runs=${shot.join(',')}&smooth=0.6&keys=loss,acc,lr&logy=1&brush=${brush}`);
    try {
      await env.page.waitForFunction(() => document.querySelectorAll('.mchart[data-loaded="1"]').length === 3);
    } catch (e) {
      const state = env.page.url() + ' ' + (await env.page.evaluate(() => document.documentElement.outerHTML.slice(0, 3000)));
      throw new Error(`charts did not load: ${(e as Error).message}\npage errors: ${errors.join('; ')}\n${state}`);
    }
    await env.page.waitForTimeout(300); // let uPlot finish its animation frame before the picture
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await env.page.screenshot({ path: SCREENSHOT, fullPage: true });

    // 4000 points in a chart a few hundred pixels wide are downsampled to one bucket per pixel...
    const loss = chart('loss');
    const perRun = async () => Number(await loss.getAttribute('data-points')) / 6;
    const buckets = Number(await loss.getAttribute('data-buckets'));
    assert.ok((await perRun()) <= buckets && buckets < 4000, `${await perRun()} points per run, ${buckets} buckets`);
    // ...and a drag-select zoom fetches the visible range at full resolution.
    const box = (await loss.locator('.u-over').boundingBox())!;
    await env.page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await env.page.mouse.down();
    await env.page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2, { steps: 4 });
    await env.page.mouse.up();
    await env.page.locator('.mchart[data-metric="loss"][data-zoomed="1"]').waitFor();
    const [lo, hi] = (await loss.getAttribute('data-zoom'))!.split(',').map(Number);
    const want = Math.min(3999, Math.ceil(hi)) - Math.max(0, Math.floor(lo)) + 1;
    assert.ok(want > 50 && want < buckets, `zoomed to ${lo}..${hi}`);
    await env.page.waitForFunction((w) => Number(document.querySelector('.mchart[data-metric="loss"]')?.getAttribute('data-points')) === w * 6, want);
    // Double-click zooms out to the sampled whole series.
    await env.page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
    await env.page.locator('.mchart[data-metric="loss"][data-zoomed="0"]').waitFor();
    await env.page.waitForFunction((b) => Number(document.querySelector('.mchart[data-metric="loss"]')?.getAttribute('data-points')) <= b * 6, buckets);
  });
});
