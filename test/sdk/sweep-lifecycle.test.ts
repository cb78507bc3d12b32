import assert from 'node:assert/strict';
import { after, describe, it, mock } from 'node:test';
import { Lablog, LablogApiError, TrialStoppedError, type LablogOptions, type Run } from 'lablog-client';
import { manualClock } from '../api/api.helpers.js';
import { SWEEPS } from '../api/sweeps.helpers.js';
import { cleanup } from '../support/lablog-process.js';
import { servedApp, testLablog } from './sdk.helpers.js';

// A trial's life as the agent runs it, against a real app over a real socket whose clock the test moves:
// heartbeats that keep it alive, a server that gave the trial up, transient network failures, a stop
// honoured with an AbortError, an agent told to stop, and attachRun on runs that are not RUNNING.

const T = { timeout: 30_000 };
const clock = manualClock();
const served = servedApp({ now: clock.now });
after(cleanup); // the spool dirs
const lab = (opts: LablogOptions = {}): Lablog => testLablog(served.url, opts);

/**
 * A fetch that can answer 503 in the server's place (a proxy in front of a restarting server; the
 * transport's own immediate re-sends of reads do not ride that out) and reports sweep answers for
 * tests to wait on.
 */
function testFetch(opts: { unavailable?: (url: string) => boolean; dropAnswer?: (url: string) => boolean } = {}) {
  const waiters: { pred: (route: string, body: any) => boolean; resolve: () => void }[] = [];
  const f: typeof fetch = async (input, init) => {
    if (opts.unavailable?.(String(input))) {
      return new Response(JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'restarting' }), { status: 503, headers: { 'content-type': 'application/json' } });
    }
    const res = await fetch(input, init);
    // The server applied the request; the connection drops before its answer arrives.
    if (opts.dropAnswer?.(String(input))) throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
    const route = /\/lablog\/sweeps\/[^/]+\/(next|heartbeat|should-stop)(?:\?|$)/.exec(String(input))?.[1];
    if (route && res.ok) {
      const body = await res.clone().json();
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred(route, body)) waiters.splice(i, 1)[0].resolve();
    }
    return res;
  };
  return { fetch: f, answer: (pred: (route: string, body: any) => boolean) => new Promise<void>((resolve) => waiters.push({ pred, resolve })) };
}

async function runInfo(runId: string) {
  const res = await served.app.get('runs/get', { run_id: runId });
  assert.equal(res.status, 200, res.body);
  return res.json.run as { info: { status: string; end_time?: number }; data: { metrics?: { key: string }[] } };
}

const space = { x: { distribution: 'uniform', min: 0, max: 1 } } as const;
const base = { experiment: 'sdk-sweep-lifecycle', method: 'random', metric: { name: 'loss' }, parameters: space } as const;

describe('sweep.agent: a trial from start to end', () => {
  it('heartbeats at least three times per heartbeat timeout by default, so a live trial is not timed out', T, async () => {
    const watch = testFetch();
    let beatsSent = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/heartbeat')) beatsSent++;
      return watch.fetch(input, init);
    };
    // A few turns of the event loop with no I/O in them: enough for the agent to settle what it has
    // in hand (send a beat on a tick, note the last beat's answer) but not to wait on the network.
    const settle = async () => {
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    };
    const sweep = await lab({ fetch: counting }).sweep({ ...base, name: 'beats', heartbeatTimeoutMs: 1500 });
    // The agent's intervals run on a mocked clock, so the test sees exactly when it beats: once per
    // third of the timeout. The default interval (30 s) would be 20 times the timeout.
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const summary = await sweep.agent(
        async (params, run) => {
          for (let beat = 1; beat <= 3; beat++) {
            const answered = watch.answer((route, body) => route === 'heartbeat' && body.trial.run_id === run.id);
            mock.timers.tick(1500 / 3);
            await settle();
            assert.equal(beatsSent, beat, `a beat after ${(beat * 1500) / 3} ms of a 1500 ms timeout`);
            await answered;
            // The agent skips a beat while the last one is in flight; its answer is read by now.
            await settle();
          }
          return params.x;
        },
        { count: 1 },
      );
      assert.deepEqual(summary, { trials: 1, stopped: 0, failed: 0 });
    } finally {
      mock.timers.reset();
    }
  });

  it('a trial the server timed out keeps its run FAILED, counts as failed, and does not make the agent give up', T, async () => {
    const errors: { err: Error; run?: Run }[] = [];
    const l = lab().on('error', (err, run) => errors.push({ err, run }));
    const sweep = await l.sweep({ ...base, name: 'timed-out' });
    const timeout = sweep.last.config.heartbeat_timeout_ms;
    const stopped: (string | undefined)[] = [];
    const summary = await sweep.agent(
      async (params, run, trial) => {
        if (trial.number < 4) {
          // The worker "slept" past the timeout; the next read of the sweep fails the trial and its run.
          clock.advance(timeout + 1000);
          assert.equal((await served.app.get(`${SWEEPS}/${sweep.id}`)).status, 200);
          assert.equal((await runInfo(run.id)).info.status, 'FAILED');
          // Trials 1 and 3 ask should-stop, which answers true; 0 and 2 return without asking.
          if (trial.number % 2 === 1) {
            assert.equal(await trial.shouldStop(), true);
            assert.equal(trial.signal.aborted, true);
            stopped.push(trial.stopReason);
          }
        }
        return params.x;
      },
      { count: 5 },
    );
    // Four lost trials: failed, but not the code's fault, so the agent went on to the fifth.
    assert.deepEqual(summary, { trials: 5, stopped: 0, failed: 4 });
    assert.ok(stopped.every((r) => r?.includes('FAILED')), String(stopped));
    const trials = (await served.app.get(`${SWEEPS}/${sweep.id}/trials`)).json.trials as { run_id: string; status: string; stop_reason?: string }[];
    assert.deepEqual(trials.map((x) => x.status), ['FAILED', 'FAILED', 'FAILED', 'FAILED', 'COMPLETED']);
    for (const x of trials.slice(0, 4)) {
      assert.match(x.stop_reason ?? '', /heartbeat/);
      const run = await runInfo(x.run_id);
      assert.equal(run.info.status, 'FAILED', 'not overwritten with FINISHED');
      assert.equal((run.data.metrics ?? []).length, 0, 'no objective logged to a trial the server gave up');
    }
    assert.equal((await runInfo(trials[4].run_id)).info.status, 'FINISHED');
    assert.equal(errors.length, 4);
    assert.ok(errors.every((e) => /failed by the server/.test(e.err.message) && e.run !== undefined), errors.map((e) => e.err.message).join('\n'));
  });

  it('a heartbeat that finds the trial failed (its run ended elsewhere) aborts the signal; the run keeps its KILLED', T, async () => {
    const sweep = await lab().sweep({ ...base, name: 'killed-elsewhere' });
    const seen: unknown[] = [];
    const summary = await sweep.agent(
      async (_params, run, trial) => {
        assert.equal((await served.app.post('runs/update', { run_id: run.id, status: 'KILLED', end_time: clock.ms })).status, 200);
        if (!trial.signal.aborted) await new Promise((resolve) => trial.signal.addEventListener('abort', resolve));
        seen.push(trial.signal.reason, trial.stopped, trial.failedByServer);
        trial.signal.throwIfAborted();
      },
      { count: 1, heartbeatMs: 20 },
    );
    assert.ok(seen[0] instanceof TrialStoppedError);
    assert.deepEqual(seen.slice(1), [true, true]);
    assert.deepEqual(summary, { trials: 1, stopped: 0, failed: 1 });
    const [trial] = (await served.app.get(`${SWEEPS}/${sweep.id}/trials`)).json.trials;
    assert.equal(trial.status, 'FAILED');
    assert.equal((await runInfo(trial.run_id)).info.status, 'KILLED');
  });

  it('rides out a restarting server: attach by id, the experiment lookup, attaching the trial run, logging the objective', T, async () => {
    const control = await lab().sweep({ ...base, name: 'flaky' });
    // Every first try of these requests is answered 503.
    const tried = new Set<string>();
    const failOnce = (key: string) => (tried.has(key) ? false : (tried.add(key), true));
    let runGets = 0;
    const flaky = testFetch({
      unavailable: (u) => {
        const p = new URL(u).pathname;
        if (p === `${SWEEPS}/${control.id}`) return failOnce('attach');
        if (p.endsWith('/experiments/get-by-name')) return failOnce('experiment');
        if (p.endsWith('/runs/get')) return ++runGets % 2 === 1; // the first try of each
        return false;
      },
    });
    const byId = await lab({ fetch: flaky.fetch }).sweep(control.id);
    const byConfig = await lab({ fetch: flaky.fetch }).sweep({ ...base, name: 'flaky' });
    assert.deepEqual([byId.id, byConfig.id], [control.id, control.id]);
    assert.deepEqual([...tried].sort(), ['attach', 'experiment']);
    const summary = await byConfig.agent((params) => params.x, { count: 2 });
    assert.deepEqual(summary, { trials: 2, stopped: 0, failed: 0 });
    assert.equal(runGets, 8, 'attach and objective of each trial: a 503, then the retry');
    const trials = (await served.app.get(`${SWEEPS}/${control.id}/trials`)).json.trials as { status: string; value: number; params: { x: number } }[];
    assert.deepEqual(trials.map((x) => x.status), ['COMPLETED', 'COMPLETED']);
    for (const x of trials) assert.equal(x.value, x.params.x);
  });

  it('a create whose answer was lost is sent again and attaches: one sweep, however many workers retry', T, async () => {
    let dropped = 0;
    const lossy = testFetch({ dropAnswer: (u) => u.endsWith(`${SWEEPS}/create`) && dropped++ < 2 });
    const [a, b] = await Promise.all([lab({ fetch: lossy.fetch }).sweep({ ...base, name: 'lost-create' }), lab({ fetch: lossy.fetch }).sweep({ ...base, name: 'lost-create' })]);
    assert.equal(dropped, 4, 'both workers lost their first answer and sent again');
    assert.equal(a.id, b.id);
    const experimentId = (await served.app.get('experiments/get-by-name', { experiment_name: base.experiment })).json.experiment.experiment_id;
    const { sweeps } = (await served.app.get(`${SWEEPS}/list`, { experiment_id: experimentId })).json;
    assert.equal(sweeps.filter((x: { name: string }) => x.name === 'lost-create').length, 1);
  });

  it('an AbortError thrown after a stop honours it; a thrown non-Error is rethrown as an Error after 3 in a row', T, async () => {
    const control = await lab().sweep({ ...base, name: 'abort-error' });
    const summary = await (await lab().sweep(control.id)).agent(
      async (_params, _run, trial) => {
        await control.stop();
        assert.equal(await trial.shouldStop(), true);
        assert.match(trial.stopReason ?? '', /stopped/);
        // As a library that takes the signal but drops its reason would throw.
        throw new DOMException('This operation was aborted', 'AbortError');
      },
      { count: 1 },
    );
    assert.deepEqual(summary, { trials: 1, stopped: 1, failed: 0 });
    const [trial] = (await served.app.get(`${SWEEPS}/${control.id}/trials`)).json.trials;
    assert.equal(trial.status, 'STOPPED');
    assert.equal((await runInfo(trial.run_id)).info.status, 'FINISHED');

    const broken = await lab().on('error', () => {}).sweep({ ...base, name: 'throws-strings' });
    let calls = 0;
    await assert.rejects(
      broken.agent(() => {
        calls++;
        throw `broken ${calls}`;
      }),
      (err: unknown) => err instanceof Error && err.message === 'trial 2: broken 3',
    );
  });

  it('opts.signal ends the wait on a paused sweep at once, and no trial is asked for after it aborted', T, async () => {
    const control = await lab().sweep({ ...base, name: 'agent-signal' });
    await control.pause();
    const watch = testFetch();
    const stop = new AbortController();
    const asked = watch.answer((route, body) => route === 'next' && body.retry_after_ms !== undefined);
    const agent = (await lab({ fetch: watch.fetch }).sweep(control.id)).agent((p) => p.x as number, { signal: stop.signal });
    await asked;
    stop.abort();
    assert.deepEqual(await agent, { trials: 0, stopped: 0, failed: 0 });
    await control.resume();
    assert.deepEqual(await control.agent((p) => p.x, { signal: stop.signal }), { trials: 0, stopped: 0, failed: 0 });
    assert.deepEqual(await control.trials(), []);
  });
});

describe('lab.attachRun', () => {
  it('attaches to a RUNNING run; refuses an ended or deleted one and leaves it as it was', T, async () => {
    const create = async () => (await served.app.post('runs/create', { experiment_id: '0', start_time: clock.ms })).json.run.info.run_id as string;
    const running = await create();
    const run = await lab().attachRun(running);
    run.log({ a: 1 }, { step: 0 });
    await run.end();
    assert.equal((await runInfo(running)).info.status, 'FINISHED');

    const finished = await create();
    assert.equal((await served.app.post('runs/update', { run_id: finished, status: 'FINISHED', end_time: 1234 })).status, 200);
    await assert.rejects(lab().attachRun(finished), (e: unknown) => e instanceof LablogApiError && e.errorCode === 'INVALID_PARAMETER_VALUE' && /FINISHED/.test(e.message));
    assert.deepEqual([(await runInfo(finished)).info.status, (await runInfo(finished)).info.end_time], ['FINISHED', 1234]);

    const deleted = await create();
    assert.equal((await served.app.post('runs/delete', { run_id: deleted })).status, 200);
    await assert.rejects(lab().attachRun(deleted), (e: unknown) => e instanceof LablogApiError && /deleted/.test(e.message));
  });
});
