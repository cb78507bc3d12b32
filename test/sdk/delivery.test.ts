import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Lablog, LablogApiError, LablogTimeoutError, type LablogOptions } from 'lablog-client';
import { startLablog, tempDir } from '../support/lablog-process.js';
import { type CountingProxy, limitViolations, startProxy } from './counting-proxy.js';
import { assertExactlyOnce, assertFifo, assertRetriesResendSameBody, logSteps, value } from './delivery.helpers.js';
import { kv, lablogBehindProxy, metricHistory, mlflowGet, runStatus, testLablog, until } from './sdk.helpers.js';

// Delivery guarantees against a real lablog process: every point exactly once, through lost answers,
// 5xx, a server killed with SIGKILL and restarted, and an outage long enough to spool; every request
// within MLflow's limits, one in flight per run, in order. Nothing waits on a guessed duration: the
// tests wait for events (requests seen by the proxy, the SDK's offline/online events) with generous bounds.

const T = { timeout: 300_000 };
const env = lablogBehindProxy();
const lab = (p: CountingProxy, opts: LablogOptions = {}): Lablog => testLablog(p.url, opts);

describe('lablog-client delivery', () => {
  it('100,000 points arrive exactly once, in order, within the limits, one request in flight', T, async () => {
    const keys = ['loss', 'acc', 'lr', 'grad/norm'];
    const run = await lab(env.proxy).startRun({ experiment: 'sdk-100k' });
    await logSteps(run, keys, 0, 25_000);
    await run.end();
    await assertExactlyOnce(env.server.url, run.id, keys, 25_000);
    const batches = env.proxy.logBatches().filter((r) => r.batch!.run_id === run.id);
    assert.ok(batches.length >= 100, `${batches.length} requests for 100,000 points`);
    assert.deepEqual(limitViolations(env.proxy.requests), []);
    assert.equal(env.proxy.maxInFlightPerRun, 1);
    assertFifo(env.proxy, run.id);
  });

  it('lost answers and 5xx/429 are retried with the same Idempotency-Key: nothing is written twice', T, async () => {
    const p = await startProxy(env.server.url);
    let n = 0;
    p.deliverAnswer = (r) => !(r.batch && ++n % 3 === 0); // the server writes, the client never hears it
    let m = 0;
    p.intercept = (r) => (r.batch && ++m % 7 === 0 ? (m % 2 ? 503 : 429) : undefined);
    try {
      const keys = ['a', 'b'];
      const run = await lab(p).startRun({ experiment: 'sdk-lost-acks' });
      await logSteps(run, keys, 0, 10_000);
      await run.end();
      await assertExactlyOnce(env.server.url, run.id, keys, 10_000);
      const mine = p.logBatches().filter((r) => r.batch!.run_id === run.id);
      assert.ok(mine.some((r) => r.failure === 'dropped'), 'some answers were dropped');
      assert.ok(mine.some((r) => r.status === 503) && mine.some((r) => r.status === 429), '503 and 429 were answered');
      assert.ok(mine.some((r) => r.replayed), 'a retry of a written batch was answered as a replay');
      assert.ok(assertRetriesResendSameBody(mine) > 0, 'there were retries');
      assert.equal(p.maxInFlightPerRun, 1);
      assertFifo(p, run.id);
    } finally {
      await p.close();
    }
  });

  it('refused credentials (401) are reported once and the batches kept, not dropped', T, async () => {
    const p = await startProxy(env.server.url);
    try {
      let refused = 0;
      p.intercept = (r) => (r.batch && refused < 5 ? (refused++, 401) : undefined);
      const l = lab(p);
      const errors: Error[] = [];
      l.on('error', (err) => errors.push(err));
      const run = await l.startRun({ experiment: 'sdk-401' });
      await logSteps(run, ['w'], 0, 3000);
      await run.end();
      assert.equal(refused, 5);
      assert.equal(errors.length, 1);
      assert.equal((errors[0] as LablogApiError).errorCode, 'UNAUTHENTICATED');
      await assertExactlyOnce(env.server.url, run.id, ['w'], 3000);
    } finally {
      await p.close();
    }
  });

  it('the server is killed with SIGKILL and restarted mid-logging: after end() every point is there once', T, async () => {
    const dir = tempDir();
    let s = await startLablog(['--port', '0', '--data-dir', dir]);
    const port = new URL(s.url).port;
    const p = await startProxy(s.url);
    try {
      const keys = ['loss', 'acc'];
      const run = await lab(p, { offlineAfterMs: 600_000 }).startRun({ experiment: 'sdk-kill' });
      const acked = () => p.logBatches().filter((r) => r.status === 200).length;
      let killedAt = -1;
      let phase: 'up' | 'killed' | 'restarted' = 'up';
      await logSteps(run, keys, 0, 50_000, async (step) => {
        if (phase === 'up' && step >= 15_000) {
          await p.waitFor(() => acked() >= 10, 'ten acknowledged batches');
          killedAt = p.requests.length;
          s.child.kill('SIGKILL');
          assert.equal((await s.exited).signal, 'SIGKILL');
          phase = 'killed';
        } else if (phase === 'killed' && step >= 25_000) {
          // The SDK has met the dead server before it comes back.
          await p.waitFor(() => p.requests.slice(killedAt).some((r) => r.failure === 'upstream'), 'a request failing on the dead server');
          s = await startLablog(['--port', port, '--data-dir', dir]);
          phase = 'restarted';
        }
      });
      assert.equal(phase, 'restarted');
      await run.end();
      assert.equal(new URL(s.url).port, port);
      await assertExactlyOnce(s.url, run.id, keys, 50_000);
      assert.ok(p.requests.slice(killedAt).some((r) => r.failure === 'upstream'), 'requests failed while the server was down');
      assert.deepEqual(limitViolations(p.requests), []);
      assert.equal(p.maxInFlightPerRun, 1);
      assertFifo(p, run.id);
    } finally {
      await p.close();
    }
  });

  it('large params and tags are split by bytes as well as by count', T, async () => {
    const run = await lab(env.proxy).startRun({ experiment: 'sdk-split' });
    const params: Record<string, string> = {};
    for (let i = 0; i < 250; i++) params[`p${i}`] = `${i}:` + 'é'.repeat(5990); // ~12 kB of UTF-8 each
    run.logParams(params);
    const tags: Record<string, string> = {};
    for (let i = 0; i < 300; i++) tags[`t${i}`] = `${i}:` + '€'.repeat(4990); // ~15 kB each
    run.setTags(tags);
    const longKey = (i: number) => `k${i}`.padEnd(250, 'x');
    for (let s = 0; s < 600; s++) run.log({ [longKey(0)]: value(0, s), [longKey(1)]: value(1, s) }, { step: s });
    await run.end();

    const { data } = (await mlflowGet(env.server.url, 'runs/get', { run_id: run.id })).run;
    assert.deepEqual(kv(data.params), params);
    const storedTags = kv(data.tags);
    for (const [k, v] of Object.entries(tags)) assert.equal(storedTags[k], v);
    await assertExactlyOnce(env.server.url, run.id, [longKey(0), longKey(1)], 600);

    const mine = env.proxy.logBatches().filter((r) => r.batch!.run_id === run.id);
    assert.deepEqual(limitViolations(env.proxy.requests), []);
    const paramBatches = mine.filter((r) => (r.batch!.params?.length ?? 0) > 0);
    assert.ok(paramBatches.length >= 4, `250 params of 12 kB need at least 4 requests (got ${paramBatches.length})`);
    assert.ok(mine.some((r) => r.bytes > 900_000), 'requests are filled close to the byte limit');
  });

  it('an outage past offlineAfterMs goes to the spool; once the server answers the run replays it, in order, and goes live', T, async () => {
    const p = await startProxy(env.server.url);
    const spoolDir = path.join(tempDir(), 'spool');
    try {
      const l = lab(p, { offlineAfterMs: 500, flushIntervalMs: 100, spoolDir });
      const states: string[] = [];
      l.on('offline', () => states.push('offline')).on('online', () => states.push('online'));
      const run = await l.startRun({ experiment: 'sdk-offline' });
      const keys = ['x'];
      await logSteps(run, keys, 0, 1000);
      await run.flush();

      p.mode = 'down';
      await logSteps(run, keys, 1000, 3000);
      await assert.rejects(run.flush({ timeoutMs: 1 }), LablogTimeoutError);
      await run.flush(); // resolves once spooled
      assert.deepEqual(states, ['offline']);
      assert.equal(run.pendingPoints, 0);
      await logSteps(run, keys, 3000, 4000); // straight to the spool while offline
      await run.flush();
      const spooled = readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl'));
      assert.equal(spooled.length, 1, 'a spool file was written');
      assert.equal((await metricHistory(env.server.url, run.id, 'x')).length, 1000, 'only the part before the outage is on the server');

      p.mode = 'pass';
      await until(() => states.includes('online'), 'the online event (the probe reached the server, the spool was replayed)');
      // The spooled points are on the server before anything after them was sent live.
      assert.equal((await metricHistory(env.server.url, run.id, 'x')).length, 4000);
      await logSteps(run, keys, 4000, 5000);
      await run.end();
      assert.deepEqual(states, ['offline', 'online']);
      await assertExactlyOnce(env.server.url, run.id, keys, 5000);
      assertFifo(p, run.id);
      assert.equal(p.maxInFlightPerRun, 1);
      assert.deepEqual(readdirSync(spoolDir), [], 'a spool delivered in full is removed when the run ends');

      const again = await l.sync(spoolDir);
      assert.equal(again.files, 0);
      await assertExactlyOnce(env.server.url, run.id, keys, 5000);
    } finally {
      await p.close();
    }
  });

  it('while /health says the storage refuses writes, the probe does not replay the spool; once writable it does', T, async () => {
    const p = await startProxy(env.server.url);
    const spoolDir = path.join(tempDir(), 'spool');
    try {
      const l = lab(p, { offlineAfterMs: 300, flushIntervalMs: 100, spoolDir });
      const states: string[] = [];
      l.on('offline', () => states.push('offline')).on('online', () => states.push('online'));
      const run = await l.startRun({ experiment: 'sdk-disk-full' });
      p.mode = 'down';
      await logSteps(run, ['x'], 0, 500);
      await run.flush(); // resolves once spooled
      assert.deepEqual(states, ['offline']);

      // Back up, but on a full disk: /health answers 200 with what lablog's says then (README, Reliability).
      const full = { status: 'OK', storage: { writable: false, reason: 'the disk holding the data directory is full (ENOSPC)', free_bytes: 0 } };
      p.answer = (r) => (r.url === '/health' ? full : undefined);
      const from = p.requests.length;
      const probes = () => p.requests.slice(from).filter((r) => r.url === '/health').length;
      p.mode = 'pass';
      await p.waitFor(() => probes() >= 3, 'three health probes while the storage refuses writes');
      assert.equal(p.requests.slice(from).filter((r) => r.batch).length, 0, 'no replay into a server that would answer 503');
      assert.deepEqual(states, ['offline']);
      for (const r of p.requests.slice(from)) if (r.url === '/health') assert.match(String(r.headers.accept), /application\/json/, 'the probe asks for the JSON answer');

      p.answer = () => undefined;
      await until(() => states.includes('online'), 'the online event once /health says writable');
      await run.end();
      await assertExactlyOnce(env.server.url, run.id, ['x'], 500);
    } finally {
      await p.close();
    }
  });

  it('end() while the server is down spools the final status too; sync finishes the run', T, async () => {
    const p = await startProxy(env.server.url);
    const spoolDir = path.join(tempDir(), 'spool');
    try {
      const l = lab(p, { offlineAfterMs: 300, flushIntervalMs: 100, spoolDir });
      const run = await l.startRun({ experiment: 'sdk-offline-end' });
      p.mode = 'down';
      await logSteps(run, ['y'], 0, 2000);
      await run.end('KILLED');
      assert.equal((await metricHistory(env.server.url, run.id, 'y')).length, 0);
      p.mode = 'pass';
      await l.sync(spoolDir);
      await assertExactlyOnce(env.server.url, run.id, ['y'], 2000);
      assert.equal(await runStatus(env.server.url, run.id), 'KILLED');
    } finally {
      await p.close();
    }
  });

  it('end({ timeoutMs }) gives up waiting and spools what is left', T, async () => {
    const p = await startProxy(env.server.url);
    const spoolDir = path.join(tempDir(), 'spool');
    try {
      const l = lab(p, { offlineAfterMs: 600_000, spoolDir });
      const run = await l.startRun({ experiment: 'sdk-end-timeout' });
      p.mode = 'down';
      await logSteps(run, ['z'], 0, 1500);
      await run.end('KILLED', { timeoutMs: 200 });
      assert.equal(run.pendingPoints, 0);
      p.mode = 'pass';
      await l.sync(spoolDir);
      await assertExactlyOnce(env.server.url, run.id, ['z'], 1500);
      assert.equal(await runStatus(env.server.url, run.id), 'KILLED');
    } finally {
      await p.close();
    }
  });
});
