import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipReason, startEnv, type Env } from './browser.js';
import { axisTicks, columnTexts, countColour, createSweep, getTrials, playTrials, rowTexts, type SeedTrial } from './sweep-seed.js';

const LR_LAYERS = { lr: { distribution: 'log_uniform', min: 1e-5, max: 1 }, layers: { distribution: 'int_uniform', min: 1, max: 4 } };
const minimize = (parameters: object) => ({ method: 'random', metric: { name: 'val_loss', goal: 'minimize' }, parameters, seed: 5 });
const done = (...values: (number | 'NaN')[]): SeedTrial => ({ outcome: 'FINISHED', values });
const BLUE: [number, number, number] = [47, 111, 219];
const DBL_MAX = 1.7976931348623157e308;
/** A parameter name longer than the room between two axes. */
const LONG = 'encoder.transformer.block_attention_dropout_probability_for_the_very_long_parameter_name';

describe('sweep page: edge cases', { skip: skipReason() }, () => {
  let env: Env;
  const errors: string[] = [];
  const open = async (id: string, query = '') => {
    await env.page.goto(`${env.url}/sweeps/${id}${query}`);
    await env.page.locator('.sweep-page[data-sweep-id]').waitFor();
  };
  const text = (sel: string) => env.page.locator(sel).textContent();

  before(async () => {
    env = await startEnv();
    env.page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => env?.close());

  it('shows a sweep with no trials: counts, empty table, empty charts', async () => {
    const { id } = await createSweep(env, 'empty', minimize(LR_LAYERS));
    await open(id);
    assert.equal(await text('[data-testid=sweep-counts]'), '0 trials · 0 running · 0 completed · 0 stopped · 0 failed');
    assert.equal(await env.page.locator('[data-testid=sweep-best]').count(), 0);
    assert.equal(await env.page.locator('.sweep-trials').getAttribute('data-rows'), '0');
    assert.match((await text('.sweep-trials')) ?? '', /No trials yet/);
    assert.equal(await text('.sweep-best .mchart-empty'), 'no trial has a value yet');
    assert.equal(await env.page.locator('.sweep-pcoords path.pc-run').count(), 0);
    assert.equal(await env.page.locator('.sweep-pcoords').getAttribute('data-axes'), 'lr (log)|layers|val_loss (metric)');
    await env.page.locator('.sweep-grid .card', { hasText: 'No worker has asked for a trial yet' }).waitFor();
    await env.page.locator('.sweep-grid .card', { hasText: 'Not enough finished trials' }).waitFor();
    assert.deepEqual(errors, []);
  });

  it('shows a sweep whose trials all run: latest values hollow, no best yet', async () => {
    const { id } = await createSweep(env, 'all-running', minimize(LR_LAYERS));
    await playTrials(env, id, 'val_loss', [{ outcome: 'RUNNING', values: [0.5] }, { outcome: 'RUNNING' }, { outcome: 'RUNNING', values: [0.7, 0.4] }]);
    await open(id);
    assert.equal(await text('[data-testid=sweep-counts]'), '3 trials · 3 running · 0 completed · 0 stopped · 0 failed');
    assert.equal(await env.page.locator('[data-testid=sweep-best]').count(), 0);
    assert.deepEqual(await columnTexts(env.page, 'value'), ['0.5', '–', '0.4']);
    const chart = env.page.locator('.sweep-best');
    await chart.locator('canvas').waitFor();
    assert.equal(await chart.getAttribute('data-numbers'), '');
    assert.equal(await chart.locator('[data-testid=best-value]').textContent(), '–');
    assert.match((await chart.locator('.mchart-legend').textContent()) ?? '', /running \(latest value\)/);
    assert.deepEqual(errors, []);
  });

  it('shows a sweep whose trials all failed', async () => {
    const { id } = await createSweep(env, 'all-failed', minimize(LR_LAYERS));
    await playTrials(env, id, 'val_loss', [{ outcome: 'FAILED', values: [0.5] }, { outcome: 'FAILED' }, { outcome: 'FAILED', values: [0.3] }]);
    await open(id);
    assert.equal(await text('[data-testid=sweep-counts]'), '3 trials · 0 running · 0 completed · 0 stopped · 3 failed');
    assert.equal(await env.page.locator('[data-testid=sweep-best]').count(), 0);
    assert.equal(await text('.sweep-best .mchart-empty'), 'no trial has a value yet');
    assert.deepEqual((await rowTexts(env.page)).map((r) => r[1]), ['FAILED', 'FAILED', 'FAILED']);
    assert.deepEqual(errors, []);
  });

  it('shows NaN and huge objectives as such, ranks them, and keeps both charts drawable', async () => {
    const values = [0.5, 'NaN', 1.79e308, -1.79e308, 0.3, DBL_MAX, 0.4] as const;
    const { id } = await createSweep(env, 'wild-values', minimize(LR_LAYERS));
    await playTrials(env, id, 'val_loss', values.map((v) => done(v)));
    assert.deepEqual((await getTrials(env, id)).map((t) => t.value), [0.5, 'NaN', 1.79e308, -1.79e308, 0.3, DBL_MAX, 0.4]);
    await open(id);
    // NaN is not "not logged yet", and MLflow's ±DBL_MAX stands for ±Infinity.
    assert.deepEqual(await columnTexts(env.page, 'value'), ['0.5', 'NaN', '1.790e+308', '-1.790e+308', '0.3', 'Infinity', '0.4']);
    assert.equal(await text('[data-testid=sweep-best]'), 'best -1.790e+308 at trial #3');
    // Sorted by value: Infinity after every number, NaN last.
    await open(id, '?sort=value');
    assert.deepEqual((await rowTexts(env.page)).map((r) => r[0]), ['3', '4', '6', '0', '2', '5', '1']);

    // Best so far: the wild values sit on the plot's edges, the others are drawn on a readable scale.
    const chart = env.page.locator('.sweep-best');
    await chart.locator('canvas').waitFor();
    assert.equal(await chart.getAttribute('data-numbers'), '0,2,3,4,5,6');
    assert.equal(await chart.getAttribute('data-best'), `0.5,0.5,${-1.79e308},${-1.79e308},${-1.79e308},${-1.79e308}`);
    assert.equal(await chart.getAttribute('data-off-scale'), '3');
    assert.equal(await chart.locator('[data-testid=off-scale]').textContent(), ' 3 off scale, on the edge');
    assert.ok((await countColour(env.page, '.sweep-best', BLUE)) > 30, 'the completed trials are painted');

    // Parallel coordinates: no NaN coordinates; the objective axis spans the ordinary values, and says
    // where the wild ones went.
    const ds = await env.page.$$eval('.sweep-pcoords path.pc-run', (els) => els.map((e) => e.getAttribute('d') ?? ''));
    assert.equal(ds.length, 7);
    assert.ok(ds.every((d) => !d.includes('NaN')), ds.join('\n'));
    assert.deepEqual(await axisTicks(env.page, 'val_loss'), ['< 0.3', '0.3', '0.35', '0.4', '0.45', '0.5', '> 0.5']);
    assert.deepEqual(errors, []);
  });

  it('maximizes: the best so far rises, the highest is blue, and the first sort puts it first', async () => {
    const { id } = await createSweep(env, 'maximize', { method: 'random', metric: { name: 'acc', goal: 'maximize' }, parameters: LR_LAYERS, seed: 5 });
    await playTrials(env, id, 'acc', [done(0.5), done(0.7), done(0.6), done(0.9), done(0.8)]);
    const trials = await getTrials(env, id);
    await open(id);
    const chart = env.page.locator('.sweep-best');
    await chart.locator('canvas').waitFor();
    assert.equal(await chart.getAttribute('data-best'), '0.5,0.7,0.7,0.9,0.9');
    assert.match((await chart.locator('.mchart-head').textContent()) ?? '', /best so far \(highest\)/);
    assert.equal(await text('[data-testid=sweep-best]'), 'best 0.9 at trial #3');
    const colour = (n: number) => env.page.locator(`.sweep-pcoords path.pc-run[data-run-id="${trials[n].run_id}"]`).getAttribute('stroke');
    assert.equal(await colour(3), 'rgb(47, 111, 219)');
    assert.equal(await colour(0), 'rgb(228, 87, 46)');
    await env.page.locator('.sweep-trials .vt-head [data-col=value]').click();
    await env.page.waitForURL(/sort=-value/);
    await env.page.locator('.sweep-trials[data-desc="1"]').waitFor();
    assert.deepEqual((await rowTexts(env.page)).map((r) => r[0]), ['3', '4', '1', '2', '0']);
    await env.page.locator('.sweep-trials .vt-head [data-col=value]').click();
    await env.page.waitForURL(/sort=value/);
    await env.page.locator('.sweep-trials[data-desc="0"]').waitFor();
    assert.deepEqual((await rowTexts(env.page)).map((r) => r[0]), ['0', '2', '1', '4', '3']);
    assert.deepEqual(errors, []);
  });

  it('draws a grid sweep: ticks on the int and q values, categorical booleans and numbers, conditional and long-named params', async () => {
    const parameters = {
      use_bn: { values: [true, false] },
      width: { values: [64, 128, 256] },
      layers: { distribution: 'int_uniform', min: 1, max: 3 },
      batch: { distribution: 'q_uniform', min: 16, max: 70, q: 16 },
      [LONG]: { values: [0.1, 0.2], when: { use_bn: [true] } },
    };
    const { id, sweep } = await createSweep(env, 'grid', { method: 'grid', metric: { name: 'val_loss', goal: 'minimize' }, parameters });
    assert.equal(sweep.grid_size, 2 * 3 * 3 * 4 + 3 * 3 * 4);
    const score = (p: Record<string, unknown>) => 0.1 * Number(p.layers) + Number(p.batch) / 1000 + (p.use_bn ? 0 : 0.05) + Number(p[LONG] ?? 0);
    for (let i = 0; i < sweep.grid_size; i++) {
      const { trial } = await env.api('POST', `/api/2.0/lablog/sweeps/${id}/next`, { worker: 'w' });
      await env.api('POST', 'runs/log-batch', { run_id: trial.run_id, metrics: [{ key: 'val_loss', value: score(trial.params), step: 0, timestamp: 1 }] });
      await env.api('POST', 'runs/update', { run_id: trial.run_id, status: 'FINISHED', end_time: 2 });
    }
    const trials = await getTrials(env, id);
    await open(id);
    assert.equal(await text('[data-testid=sweep-status]'), 'FINISHED');
    assert.match((await text('.sweep-facts')) ?? '', /108 grid points/);
    assert.equal(await env.page.locator('.sweep-actions button').count(), 0);
    assert.equal(await env.page.locator('.sweep-head .live-dot').count(), 0);

    const pc = env.page.locator('.sweep-pcoords');
    await pc.locator('path.pc-run').first().waitFor();
    assert.equal(await pc.getAttribute('data-axes'), `use_bn|width|layers|batch|${LONG}|val_loss (metric)`);
    // No log axis in a grid, and ticks only where a trial can be: whole layers, batch sizes 16 apart.
    assert.deepEqual(await axisTicks(env.page, 'layers'), ['1', '2', '3']);
    assert.deepEqual(await axisTicks(env.page, 'batch'), ['16', '32', '48', '64']);
    assert.deepEqual(await axisTicks(env.page, 'use_bn'), ['true', 'false']);
    assert.deepEqual(await axisTicks(env.page, 'width'), ['64', '128', '256']);

    // A trial in which the conditional parameter is inactive passes through the axis' own "(inactive)"
    // strip at the bottom, on to its objective: one unbroken line, never a value of 0.
    assert.deepEqual(await axisTicks(env.page, LONG), ['(inactive)', '0.1', '0.2']);
    const axisX = await env.page.$$eval('.sweep-pcoords .pc-axis line', (els) => els.map((e) => Number(e.getAttribute('x1'))));
    const bottom = await env.page.$eval('.sweep-pcoords .pc-axis line', (e) => Number(e.getAttribute('y2')));
    const points = async (runId: string) => {
      const d = (await pc.locator(`path.pc-run[data-run-id="${runId}"]`).getAttribute('d'))!;
      return { moves: d.match(/M/g)!.length, at: [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]) };
    };
    const without = trials.find((t) => t.params.use_bn === false)!;
    const withIt = trials.find((t) => t.params.use_bn === true && t.params[LONG] === 0.1)!;
    assert.equal(LONG in without.params, false);
    const a = await points(without.run_id);
    assert.equal(a.moves, 1);
    assert.equal(a.at.length, axisX.length);
    assert.ok(a.at.every(([x], i) => Math.abs(x - axisX[i]) < 0.1), JSON.stringify([a.at, axisX]));
    assert.ok(Math.abs(a.at[4][1] - bottom) < 0.1, `${a.at[4][1]} vs ${bottom}`);
    const b = await points(withIt.run_id);
    assert.equal(b.moves, 1);
    assert.ok(b.at[4][1] < bottom - 20, `0.1 is drawn above the strip: ${b.at[4][1]} vs ${bottom}`);

    // The long name is cut in the middle to the room between two axes, whole in the table's header title.
    const label = pc.locator(`.pc-axis[data-axis="${LONG}"] text`).last();
    const shown = (await label.textContent())!;
    assert.match(shown, /^encoder\.tr.*….*_name$/);
    const labelWidth = await label.evaluate((e) => (e as SVGTextElement).getBBox().width);
    assert.ok(labelWidth < axisX[5] - axisX[4], `label ${labelWidth}px, axes ${axisX[5] - axisX[4]}px apart`);
    assert.equal(await env.page.locator(`.sweep-trials .vt-head [data-col="params.${LONG}"]`).getAttribute('title'), LONG);
    const longCol = await columnTexts(env.page, `params.${LONG}`);
    assert.deepEqual(longCol, trials.slice(0, longCol.length).map((t) => (LONG in t.params ? String(t.params[LONG]) : '–')));
    assert.deepEqual(errors, []);
  });

  it('says which sweep does not exist, with a way back', async () => {
    await env.page.goto(`${env.url}/sweeps/99999`);
    await env.page.locator('[data-testid=sweep-error]').waitFor();
    assert.equal(await text('.sweep-page h1'), 'Sweep 99999');
    assert.equal(await text('[data-testid=sweep-error]'), 'Sweep with id=99999 not found');
    await env.page.locator('.sweep-page .crumbs a[href="/"]').click();
    await env.page.waitForURL(`${env.url}/`);
  });
});

