// The server is down for a whole run: the SDK spools it, `lablog sync` delivers it exactly once.
//
// The run itself must exist before its points can be replayed (log-batch names a run id, and only the
// server makes run ids), so the run is created while the server is up; the server is then stopped before
// any point is logged, the whole run is logged and ended against the dead server (it all goes to the
// spool, the final status included), the server is restarted on the same data dir, and `lablog sync`
// (the compiled CLI, as a child process) replays the spool.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Lablog } from 'lablog-client';
import { openSpool, type SyncReport } from 'lablog-client/node';
import { api, cleanup, CLI_JS, runToExit, startLablog, stop, tempDir } from '../support/lablog-process.js';

after(cleanup);

type Server = Awaited<ReturnType<typeof startLablog>>;

async function sync(dir: string, url: string): Promise<{ code: number | null; report: SyncReport; stderr: string }> {
  const r = await runToExit(['sync', dir, '--url', url, '--json'], { script: CLI_JS });
  const line = r.lines.find((l) => typeof l.files === 'number');
  assert.ok(line, `no JSON report from lablog sync (exit ${r.code}); stderr: ${r.stderr}; stdout: ${JSON.stringify(r.lines)}`);
  return { code: r.code, report: line as unknown as SyncReport, stderr: r.stderr };
}

/** Every step of `key` in the run, sorted: must be 0..n-1, each exactly once. */
async function steps(url: string, runId: string, key: string): Promise<number[]> {
  const r = await api(url, `metrics/get-history?run_id=${runId}&metric_key=${key}&max_results=25000`);
  assert.equal(r.status, 200, r.text);
  return (r.json.metrics ?? []).map((m: { step: number }) => m.step).sort((a: number, b: number) => a - b);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const spoolFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.jsonl'));

describe('offline spool and lablog sync', () => {
  test('a run logged while the server is down is spooled, then synced exactly once', async () => {
    const dataDir = tempDir();
    const spoolDir = tempDir();
    let server: Server = await startLablog(['--port', '0', '--data-dir', dataDir]);
    const lab = new Lablog({ url: server.url, offlineAfterMs: 300, flushIntervalMs: 50, spoolDir, handleExit: false, captureSource: false });
    const offline: string[] = [];
    lab.on('error', () => undefined).on('offline', (run) => offline.push(run.id));
    const run = await lab.startRun({ experiment: 'spool-test', name: 'offline-run' });
    await stop(server);

    const N = 5000;
    run.logParams({ lr: 0.1, layers: 3 });
    for (let step = 0; step < N; step++) run.log({ loss: 1 / (step + 1), acc: step / N }, { step });
    run.setTags({ phase: 'offline' });
    await run.end('FINISHED');
    assert.deepEqual(offline, [run.id], 'the run went offline');

    const files = spoolFiles(spoolDir);
    assert.equal(files.length, 1, `one spool file: ${readdirSync(spoolDir)}`);
    const file = path.join(spoolDir, files[0]);
    assert.ok(files[0].startsWith(`${run.id}.${process.pid}.`), files[0]);
    // A crash in the middle of an append leaves a torn last line: it must be ignored.
    appendFileSync(file, `{"runId":"${run.id}","idempotencyKey":"torn","body":{"run_id":"${run.id}","metrics":[{"key":"loss","val`);
    const original = readFileSync(file);

    server = await startLablog(['--port', '0', '--data-dir', dataDir]);
    const first = await sync(spoolDir, server.url);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.report.files, 1);
    assert.equal(first.report.points, 2 * N);
    assert.equal(first.report.replayed, 0);
    assert.equal(first.report.updates, 1, 'the final status was spooled and replayed');
    assert.equal(first.report.skippedLines, 1, 'the torn line');
    assert.equal(first.report.rejected, 0);
    assert.deepEqual(readdirSync(spoolDir), [], 'a fully synced file is removed, with its progress file');

    assert.deepEqual(await steps(server.url, run.id, 'loss'), range(N));
    assert.deepEqual(await steps(server.url, run.id, 'acc'), range(N));
    const got = await api(server.url, `runs/get?run_id=${run.id}`);
    assert.equal(got.json.run.info.status, 'FINISHED');
    assert.ok(got.json.run.info.end_time > 0);
    const params = Object.fromEntries(got.json.run.data.params.map((p: { key: string; value: string }) => [p.key, p.value]));
    assert.deepEqual(params, { lr: '0.1', layers: '3' });
    assert.ok(got.json.run.data.tags.some((t: { key: string; value: string }) => t.key === 'phase' && t.value === 'offline'));

    // Running sync again finds nothing to do.
    const again = await sync(spoolDir, server.url);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual({ ...again.report, errors: undefined }, { files: 0, batches: 0, points: 0, runs: 0, artifacts: 0, replayed: 0, updates: 0, rejected: 0, skippedLines: 0, keptFiles: 0, errors: undefined });

    // The same file once more (as if its progress had been lost): every batch is answered as already
    // there by its Idempotency-Key, and nothing is written twice.
    writeFileSync(file, original);
    const replay = await sync(spoolDir, server.url);
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(replay.report.batches, 0);
    assert.equal(replay.report.points, 0);
    assert.equal(replay.report.replayed, first.report.batches);
    assert.deepEqual(await steps(server.url, run.id, 'loss'), range(N));
    assert.deepEqual(await steps(server.url, run.id, 'acc'), range(N));
    assert.equal(existsSync(file), false);
    await stop(server);
  });

  test('lab.sync(): a refused entry is set aside, an unknown run keeps its file, a half-synced file resumes', async () => {
    const dataDir = tempDir();
    const spoolDir = tempDir();
    const server: Server = await startLablog(['--port', '0', '--data-dir', dataDir]);
    const lab = new Lablog({ url: server.url, handleExit: false, captureSource: false });
    lab.on('error', () => undefined);
    const run = await lab.startRun({ name: 'direct-spool' });
    await run.end();
    const batch = (step: number) => ({ run_id: run.id, metrics: [{ key: 'm', value: step, timestamp: 1000 + step, step }] });

    const spool = openSpool(spoolDir, run.id);
    spool.append({ runId: run.id, idempotencyKey: 'k0', body: batch(0) });
    spool.append({ runId: run.id, idempotencyKey: 'bad', body: { run_id: run.id, params: [{ key: 'x'.repeat(300), value: '1' }] } });
    spool.append({ runId: run.id, idempotencyKey: 'k1', body: batch(1) });
    spool.close();
    const ghost = openSpool(spoolDir, 'f'.repeat(32));
    ghost.append({ runId: 'f'.repeat(32), idempotencyKey: 'g0', body: { run_id: 'f'.repeat(32), metrics: [] } });
    ghost.close();

    const report = await lab.sync(spoolDir);
    assert.equal(report.files, 2);
    assert.equal(report.batches, 2);
    assert.equal(report.points, 2);
    assert.equal(report.rejected, 1);
    assert.equal(report.keptFiles, 1);
    assert.equal((report.errors as string[]).length, 2, String(report.errors));
    assert.deepEqual(await steps(server.url, run.id, 'm'), [0, 1]);
    const left = readdirSync(spoolDir).sort();
    assert.deepEqual(left, [path.basename(ghost.path), `${path.basename(spool.path)}.rejected`].sort());
    assert.match(readFileSync(path.join(spoolDir, `${path.basename(spool.path)}.rejected`), 'utf8'), /"idempotencyKey":"bad"/);

    // A spool still being written (open here) is delivered so far and kept; later lines follow next time.
    const live = openSpool(spoolDir, run.id);
    live.append({ runId: run.id, idempotencyKey: 'k2', body: batch(2) });
    const part = await lab.sync(spoolDir);
    assert.equal(part.points, 1);
    assert.ok(existsSync(live.path), 'an open spool is not removed');
    live.append({ runId: run.id, idempotencyKey: 'k3', body: batch(3) });
    live.close();
    const rest = await lab.sync(spoolDir);
    assert.equal(rest.points, 1, 'only the new line is sent');
    assert.equal(rest.replayed, 0);
    assert.equal(existsSync(live.path), false);
    assert.deepEqual(await steps(server.url, run.id, 'm'), [0, 1, 2, 3]);
    await stop(server);
  });
});
