import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipReason, startEnv, type Env } from './browser.js';
import { createSweep, playTrial, playTrials, rowTexts, SWEEPS, type SeedTrial, type WireTrial } from './sweep-seed.js';

/** The page's refresh period (web/src/components/sweep-poll.ts POLL_MS). */
const POLL_MS = 3000;
const LR = { lr: { distribution: 'log_uniform', min: 1e-5, max: 1 } };
const METRIC = { name: 'val_loss', goal: 'minimize' };
const done = (v: number): SeedTrial => ({ outcome: 'FINISHED', values: [v] });

/**
 * Counts, inside the page, every read of a sweep (fetch calls, as they are made) and every clear of a
 * canvas (uPlot clears before each redraw), so a test can tell what a refresh did without timing it.
 */
function instrument() {
  const w = window as unknown as { __reads: string[]; __clears: number };
  w.__reads = [];
  w.__clears = 0;
  const fetch0 = window.fetch;
  window.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    w.__reads.push(new URL(input instanceof Request ? input.url : String(input), location.href).pathname);
    return fetch0(input, init);
  };
  const clear0 = CanvasRenderingContext2D.prototype.clearRect;
  CanvasRenderingContext2D.prototype.clearRect = function (...a: [number, number, number, number]) {
    w.__clears++;
    return clear0.apply(this, a);
  };
}

/** Helpers over one page whose clock the test drives (Playwright's clock: timers fire only when told). */
function driver(env: Env) {
  const { page } = env;
  const reads = (id: string) => page.evaluate((p) => (window as unknown as { __reads: string[] }).__reads.filter((u) => u === p).length, `${SWEEPS}/${id}`);
  const polls = async () => Number(await page.locator('.sweep-page').getAttribute('data-polls'));
  const waitPolls = (n: number) => page.locator(`.sweep-page[data-polls="${n}"]`).waitFor({ timeout: 5000 });
  return {
    reads,
    polls,
    waitPolls,
    clears: () => page.evaluate(() => (window as unknown as { __clears: number }).__clears),
    /** Opens the sweep with the clock running, then stops the clock once no read is in flight. */
    async open(id: string, query = '') {
      await page.clock.resume();
      await page.goto(`${env.url}/sweeps/${id}${query}`);
      await page.locator('.sweep-page[data-sweep-id][data-polls]').waitFor();
      // pauseAt takes a time still to come: read the page's clock, then pause a little after it (the
      // next refresh is due POLL_MS after the first read answered, well after that).
      await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 500);
      await page.waitForFunction((p) => String((window as unknown as { __reads: string[] }).__reads.filter((u) => u === p).length) === document.querySelector('.sweep-page')!.getAttribute('data-polls'), `${SWEEPS}/${id}`);
    },
    /** Lets the page's timers run for ms (a poll, or the effects that follow a render). */
    tick: (ms: number) => page.clock.runFor(ms),
    /** Twenty refresh periods pass without one read of the sweep: the page has stopped refreshing. */
    async assertQuiet(id: string) {
      const before = await reads(id);
      await page.clock.runFor(20 * POLL_MS);
      assert.equal(await reads(id), before, 'no read of the sweep once it is final or the page is left');
    },
    /** One refresh period, and the read it starts answered and rendered. */
    async poll() {
      const n = await polls();
      await page.clock.runFor(POLL_MS);
      await waitPolls(n + 1);
      await page.clock.runFor(200);
    },
  };
}

describe('sweep page: live refresh and actions', { skip: skipReason() }, () => {
  let env: Env;
  let d: ReturnType<typeof driver>;
  const errors: string[] = [];

  before(async () => {
    env = await startEnv();
    env.page.on('pageerror', (e) => errors.push(e.message));
    await env.page.addInitScript(instrument);
    await env.page.clock.install();
    d = driver(env);
  });
  after(async () => env?.close());

  it('keeps refreshing while the sweep is paused, and stops once it is finished', async () => {
    const { id } = await createSweep(env, 'pause-refresh', { method: 'grid', metric: METRIC, parameters: { layers: { values: [1, 2] } } });
    const [, running] = await playTrials(env, id, 'val_loss', [done(0.5), { outcome: 'RUNNING', values: [0.9] }]);
    await d.open(id);
    await env.api('POST', `${SWEEPS}/${id}/pause`, {});
    await d.poll();
    await env.page.locator('[data-testid=sweep-status]', { hasText: 'PAUSED' }).waitFor();
    // A trial handed out before the pause still finishes, and the page shows it. Every grid point is
    // then done, so the paused sweep is finished, and the page stops asking.
    await env.api('POST', 'runs/update', { run_id: running.run_id, status: 'FINISHED', end_time: Date.now() });
    await d.poll();
    assert.deepEqual((await rowTexts(env.page)).map((r) => r[1]), ['COMPLETED', 'COMPLETED']);
    assert.equal(await env.page.locator('[data-testid=sweep-counts]').textContent(), '2 trials · 0 running · 2 completed · 0 stopped · 0 failed');
    assert.equal(await env.page.locator('[data-testid=sweep-status]').textContent(), 'FINISHED');
    assert.equal(await env.page.locator('.sweep-head .live-dot').count(), 0);
    await d.assertQuiet(id);
    assert.deepEqual(errors, []);
  });

  it('keeps refreshing a stopped sweep until its running trials have ended', async () => {
    const { id } = await createSweep(env, 'stop-refresh', { method: 'random', metric: METRIC, parameters: LR, seed: 4 });
    const [running] = await playTrials(env, id, 'val_loss', [{ outcome: 'RUNNING', values: [0.7] }, done(0.4)]);
    await d.open(id);
    await env.api('POST', `${SWEEPS}/${id}/stop`, {});
    await d.poll();
    assert.equal(await env.page.locator('[data-testid=sweep-status]').textContent(), 'STOPPED');
    // Its worker hears of the stop and ends the run: the page shows the trial stopped.
    assert.equal((await env.api('POST', `${SWEEPS}/${id}/should-stop`, { run_id: running.run_id })).should_stop, true);
    await env.api('POST', 'runs/update', { run_id: running.run_id, status: 'KILLED', end_time: Date.now() });
    await d.poll();
    assert.deepEqual((await rowTexts(env.page)).map((r) => r[1]), ['STOPPED', 'COMPLETED']);
    await d.assertQuiet(id);
    assert.deepEqual(errors, []);
  });

  it('stops refreshing when the page is left', async () => {
    const { id } = await createSweep(env, 'leave', { method: 'random', metric: METRIC, parameters: LR, seed: 1 });
    await playTrials(env, id, 'val_loss', [{ outcome: 'RUNNING', values: [0.7] }]);
    await d.open(id);
    await d.poll();
    await env.page.locator('.sweep-head .crumbs a[href="/"]').click();
    await env.page.waitForURL(`${env.url}/`);
    await d.assertQuiet(id);
    assert.deepEqual(errors, []);
  });

  it('disables the buttons while an action is in flight, and shows a refused one with the real status', async () => {
    const { id } = await createSweep(env, 'refused', { method: 'random', metric: METRIC, parameters: LR, seed: 2 });
    await playTrials(env, id, 'val_loss', [{ outcome: 'RUNNING', values: [0.7] }]);
    await d.open(id);
    // Held in flight: both buttons are disabled until the answer comes.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    await env.page.route(`**${SWEEPS}/${id}/pause`, async (route) => {
      await held;
      await route.continue();
    });
    await env.page.locator('button[name=pause]').click();
    await env.page.locator('button[name=stop][disabled]').waitFor();
    assert.equal(await env.page.locator('button[name=pause]').isDisabled(), true);
    // Meanwhile someone stops the sweep: the pause is refused, and says why.
    await env.api('POST', `${SWEEPS}/${id}/stop`, {});
    release();
    const error = env.page.locator('.sweep-head .card.error');
    await error.waitFor();
    assert.equal(await error.textContent(), `Sweep ${id} is STOPPED; it cannot become PAUSED`);
    await env.page.unroute(`**${SWEEPS}/${id}/pause`);
    // The page re-reads the sweep at once (well before the next refresh) and offers no button.
    await d.tick(200);
    await env.page.locator('[data-testid=sweep-status]', { hasText: 'STOPPED' }).waitFor({ timeout: 5000 });
    assert.equal(await env.page.locator('.sweep-actions button').count(), 0);
    assert.deepEqual(errors, []);
  });
});

describe('sweep page with 2,000 trials', { skip: skipReason() }, () => {
  const N = 2000;
  const RUNNING = 8;
  let env: Env;
  let id: string;
  const trials: WireTrial[] = [];
  const errors: string[] = [];
  const parameters = {
    lr: { distribution: 'log_uniform', min: 1e-5, max: 1 },
    optimizer: { values: ['sgd', 'adam'] },
    momentum: { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: ['sgd'] } },
    layers: { distribution: 'int_uniform', min: 1, max: 4 },
    batch: { distribution: 'q_uniform', min: 16, max: 256, q: 16 },
  };
  const loss = (t: WireTrial) => 0.2 + 0.1 * Math.abs(Math.log10(Number(t.params.lr)) + 2.5) + Number(t.params.layers) / 100;

  before(async () => {
    env = await startEnv();
    env.page.on('pageerror', (e) => errors.push(e.message));
    await env.page.addInitScript(instrument);
    ({ id } = await createSweep(env, 'big', { method: 'random', metric: METRIC, parameters, seed: 3 }));
    // Eight workers at once, as a real sweep runs; the last RUNNING trial numbers are left running.
    let asked = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        while (asked < N) {
          asked++;
          trials.push(await playTrial(env, id, 'val_loss', (t) => ({ outcome: t.number >= N - RUNNING ? 'RUNNING' : 'FINISHED', values: [loss(t)] }), `w${w}`));
        }
      }),
    );
    trials.sort((a, b) => a.number - b.number);
  });
  after(async () => env?.close());

  it('renders every trial, and reports how long the first render took', async (t) => {
    assert.equal(trials.length, N);
    const cdp = await env.page.context().newCDPSession(env.page);
    await cdp.send('Performance.enable');
    const script = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ScriptDuration')!.value;
    const s0 = await script();
    await env.page.goto(`${env.url}/sweeps/${id}`);
    // performance.now() counts from the navigation's start: the moment every part is on screen.
    const firstRender = (await (
      await env.page.waitForFunction(
        (n) => document.querySelectorAll('.sweep-pcoords path.pc-run').length === n && document.querySelector('.sweep-best canvas') && document.querySelectorAll('.sweep-trials .vt-row').length > 0 && performance.now(),
        N,
        { polling: 'raf', timeout: 30_000 },
      )
    ).jsonValue()) as number;
    const scriptMs = ((await script()) - s0) * 1000;
    t.diagnostic(`first render of ${N} trials: ${Math.round(firstRender)} ms from navigation start, ${Math.round(scriptMs)} ms of script`);
    assert.equal(await env.page.locator('.sweep-trials').getAttribute('data-rows'), String(N));
    assert.equal(await env.page.locator('[data-testid=sweep-counts]').textContent(), `${N} trials · ${RUNNING} running · ${N - RUNNING} completed · 0 stopped · 0 failed`);
    // Virtualized: a screenful of rows in the DOM, not 2,000.
    assert.ok((await env.page.locator('.sweep-trials .vt-row').count()) < 40);
    await cdp.detach();
    assert.deepEqual(errors, []);
  });

  it('re-renders nothing on a refresh that brings only heartbeats, and only what changed otherwise', async () => {
    await env.page.clock.install();
    const d = driver(env);
    await d.open(id, '?sort=-number');
    await env.page.locator('.sweep-best canvas').waitFor();
    // Importance is read once on load, apart from the polls: its answer (and the layout it changes) must
    // be in before counting; one quiet poll then lets every effect of the load settle.
    await env.page.locator('.sweep-importance[data-rows]').waitFor();
    await d.tick(200);
    await d.poll();
    await env.page.evaluate(() => {
      const w = window as unknown as { __mutations: number };
      w.__mutations = 0;
      new MutationObserver((list) => (w.__mutations += list.filter((m) => m.attributeName !== 'data-polls').length)).observe(document.querySelector('.sweep-page')!, { subtree: true, childList: true, attributes: true, characterData: true });
    });
    const mutations = () => env.page.evaluate(() => (window as unknown as { __mutations: number }).__mutations);
    const updates = async () => Number(await env.page.locator('.sweep-page').getAttribute('data-updates'));
    const u0 = await updates();
    const c0 = await d.clears();
    // Workers signal they are alive: nothing the page shows changes, so nothing is drawn again.
    for (const tr of trials.slice(N - RUNNING)) await env.api('POST', `${SWEEPS}/${id}/heartbeat`, { run_id: tr.run_id });
    await d.poll();
    assert.equal(await d.clears(), c0, 'the best-so-far chart was not redrawn');
    assert.equal(await updates(), u0);
    assert.equal(await mutations(), 0);
    await d.poll();
    assert.equal(await d.clears(), c0);
    assert.equal(await updates(), u0);
    assert.equal(await mutations(), 0);
    // A running trial logs a new value: that is shown.
    const last = trials[N - 1];
    await env.api('POST', 'runs/log-batch', { run_id: last.run_id, metrics: [{ key: 'val_loss', value: 0.01, step: 5, timestamp: Date.now() }] });
    await d.poll();
    assert.equal(await updates(), u0 + 1);
    assert.ok((await d.clears()) > c0);
    const first = (await rowTexts(env.page))[0];
    assert.deepEqual([first[0], first[1], first[first.length - 4], first[first.length - 3]], [String(N - 1), 'RUNNING', '0.01', '5']);
    await env.page.clock.resume();
    assert.deepEqual(errors, []);
  });
});
