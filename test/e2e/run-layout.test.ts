import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { putArtifact, skipReason, startEnv, type Env } from './browser.js';
import { encodePng } from './png.js';

/**
 * The run page must not move the artifact tree while the parts above it load (charts, images, the
 * diff row): rows that move under the pointer swallow clicks. The page records, from its first frame,
 * every position the tree's top takes in the document and the browser's own layout-shift entries;
 * the test waits for each part's loaded marker (never a sleep) and then checks that nothing moved.
 */

interface Move {
  from: number;
  to: number;
  /** The page's blocks whose height changed with the move, by how much: which one grew. */
  grew: Record<string, number>;
}
interface Shift {
  value: number;
  recent: boolean;
  sources: string[];
}
interface Recorded {
  tops: Move[];
  shifts: Shift[];
}

/** Runs in the page before its scripts: records the tree's document top on every frame and resize. */
function recordLayout(): void {
  const w = window as unknown as { __layout: Recorded };
  const rec: Recorded = { tops: [], shifts: [] };
  w.__layout = rec;
  const name = (n: Node | null) => {
    const e = n instanceof Element ? n : n?.parentElement;
    if (!e) return '?';
    const id = e.getAttribute('data-testid') ?? e.closest('[data-testid]')?.getAttribute('data-testid') ?? '';
    return `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}[${id}]`;
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean; sources?: { node: Node | null; previousRect: DOMRectReadOnly; currentRect: DOMRectReadOnly }[] })[])
      rec.shifts.push({
        value: e.value,
        recent: e.hadRecentInput,
        sources: (e.sources ?? []).map((s) => `${name(s.node)} y ${s.previousRect.y}→${s.currentRect.y} h ${s.previousRect.height}→${s.currentRect.height}`),
      });
  }).observe({ type: 'layout-shift', buffered: true });
  const blocks = () => {
    const out: Record<string, number> = {};
    const page = document.querySelector('[data-testid=run-page]');
    for (const c of page ? [...page.children] : []) {
      const key = c.getAttribute('data-testid') ?? c.className;
      out[key] = Math.round(c.getBoundingClientRect().height * 10) / 10;
    }
    return out;
  };
  let last: number | null = null;
  let lastBlocks: Record<string, number> = {};
  const sample = () => {
    const tree = document.querySelector('[data-testid=artifact-tree]');
    if (!tree) return;
    const top = tree.getBoundingClientRect().top + window.scrollY;
    const now = blocks();
    if (last === null || Math.abs(top - last) > 0.01) {
      const grew: Record<string, number> = {};
      for (const [k, h] of Object.entries(now)) if (h !== (lastBlocks[k] ?? 0)) grew[k] = Math.round((h - (lastBlocks[k] ?? 0)) * 10) / 10;
      rec.tops.push({ from: last ?? top, to: top, grew });
    }
    last = top;
    lastBlocks = now;
  };
  let watched: Element | null = null;
  const resize = new ResizeObserver(sample);
  const frame = () => {
    // Scroll anchoring would hide a move from the viewport (not from the document); the test wants
    // the browser's shift entries to see what a pointer sees, as on pages where anchoring fails.
    document.documentElement?.style.setProperty('overflow-anchor', 'none');
    const page = document.querySelector('[data-testid=run-page]');
    if (page && page !== watched) {
      watched = page;
      resize.observe(page);
      for (const c of page.children) resize.observe(c);
    }
    sample();
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

const KEYS = ['train/loss', 'val/accuracy', 'lr', ...Array.from({ length: 9 }, (_, l) => `grad_norm/layer${l + 1}`)];

/** A finished run like a user's: 12 metric keys, git and command tags, a note, a diff and images. */
async function seedRun(env: Env): Promise<string> {
  const { experiment_id } = await env.api('POST', 'experiments/create', { name: 'layout' });
  const t0 = Date.UTC(2026, 0, 5, 9, 0);
  const { run } = await env.api('POST', 'runs/create', { experiment_id, run_name: 'steady', start_time: t0 });
  const runId = run.info.run_id as string;
  const metrics = KEYS.flatMap((key, k) => Array.from({ length: 40 }, (_, s) => ({ key, value: (k + 1) * Math.exp(-s / 15), timestamp: t0 + s * 1000, step: s })));
  const tags = {
    'mlflow.source.git.commit': '3f9c2ab71e04d5c8b6a90f1e2d3c4b5a69788776',
    'mlflow.source.git.branch': 'main',
    'mlflow.source.git.repoURL': 'https://github.com/example/mnist-cnn.git',
    'mlflow.source.name': '/home/ada/mnist-cnn/train.js',
    'mlflow.source.type': 'LOCAL',
    'lablog.command': 'node train.js --lr 0.001',
    'mlflow.note.content': '## Baseline\nFirst run with **augmentation** on.\n- random crops\n- flips',
    'lablog.images': JSON.stringify(['predictions']),
  };
  for (let i = 0; i < metrics.length; i += 900) await env.api('POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(i, i + 900) });
  await env.api('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'lr', value: '0.001' }], tags: Object.entries(tags).map(([key, value]) => ({ key, value })) });
  const put = (p: string, body: Buffer | string) => putArtifact(env, run.info.artifact_uri, p, body);
  await put('notes.txt', 'notes\n');
  await put('source/git.diff', 'diff --git a/train.js b/train.js\n');
  for (const [step, g] of [[10, 80], [20, 200]]) await put(`images/predictions/step_${String(step).padStart(9, '0')}.png`, encodePng(48, 48, () => [0, g, 0]));
  await env.api('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: t0 + 40_000 });
  return runId;
}

describe('run page layout while loading', { skip: skipReason() }, () => {
  let env: Env;
  let runId: string;
  before(async () => {
    env = await startEnv();
    runId = await seedRun(env);
    await env.page.addInitScript(recordLayout);
  });
  after(async () => env?.close());

  it('keeps the artifact tree in place while charts, images and the diff row load', async (t) => {
    const { page } = env;
    await page.goto(`${env.url}/run/${runId}`);
    await page.locator('[data-testid=artifact-tree] .tree-row[data-path="notes.txt"]').waitFor();
    // What loads without scrolling: the diff row, the gallery's image, the charts in view.
    await page.locator('[data-testid=show-diff]').waitFor();
    await page.locator('[data-testid=gallery-image]').evaluate((img: HTMLImageElement) => img.complete || new Promise((r) => img.addEventListener('load', r, { once: true })));
    const loaded = () => [...document.querySelectorAll('[data-testid=metric-chart][data-mounted=true]')].every((c) => c.querySelector('.mchart[data-loaded="1"]'));
    await page.waitForFunction(loaded);
    // Then every chart, mounted as it scrolls into view, each waited for until its data has arrived.
    const cards = page.locator('[data-testid=metric-chart]');
    assert.equal(await cards.count(), KEYS.length);
    for (let i = 0; i < KEYS.length; i++) {
      await cards.nth(i).scrollIntoViewIfNeeded();
      await cards.nth(i).locator('.mchart[data-loaded="1"]').waitFor();
    }
    await page.waitForFunction(loaded);
    await page.locator('[data-testid=artifacts]').scrollIntoViewIfNeeded();
    // One more frame, so the recorder has seen the final layout.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

    const rec = await page.evaluate(() => (window as unknown as { __layout: Recorded }).__layout);
    const moves = rec.tops.slice(1);
    const moved = moves.reduce((n, m) => n + Math.abs(m.to - m.from), 0);
    const cls = rec.shifts.filter((s) => !s.recent).reduce((n, s) => n + s.value, 0);
    t.diagnostic(`tree top first at ${rec.tops[0]?.to.toFixed(1)} px; ${moves.length} moves, ${moved.toFixed(1)} px in all; ${rec.shifts.length} layout shifts, CLS ${cls.toFixed(4)}`);
    for (const m of moves) t.diagnostic(`tree top ${m.from.toFixed(1)} → ${m.to.toFixed(1)}, grown: ${JSON.stringify(m.grew)}`);
    for (const s of rec.shifts) t.diagnostic(`shift ${s.value.toFixed(4)}: ${s.sources.join('; ')}`);
    assert.ok(rec.tops.length > 0, 'the tree was seen');
    assert.deepEqual(
      moves.map((m) => `${m.from.toFixed(1)} → ${m.to.toFixed(1)}`),
      [],
      'the tree never moves once shown',
    );
    assert.ok(cls < 0.001, `cumulative layout shift ${cls}`);
  });
});
