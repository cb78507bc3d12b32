import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath } from '../e2e/browser.js';
import { cleanup, startLablog, tempDir } from '../support/lablog-process.js';

// The SDK's sweep agent in a browser (Debian's chromium): the compiled lablog-client modules are served
// as they are, from the server's origin, and imported by a page with no Node around. The agent runs a
// grid to its end there, heartbeats, asks should-stop, and ends the runs, as under Node.

const SDK_DIST = fileURLToPath(new URL('../../../client-sdk/dist/', import.meta.url));
const skip = chromiumPath() ? false : 'chromium is not installed (apt-get install chromium); .ci/run installs it';

describe('sweep.agent in a browser', { skip, timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof startLablog>>;
  let browser: Browser;
  let page: Page;
  const served: string[] = [];
  const errors: string[] = [];

  before(async () => {
    server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    browser = await chromium.launch({
      executablePath: chromiumPath()!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route(`${server.url}/__sdk/**`, async (route) => {
      const name = new URL(route.request().url()).pathname.slice('/__sdk/'.length);
      if (name === 'page.html') return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>sdk</title>' });
      served.push(name);
      await route.fulfill({ contentType: 'text/javascript', body: readFileSync(path.join(SDK_DIST, name)) });
    });
    await page.goto(`${server.url}/__sdk/page.html`);
  });
  after(async () => {
    await browser?.close();
    await cleanup();
  });

  it('runs a grid to its end with heartbeats and should-stop; no Node module is loaded', async () => {
    const result = await page.evaluate(async () => {
      const { Lablog } = await import(`${location.origin}/__sdk/index.js`);
      // Reports each heartbeat answered, so a trial can wait for one.
      let beat: () => void = () => {};
      const beaten = () => new Promise<void>((resolve) => (beat = resolve));
      const watching: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if (String(input).endsWith('/heartbeat') && res.ok) beat();
        return res;
      };
      const lab = new Lablog({ url: location.origin, fetch: watching });
      const sweep = await lab.sweep({
        experiment: 'browser-sweeps',
        name: 'grid-in-browser',
        method: 'grid',
        metric: { name: 'loss' },
        parameters: { a: { values: [1, 2, 3] } },
        heartbeatTimeoutMs: 1500,
      });
      const signals: boolean[] = [];
      const summary = await sweep.agent(async (params: { a: number }, run: any, trial: any) => {
        for (let step = 0; step < 3; step++) {
          run.log({ loss: params.a * 10 - step }, { step });
          signals.push(await trial.shouldStop());
        }
        await beaten(); // sent every 500 ms (a third of the timeout) while the trial runs
        signals.push(trial.signal instanceof AbortSignal && !trial.signal.aborted);
        return params.a;
      });
      return { summary, signals, status: (await sweep.info()).status, id: sweep.id as string };
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(result.summary, { trials: 3, stopped: 0, failed: 0 });
    assert.ok(result.signals.length === 12 && result.signals.every((s, i) => s === (i % 4 === 3)), JSON.stringify(result.signals));
    assert.equal(result.status, 'FINISHED');

    const trials = (await (await fetch(`${server.url}/api/2.0/lablog/sweeps/${result.id}/trials`)).json()).trials as any[];
    assert.deepEqual(trials.map((t) => [t.status, t.value, t.step]), [['COMPLETED', 1, 3], ['COMPLETED', 2, 3], ['COMPLETED', 3, 3]]);
    for (const t of trials) {
      const run = (await (await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${t.run_id}`)).json()).run;
      assert.equal(run.info.status, 'FINISHED');
    }
    // The entry's graph only: the Node part (spool, exit handlers, git, system metrics) stayed out.
    assert.ok(served.includes('sweep-agent.js') && served.includes('sweep.js'), served.join(' '));
    for (const nodeOnly of ['node.js', 'exit.js', 'spool.js', 'sync.js', 'system-metrics.js', 'repro.js']) assert.ok(!served.includes(nodeOnly), `${nodeOnly} was loaded`);
  });
});
