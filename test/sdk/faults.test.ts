import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Lablog, type Run } from 'lablog-client';
import { cleanup, startLablog, tempDir } from '../support/lablog-process.js';
import { type CountingProxy, type Fault, startProxy } from './counting-proxy.js';
import { assertExactlyOnce, assertFifo, assertRetriesResendSameBody, value, yieldToLoop } from './delivery.helpers.js';
import { FAULTS, faultPlan, type FaultPlan } from './fault-plan.js';
import { kv, mlflowGet, until } from './sdk.helpers.js';

// The SDK under a hostile network and a restarting server. A proxy in front of a real lablog process
// injects faults by request number from a seeded PRNG (resets before the server sees a request, hangs
// the client's timeout has to end, answers lost or cut off after the server wrote, bursts of 503), and
// the server is killed with SIGKILL and restarted at fixed request numbers. Whatever happens, every point
// is stored exactly once, in one run. Nothing asserts a duration: the faults come by count, and the
// tests wait for events.

after(cleanup);

const T = { timeout: 300_000 };
const KEYS = ['loss', 'acc'];
const STEPS = 4000;

type Server = Awaited<ReturnType<typeof startLablog>>;

/** A lablog process on a fixed port that can be killed and restarted on the same data dir. */
async function restartableServer() {
  const dir = tempDir();
  let server: Server = await startLablog(['--port', '0', '--data-dir', dir]);
  const port = new URL(server.url).port;
  let restarting: Promise<void> = Promise.resolve();
  let restarts = 0;
  return {
    get url() {
      return server.url;
    },
    get restarts() {
      return restarts;
    },
    /** SIGKILL now, then a new process on the same port and data (the proxy meets a dead port meanwhile). */
    restart(): Promise<void> {
      restarting = restarting.then(async () => {
        server.child.kill('SIGKILL');
        assert.equal((await server.exited).signal, 'SIGKILL');
        server = await startLablog(['--port', port, '--data-dir', dir]);
        restarts++;
      });
      return restarting;
    },
    settled: () => restarting,
  };
}

/** Faults from `plan` by request number, and a server restart when the request numbered in `restartAt` arrives. */
function injectFaults(proxy: CountingProxy, plan: FaultPlan, restartAt: number[], restart: () => Promise<void>): void {
  proxy.fault = (req) => {
    if (restartAt.includes(req.index)) void restart();
    return plan.at(req.index);
  };
}

/** Logs steps [from, to) of KEYS, flushing every 40 steps so that a run makes a few hundred requests. */
async function logSteps(run: Run, from = 0, to = STEPS): Promise<void> {
  for (let s = from; s < to; s++) {
    run.log(Object.fromEntries(KEYS.map((key, k) => [key, value(k, s)])), { step: s });
    if (s % 40 === 39) {
      await yieldToLoop();
      await run.flush();
    }
  }
}

/** A Lablog whose errors are collected (none is expected: every fault here is one to ride out). */
function lab(url: string, extra: { offlineAfterMs: number; spoolDir: string }): { l: Lablog; errors: string[] } {
  // A short request timeout: a hung request costs a fraction of a second, not thirty (a slow answer timed out is
  // retried under its key like any other: exactly once still holds).
  const l = new Lablog({ url, handleExit: false, captureSource: false, requestTimeoutMs: 300, flushIntervalMs: 20, ...extra });
  const errors: string[] = [];
  l.on('error', (err) => errors.push(err.message));
  return { l, errors };
}

/** The faults the proxy actually injected, by kind. */
function injected(proxy: CountingProxy): Map<Fault, number> {
  const out = new Map<Fault, number>();
  for (const r of proxy.requests) if (r.fault !== undefined) out.set(r.fault, (out.get(r.fault) ?? 0) + 1);
  return out;
}

async function assertOneRun(url: string, experiment: string, runId: string, params: Record<string, string>, tags: Record<string, string>): Promise<void> {
  const { experiment: e } = await mlflowGet(url, 'experiments/get-by-name', { experiment_name: experiment });
  const res = await fetch(`${url}/api/2.0/mlflow/runs/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment_ids: [e.experiment_id] }) });
  const runs = (await res.json()).runs as { info: { run_id: string; status: string }; data: { params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] } }[];
  assert.deepEqual(runs.map((r) => r.info.run_id), [runId], 'one run, however often its creation was retried');
  assert.equal(runs[0].info.status, 'FINISHED');
  assert.deepEqual(kv(runs[0].data.params), params);
  const stored = kv(runs[0].data.tags);
  for (const [k, v] of Object.entries(tags)) assert.equal(stored[k], v, `tag ${k}`);
}

describe('lablog-client under injected faults', () => {
  it('seeded resets, hangs, lost and cut-off answers, 503 bursts and two SIGKILL restarts: every point exactly once', T, async () => {
    const plan = faultPlan(20240611, 0.25, 4);
    // The plan is fixed by its seed: its first 100 requests hold every kind of fault (checked, not hoped).
    assert.deepEqual([...new Set(Array.from({ length: 100 }, (_, i) => plan.at(i)).filter((f) => f !== undefined))].sort(), [...FAULTS].sort());
    const server = await restartableServer();
    const proxy = await startProxy(server.url);
    injectFaults(proxy, plan, [40, 85], () => server.restart());
    try {
      const spoolDir = path.join(tempDir(), 'spool');
      const { l, errors } = lab(proxy.url, { offlineAfterMs: 60_000, spoolDir });
      const run = await l.startRun({ experiment: 'faults', params: { lr: 0.1, seed: 7 }, tags: { chaos: 'on' } });
      await logSteps(run);
      run.setTags({ phase: 'done' });
      await run.end();
      await server.settled();

      assert.deepEqual(errors, []);
      assert.ok(proxy.requests.length >= 100, `${proxy.requests.length} requests: fewer than the plan's faults need`);
      assert.equal(server.restarts, 2);
      assert.deepEqual([...injected(proxy).keys()].sort(), [...FAULTS].sort(), 'every kind of fault was injected');
      assert.ok(proxy.requests.some((r) => r.failure === 'upstream'), 'requests met the killed server');
      await assertExactlyOnce(server.url, run.id, KEYS, STEPS);
      await assertOneRun(server.url, 'faults', run.id, { lr: '0.1', seed: '7' }, { chaos: 'on', phase: 'done' });
      const mine = proxy.logBatches().filter((r) => r.batch!.run_id === run.id);
      assert.ok(mine.some((r) => r.replayed), 'a batch the server had written was retried and answered as a replay');
      assert.ok(assertRetriesResendSameBody(mine) > 0);
      assert.equal(proxy.maxInFlightPerRun, 1);
      assertFifo(proxy, run.id);
      assert.ok(!existsSync(spoolDir) || readdirSync(spoolDir).length === 0, 'nothing left in a spool');
    } finally {
      await proxy.close();
    }
  });

  it('starts offline, then faults, then an outage long enough to spool: replayed through the faults, exactly once', T, async () => {
    const plan = faultPlan(777, 0.15);
    const server = await restartableServer();
    const proxy = await startProxy(server.url);
    proxy.mode = 'down';
    try {
      const spoolDir = path.join(tempDir(), 'spool');
      const states: string[] = [];
      const { l, errors } = lab(proxy.url, { offlineAfterMs: 300, spoolDir });
      l.on('offline', () => states.push('offline')).on('online', () => states.push('online'));
      const run = await l.startRun({ experiment: 'faults-offline', params: { depth: 4 } });
      assert.deepEqual(states, ['offline'], 'the server could not be reached: the run started in the spool');
      // The network comes back, faulty (the run may flap offline and back under it). At step 2,000, once
      // the run is live, the server dies and stays down until the run has gone offline, then comes back.
      injectFaults(proxy, plan, [], () => server.restart());
      proxy.mode = 'pass';
      await logSteps(run, 0, 1500);
      await until(() => !run.offline, 'the run to replay its spool and go live');
      const offlineBefore = states.filter((s) => s === 'offline').length;
      proxy.mode = 'down';
      await logSteps(run, 1500, 2500); // each flush resolves once its batch is spooled
      assert.ok(states.filter((s) => s === 'offline').length > offlineBefore, 'the run went offline again');
      await server.restart();
      proxy.mode = 'pass';
      await logSteps(run, 2500, STEPS);
      await run.end();
      assert.deepEqual(errors, []);
      assert.deepEqual(states.slice(0, 2), ['offline', 'online']);
      assert.ok(states.filter((s) => s === 'offline').length >= 2, states.join(' '));
      assert.ok(injected(proxy).size >= 3, `faults injected: ${[...injected(proxy).entries()]}`);
      // The run ends live (everything replayed, its spool removed), or, when its last replay met more
      // faults than it retries, with the spool closed for `lablog sync`: run it (faults off) before checking.
      proxy.fault = () => undefined;
      const left = existsSync(spoolDir) ? readdirSync(spoolDir) : [];
      if (left.length > 0) await l.sync(spoolDir);
      await assertExactlyOnce(server.url, run.id, KEYS, STEPS);
      await assertOneRun(server.url, 'faults-offline', run.id, { depth: '4' }, {});
      const creates = proxy.requests.filter((r) => r.url === '/api/2.0/lablog/runs/create' && r.status === 200);
      assert.equal(creates.filter((r) => !r.replayed).length, 1, 'created once');
      assert.equal(proxy.maxInFlightPerRun, 1);
      assertFifo(proxy, run.id);
    } finally {
      await proxy.close();
    }
  });
});
