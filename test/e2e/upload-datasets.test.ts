import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipReason, startEnv, type Env } from './browser.js';

const dataset = (name: string, digest: string) => ({ name, digest, source_type: 'local', source: `{"uri": "/data/${name}"}` });

describe('run page: upload artifact; runs page: Datasets filter', { skip: skipReason() }, () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => env?.close());

  it('uploads a file into the tree, and shows the server’s message for one over 10 MB', async () => {
    const experimentId = (await env.api('POST', 'experiments/create', { name: 'uploads' })).experiment_id as string;
    const { run } = await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: 'up', start_time: Date.now() });
    const runId = run.info.run_id as string;
    await env.api('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
    const { page } = env;
    await page.goto(`${env.url}/run/${runId}`);
    await page.waitForSelector('[data-testid=artifact-upload]');
    const tree = page.locator('[data-testid=artifact-tree]');
    await tree.locator('text=No artifacts.').waitFor();

    const bytes = Buffer.from('hello from the browser\n\u00e9\u0000\u00ff', 'latin1');
    await page.setInputFiles('[data-testid=upload-file]', { name: 'hello.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.click('[data-testid=upload-button]');
    await page.locator('[data-testid=upload-status]:has-text("Uploaded hello.bin")').waitFor();
    await tree.locator('.tree-row[data-path="hello.bin"]').waitFor();
    const res = await fetch(new URL(`/get-artifact?run_uuid=${runId}&path=hello.bin`, env.url));
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);

    // Into a folder typed by the user.
    await page.fill('[data-testid=upload-folder]', 'sub/dir');
    await page.setInputFiles('[data-testid=upload-file]', { name: 'b.txt', mimeType: 'text/plain', buffer: Buffer.from('bee') });
    await page.click('[data-testid=upload-button]');
    await page.locator('[data-testid=upload-status]:has-text("Uploaded sub/dir/b.txt")').waitFor();
    await tree.locator('.tree-row[data-path="sub"]').waitFor();
    const b = await fetch(new URL(`/get-artifact?run_uuid=${runId}&path=sub/dir/b.txt`, env.url));
    assert.equal(await b.text(), 'bee');

    await page.setInputFiles('[data-testid=upload-file]', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10 * 1024 * 1024 + 1, 7) });
    await page.click('[data-testid=upload-button]');
    await page.locator('[data-testid=upload-status] .error:has-text("Artifact size is too large. Max size is 10MB.")').waitFor();
    const list = await env.api('GET', 'artifacts/list', { run_id: runId, path: 'sub/dir' });
    assert.deepEqual(
      list.files.map((f: { path: string }) => f.path),
      ['sub/dir/b.txt'],
    );
  });

  it('offers the shown experiments’ datasets and narrows the runs to the chosen one', async () => {
    const experimentId = (await env.api('POST', 'experiments/create', { name: 'with-datasets' })).experiment_id as string;
    const mk = async (name: string) => (await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: name, start_time: Date.now() })).run.info.run_id as string;
    const a = await mk('on-mnist');
    const b = await mk('on-cifar');
    await mk('no-data');
    await env.api('POST', 'runs/log-inputs', { run_id: a, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: dataset('mnist', 'abcdef0123456789') }] });
    await env.api('POST', 'runs/log-inputs', { run_id: b, datasets: [{ tags: [], dataset: dataset('cifar10', '99887766aabb') }] });

    const { page } = env;
    await page.goto(`${env.url}/runs?experiments=${experimentId}`);
    await page.waitForFunction(() => document.querySelector('[data-testid=run-count]')?.textContent?.startsWith('3 runs ·'));
    const select = page.locator('[data-testid=dataset-filter]');
    await select.waitFor();
    const options = await select.locator('option').allInnerTexts();
    assert.deepEqual(options, ['Datasets…', 'cifar10 · 99887766', 'mnist · abcdef01 (training)']);

    await select.selectOption({ label: 'mnist · abcdef01 (training)' });
    await page.waitForURL(/filter=/);
    const filter = new URL(page.url()).searchParams.get('filter');
    assert.equal(filter, "dataset.name = 'mnist' AND dataset.digest = 'abcdef0123456789'");
    assert.equal(await page.inputValue('input[name=filter]'), filter);
    await page.waitForFunction(() => document.querySelector('[data-testid=run-count]')?.textContent?.startsWith('1 runs ·'));
    assert.deepEqual(await page.locator('.vt-row .run-link').allInnerTexts(), ['on-mnist']);
  });

  it('hides the Datasets filter when the experiments logged none', async () => {
    const experimentId = (await env.api('POST', 'experiments/create', { name: 'no-datasets' })).experiment_id as string;
    await env.api('POST', 'runs/create', { experiment_id: experimentId, run_name: 'plain', start_time: Date.now() });
    await env.page.goto(`${env.url}/runs?experiments=${experimentId}`);
    await env.page.waitForSelector('.vt-row .run-link');
    const resp = await env.api('POST', '/ajax-api/2.0/mlflow/experiments/search-datasets', { experiment_ids: [experimentId] });
    assert.deepEqual(resp, { dataset_summaries: [] });
    assert.equal(await env.page.locator('[data-testid=dataset-filter]').count(), 0);
  });
});
