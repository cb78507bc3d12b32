import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putArtifact, screenshotPath, skipReason, startEnv, type Env } from './browser.js';
import { recordLiveReads } from './live-reads.js';
import { centrePixel, encodePng } from './png.js';

const SCREENSHOT = screenshotPath('run');

/** An RGB PNG of w x h pixels: a disc of `rgb` on a light background (the centre pixel is exactly `rgb`). */
function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  return encodePng(w, h, (x, y) => {
    const d = Math.hypot(x - (w >> 1), y - (h >> 1)) / (Math.min(w, h) / 2);
    const a = d < 0.5 ? 1 : Math.max(0, 1 - (d - 0.5) * 2.5);
    return rgb.map((c) => Math.round(c * a + 236 * (1 - a)));
  });
}

const COMMIT = '3f9c2ab71e04d5c8b6a90f1e2d3c4b5a69788776';
const CSV = 'epoch,loss,accuracy\n1,0.912,0.71\n2,0.514,0.83\n3,"0.377",0.88\n';
const JSON_TEXT = '{"model":{"layers":[784,256,10],"dropout":0.2},"optimizer":"adam","lr":0.001}';

interface Seeded {
  runId: string;
  experimentId: string;
}

async function seedRun(env: Env, exp: string, name: string, opts: { running?: boolean; steps?: number } = {}): Promise<Seeded> {
  const experimentId = (await env.api('POST', 'experiments/create', { name: exp })).experiment_id as string;
  const t0 = Date.now() - 3_720_000;
  const { run } = await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: name, start_time: t0, tags: [{ key: 'mlflow.user', value: 'ada' }] });
  const runId = run.info.run_id as string;
  const steps = opts.steps ?? 50;
  const metrics = [];
  for (let s = 0; s < steps; s++) {
    const t = t0 + s * 60_000;
    metrics.push({ key: 'train/loss', value: 2.3 * Math.exp(-s / 12) + 0.05 * Math.sin(s), timestamp: t, step: s });
    metrics.push({ key: 'val/accuracy', value: 0.98 - 0.6 * Math.exp(-s / 10), timestamp: t, step: s });
    metrics.push({ key: 'lr', value: 0.001 * Math.cos((Math.PI * s) / (2 * steps)), timestamp: t, step: s });
    for (let l = 1; l <= 9; l++) metrics.push({ key: `grad_norm/layer${l}`, value: (1 + l / 3) * Math.exp(-s / 20) + 0.1, timestamp: t, step: s });
  }
  const tags = {
    'mlflow.source.git.commit': COMMIT,
    'mlflow.source.git.branch': 'feature/augment',
    'mlflow.source.git.repoURL': 'https://github.com/example/mnist-cnn.git',
    'mlflow.source.name': '/home/ada/mnist-cnn/train.js',
    'mlflow.source.type': 'LOCAL',
    'lablog.command': 'node train.js --lr 0.001 --epochs 50 --batch-size 128',
    'lablog.node_version': 'v20.20.2',
    'mlflow.note.content': '## Baseline\nFirst run with **augmentation** on.\n- random crops\n- flips',
    dataset: 'mnist-v2',
    'lablog.images': JSON.stringify(['predictions']),
  };
  const params = { lr: '0.001', batch_size: '128', epochs: String(steps), optimizer: 'adam', dropout: '0.2' };
  await env.api('POST', 'runs/log-batch', {
    run_id: runId,
    metrics: metrics.slice(0, 900),
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  });
  if (metrics.length > 900) await env.api('POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(900) });
  const put = (p: string, body: Buffer | string) => putArtifact(env, run.info.artifact_uri, p, body);
  await put('notes.txt', 'training notes\nline two <b>not bold</b>\n');
  await put('data/metrics.csv', CSV);
  await put('data/config.json', JSON_TEXT);
  await put('plots/red.png', png(8, 8, [255, 0, 0]));
  await put('logs/big.log', 'x'.repeat(1024 * 1024 + 5000));
  await put('source/git.diff', 'diff --git a/train.js b/train.js\n-const lr = 0.01;\n+const lr = 0.001;\n');
  await put('images/predictions/step_000000010.png', png(48, 48, [0, 0, 255]));
  await put('images/predictions/step_000000020.png', png(48, 48, [0, 200, 0]));
  if (!opts.running) await env.api('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: t0 + steps * 60_000 });
  return { runId, experimentId };
}

describe('run page', { skip: skipReason() }, () => {
  let env: Env;
  let seeded: Seeded;
  before(async () => {
    env = await startEnv();
    seeded = await seedRun(env, 'mnist-cnn', 'baseline-augment');
  });
  after(async () => env?.close());

  const open = async (query = '') => {
    await env.page.goto(`${env.url}/run/${seeded.runId}${query}`);
    await env.page.locator('[data-testid=run-name]', { hasText: 'baseline-augment' }).waitFor();
  };

  it('shows the info, params, tags and the reproducibility tags readably', async () => {
    await open();
    const { page } = env;
    await page.locator('[data-testid=run-experiment]', { hasText: 'mnist-cnn' }).waitFor();
    const info = await page.locator('[data-testid=run-info]').innerText();
    for (const s of ['FINISHED', 'mnist-cnn', 'ada', seeded.runId, 'mlflow-artifacts:/', '50m 0s']) assert.ok(info.includes(s), `info lacks ${s}: ${info}`);
    assert.equal(await page.locator('[data-testid=run-experiment]').getAttribute('href'), `/runs?experiments=${seeded.experimentId}`);
    const params = await page.locator('[data-testid=params]').innerText();
    for (const s of ['lr', '0.001', 'batch_size', '128', 'optimizer', 'adam']) assert.ok(params.includes(s), `params lack ${s}`);
    assert.equal((await page.locator('[data-testid=git-commit]').innerText()).trim(), COMMIT.slice(0, 8));
    const repro = await page.locator('[data-testid=repro]').innerText();
    assert.ok(!repro.includes(COMMIT), 'the full hash is not spelled out');
    for (const s of ['feature/augment', 'github.com/example/mnist-cnn', 'node train.js --lr 0.001', 'train.js']) assert.ok(repro.includes(s), `repro lacks ${s}`);
    assert.ok((await page.locator('[data-testid=user-tags]').innerText()).includes('mnist-v2'));
    assert.ok(!(await page.locator('[data-testid=user-tags]').innerText()).includes('mlflow.source.git.commit'));
    assert.ok((await page.locator('[data-testid=system-tags]').innerText()).includes('mlflow.source.git.commit'));
    // The diff link opens the diff in the artifact preview.
    await page.locator('[data-testid=show-diff]').click();
    await page.locator('[data-testid=preview-text]', { hasText: '+const lr = 0.001;' }).waitFor();
  });

  it('edits the note, saves it as mlflow.note.content and renders markdown safely', async () => {
    await open();
    const { page } = env;
    await page.locator('[data-testid=note-view] strong', { hasText: 'augmentation' }).waitFor();
    await page.locator('[data-testid=note-edit]').click();
    const text = '# Result\nIt is **bold** and *calm*; `code`\n<script>window.__pwned = 1</script> <img src=x onerror="window.__pwned=2">\n[evil](javascript:alert(1)) [docs](https://example.com/x)';
    await page.locator('[data-testid=note-input]').fill(text);
    await page.locator('[data-testid=note-save]').click();
    await page.locator('[data-testid=note-view] strong', { hasText: 'bold' }).waitFor();
    const { run } = await env.api('GET', 'runs/get', { run_id: seeded.runId });
    assert.equal(run.data.tags.find((t: { key: string }) => t.key === 'mlflow.note.content')?.value, text);
    const view = page.locator('[data-testid=note-view]');
    assert.equal(await view.locator('em').innerText(), 'calm');
    assert.equal(await view.locator('code').innerText(), 'code');
    assert.ok((await view.innerText()).includes('<script>window.__pwned = 1</script>'), 'the script tag is shown as text');
    assert.equal(await view.locator('script, img').count(), 0);
    assert.deepEqual(await view.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), ['https://example.com/x']);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  });

  it('mounts one chart per metric key as it scrolls into view', async () => {
    await open();
    const { page } = env;
    const cards = page.locator('[data-testid=metric-chart]');
    await cards.first().waitFor({ state: 'attached' });
    assert.equal(await cards.count(), 12);
    const keys = ['lr', 'train/loss', 'val/accuracy', ...Array.from({ length: 9 }, (_, l) => `grad_norm/layer${l + 1}`)].sort();
    assert.deepEqual((await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-key')))).sort(), keys);
    assert.equal(await cards.last().getAttribute('data-mounted'), 'false', 'charts below the fold wait');
    for (let i = 0; i < 12; i++) await cards.nth(i).scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=metric-chart][data-mounted=true]').length === 12);
    assert.equal(await page.locator('[data-testid=metric-chart] .chart-placeholder').count(), 0);
    for (const key of keys) await page.locator(`[data-testid=metric-chart][data-key="${key}"] .mchart[data-metric="${key}"][data-loaded="1"]`).waitFor();
    assert.equal(await page.locator('.mchart').count(), 12, 'one chart per key');
    assert.equal(await page.locator('[data-key="train/loss"] .mchart').getAttribute('data-points'), '50');
  });

  it('browses the artifact tree and previews text, CSV, JSON and images', async () => {
    await open();
    const { page } = env;
    const tree = page.locator('[data-testid=artifact-tree]');
    for (const p of ['notes.txt', 'data', 'plots', 'images', 'source', 'logs']) await tree.locator(`.tree-row[data-path="${p}"]`).waitFor();
    assert.equal(await tree.locator('.tree-row[data-path="data/metrics.csv"]').count(), 0, 'folders load lazily');
    await tree.locator('.tree-row[data-path="notes.txt"]').click();
    const pre = page.locator('[data-testid=preview-text]');
    await pre.waitFor();
    assert.equal(await pre.innerText(), 'training notes\nline two <b>not bold</b>\n');
    assert.ok((await page.locator('[data-testid=preview-size]').innerText()).includes('B'));
    assert.match(String(await page.locator('[data-testid=download]').getAttribute('href')), /^\/get-artifact\?run_id=.+&path=notes\.txt$/);
    assert.ok(new URL(page.url()).searchParams.get('artifact') === 'notes.txt', 'the selection is in the URL');

    await tree.locator('.tree-row[data-path="data"]').click();
    await tree.locator('.tree-row[data-path="data/metrics.csv"]').click();
    const csv = page.locator('[data-testid=preview-csv]');
    await csv.waitFor();
    assert.deepEqual(await csv.locator('th').allInnerTexts(), ['epoch', 'loss', 'accuracy']);
    assert.equal(await csv.locator('tbody tr').count(), 3);
    assert.deepEqual(await csv.locator('tbody tr').nth(2).locator('td').allInnerTexts(), ['3', '0.377', '0.88']);

    await tree.locator('.tree-row[data-path="data/config.json"]').click();
    const json = page.locator('[data-testid=preview-json]');
    await json.waitFor();
    assert.equal(await json.innerText(), JSON.stringify(JSON.parse(JSON_TEXT), null, 2));

    await tree.locator('.tree-row[data-path="logs"]').click();
    await tree.locator('.tree-row[data-path="logs/big.log"]').click();
    await page.locator('[data-testid=truncated]').waitFor();
    assert.ok((await page.locator('[data-testid=preview-size]').innerText()).includes('1.0 MiB'));

    await tree.locator('.tree-row[data-path="plots"]').click();
    await tree.locator('.tree-row[data-path="plots/red.png"]').click();
    assert.deepEqual(await centrePixel(env.page.locator('[data-testid=preview-image]').first()), [255, 0, 0]);

    // A shared URL opens with the file selected and its folders open.
    await open('?artifact=data%2Fconfig.json');
    await page.locator('[data-testid=preview-json]').waitFor();
    await tree.locator('.tree-row.selected[data-path="data/config.json"]').waitFor();
  });

  it('selects the pressed row even when the tree moves under the pointer before the release', async () => {
    // Charts and images above the tree change height as they load; under CPU load that can happen
    // between a press and its release, so the release lands on another row. The browser's scroll
    // anchoring is turned off so the move stays under the pointer instead of being scrolled away.
    await open();
    const { page } = env;
    const tree = page.locator('[data-testid=artifact-tree]');
    const row = tree.locator('.tree-row[data-path="notes.txt"]');
    await tree.locator('.tree-row[data-path="source"]').waitFor();
    await page.evaluate(() => void (document.scrollingElement as HTMLElement).style.setProperty('overflow-anchor', 'none'));
    await row.scrollIntoViewIfNeeded();
    // Let the page settle first, so the only move is the one made below.
    await page.locator('[data-testid=show-diff]').waitFor();
    await page.locator('[data-testid=gallery-image]').evaluate((img: HTMLImageElement) => img.complete || new Promise((r) => img.addEventListener('load', r, { once: true })));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=metric-chart][data-mounted=true]')].every((c) => c.querySelector('.mchart[data-loaded="1"]')));
    const box = (await row.boundingBox())!;
    const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.evaluate((dy) => void ((document.querySelector('[data-testid=artifacts] > h2') as HTMLElement).style.paddingTop = `${dy}px`), box.height);
    const under = await page.evaluate(([px, py]) => (document.elementFromPoint(px, py)?.closest('.tree-row') as HTMLElement | null)?.dataset.path, [x, y]);
    assert.ok(under && under !== 'notes.txt', `the release lands on another row (${under})`);
    await page.mouse.up();
    assert.equal(await page.locator('[data-testid=preview-text]').innerText(), 'training notes\nline two <b>not bold</b>\n');
    assert.equal(new URL(page.url()).searchParams.get('artifact'), 'notes.txt');
    assert.equal(await tree.locator('[aria-expanded=true]').count(), 0, 'the release opened no folder');
  });

  it('switches the shown image with the step slider', async () => {
    await open();
    const { page } = env;
    const img = page.locator('[data-testid=image-gallery] [data-testid=gallery-image]');
    await img.waitFor();
    assert.match(String(await img.getAttribute('src')), /step_000000020\.png/);
    assert.deepEqual(await centrePixel(env.page.locator('[data-testid=gallery-image]').first()), [0, 200, 0]);
    await page.locator('[data-testid=step-slider]').fill('0');
    await page.locator('[data-testid=gallery-step]', { hasText: 'step 10' }).waitFor();
    assert.match(String(await img.getAttribute('src')), /step_000000010\.png/);
    assert.deepEqual(await centrePixel(env.page.locator('[data-testid=gallery-image]').first()), [0, 0, 255]);
  });

  it('updates a RUNNING run live until it finishes', async () => {
    const live = await seedRun(env, 'live-exp', 'live-run', { running: true, steps: 5 });
    const { page } = env;
    await page.goto(`${env.url}/run/${live.runId}`);
    await page.locator('[data-testid=run-status]', { hasText: 'RUNNING' }).waitFor();
    const loss = page.locator('[data-key="train/loss"] .mchart[data-loaded="1"]');
    await page.locator('[data-key="train/loss"]').scrollIntoViewIfNeeded();
    await loss.waitFor();
    assert.equal(await loss.getAttribute('data-points'), '5');
    const reads = recordLiveReads(page, live.runId, 'train/loss');
    const point = (s: number) => ({ key: 'train/loss', value: 0.5 / s, timestamp: Date.now(), step: s });
    await env.api('POST', 'runs/log-batch', { run_id: live.runId, metrics: [5, 6, 7].map(point) });
    // The chart re-reads on the page's own poll of the run: the new points show without the chart asking runs/get.
    await page.locator('[data-key="train/loss"] .mchart[data-points="8"]').waitFor();
    await env.api('POST', 'runs/log-batch', { run_id: live.runId, metrics: [{ key: 'grad_norm', value: 1.5, timestamp: Date.now(), step: 1 }], tags: [{ key: 'phase', value: 'eval' }] });
    await page.locator('[data-testid=metric-chart][data-key=grad_norm]').waitFor({ state: 'attached' });
    await page.locator('[data-testid=user-tags]', { hasText: 'eval' }).waitFor();
    // Points logged right before the end are read once more when the page sees the run finish.
    await env.api('POST', 'runs/log-batch', { run_id: live.runId, metrics: [8, 9].map(point) });
    await env.api('POST', 'runs/update', { run_id: live.runId, status: 'FINISHED', end_time: Date.now() });
    await page.locator('[data-testid=run-status]', { hasText: 'FINISHED' }).waitFor();
    await page.locator('[data-key="train/loss"] .mchart[data-points="10"]').waitFor();
    const seen = reads.stop();
    assert.ok(seen.gets >= 2, `the page polled the run: ${JSON.stringify(seen)}`);
    assert.equal(seen.unfollowed, 0, `every runs/get is the page's poll, followed by the chart's re-read: ${JSON.stringify(seen)}`);
    // One re-read per poll (the last for the finish), plus one when recording began between a poll and its re-read.
    assert.ok(seen.reads === seen.gets || seen.reads === seen.gets + 1, `one re-read per poll: ${JSON.stringify(seen)}`);
  });

  it('saves a screenshot of the run page', async () => {
    const note = '## Baseline\nAugmentation on: **+1.8% val accuracy** over the plain run.\n- random crops (24px)\n- horizontal flips\n\nNext: try `lr = 3e-4` with cosine decay.';
    await env.api('POST', 'runs/set-tag', { run_id: seeded.runId, key: 'mlflow.note.content', value: note });
    await open('?artifact=data%2Fmetrics.csv');
    const { page } = env;
    await page.locator('[data-testid=preview-csv]').waitFor();
    for (const c of await page.locator('[data-testid=metric-chart]').all()) await c.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=metric-chart][data-mounted=true]').length === 12);
    await page.locator('[data-testid=gallery-image]').waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForFunction(() => document.querySelectorAll('.mchart[data-loaded="1"]').length === 12);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
