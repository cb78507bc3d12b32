// "Writers do not wait on readers", as properties of event-loop order rather than of time: a read is
// cut into units that wait for their turn, and a write that arrives is served before the next unit.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { after, before, describe, test } from 'node:test';
import { PIECE_POINTS } from '../../server/api/metric-stream.js';
import { READ_BUDGET_MS, Reader } from '../../server/read-turns.js';
import { buildTestApp, listen, seedRun, type TestApp } from '../helper.js';
import { seedLongHistory } from './reliability.helpers.js';

const API = '/api/2.0/mlflow';

describe('writers do not wait on readers', () => {
  let t: TestApp;
  let port = 0;
  let runId = '';
  // One keep-alive connection, opened before any read starts: a training script's.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let step = 0;

  /** One runs/log-metric over the kept-alive connection; resolves with the answer's status. */
  const logMetric = () =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ run_id: runId, key: 'train_loss', value: step, timestamp: 1000 + step, step: step++ });
      const req = http.request({ host: '127.0.0.1', port, path: `${API}/runs/log-metric`, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });

  before(async () => {
    t = await buildTestApp();
    port = await listen(t);
    runId = (await seedRun(t, { experiment: 'writers-wait' })).runId;
    assert.equal(await logMetric(), 200);
  });
  after(async () => {
    agent.destroy();
    await t.close();
  });

  test('a log-metric is answered after at most a few read units, however many are queued', async () => {
    // Units that each outlast the per-turn read budget: exactly one can run per event-loop turn.
    let done = 0;
    const unit = () => {
      const end = performance.now() + READ_BUDGET_MS + 2;
      while (performance.now() < end);
      done++;
    };
    const readers = Array.from({ length: 3 }, async () => {
      const r = new Reader();
      for (let i = 0; i < 10; i++) await r.run(unit);
    });
    assert.equal(await logMetric(), 200);
    const unitsBeforeAnswer = done;
    await Promise.all(readers);
    assert.equal(done, 30);
    // The request is read in the turn after the first unit, answered in that turn, and its answer
    // read in the next: two units, four with slack. Were the units run back to back, all 30 would.
    assert.ok(unitsBeforeAnswer <= 4, `${unitsBeforeAnswer} read units ran before the write was answered`);
    const stored = await t.get('metrics/get-history', { run_id: runId, metric_key: 'train_loss' });
    assert.equal(stored.json.metrics.length, step, 'every log-metric was stored');
  });

  test('a history read by a fast client on another thread is written a few pieces per turn: log-metric calls are answered all along', async () => {
    const { runId: readRun } = await seedRun(t, { experiment: 'writers-wait', runName: 'long' });
    const n = 40 * PIECE_POINTS;
    await seedLongHistory(t, readRun, 'loss', n);
    // The server's side of the history's connection (the log-metric one is already open): how much of
    // the answer the server has written, read each time a log-metric is answered.
    const opened: Socket[] = [];
    const onConnection = (s: Socket) => opened.push(s);
    t.app.server.on('connection', onConnection);
    let ended: { status: number; steps: number } | null = null;
    const client = new Worker(new URL('./history-client.worker.js', import.meta.url), {
      workerData: { port, path: `${API}/metrics/get-history?run_id=${readRun}&metric_key=loss` },
    });
    const done = new Promise<void>((resolve, reject) => {
      client.on('message', (m: { type: string; status: number; steps: number }) => {
        if (m.type !== 'end') return;
        ended = m;
        resolve();
      });
      client.on('error', reject);
    });
    // A training script logging one metric after another for as long as the history is read.
    const written: number[] = [];
    while (ended === null) {
      assert.equal(await logMetric(), 200);
      written.push(opened[0]?.bytesWritten ?? 0);
    }
    await done;
    await client.terminate();
    t.app.server.off('connection', onConnection);
    const end = ended as { status: number; steps: number } | null;
    assert.equal(end?.status, 200);
    assert.equal(end?.steps, n, 'the whole history arrived');
    const total = opened[0].bytesWritten;
    const piece = total / (n / PIECE_POINTS);
    let most = 0;
    for (let i = 1; i < written.length; i++) most = Math.max(most, written[i] - written[i - 1]);
    const during = written.filter((w) => w > 0 && w < total).length;
    // A piece waits for a read turn and the JSON worker, each answer takes two turns: a few pieces at
    // most between two answers. Written in one go, the history would land between two answers whole.
    assert.ok(most <= 8 * piece, `${(most / piece).toFixed(1)} pieces of ${n / PIECE_POINTS} written between two log-metric answers`);
    assert.ok(during >= 10, `only ${during} log-metric answers while the history was being written`);
  });
});
