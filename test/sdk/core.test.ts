import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Lablog, LablogApiError, type LablogOptions, type Run } from 'lablog-client';
import { tempDir } from '../support/lablog-process.js';
import { limitViolations } from './counting-proxy.js';
import { kv, lablogBehindProxy, metricHistory, mlflowGet, testLablog } from './sdk.helpers.js';

// The SDK against a real lablog process (through a recording proxy): what a training script logs is
// what the API shows afterwards.

const T = { timeout: 120_000 };
const env = lablogBehindProxy();
const lab = (opts: LablogOptions = {}): Lablog => testLablog(env.proxy.url, opts);
const get = (route: string, query: Record<string, string>) => mlflowGet(env.server.url, route, query);
const history = (runId: string, key: string) => metricHistory(env.server.url, runId, key);

async function download(artifactUri: string, rel: string): Promise<Buffer> {
  const root = artifactUri.replace(/^mlflow-artifacts:\//, '');
  const res = await fetch(`${env.server.url}/api/2.0/mlflow-artifacts/artifacts/${root}/${rel}`);
  assert.equal(res.status, 200, `${rel}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('lablog-client core', () => {
  it('startRun: params, tags and metrics arrive with their exact values', T, async () => {
    const l = lab();
    const run = await l.startRun({ experiment: 'sdk-core', name: 'baseline', params: { lr: 0.001, layers: 3, opt: 'adam', sched: { warmup: 5 } }, tags: { team: 'vision' } });
    assert.match(run.id, /^[0-9a-f]{32}$/);
    assert.equal(run.name, 'baseline');
    assert.equal(run.info.status, 'RUNNING');
    run.log({ loss: 0.5, acc: 0.25 }); // step 0
    run.log({ loss: 0.25 }); // step 1
    run.log({ loss: 0.125 }, { step: 10, timestamp: 1234 }); // explicit step: the counter is not moved
    run.log({ loss: 0.0625 }); // step 2
    run.log({ odd: NaN, big: Infinity });
    run.logParams({ batch: 32, wd: 1e-5, eps: 3.2e-7, amp: true, q: 0.0001 }); // as Python's str() writes them
    run.setTags({ stage: 'dev' });
    run.seed(42);
    await run.flush();
    assert.equal(run.pendingPoints, 0);

    const { run: got } = await get('runs/get', { run_id: run.id });
    assert.deepEqual(kv(got.data.params), { lr: '0.001', layers: '3', opt: 'adam', sched: '{"warmup":5}', batch: '32', wd: '1e-05', eps: '3.2e-07', amp: 'True', q: '0.0001', seed: '42' });
    const tags = kv(got.data.tags);
    assert.equal(tags.team, 'vision');
    assert.equal(tags.stage, 'dev');
    assert.equal(tags['mlflow.runName'], 'baseline');
    const user = process.env.USER || process.env.USERNAME || process.env.LOGNAME;
    if (user) assert.equal(tags['mlflow.user'], user, 'mlflow.user from the environment');
    const loss = await history(run.id, 'loss');
    assert.deepEqual(loss.map((m) => [m.step, m.value]), [[0, 0.5], [1, 0.25], [2, 0.0625], [10, 0.125]]);
    assert.equal(loss[3].timestamp, 1234);
    assert.deepEqual((await history(run.id, 'acc')).map((m) => [m.step, m.value]), [[0, 0.25]]);
    assert.deepEqual((await history(run.id, 'odd')).map((m) => m.value), ['NaN']);
    assert.deepEqual((await history(run.id, 'big')).map((m) => m.value), [1.7976931348623157e308]);

    await run.end();
    await run.end(); // idempotent
    const { run: ended } = await get('runs/get', { run_id: run.id });
    assert.equal(ended.info.status, 'FINISHED');
    assert.ok(ended.info.end_time >= ended.info.start_time);
    assert.equal(run.info.status, 'FINISHED');
    assert.deepEqual(l.activeRuns(), []);
    assert.deepEqual(limitViolations(env.proxy.requests), []);
  });

  it('the experiment is found by name, created once, and reused', T, async () => {
    const a = await lab().startRun({ experiment: 'sdk-shared' });
    const b = await lab().startRun({ experiment: 'sdk-shared' });
    assert.equal(a.experimentId, b.experimentId);
    const { experiment } = await get('experiments/get-by-name', { experiment_name: 'sdk-shared' });
    assert.equal(experiment.experiment_id, a.experimentId);
    const c = await lab().startRun({});
    assert.equal(c.experimentId, '0');
    await Promise.all([a.end(), b.end(), c.end('KILLED')]);
    assert.equal((await get('runs/get', { run_id: c.id })).run.info.status, 'KILLED');
  });

  it('withRun: FINISHED on success, FAILED and rethrown on error', T, async () => {
    const l = lab();
    let okRun: Run | undefined;
    const value = await l.withRun({ experiment: 'sdk-with' }, async (run) => {
      okRun = run;
      run.log({ x: 1 });
      return 7;
    });
    assert.equal(value, 7);
    assert.equal((await get('runs/get', { run_id: okRun!.id })).run.info.status, 'FINISHED');
    assert.equal((await history(okRun!.id, 'x')).length, 1);

    let badRun: Run | undefined;
    const boom = new Error('boom');
    await assert.rejects(
      l.withRun({ experiment: 'sdk-with' }, async (run) => {
        badRun = run;
        run.log({ x: 2 });
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.equal((await get('runs/get', { run_id: badRun!.id })).run.info.status, 'FAILED');
    assert.deepEqual((await history(badRun!.id, 'x')).map((m) => m.value), [2], 'points logged before the error are kept');
  });

  it('searchRuns follows every page', T, async () => {
    const l = lab();
    const ids = new Set<string>();
    for (let i = 0; i < 25; i++) {
      const run = await l.startRun({ experiment: 'sdk-search', params: { i } });
      run.log({ score: i });
      await run.end();
      ids.add(run.id);
    }
    const before = env.proxy.requests.filter((r) => r.url.endsWith('/runs/search')).length;
    const seen: string[] = [];
    for await (const r of l.searchRuns({ experiments: ['sdk-search'], maxResults: 10, orderBy: ['metrics.score ASC'] })) seen.push(r.info.run_id);
    assert.equal(seen.length, 25);
    assert.deepEqual(new Set(seen), ids);
    assert.equal(env.proxy.requests.filter((r) => r.url.endsWith('/runs/search')).length - before, 3, 'three pages of 10');

    const filtered: number[] = [];
    const expId = (await get('experiments/get-by-name', { experiment_name: 'sdk-search' })).experiment.experiment_id;
    for await (const r of l.searchRuns({ experiments: [expId], filter: 'metrics.score >= 20', maxResults: 2, orderBy: ['metrics.score DESC'] })) {
      filtered.push(Number(kv(r.data.params).i));
    }
    assert.deepEqual(filtered, [24, 23, 22, 21, 20], 'by id, filtered and ordered');
    let all = 0;
    for await (const r of l.searchRuns({ filter: "params.i = '3'" })) all += r.info.experiment_id === expId ? 1 : 0;
    assert.equal(all, 1, 'no experiments given: every active experiment is searched');
  });

  it('nested runs carry mlflow.parentRunId', T, async () => {
    const l = lab();
    const parent = await l.startRun({ experiment: 'sdk-nested', name: 'sweep' });
    const child = await l.startRun({ experiment: 'sdk-nested', name: 'trial-1', parent });
    const child2 = await l.startRun({ experiment: 'sdk-nested', parent: parent.id });
    for (const c of [child, child2]) assert.equal(kv((await get('runs/get', { run_id: c.id })).run.data.tags)['mlflow.parentRunId'], parent.id);
    assert.equal(kv((await get('runs/get', { run_id: parent.id })).run.data.tags)['mlflow.parentRunId'], undefined);
    const found: string[] = [];
    for await (const r of l.searchRuns({ experiments: ['sdk-nested'], filter: `tags.mlflow.parentRunId = '${parent.id}'` })) found.push(r.info.run_id);
    assert.deepEqual(new Set(found), new Set([child.id, child2.id]));
    assert.equal(l.activeRuns().length, 3);
    await Promise.all(l.activeRuns().map((r) => r.end()));
  });

  it('logArtifact, logArtifacts and logImage land as files', T, async () => {
    const l = lab();
    const run = await l.startRun({ experiment: 'sdk-artifacts' });
    const dir = tempDir();
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    writeFileSync(path.join(dir, 'model.bin'), big);
    writeFileSync(path.join(dir, 'empty.txt'), '');
    await run.logArtifact(path.join(dir, 'model.bin'), 'checkpoints');
    await run.logArtifact(path.join(dir, 'empty.txt'));
    await run.logArtifact(new TextEncoder().encode('{"a":1}'), 'reports/summary.json');

    const tree = path.join(dir, 'plots');
    mkdirSync(path.join(tree, 'sub', 'deeper'), { recursive: true });
    writeFileSync(path.join(tree, 'a.csv'), 'x,y\n1,2\n');
    writeFileSync(path.join(tree, 'sub', 'b.txt'), 'bee');
    writeFileSync(path.join(tree, 'sub', 'deeper', 'c.txt'), 'sea');
    await run.logArtifacts(tree, 'plots');
    await run.logArtifacts(path.join(tree, 'sub'));

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    writeFileSync(path.join(dir, 'p.png'), png);
    await run.logImage('predictions', png, { step: 5 });
    await run.logImage('predictions', path.join(dir, 'p.png'), { step: 120 });
    await run.logImage('inputs/raw', png);
    await run.logImage('inputs/raw', png);
    await run.end();

    const uri = run.info.artifact_uri!;
    assert.deepEqual(await download(uri, 'checkpoints/model.bin'), big);
    assert.equal((await download(uri, 'empty.txt')).length, 0);
    assert.equal((await download(uri, 'reports/summary.json')).toString(), '{"a":1}');
    assert.equal((await download(uri, 'plots/a.csv')).toString(), 'x,y\n1,2\n');
    assert.equal((await download(uri, 'plots/sub/deeper/c.txt')).toString(), 'sea');
    assert.equal((await download(uri, 'b.txt')).toString(), 'bee');
    assert.equal((await download(uri, 'deeper/c.txt')).toString(), 'sea');
    const images = (await get('artifacts/list', { run_id: run.id, path: 'images/predictions' })).files.map((f: { path: string }) => f.path);
    assert.deepEqual(images, ['images/predictions/step_000000005.png', 'images/predictions/step_000000120.png']);
    const raw = (await get('artifacts/list', { run_id: run.id, path: 'images/inputs/raw' })).files.map((f: { path: string }) => f.path);
    assert.deepEqual(raw, ['images/inputs/raw/step_000000000.png', 'images/inputs/raw/step_000000001.png']);
    assert.deepEqual(new Uint8Array(await download(uri, 'images/predictions/step_000000120.png')), png);
    const tags = kv((await get('runs/get', { run_id: run.id })).run.data.tags);
    assert.deepEqual(JSON.parse(tags['lablog.images']), ['predictions', 'inputs/raw']);
    await assert.rejects(run.logImage('../escape', png), (err) => err instanceof LablogApiError && err.errorCode === 'INVALID_PARAMETER_VALUE');
  });

  it('logArtifact streams a large file: it is never held in memory whole', T, async () => {
    const size = 160 * 1024 * 1024;
    const file = path.join(tempDir(), 'big.bin');
    writeFileSync(file, '');
    truncateSync(file, size); // sparse: zeros, written by nobody
    const run = await new Lablog({ url: env.server.url, handleExit: false, captureSource: false }).startRun({ experiment: 'sdk-big' });
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 5);
    try {
      await run.logArtifact(file, 'ckpt');
    } finally {
      clearInterval(sampler);
    }
    await run.end();
    const files = (await get('artifacts/list', { run_id: run.id, path: 'ckpt' })).files;
    assert.deepEqual(files, [{ path: 'ckpt/big.bin', is_dir: false, file_size: size }]);
    assert.ok(peak < size / 2, `peak buffer memory ${(peak / 2 ** 20).toFixed(0)} MiB for a ${size / 2 ** 20} MiB upload`);
  });

  it('a validation error is reported (error event, flush rejects) and never retried', T, async () => {
    const l = lab();
    const errors: { err: Error; run?: Run }[] = [];
    l.on('error', (err, run) => errors.push({ err, run }));
    const run = await l.startRun({ experiment: 'sdk-invalid' });

    // Refused by the server: a param's value may not change. Its batch is sent once, not retried.
    run.logParams({ lr: 1 });
    await run.flush();
    run.logParams({ lr: 2 });
    run.log({ good: 1 });
    await assert.rejects(run.flush(), (err) => err instanceof LablogApiError && err.errorCode === 'INVALID_PARAMETER_VALUE' && err.status === 400);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].run, run);
    assert.equal((errors[0].err as LablogApiError).status, 400);
    const sentLr2 = env.proxy.logBatches().filter((r) => r.batch!.run_id === run.id && r.batch!.params?.some((p) => p.key === 'lr' && p.value === '2'));
    assert.equal(sentLr2.length, 1, 'the refused batch went out once');
    assert.equal(sentLr2[0].status, 400);
    assert.deepEqual((await history(run.id, 'good')).map((m) => m.value), [1], 'points are not taken down by a refused param');

    // An invalid key is caught before sending: the rest of the call is delivered.
    run.log({ 'bad$key': 1, fine: 2 });
    await assert.rejects(run.flush(), (err) => err instanceof LablogApiError && err.errorCode === 'INVALID_PARAMETER_VALUE' && /bad\$key/.test(err.message));
    assert.equal(errors.length, 2);
    assert.ok(!env.proxy.requests.some((r) => r.body.includes('bad$key')), 'never sent, so never retried');
    assert.deepEqual((await history(run.id, 'fine')).map((m) => m.value), [2]);

    // The error was reported: the next flush is clean, and logging goes on.
    run.log({ fine: 3 });
    await run.flush();
    run.log({ 'bad$key': 5 });
    await assert.rejects(run.end(), LablogApiError);
    assert.equal(errors.length, 2, 'the same bad key is emitted once');
    assert.equal((await get('runs/get', { run_id: run.id })).run.info.status, 'FINISHED', 'end() sets the status before rejecting');
    assert.deepEqual((await history(run.id, 'fine')).map((m) => m.value), [2, 3]);
  });

  it('params and tags the server would refuse (bad key, value too long) are dropped before sending; the rest arrive', T, async () => {
    const l = lab();
    const errors: string[] = [];
    l.on('error', (err) => errors.push(err.message));
    const run = await l.startRun({ experiment: 'sdk-invalid-params' });
    run.logParams({ ok: 1, 'bad$p': 2, long: 'x'.repeat(6001) });
    run.setTags({ kept: 'yes', 'bad$t': 'no', big: 'y'.repeat(5001) });
    await assert.rejects(run.flush(), (err) => err instanceof LablogApiError && err.status === 0 && err.errorCode === 'INVALID_PARAMETER_VALUE');
    assert.equal(errors.length, 4);
    assert.match(errors[0], /^Invalid param name: 'bad\$p'/);
    assert.match(errors[1], /^Param value 'x{250}' had length 6001, which exceeded length limit of 6000 \(checked by lablog-client; not sent\)$/);
    assert.match(errors[2], /^Invalid tag name: 'bad\$t'/);
    assert.match(errors[3], /^Tag value 'y{250}' had length 5001, which exceeded length limit of 5000 \(checked by lablog-client; not sent\)$/);
    await run.end();
    const { data } = (await get('runs/get', { run_id: run.id })).run;
    assert.deepEqual(kv(data.params), { ok: '1' });
    const tags = kv(data.tags);
    assert.equal(tags.kept, 'yes');
    for (const k of ['bad$t', 'big']) assert.equal(tags[k], undefined, k);
    assert.ok(!env.proxy.requests.some((r) => r.body.includes('bad$') || r.body.includes('x'.repeat(6001))), 'never sent');
  });

  it('lab.client: typed calls for the endpoints, errors as LablogApiError with errorCode', T, async () => {
    const l = lab();
    const { experiment_id } = await l.client.experiments.create({ name: 'sdk-client', tags: [{ key: 'k', value: 'v' }] });
    const { experiment } = await l.client.experiments.get({ experiment_id });
    assert.equal(experiment.name, 'sdk-client');
    assert.deepEqual(experiment.tags, [{ key: 'k', value: 'v' }]);
    await assert.rejects(l.client.experiments.create({ name: 'sdk-client' }), (err) => {
      assert.ok(err instanceof LablogApiError);
      assert.equal(err.errorCode, 'RESOURCE_ALREADY_EXISTS');
      assert.equal(err.status, 400);
      return true;
    });
    await assert.rejects(l.client.runs.get({ run_id: 'f'.repeat(32) }), (err) => err instanceof LablogApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST' && err.status === 404);

    const { run } = await l.client.runs.create({ experiment_id, run_name: 'raw', start_time: 1000 });
    const runId = run.info.run_id;
    const body = { run_id: runId, metrics: [{ key: 'm', value: 1, timestamp: 5, step: 0 }] };
    assert.deepEqual(await l.client.runs.logBatch(body, { idempotencyKey: 'key-1' }), { replayed: false });
    assert.deepEqual(await l.client.runs.logBatch(body, { idempotencyKey: 'key-1' }), { replayed: true });
    await l.client.runs.logMetric({ run_id: runId, key: 'm', value: 2, timestamp: 6, step: 1 });
    await l.client.runs.logParameter({ run_id: runId, key: 'p', value: 'x' });
    await l.client.runs.setTag({ run_id: runId, key: 't', value: 'y' });
    const hist = await l.client.metrics.getHistory({ run_id: runId, metric_key: 'm' });
    assert.deepEqual(hist.metrics!.map((m) => m.value), [1, 2]);
    const bulk = await l.client.metrics.getHistoryBulkInterval({ run_ids: [runId], metric_key: 'm', max_results: 10 });
    assert.equal(bulk.metrics!.length, 2);
    const sampled = await l.client.lablog.sampled({ run_ids: [runId], keys: ['m'], buckets: 10 });
    assert.equal(sampled.series[0].key, 'm');
    const upd = await l.client.runs.update({ run_id: runId, status: 'FINISHED', end_time: 2000 });
    assert.equal(upd.run_info.status, 'FINISHED');
    await l.client.artifacts.upload(`${experiment_id}/${runId}/artifacts/a b/c.txt`, 'hello');
    const files = await l.client.artifacts.list({ run_id: runId, path: 'a b' });
    assert.deepEqual(files.files, [{ path: 'a b/c.txt', is_dir: false, file_size: 5 }]);
    assert.equal(await (await l.client.artifacts.download(`${experiment_id}/${runId}/artifacts/a b/c.txt`)).text(), 'hello');
    const mpuPath = `${experiment_id}/${runId}/artifacts/big/parts.bin`;
    const mpu = await l.client.artifacts.mpuCreate(mpuPath, { num_parts: 2 });
    const parts = [];
    for (const [i, c] of mpu.credentials.entries()) parts.push({ part_number: c.part_number, etag: await l.client.artifacts.uploadPart(c.url, `part${i}-`) });
    await l.client.artifacts.mpuComplete(mpuPath, { upload_id: mpu.upload_id, parts });
    assert.equal(await (await l.client.artifacts.download(mpuPath)).text(), 'part0-part1-');
    const page = await l.client.runs.search({ experiment_ids: [experiment_id], filter: "tags.t = 'y'" });
    assert.deepEqual(page.runs!.map((r) => r.info.run_id), [runId]);
    await assert.rejects(l.client.runs.search({ experiment_ids: [experiment_id], filter: 'metrics.m <' }), (err) => err instanceof LablogApiError && err.errorCode === 'INVALID_PARAMETER_VALUE');
    assert.equal(await l.client.health(), true);
    assert.equal(typeof (await l.client.version()), 'string');
  });

  it('URL and credentials come from the options or the environment', T, async () => {
    const saved = { ...process.env };
    try {
      process.env.LABLOG_TRACKING_URI = `${env.proxy.url}/`;
      process.env.MLFLOW_TRACKING_URI = 'http://127.0.0.1:1';
      process.env.LABLOG_TRACKING_TOKEN = 'sekrit';
      const l = new Lablog({ handleExit: false, captureSource: false });
      assert.equal(l.url, env.proxy.url);
      await l.client.experiments.search({ max_results: 1 });
      assert.equal(env.proxy.requests.at(-1)!.headers.authorization, 'Bearer sekrit');

      delete process.env.LABLOG_TRACKING_URI;
      delete process.env.LABLOG_TRACKING_TOKEN;
      process.env.MLFLOW_TRACKING_URI = env.proxy.url;
      process.env.MLFLOW_TRACKING_USERNAME = 'ada';
      process.env.MLFLOW_TRACKING_PASSWORD = 'pä55';
      const m = new Lablog({ handleExit: false, captureSource: false });
      assert.equal(m.url, env.proxy.url);
      await m.client.experiments.search({ max_results: 1 });
      assert.equal(env.proxy.requests.at(-1)!.headers.authorization, `Basic ${Buffer.from('ada:pä55').toString('base64')}`);

      delete process.env.MLFLOW_TRACKING_URI;
      assert.equal(new Lablog({ handleExit: false }).url, 'http://127.0.0.1:5000');
      assert.equal(new Lablog({ url: 'http://example.test:8080', handleExit: false }).url, 'http://example.test:8080');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('under Node, startRun records the source tags (captureSource)', T, async () => {
    const run = await lab({ captureSource: true }).startRun({ experiment: 'sdk-source' });
    await run.end();
    const tags = kv((await get('runs/get', { run_id: run.id })).run.data.tags);
    assert.equal(tags['mlflow.source.type'], 'LOCAL');
    assert.ok(tags['mlflow.source.name']);
    assert.ok(tags['mlflow.user']);
  });
});
