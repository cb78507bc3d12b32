import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { putArtifact, skipReason, startEnv, type Env } from './browser.js';
import { centrePixel, encodePng } from './png.js';

/**
 * The UI under the server's Content-Security-Policy (server/http/security.ts): every main page renders,
 * images of artifacts and uPlot charts included, and the browser reports no violation at all.
 */

const solid = (rgb: [number, number, number]) => encodePng(16, 16, () => rgb);

interface Violation {
  directive: string;
  blocked: string;
  sample: string;
}

/** Records every CSP violation of the page: the securitypolicyviolation events and the console's reports. */
async function watchViolations(page: Page): Promise<{ all(): Promise<string[]>; clear(): Promise<void> }> {
  const consoleReports: string[] = [];
  page.on('console', (msg) => {
    if (/Content[ -]Security[ -]Policy/i.test(msg.text())) consoleReports.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => {
    if (/Content[ -]Security[ -]Policy/i.test(err.message)) consoleReports.push(`pageerror: ${err.message}`);
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: Violation[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample }));
  });
  const events = () => page.evaluate(() => (window as unknown as { __csp?: Violation[] }).__csp ?? []).catch(() => [] as Violation[]);
  return {
    async all() {
      return [...consoleReports, ...(await events()).map((v) => `event: ${v.directive} blocked ${v.blocked || '(inline)'} ${v.sample}`)];
    },
    async clear() {
      consoleReports.length = 0;
      await page.evaluate(() => ((window as unknown as { __csp: Violation[] }).__csp = []));
    },
  };
}

describe('the UI under the Content-Security-Policy', { skip: skipReason() }, () => {
  let env: Env;
  let violations: Awaited<ReturnType<typeof watchViolations>>;
  let experimentId: string;
  const runIds: string[] = [];

  before(async () => {
    env = await startEnv();
    violations = await watchViolations(env.page);
    experimentId = (await env.api('POST', 'experiments/create', { name: 'csp-check' })).experiment_id;
    const colours: [number, number, number][] = [
      [255, 0, 0],
      [0, 0, 255],
    ];
    for (const [i, rgb] of colours.entries()) {
      const t0 = Date.now() - 600_000;
      const { run } = await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: `run-${i}`, start_time: t0 });
      const id = run.info.run_id as string;
      runIds.push(id);
      const metrics = Array.from({ length: 30 }, (_, s) => [
        { key: 'loss', value: (1 + i) / (s + 1), step: s, timestamp: t0 + s * 1000 },
        { key: 'acc', value: s / 30, step: s, timestamp: t0 + s * 1000 },
      ]).flat();
      await env.api('POST', 'runs/log-batch', {
        run_id: id,
        metrics,
        params: [{ key: 'lr', value: String(0.01 * (i + 1)) }, { key: 'optimizer', value: 'adam' }],
        tags: [
          { key: 'lablog.images', value: JSON.stringify(['predictions']) },
          { key: 'mlflow.note.content', value: '## Note\nSome **bold** text and a [link](https://example.com).' },
        ],
      });
      await putArtifact(env, run.info.artifact_uri, 'images/predictions/step_000000010.png', solid(rgb));
      await putArtifact(env, run.info.artifact_uri, 'plots/sample.png', solid(rgb));
      await putArtifact(env, run.info.artifact_uri, 'notes.txt', 'some notes\n');
      await env.api('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: t0 + 300_000 });
    }
    await putArtifact(env, (await env.api('GET', 'runs/get', { run_id: runIds[0] })).run.info.artifact_uri, 'model/MLmodel', 'flavors: {}\n');
    await env.api('POST', 'registered-models/create', { name: 'csp-model', description: '## Model\nWith **markdown**.', tags: [{ key: 'team', value: 'csp' }] });
    await env.api('POST', 'model-versions/create', { name: 'csp-model', source: `runs:/${runIds[0]}/model`, run_id: runIds[0] });
    await env.api('POST', 'registered-models/alias', { name: 'csp-model', alias: 'champion', version: '1' });
  });
  after(async () => env?.close());

  /** Opens a page (asserting the document carries the CSP), lets `check` wait for it to render, then asserts no violation. */
  const visit = async (path: string, check: (page: Page) => Promise<void>) => {
    await violations.clear();
    const res = await env.page.goto(`${env.url}${path}`);
    assert.ok(res, path);
    assert.match(res.headers()['content-security-policy'] ?? '', /default-src 'self'/, `${path} is served with the CSP`);
    await check(env.page);
    await env.page.waitForLoadState('networkidle');
    assert.deepEqual(await violations.all(), [], `CSP violations on ${path}`);
  };

  it('the experiments list', async () => {
    await visit('/', async (page) => {
      await page.locator('table.experiments a', { hasText: 'csp-check' }).waitFor();
    });
  });

  it('the runs table with its charts', async () => {
    await visit(`/runs?experiments=${experimentId}`, async (page) => {
      await page.locator('.vt-row .run-link', { hasText: 'run-1' }).waitFor();
      assert.equal(await page.locator('.vt-row .run-link').count(), 2);
    });
  });

  it('a run page: info, note, charts, an image artifact in the gallery and in the preview', async () => {
    await visit(`/run/${runIds[0]}`, async (page) => {
      await page.locator('[data-testid=run-name]', { hasText: 'run-0' }).waitFor();
      await page.locator('.uplot canvas').first().waitFor();
      const img = page.locator('[data-testid=gallery-image]').first();
      await img.scrollIntoViewIfNeeded();
      assert.deepEqual(await centrePixel(img), [255, 0, 0]);
      const tree = page.locator('.tree-row[data-path="plots"]');
      await tree.scrollIntoViewIfNeeded();
      await tree.click();
      await page.locator('.tree-row[data-path="plots/sample.png"]').click();
      assert.deepEqual(await centrePixel(page.locator('[data-testid=preview-image]').first()), [255, 0, 0]);
    });
  });

  it('the compare page: charts and the image gallery of both runs', async () => {
    await visit(`/compare?runs=${runIds.join(',')}`, async (page) => {
      await page.locator('.uplot canvas').first().waitFor();
      const gallery = page.locator('[data-testid=compare-images] [data-testid=image-gallery]');
      await gallery.scrollIntoViewIfNeeded();
      assert.deepEqual(await centrePixel(gallery.locator(`figure[data-run-id="${runIds[1]}"] [data-testid=gallery-image]`)), [0, 0, 255]);
    });
  });

  it('the Models page, a model page and a version page', async () => {
    await visit('/models', async (page) => {
      await page.locator('tr[data-model="csp-model"] td.aliases', { hasText: '@champion' }).waitFor();
    });
    await visit('/models/csp-model', async (page) => {
      await page.locator('tr[data-version="1"] a.run-link').waitFor();
      await page.locator('[data-testid=description-view] strong', { hasText: 'markdown' }).waitFor();
    });
    await visit('/models/csp-model/versions/1', async (page) => {
      await page.locator('[data-testid=version-source]', { hasText: 'runs:/' }).waitFor();
    });
    await visit(`/run/${runIds[0]}`, async (page) => {
      await page.locator('[data-testid=run-models] tr[data-model="csp-model"]').waitFor();
    });
  });

  it('the API reference page at /api/docs', async () => {
    await visit('/api/docs', async (page) => {
      await page.locator('details summary', { hasText: 'runs/log-batch' }).first().waitFor();
    });
  });

  it('(the watch itself works: an inline script is blocked and reported)', async () => {
    await env.page.goto(`${env.url}/`);
    await violations.clear();
    await env.page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.body.appendChild(s);
    });
    await env.page.waitForFunction(() => ((window as unknown as { __csp: unknown[] }).__csp ?? []).length > 0);
    assert.equal(await env.page.evaluate(() => (window as unknown as { __inlineRan?: boolean }).__inlineRan), undefined);
    assert.ok((await violations.all()).some((v) => v.includes('script-src')), String(await violations.all()));
  });
});
