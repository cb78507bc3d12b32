import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Lablog, type LablogOptions } from 'lablog-client';
import type { SyncReport } from 'lablog-client/node';
import { cleanup, CLI_JS, runToExit, startLablog, tempDir } from '../support/lablog-process.js';
import { startProxy } from './counting-proxy.js';
import { kv, metricHistory, mlflowGet, until } from './sdk.helpers.js';

// Runs that start without the server (W&B's offline mode): the run gets a client-made id, and its
// creation, experiment name, params, tags, points, artifacts and end go to the spool. `lablog sync`
// creates the experiment and the run under that id and replays the rest exactly once; a run whose
// server comes back while it runs does the same by itself and goes on live.

after(cleanup);

const T = { timeout: 180_000 };
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const jsonl = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

/** A loopback address where nothing listens (connections are refused): no server at all. */
async function deadUrl(): Promise<string> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function offlineLab(url: string, spoolDir: string, opts: LablogOptions = {}): Lablog {
  const lab = new Lablog({ url, spoolDir, handleExit: false, captureSource: false, offlineAfterMs: 300, flushIntervalMs: 50, ...opts });
  lab.on('error', (err) => assert.fail(`unexpected SDK error: ${err.message}`));
  return lab;
}

async function sync(dir: string, url: string): Promise<{ code: number | null; report: SyncReport; stderr: string }> {
  const r = await runToExit(['sync', dir, '--url', url, '--json'], { script: CLI_JS });
  const line = r.lines.find((l) => typeof l.files === 'number');
  assert.ok(line, `no JSON report from lablog sync (exit ${r.code}); stderr: ${r.stderr}`);
  return { code: r.code, report: line as unknown as SyncReport, stderr: r.stderr };
}

async function artifact(url: string, experimentId: string, runId: string, rel: string): Promise<string> {
  const res = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/${rel}`);
  assert.equal(res.status, 200, `${rel}: ${res.status}`);
  return res.text();
}

/** The run as stored: info, params and tags by key, and the steps of `key`. */
async function stored(url: string, runId: string) {
  const { run } = await mlflowGet(url, 'runs/get', { run_id: runId });
  return { info: run.info, params: kv(run.data.params), tags: kv(run.data.tags) };
}

async function steps(url: string, runId: string, key: string): Promise<number[]> {
  return (await metricHistory(url, runId, key)).map((p) => p.step);
}

describe('a run that starts offline', () => {
  test('no server at all: the whole run goes to the spool; lablog sync creates experiment and run under its id, exactly once', T, async () => {
    const spoolDir = tempDir();
    const lab = offlineLab(await deadUrl(), spoolDir);
    const states: string[] = [];
    lab.on('offline', (r) => states.push(`offline ${r.id}`)).on('online', (r) => states.push(`online ${r.id}`));
    const localFile = path.join(tempDir(), 'weights.bin');
    writeFileSync(localFile, Buffer.from(range(256)));

    const run = await lab.startRun({ experiment: 'offline-exp', name: 'no-server', params: { lr: 0.01, layers: 3 }, tags: { phase: 'offline' } });
    assert.match(run.id, /^[0-9a-f]{32}$/);
    assert.equal(run.offline, true);
    assert.equal(run.name, 'no-server');
    assert.equal(run.experimentId, '', 'only the experiment name is known');
    assert.deepEqual(states, [`offline ${run.id}`]);
    const N = 3000;
    for (let s = 0; s < N; s++) run.log({ loss: 1 / (s + 1), acc: s / N }, { step: s });
    run.logParams({ optimizer: 'adam' });
    run.setTags({ note: 'written without a server' });
    await run.logArtifact(new TextEncoder().encode('hello offline'), 'notes/hello.txt');
    await run.logArtifact(localFile, 'model');
    writeFileSync(localFile, 'changed after logging'); // the spool keeps a copy, not the path
    await run.end('FINISHED');
    assert.deepEqual(states, [`offline ${run.id}`], 'it never went online');

    const files = jsonl(spoolDir);
    assert.equal(files.length, 1);
    const lines = readFileSync(path.join(spoolDir, files[0]), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].endpoint, 'lablog/runs/create', 'the creation comes first');
    assert.equal(lines[0].experiment, 'offline-exp');
    assert.equal(lines[0].body.run_id, run.id);
    assert.deepEqual(lines.at(-1), { end: true });
    assert.equal(lines.at(-2).endpoint, 'runs/update');

    const server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    const first = await sync(spoolDir, server.url);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.report.runs, 1);
    assert.equal(first.report.points, 2 * N);
    assert.equal(first.report.artifacts, 2);
    assert.equal(first.report.updates, 1);
    assert.equal(first.report.replayed, 0);
    assert.equal(first.report.rejected, 0);
    assert.deepEqual(readdirSync(spoolDir), [], 'the spool file, its progress and its copies are removed');

    const { experiment } = await mlflowGet(server.url, 'experiments/get-by-name', { experiment_name: 'offline-exp' });
    const got = await stored(server.url, run.id);
    assert.equal(got.info.run_id, run.id);
    assert.equal(got.info.experiment_id, experiment.experiment_id);
    assert.equal(got.info.run_name, 'no-server');
    assert.equal(got.info.status, 'FINISHED');
    assert.ok(got.info.end_time >= got.info.start_time);
    assert.deepEqual(got.params, { lr: '0.01', layers: '3', optimizer: 'adam' });
    assert.equal(got.tags.phase, 'offline');
    assert.equal(got.tags.note, 'written without a server');
    assert.equal(got.tags['mlflow.runName'], 'no-server');
    assert.deepEqual(await steps(server.url, run.id, 'loss'), range(N));
    assert.deepEqual(await steps(server.url, run.id, 'acc'), range(N));
    assert.equal((await metricHistory(server.url, run.id, 'loss'))[9].value, 1 / 10);
    assert.equal(await artifact(server.url, experiment.experiment_id, run.id, 'notes/hello.txt'), 'hello offline');
    const weights = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${experiment.experiment_id}/${run.id}/artifacts/model/weights.bin`);
    assert.deepEqual(Buffer.from(await weights.arrayBuffer()), Buffer.from(range(256)));

    // Nothing left to do; and a copy of the file replayed again (its progress lost) writes nothing twice.
    const again = await sync(spoolDir, server.url);
    assert.equal(again.report.files, 0);
    const copy = path.join(spoolDir, files[0]);
    writeFileSync(copy, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const replay = await sync(spoolDir, server.url);
    assert.equal(replay.code, 1, 'the copies of the artifacts are gone: those two entries are refused');
    assert.equal(replay.report.runs, 0);
    assert.equal(replay.report.batches, 0);
    assert.equal(replay.report.replayed, first.report.batches + 1, 'the run and every batch were already there');
    assert.deepEqual(await steps(server.url, run.id, 'loss'), range(N));
    const search = await fetch(`${server.url}/api/2.0/mlflow/runs/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment_ids: [experiment.experiment_id] }) });
    assert.deepEqual(((await search.json()).runs as { info: { run_id: string } }[]).map((r) => r.info.run_id), [run.id], 'one run, however often it was replayed');
  });

  test("mode 'offline' (LABLOG_MODE=offline) never touches the network, even with the server up", T, async () => {
    const server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    const proxy = await startProxy(server.url);
    const spoolDir = tempDir();
    process.env.LABLOG_MODE = 'offline';
    let lab: Lablog;
    try {
      lab = offlineLab(proxy.url, spoolDir, { offlineAfterMs: 30_000 });
    } finally {
      delete process.env.LABLOG_MODE;
    }
    assert.equal(lab.mode, 'offline');
    const run = await lab.startRun({ experimentId: '0', name: 'explicit-offline' });
    assert.equal(run.experimentId, '0');
    for (let s = 0; s < 500; s++) run.log({ x: s }, { step: s });
    await run.logArtifact(new TextEncoder().encode('{}'), 'cfg.json');
    await run.end('KILLED');
    assert.deepEqual(proxy.requests.map((r) => r.url), [], 'no request at all');
    assert.throws(() => new Lablog({ mode: 'sometimes' as never }), /must be 'online' or 'offline'/);

    const report = await new Lablog({ url: proxy.url, handleExit: false }).sync(spoolDir);
    assert.equal(report.runs, 1);
    assert.equal(report.points, 500);
    assert.equal(report.artifacts, 1);
    const got = await stored(server.url, run.id);
    assert.equal(got.info.status, 'KILLED');
    assert.equal(got.info.experiment_id, '0');
    assert.deepEqual(await steps(server.url, run.id, 'x'), range(500));
    assert.equal(await artifact(server.url, '0', run.id, 'cfg.json'), '{}');
    assert.ok(proxy.requests.some((r) => r.url === '/api/2.0/lablog/runs/create'));
    await proxy.close();
  });

  test('the server comes back mid-run: the run creates itself under its id, replays its spool, and goes on live', T, async () => {
    const server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    const proxy = await startProxy(server.url);
    proxy.mode = 'down';
    try {
      const spoolDir = tempDir();
      const lab = offlineLab(proxy.url, spoolDir);
      const states: string[] = [];
      lab.on('offline', () => states.push('offline')).on('online', () => states.push('online'));
      const run = await lab.startRun({ experiment: 'comes-back', params: { seed: 7 }, tags: { stage: 'before' } });
      assert.equal(run.offline, true);
      assert.equal(run.info.artifact_uri, undefined);
      for (let s = 0; s < 2000; s++) run.log({ loss: s }, { step: s });
      await run.logArtifact(new TextEncoder().encode('spooled'), 'a.txt');
      await run.flush();
      assert.equal(jsonl(spoolDir).length, 1);

      proxy.mode = 'pass';
      await until(() => states.includes('online'), 'the run to go online');
      assert.equal(run.offline, false);
      const { experiment } = await mlflowGet(server.url, 'experiments/get-by-name', { experiment_name: 'comes-back' });
      assert.equal(run.experimentId, experiment.experiment_id, 'the run knows its experiment now');
      assert.equal(run.info.artifact_uri, `mlflow-artifacts:/${experiment.experiment_id}/${run.id}/artifacts`);
      assert.deepEqual(await steps(server.url, run.id, 'loss'), range(2000), 'the spool was replayed');

      for (let s = 2000; s < 4000; s++) run.log({ loss: s }, { step: s });
      run.setTags({ stage: 'after' });
      await run.logArtifact(new TextEncoder().encode('live'), 'b.txt');
      await run.end();
      assert.deepEqual(states, ['offline', 'online']);

      const got = await stored(server.url, run.id);
      assert.equal(got.info.status, 'FINISHED');
      assert.deepEqual(got.params, { seed: '7' });
      assert.equal(got.tags.stage, 'after');
      assert.deepEqual(await steps(server.url, run.id, 'loss'), range(4000));
      assert.equal(await artifact(server.url, experiment.experiment_id, run.id, 'a.txt'), 'spooled');
      assert.equal(await artifact(server.url, experiment.experiment_id, run.id, 'b.txt'), 'live');
      assert.deepEqual(readdirSync(spoolDir), [], 'delivered in full: removed at end()');

      // On the wire: the run was created (once, under its id) before any of its batches was answered.
      const mine = proxy.requests.filter((r) => r.status !== undefined && r.body.toString().includes(run.id));
      assert.equal(mine[0].url, '/api/2.0/lablog/runs/create');
      assert.equal(mine.filter((r) => r.url === '/api/2.0/lablog/runs/create').length, 1);
      assert.equal(proxy.maxInFlightPerRun, 1);
    } finally {
      await proxy.close();
    }
  });

  test('sync keeps the file of a run whose id the server has under another experiment, and delivers the others', T, async () => {
    const server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    const spoolDir = tempDir();
    const lab = offlineLab(server.url, spoolDir, { mode: 'offline' });
    const clash = await lab.startRun({ experiment: 'exp-a' });
    clash.log({ m: 1 }, { step: 0 });
    await clash.end();
    const fine = await lab.startRun({ experiment: 'exp-b' });
    fine.log({ m: 2 }, { step: 0 });
    await fine.end();
    // The clashing id already exists elsewhere (made through lablog's runs/create in experiment 0).
    const made = await fetch(`${server.url}/api/2.0/lablog/runs/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run_id: clash.id }) });
    assert.equal(made.status, 200, await made.text());

    const r = await sync(spoolDir, server.url);
    assert.equal(r.code, 1);
    assert.equal(r.report.runs, 1);
    assert.equal(r.report.keptFiles, 1);
    assert.match(r.stderr, new RegExp(`run ${clash.id} could not be created .*RESOURCE_ALREADY_EXISTS`));
    assert.deepEqual(jsonl(spoolDir).map((f) => f.split('.')[0]), [clash.id]);
    assert.deepEqual(await steps(server.url, fine.id, 'm'), [0]);
    assert.deepEqual(await steps(server.url, clash.id, 'm'), [], 'nothing of the clashing run went into the other run');
  });
});
