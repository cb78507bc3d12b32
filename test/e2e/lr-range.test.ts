import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Lablog, LR_RANGE_TAGS, lrRangeTest, type LrRangeTestResult } from 'lablog-client';
import { screenshotPath, skipReason, startEnv, type Env } from './browser.js';
import { countColour, fmtNum } from './sweep-seed.js';
import { prng } from '../support/prng.js';

const SCREENSHOT = screenshotPath('lr-range');

/** Flat near 2.3, a steep descent around 1e-3, the minimum near 0.1, then a blow-up past 1; ±3% noise. */
function loss(seed: number): (lr: number) => number {
  const rand = prng(seed);
  return (lr) => {
    const x = Math.log10(lr);
    return (2.3 - 2.0 / (1 + Math.exp(-4 * (x + 3))) + (x > -1 ? 0.6 * (x + 1) ** 2 : 0) + 0.1 * Math.exp(10 * x)) * (1 + 0.06 * (rand() - 0.5));
  };
}

describe('LR range test in the compare view', { skip: skipReason() }, () => {
  let env: Env;
  let runId: string;
  let plainId: string;
  let r: LrRangeTestResult;
  /** Runs whose range test went wrong: NaN from the first step, a dive to -1.7e308, a loss that only rises. */
  const odd: Record<'nan' | 'dive' | 'rising', string> = { nan: '', dive: '', rising: '' };
  const errors: string[] = [];

  before(async () => {
    env = await startEnv();
    env.page.on('pageerror', (e) => errors.push(e.message));
    const lab = new Lablog({ url: env.url, handleExit: false, captureSource: false });
    const run = await lab.startRun({ experiment: 'lr-find', name: 'resnet18-lr-find', params: { batch: 128 } });
    r = await lrRangeTest({ minLr: 1e-6, maxLr: 10, steps: 200, step: loss(11), run });
    await run.end();
    runId = run.id;
    const other = await lab.startRun({ experiment: 'lr-find', name: 'plain-run' });
    other.log({ loss: 1 }, { step: 0 });
    await other.end();
    plainId = other.id;
    const steps: Record<keyof typeof odd, (lr: number) => number> = {
      nan: () => NaN,
      dive: (lr) => (lr > 0.5 ? -1.7e308 : loss(12)(lr)),
      rising: (lr) => 1 + 10 * lr,
    };
    for (const k of Object.keys(odd) as (keyof typeof odd)[]) {
      const run = await lab.startRun({ experiment: 'lr-find', name: `odd-${k}` });
      await lrRangeTest({ minLr: 1e-6, maxLr: 10, steps: 100, step: steps[k], run });
      await run.end();
      odd[k] = run.id;
    }
  });
  after(async () => env?.close());

  it('draws loss and smoothed loss against lr on a log axis with the suggested range marked', async () => {
    // The SDK's analysis found the range the synthetic loss was built with.
    assert.ok(r.stoppedEarly && r.steepestLr > 1e-4 && r.steepestLr < 1e-2, `steepest ${r.steepestLr}`);
    const { page } = env;
    await page.goto(`${env.url}/compare?runs=${runId},${plainId}`);
    const chart = page.locator(`.lr-range[data-run-id="${runId}"]`);
    await page.locator(`.lr-range[data-run-id="${runId}"][data-points="${r.lrs.length}"][data-x-distr]`).waitFor();
    // Only the run with the tags gets the chart; its x scale is logarithmic (uPlot distr 3).
    assert.equal(await page.locator('.lr-range').count(), 1);
    assert.equal(await chart.getAttribute('data-x-distr'), '3');
    assert.equal(Number(await chart.getAttribute('data-steepest')), r.steepestLr);
    assert.equal(Number(await chart.getAttribute('data-min-loss')), r.minLossLr);
    assert.equal(Number(await chart.getAttribute('data-suggested-min')), r.suggestedRange[0]);
    assert.equal(Number(await chart.getAttribute('data-suggested-max')), r.suggestedRange[1]);
    const tags = (await env.api('GET', 'runs/get', { run_id: runId })).run.data.tags as { key: string; value: string }[];
    assert.equal(Number(tags.find((t) => t.key === LR_RANGE_TAGS.steepest)?.value), r.steepestLr);

    // The marker values in words.
    assert.equal(await chart.locator('[data-testid=lr-steepest]').textContent(), `steepest descent at lr ${fmtNum(r.steepestLr)}`);
    assert.equal(await chart.locator('[data-testid=lr-min-loss]').textContent(), `min loss at lr ${fmtNum(r.minLossLr)}, /10 = ${fmtNum(r.minLossLr / 10)}`);
    assert.equal(await chart.locator('[data-testid=lr-suggested]').textContent(), `suggested lr ${fmtNum(r.suggestedRange[0])} – ${fmtNum(r.suggestedRange[1])}`);

    // The shaded band is painted: along a row just under the plot's top edge, the band's green tint
    // spans the suggested range (a few pixels at least), and nothing is tinted outside the plot.
    await chart.scrollIntoViewIfNeeded();
    await page.waitForTimeout(100);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await chart.screenshot({ path: SCREENSHOT });
    const tinted = await chart.evaluate((el) => {
      const canvas = el.querySelector('canvas')!;
      const over = el.querySelector('.u-over')!.getBoundingClientRect();
      const cb = canvas.getBoundingClientRect();
      const k = canvas.width / cb.width;
      const y = Math.round((over.top - cb.top + 4) * k);
      const row = canvas.getContext('2d')!.getImageData(0, y, canvas.width, 1).data;
      let n = 0;
      // The canvas is transparent over the white card: composite each pixel over white first.
      const white = (c: number, a: number) => 255 - ((255 - c) * a) / 255;
      for (let i = 0; i < row.length; i += 4) {
        const [r, g, b] = [white(row[i], row[i + 3]), white(row[i + 1], row[i + 3]), white(row[i + 2], row[i + 3])];
        if (r > 200 && g - r > 10 && g - b > 3) n++;
      }
      return n;
    });
    assert.ok(tinted > 5, `${tinted} tinted pixels`);

    assert.deepEqual(errors, []);
  });

  it('leaves the compare view unchanged for runs without a range test', async () => {
    await env.page.goto(`${env.url}/compare?runs=${plainId}`);
    await env.page.locator('.mchart[data-metric="loss"][data-loaded="1"]').waitFor();
    assert.equal(await env.page.locator('.lr-range').count(), 0);
  });

  it('charts a range test that has no suggestion, and says why', async () => {
    const tags = (await env.api('GET', 'runs/get', { run_id: odd.nan })).run.data.tags as { key: string }[];
    assert.equal(tags.some((t) => t.key === LR_RANGE_TAGS.steepest), false);
    await env.page.goto(`${env.url}/compare?runs=${odd.nan},${plainId}`);
    const chart = env.page.locator(`.lr-range[data-run-id="${odd.nan}"]`);
    await chart.locator('.mchart-empty').waitFor();
    assert.equal(await env.page.locator('.lr-range').count(), 1);
    assert.equal(await chart.getAttribute('data-suggestion'), 'none');
    assert.equal(await chart.locator('.mchart-empty').textContent(), 'the loss was never finite (NaN or infinite from the first step)');
    assert.match((await chart.locator('[data-testid=lr-no-suggestion]').textContent()) ?? '', /^no suggestion recorded/);
    assert.deepEqual(errors, []);
  });

  it('keeps a readable y scale when the loss dives to -1.7e308', async () => {
    await env.page.goto(`${env.url}/compare?runs=${odd.dive}`);
    const chart = env.page.locator(`.lr-range[data-run-id="${odd.dive}"]`);
    await chart.locator('canvas').waitFor();
    await env.page.locator(`.lr-range[data-run-id="${odd.dive}"][data-x-distr="3"]`).waitFor();
    const [lo, hi] = (await chart.getAttribute('data-y-range'))!.split(',').map(Number);
    assert.ok(lo > 0 && lo < 0.5 && hi > 2 && hi < 3, `y from ${lo} to ${hi}`);
    // The y axis has its tick labels (on the broken scale it had a stray one or none: about 20 such pixels, 70 here).
    assert.ok((await countColour(env.page, `.lr-range[data-run-id="${odd.dive}"]`, [107, 115, 133], 'left-of-plot')) > 45);
    assert.deepEqual(errors, []);
  });

  it('paints no marker over the axes when a marker lies outside the tested lr range', async () => {
    await env.page.goto(`${env.url}/compare?runs=${odd.rising}`);
    const chart = env.page.locator(`.lr-range[data-run-id="${odd.rising}"]`);
    await env.page.locator(`.lr-range[data-run-id="${odd.rising}"][data-x-distr="3"]`).waitFor();
    // The lowest loss is at the first lr, so min loss / 10 is below the tested range.
    assert.equal(Number(await chart.getAttribute('data-min-loss')), 1e-6);
    const sel = `.lr-range[data-run-id="${odd.rising}"]`;
    // The suggested band (from min loss / 10) stops at the plot's left edge instead of tinting the y axis.
    const bandTint: [number, number, number] = [227, 244, 238];
    assert.ok((await countColour(env.page, sel, bandTint, 'all', 12)) > 1000, 'the band is painted');
    assert.equal(await countColour(env.page, sel, bandTint, 'left-of-plot', 12), 0, 'no band left of the plot');
    // The marker's label is pinned inside the plot, at the edge it is past.
    assert.equal(await countColour(env.page, sel, [155, 89, 182], 'left-of-plot', 60), 0, 'no purple left of the plot');
    assert.ok((await countColour(env.page, sel, [155, 89, 182], 'all', 60)) > 20, 'the pinned label is painted inside');
    assert.deepEqual(errors, []);
  });
});
