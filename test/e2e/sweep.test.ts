import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { screenshotPath, skipReason, startEnv, type Env } from './browser.js';
import { eventually } from './runs-seed.js';
import { createSweep, fmtNum, getTrials, playTrial, rowTexts, SWEEPS, type Outcome } from './sweep-seed.js';

const SCREENSHOT = screenshotPath('sweep');

type Params = { lr: number; optimizer: string; momentum?: number; layers: number };
interface Trial {
  number: number;
  run_id: string;
  status: string;
  params: Params;
  worker: string;
  value?: number;
}

const CONFIG = {
  metric: { name: 'val_loss', goal: 'minimize' },
  parameters: {
    lr: { distribution: 'log_uniform', min: 1e-5, max: 1 },
    optimizer: { values: ['sgd', 'adam'] },
    momentum: { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: ['sgd'] } },
    layers: { distribution: 'int_uniform', min: 1, max: 4 },
    epochs: { value: 20 },
  },
  early_terminate: { type: 'asha', min_iter: 1, eta: 3 },
  seed: 7,
};

/** The objective a trial reaches: best near lr = 10^-2.5, adam a little better, fewer layers a little better. */
const objective = (p: Params) => 0.2 + 0.1 * (Math.log10(p.lr) + 2.5) ** 2 + (p.optimizer === 'sgd' ? 0.05 + 0.1 * (0.9 - (p.momentum ?? 0)) ** 2 : 0) + 0.01 * p.layers;

/**
 * Runs a sweep as workers would, through the real API: next for each worker label in turn, val_loss
 * logged at steps 0..2 to the trial's run with MLflow log-batch, then the run ended by runs/update. A
 * STOPPED trial logs a poor value at step 1 and is pruned by should-stop (ASHA); a RUNNING one logs step 0.
 */
async function seedSweep(env: Env, name: string, method: string, plan: [worker: string, outcome: Outcome][]) {
  const { sweep, experimentId, id } = await createSweep(env, name, { ...CONFIG, method });
  for (const [worker, outcome] of plan) {
    await playTrial(env, id, 'val_loss', (trial) => {
      const f = objective(trial.params as unknown as Params);
      // A pruned trial is worse at step 1 than any other trial there (those are below 1.3).
      return { outcome, values: outcome === 'STOPPED' ? [1.5, 1.5] : outcome === 'RUNNING' ? [f + 0.5] : [f + 0.5, f + 0.2, f] };
    }, worker);
  }
  return { sweep, experimentId, trials: (await getTrials(env, id)) as unknown as Trial[] };
}

const W = ['gpu-a', 'gpu-b', 'gpu-c'];
/** 12 completed, one failed, one pruned, two still running: 16 trials over three workers. */
const PLAN: [string, Outcome][] = Array.from({ length: 16 }, (_, i) => [W[i % 3], i === 5 ? 'FAILED' : i === 13 ? 'STOPPED' : i >= 14 ? 'RUNNING' : 'FINISHED']);

describe('sweep page', { skip: skipReason() }, () => {
  let env: Env;
  let seeded: Awaited<ReturnType<typeof seedSweep>>;
  let id: string;
  const errors: string[] = [];
  const open = async (query = '') => {
    await env.page.goto(`${env.url}/sweeps/${id}${query}`);
    await env.page.locator('.sweep-trials .vt-row').first().waitFor();
  };
  const completed = () => seeded.trials.filter((t) => t.status === 'COMPLETED');

  before(async () => {
    env = await startEnv();
    env.page.on('pageerror', (e) => errors.push(e.message));
    seeded = await seedSweep(env, 'mlp-search', 'random', PLAN);
    id = seeded.sweep.sweep_id;
  });
  after(async () => env?.close());

  it('shows the header and every trial with its params, value, step, worker and run', async () => {
    assert.deepEqual(seeded.trials.map((t) => t.status), PLAN.map(([, o]) => (o === 'FINISHED' ? 'COMPLETED' : o)));
    await open();
    assert.equal(await env.page.locator('[data-testid=sweep-name]').textContent(), 'mlp-search');
    assert.equal(await env.page.locator('[data-testid=sweep-status]').textContent(), 'RUNNING');
    assert.equal(await env.page.locator('[data-testid=sweep-method]').textContent(), 'random');
    assert.equal(await env.page.locator('[data-testid=sweep-metric]').textContent(), 'minimize val_loss');
    assert.equal(await env.page.locator('[data-testid=sweep-counts]').textContent(), '16 trials · 2 running · 12 completed · 1 stopped · 1 failed');
    const heads = await env.page.$$eval('.sweep-trials .vt-head [data-col]', (els) => els.map((e) => e.getAttribute('data-col')));
    assert.deepEqual(heads, ['number', 'status', 'params.lr', 'params.optimizer', 'params.momentum', 'params.layers', 'value', 'step', 'worker']);
    const rows = await rowTexts(env.page);
    assert.equal(rows.length, 16);
    for (const [i, t] of seeded.trials.entries()) {
      const [num, status, lr, opt, mom, layers, value, step, worker, run] = rows[i];
      assert.deepEqual([num, status, opt, layers, worker, run], [String(i), t.status, t.params.optimizer, String(t.params.layers), PLAN[i][0], `mlp-search-${i}`], `trial ${i}`);
      assert.ok(Math.abs(Number(lr) / t.params.lr - 1) < 6e-3, `lr ${lr} vs ${t.params.lr}`);
      assert.equal(mom === '–', t.params.optimizer !== 'sgd', `momentum only for sgd: ${mom}`);
      assert.equal(value, fmtNum(t.value!));
      assert.equal(step, PLAN[i][1] === 'RUNNING' ? '0' : PLAN[i][1] === 'STOPPED' ? '1' : '2');
    }
    // The value is the last val_loss logged (the objective at step 2 for completed trials).
    for (const t of completed()) assert.ok(Math.abs(t.value! - objective(t.params)) < 1e-12);
    const href = await env.page.locator('.sweep-trials .vt-row').first().locator('a.run-link').getAttribute('href');
    assert.equal(href, `/run/${seeded.trials[0].run_id}`);
  });

  it('draws the best so far over the completed trials, and names the best trial', async () => {
    await open();
    const chart = env.page.locator('.sweep-best');
    await chart.locator('canvas').waitFor();
    const done = completed();
    let best = Infinity;
    const want = done.map((t) => (best = Math.min(best, t.value!)));
    assert.deepEqual((await chart.getAttribute('data-numbers'))!.split(',').map(Number), done.map((t) => t.number));
    assert.deepEqual((await chart.getAttribute('data-best'))!.split(',').map(Number), want);
    assert.ok(want.some((v, i) => i > 0 && v < want[i - 1]), 'the running best improves at least once');
    const bestTrial = done.find((t) => t.value === best)!;
    assert.equal(await chart.locator('[data-testid=best-value]').textContent(), fmtNum(best));
    assert.equal(await env.page.locator('[data-testid=sweep-best]').textContent(), `best ${fmtNum(best)} at trial #${bestTrial.number}`);
    // The best trial's row is marked in the table.
    assert.match((await env.page.locator('.sweep-trials .vt-row.best').textContent()) ?? '', new RegExp(`mlp-search-${bestTrial.number}$`));
  });

  it('ranks the parameters by importance and counts each worker’s trials', async () => {
    await open();
    const imp = (await env.api('GET', `${SWEEPS}/${id}/importance`)).importance as { name: string; importance: number }[];
    const searched = imp.filter((r) => r.name !== 'epochs');
    assert.ok(searched[0].importance > 0, JSON.stringify(imp));
    await env.page.locator('.sweep-importance .imp-row').first().waitFor();
    const rows = await env.page.$$eval('.sweep-importance .imp-row', (els) => els.map((e) => [e.getAttribute('data-name'), e.querySelector('.imp-val')!.textContent]));
    assert.deepEqual(rows, searched.map((r) => [r.name, `${(100 * r.importance).toFixed(1)}%`]));
    // The loss was built to depend on lr most.
    assert.equal(rows[0][0], 'lr');

    const workers = await env.page.$$eval('.sweep-workers tbody tr', (els) => els.map((e) => [...e.querySelectorAll('td')].map((c) => c.textContent)));
    const want = W.map((w) => {
      const mine = seeded.trials.filter((t) => t.worker === w);
      return [w, ...['RUNNING', 'COMPLETED', 'STOPPED', 'FAILED'].map((s) => String(mine.filter((t) => t.status === s).length))];
    });
    assert.deepEqual(workers, want);
    assert.deepEqual(want, [['gpu-a', '1', '5', '0', '0'], ['gpu-b', '0', '4', '1', '0'], ['gpu-c', '1', '3', '0', '1']]);
  });

  it('draws parallel coordinates with a log lr axis and a categorical optimizer axis', async () => {
    await open();
    const pc = env.page.locator('.sweep-pcoords');
    await pc.locator('path.pc-run').first().waitFor();
    assert.equal(await pc.getAttribute('data-axes'), 'lr (log)|optimizer|momentum|layers|val_loss (metric)');
    assert.equal(await pc.locator('path.pc-run').count(), 16);
    assert.deepEqual(await pc.locator('.pc-axis[data-axis="lr"] text').allTextContents().then((t) => t.slice(0, 6)), ['1e-5', '1e-4', '0.001', '0.01', '0.1', '1']);
    assert.deepEqual(await pc.locator('.pc-axis[data-axis="optimizer"] text').allTextContents().then((t) => t.slice(0, 2)), ['sgd', 'adam']);
    // Coloured by the objective: the best trial blue, the worst completed one orange-red.
    const colour = (runId: string) => pc.locator(`path.pc-run[data-run-id="${runId}"]`).getAttribute('stroke');
    const byValue = seeded.trials.filter((t) => t.value !== undefined).sort((a, b) => a.value! - b.value!);
    assert.equal(await colour(byValue[0].run_id), 'rgb(47, 111, 219)');
    assert.equal(await colour(byValue.at(-1)!.run_id), 'rgb(228, 87, 46)');
  });

  it('sorts the trials by value, best first or last', async () => {
    await open();
    await env.page.locator('.sweep-trials .vt-head [data-col=value]').click();
    await env.page.waitForURL(/sort=value/);
    const want = [...seeded.trials].sort((a, b) => a.value! - b.value!).map((t) => String(t.number));
    assert.deepEqual(await eventually(async () => (await rowTexts(env.page)).map((r) => r[0]), want), want);
    await env.page.locator('.sweep-trials .vt-head [data-col=value]').click();
    await env.page.waitForURL(/sort=-value/);
    assert.deepEqual(await eventually(async () => (await rowTexts(env.page)).map((r) => r[0]), [...want].reverse()), [...want].reverse());
  });

  it('refreshes while the sweep runs: a trial that finishes shows up completed', async () => {
    await open();
    const t = seeded.trials[15];
    assert.equal((await rowTexts(env.page))[15][1], 'RUNNING');
    await env.api('POST', 'runs/log-batch', { run_id: t.run_id, metrics: [{ key: 'val_loss', value: 0.05, step: 3, timestamp: Date.now() }] });
    await env.api('POST', 'runs/update', { run_id: t.run_id, status: 'FINISHED', end_time: Date.now() });
    await env.page.locator('[data-testid=sweep-counts]', { hasText: '13 completed' }).waitFor();
    const row = (await rowTexts(env.page))[15];
    assert.deepEqual([row[1], row[6], row[7]], ['COMPLETED', '0.05', '3']);
    assert.equal(await env.page.locator('.sweep-best [data-testid=best-value]').textContent(), '0.05');
  });

  it('is linked from its experiment’s runs page', async () => {
    await env.page.goto(`${env.url}/runs?experiments=${seeded.experimentId}`);
    const link = env.page.locator(`[data-testid=sweep-links] a[data-sweep-id="${id}"]`);
    assert.match((await link.textContent()) ?? '', /mlp-search/);
    await link.click();
    await env.page.waitForURL(new RegExp(`/sweeps/${id}$`));
    await env.page.locator('[data-testid=sweep-name]', { hasText: 'mlp-search' }).waitFor();
  });

  it('is linked from each trial’s run page', async () => {
    await env.page.goto(`${env.url}/run/${seeded.trials[0].run_id}`);
    const link = env.page.locator('[data-testid=run-sweep-link]');
    assert.equal(await link.textContent(), `sweep ${id}`);
    await link.click();
    await env.page.waitForURL(new RegExp(`/sweeps/${id}$`));
    await env.page.locator('[data-testid=sweep-name]', { hasText: 'mlp-search' }).waitFor();
  });

  it('pauses, resumes and stops the sweep through the API', async () => {
    await open();
    const status = env.page.locator('[data-testid=sweep-status]');
    const apiStatus = async () => (await env.api('GET', `${SWEEPS}/${id}`)).sweep.status;
    await env.page.locator('button[name=pause]').click();
    await env.page.locator('[data-testid=sweep-status]', { hasText: 'PAUSED' }).waitFor();
    assert.equal(await apiStatus(), 'PAUSED');
    assert.equal(await env.page.locator('button[name=pause]').count(), 0);
    // A paused sweep hands out no trial.
    assert.ok((await env.api('POST', `${SWEEPS}/${id}/next`, { worker: 'gpu-a' })).retry_after_ms > 0);
    await env.page.locator('button[name=resume]').click();
    await env.page.locator('[data-testid=sweep-status]', { hasText: 'RUNNING' }).waitFor();
    assert.equal(await apiStatus(), 'RUNNING');
    env.page.once('dialog', (d) => void d.accept());
    await env.page.locator('button[name=stop]').click();
    await env.page.locator('[data-testid=sweep-status]', { hasText: 'STOPPED' }).waitFor();
    assert.equal(await apiStatus(), 'STOPPED');
    assert.equal(await status.textContent(), 'STOPPED');
    assert.equal(await env.page.locator('.sweep-actions button').count(), 0);
    const parent = (await env.api('GET', 'runs/get', { run_id: seeded.sweep.parent_run_id })).run;
    assert.equal(parent.info.status, 'KILLED');
    assert.deepEqual(errors, []);
  });

  it('saves a screenshot of a Bayesian sweep', async () => {
    const plan: [string, Outcome][] = Array.from({ length: 40 }, (_, i) => [W[i % 3], i === 17 ? 'FAILED' : i === 22 || i === 31 ? 'STOPPED' : i >= 38 ? 'RUNNING' : 'FINISHED']);
    const bayes = await seedSweep(env, 'mlp-bayes', 'bayes', plan);
    await env.page.setViewportSize({ width: 1400, height: 1300 });
    await env.page.goto(`${env.url}/sweeps/${bayes.sweep.sweep_id}?sort=value`);
    await env.page.locator('.sweep-importance .imp-row').first().waitFor();
    await env.page.locator('.sweep-best canvas').waitFor();
    await env.page.waitForTimeout(300);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await env.page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.equal(await env.page.locator('.sweep-trials').getAttribute('data-rows'), '40');
    const done = bayes.trials.filter((t) => t.status === 'COMPLETED').map((t) => t.value!);
    assert.equal(Number(await env.page.locator('.sweep-best [data-testid=best-value]').textContent()), Number(fmtNum(Math.min(...done))));
  });
});
