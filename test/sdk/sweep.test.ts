import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Lablog, LablogApiError, TrialStoppedError, type LablogOptions, type Run, type SweepConfig, type SweepJson, type SweepParams } from 'lablog-client';
import { kv, lablogProcess, metricHistory, mlflowGet, testLablog } from './sdk.helpers.js';

// lab.sweep() and sweep.agent() against a real lablog process: trials handed out, run, stopped early,
// failed, waited for, exactly as the server records them.

const T = { timeout: 120_000 };
const env = lablogProcess();
const lab = (opts: LablogOptions = {}): Lablog => testLablog(env.server.url, opts);
const get = (route: string, query: Record<string, string>) => mlflowGet(env.server.url, route, query);
const history = (runId: string, key: string) => metricHistory(env.server.url, runId, key);

/** A fetch that reports the sweep answers (next, heartbeat, should-stop) it passes on, for tests to wait on. */
function watchingFetch() {
  const waiters: { pred: (route: string, body: any) => boolean; resolve: () => void }[] = [];
  const f: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const route = /\/lablog\/sweeps\/[^/]+\/(next|heartbeat|should-stop)(?:\?|$)/.exec(String(input))?.[1];
    if (route && res.ok) {
      const body = await res.clone().json();
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].pred(route, body)) waiters.splice(i, 1)[0].resolve();
    }
    return res;
  };
  return {
    fetch: f,
    /** Resolves at the first answer (from now on) matching `pred`. */
    answer: (pred: (route: string, body: any) => boolean) => new Promise<void>((resolve) => waiters.push({ pred, resolve })),
  };
}

const base = { experiment: 'sdk-sweeps', metric: { name: 'loss', goal: 'minimize' } } as const;

describe('lab.sweep and sweep.agent', () => {
  it('create attaches when name and config match, fails when the config differs; attach by id', T, async () => {
    const config: SweepConfig = {
      ...base,
      name: 'attach',
      method: 'bayes',
      parameters: { lr: { distribution: 'log_uniform', min: 1e-4, max: 1 }, opt: { values: ['sgd', 'adam'] } },
      runCap: 5,
      earlyTerminate: { type: 'median', minIter: 2, minTrials: 3 },
      seed: 3,
      heartbeatTimeoutMs: 60_000,
      tpe: { nStartupTrials: 4, nEiCandidates: 8 },
    };
    const a = await lab().sweep(config);
    const b = await lab().sweep(config);
    assert.equal(b.id, a.id);
    assert.equal(a.name, 'attach');
    assert.equal(a.experimentId, (await get('experiments/get-by-name', { experiment_name: 'sdk-sweeps' })).experiment.experiment_id);
    // The camelCase config reached the server as the wire's snake_case.
    const wire = a.last.config;
    assert.equal(wire.method, 'bayes');
    assert.deepEqual(wire.metric, { name: 'loss', goal: 'minimize' });
    assert.equal(wire.run_cap, 5);
    assert.equal(wire.seed, 3);
    assert.equal(wire.heartbeat_timeout_ms, 60_000);
    assert.equal(wire.early_terminate?.type, 'median');
    assert.equal(wire.early_terminate?.min_iter, 2);
    assert.equal(wire.early_terminate?.min_trials, 3);
    assert.equal(wire.tpe?.n_startup_trials, 4);
    assert.equal(wire.tpe?.n_ei_candidates, 8);
    assert.deepEqual(Object.keys(wire.parameters), ['lr', 'opt']);
    assert.equal(a.last.status, 'RUNNING');

    const byId = await lab().sweep(a.id);
    assert.equal(byId.name, 'attach');
    assert.deepEqual(byId.last.config, a.last.config);
    assert.equal((await byId.info()).sweep_id, a.id);

    await assert.rejects(lab().sweep({ ...config, seed: 4 }), (e: unknown) => e instanceof LablogApiError && e.errorCode === 'RESOURCE_ALREADY_EXISTS');
    await assert.rejects(lab().sweep('987654'), (e: unknown) => e instanceof LablogApiError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST');
  });

  it('two agents at once run a grid to completion: every point exactly once, each run with its params and tags', T, async () => {
    const sweep = await lab().sweep({
      ...base,
      name: 'grid-two-agents',
      method: 'grid',
      metric: { name: 'score', goal: 'maximize' },
      parameters: { a: { values: [1, 2, 3] }, b: { values: ['x', 'y'] }, c: { value: 5 }, d: { distribution: 'int_uniform', min: 0, max: 1 } },
    });
    const seen: SweepParams[] = [];
    const objective = (p: SweepParams) => (p.a as number) * 10 + (p.b === 'x' ? 0 : 1) + (p.d as number) * 0.5;
    // Each agent's first trial waits until the other agent holds one too: the two really run at once,
    // and one agent doing every point (the other never served) hangs here instead of passing.
    const working = new Set<string>();
    let bothWorking!: () => void;
    const together = new Promise<void>((resolve) => (bothWorking = resolve));
    const work = (worker: string) => async (params: SweepParams, run: Run) => {
      seen.push(params);
      if (!working.has(worker)) {
        working.add(worker);
        if (working.size === 2) bothWorking();
        await together;
      }
      for (let step = 0; step < 3; step++) {
        run.log({ score: step }, { step });
        await new Promise((r) => setTimeout(r, 2)); // lets the other agent take its turn
      }
      return objective(params);
    };
    const agent = (worker: string) => lab().sweep(sweep.id).then((s) => s.agent(work(worker), { worker, maxWaitMs: 20 }));
    const [s1, s2] = await Promise.all([agent('w1'), agent('w2')]);
    assert.equal(s1.trials + s2.trials, 12);
    assert.ok(s1.trials > 0 && s2.trials > 0, `both agents ran trials: ${s1.trials} + ${s2.trials}`);
    assert.deepEqual([s1.failed, s2.failed, s1.stopped, s2.stopped], [0, 0, 0, 0]);

    const grid = [1, 2, 3].flatMap((a) => ['x', 'y'].flatMap((b) => [0, 1].map((d) => JSON.stringify({ a, b, c: 5, d }))));
    const sorted = (p: SweepParams) => JSON.stringify({ a: p.a, b: p.b, c: p.c, d: p.d });
    assert.equal(seen.length, 12);
    assert.deepEqual(seen.map(sorted).sort(), grid.sort(), 'the union of both agents is the grid, no point twice');

    const info = await sweep.info();
    assert.equal(info.status, 'FINISHED');
    assert.equal(info.grid_size, 12);
    assert.deepEqual(info.counts, { running: 0, completed: 12, failed: 0, stopped: 0 });
    const trials = await sweep.trials();
    assert.deepEqual(trials.map((t) => t.number), [...Array(12).keys()]);
    // The server's record of who ran what agrees with the agents' own counts.
    assert.deepEqual(
      [trials.filter((t) => t.worker === 'w1').length, trials.filter((t) => t.worker === 'w2').length],
      [s1.trials, s2.trials],
    );
    for (const t of trials) {
      assert.equal(t.status, 'COMPLETED');
      assert.ok(t.worker === 'w1' || t.worker === 'w2', `worker ${t.worker}`);
      // The returned number is the objective, logged past the run's last step.
      assert.equal(t.value, objective(t.params));
      assert.equal(t.step, 3);
      const { run } = await get('runs/get', { run_id: t.run_id });
      assert.equal(run.info.status, 'FINISHED');
      assert.equal(run.info.run_name, `grid-two-agents-${t.number}`);
      assert.deepEqual(kv(run.data.params), Object.fromEntries(Object.entries(t.params).map(([k, v]) => [k, String(v)])));
      const tags = kv(run.data.tags);
      assert.equal(tags['lablog.sweep_id'], sweep.id);
      assert.equal(tags['lablog.sweep_trial'], String(t.number));
      assert.equal(tags['mlflow.parentRunId'], info.parent_run_id);
      assert.deepEqual((await history(t.run_id, 'score')).map((p) => [p.step, p.value]), [[0, 0], [1, 1], [2, 2], [3, objective(t.params)]]);
    }
    // The objective is 10·a + [b = y] + d/2: a explains most of it; the constant c nothing.
    const { importance, trials: over } = await sweep.importance();
    assert.equal(over, 12);
    assert.deepEqual(importance.map((i) => i.name).sort(), ['a', 'b', 'c', 'd']);
    assert.equal(importance[0].name, 'a');
    assert.equal(importance.find((i) => i.name === 'c')!.importance, 0);
    // Over: another agent returns at once.
    assert.deepEqual(await sweep.agent(work('w3')), { trials: 0, stopped: 0, failed: 0 });
  });

  it('random with count: the agent runs exactly that many trials and heartbeats while each runs', T, async () => {
    const watch = watchingFetch();
    const sweep = await lab({ fetch: watch.fetch }).sweep({
      ...base,
      name: 'random-count',
      method: 'random',
      parameters: { lr: { distribution: 'log_uniform', min: 1e-4, max: 1e-1 }, layers: { distribution: 'int_uniform', min: 1, max: 4 }, opt: { values: ['sgd', 'adam'] } },
      seed: 11,
    });
    const summary = await sweep.agent(
      async (params, run, trial) => {
        assert.equal(run.id, trial.runId);
        assert.deepEqual(params, trial.params);
        // A heartbeat for this very trial has been answered before the trial ends.
        await watch.answer((route, body) => route === 'heartbeat' && body.trial?.run_id === run.id);
        return Math.log10(params.lr as number) + (params.layers as number);
      },
      { count: 3, heartbeatMs: 5 },
    );
    assert.deepEqual(summary, { trials: 3, stopped: 0, failed: 0 });
    const trials = await sweep.trials();
    assert.equal(trials.length, 3);
    for (const t of trials) {
      const { lr, layers, opt } = t.params as { lr: number; layers: number; opt: string };
      assert.ok(lr >= 1e-4 && lr <= 1e-1, `lr ${lr}`);
      assert.ok(Number.isInteger(layers) && layers >= 1 && layers <= 4, `layers ${layers}`);
      assert.ok(opt === 'sgd' || opt === 'adam');
      assert.equal(t.status, 'COMPLETED');
      assert.equal(t.value, Math.log10(lr) + layers);
      assert.equal(t.step, 0, 'nothing else logged: the objective goes at step 0');
      assert.ok(t.last_heartbeat_time! >= t.start_time);
    }
    const info = await sweep.info();
    assert.equal(info.status, 'RUNNING', 'no run cap: the sweep goes on');
    assert.equal(info.counts.completed, 3);
  });

  it('ASHA: the agent honours should-stop; trials stop at the rung where they fall behind', T, async () => {
    // Loss by step for six trials, constant between the rungs 1, 3, 9 (min_iter 1, eta 3). Each trial
    // goes on at a rung only if it is within the best 1/3 of the trials that reached it (at least the
    // best): a and d finish; c and e stop at 1, b at 3, f at 9.
    const curves: Record<string, [number, number, number, number]> = {
      a: [3, 1.5, 1.25, 1.0],
      b: [3, 1.4, 1.3, 0.9],
      c: [3, 2.0, 2.0, 2.0],
      d: [3, 1.0, 1.0, 0.5],
      e: [3, 3.0, 3.0, 3.0],
      f: [3, 1.2, 0.8, 0.6],
    };
    const loss = (curve: string, step: number) => curves[curve][step >= 9 ? 3 : step >= 3 ? 2 : step >= 1 ? 1 : 0];
    const sweep = await lab().sweep({
      ...base,
      name: 'asha',
      method: 'grid',
      parameters: { curve: { values: Object.keys(curves) } },
      earlyTerminate: { type: 'asha', minIter: 1, eta: 3 },
    });
    const lastStep: Record<string, number> = {};
    const summary = await sweep.agent(async (params, run, trial) => {
      const curve = params.curve as string;
      for (let step = 0; step < 27; step++) {
        run.log({ loss: loss(curve, step) }, { step });
        lastStep[curve] = step;
        if (await trial.shouldStop()) {
          assert.equal(trial.signal.aborted, true);
          assert.ok(trial.signal.reason instanceof TrialStoppedError);
          // f honours the stop by throwing the signal's reason, b by a timer that takes the signal
          // (an AbortError caused by it); the others by returning.
          if (curve === 'f') trial.signal.throwIfAborted();
          if (curve === 'b') await delay(1, undefined, { signal: trial.signal });
          return;
        }
        assert.equal(trial.signal.aborted, false);
      }
    });
    assert.deepEqual({ ...lastStep }, { a: 26, b: 3, c: 1, d: 26, e: 1, f: 9 });
    assert.deepEqual(summary, { trials: 6, stopped: 4, failed: 0 });
    const trials = await sweep.trials();
    assert.deepEqual(
      trials.map((t) => [t.params.curve, t.status]),
      [['a', 'COMPLETED'], ['b', 'STOPPED'], ['c', 'STOPPED'], ['d', 'COMPLETED'], ['e', 'STOPPED'], ['f', 'STOPPED']],
    );
    for (const t of trials) {
      const points = await history(t.run_id, 'loss');
      assert.equal(points.at(-1)!.step, lastStep[t.params.curve as string], `trial ${t.params.curve}: the server has every step up to the stop`);
      assert.equal((await get('runs/get', { run_id: t.run_id })).run.info.status, 'FINISHED', 'a stopped trial still ends its run FINISHED');
    }
    const info = await sweep.info();
    assert.equal(info.status, 'FINISHED');
    assert.equal(info.best_trial?.params.curve, 'd');
  });

  it('a throwing trial ends its run FAILED and is reported; the agent goes on, but gives up after 3 failures in a row', T, async () => {
    const errors: { err: Error; run?: Run }[] = [];
    const l = lab().on('error', (err, run) => errors.push({ err, run }));
    const config = { ...base, method: 'random', parameters: { x: { distribution: 'uniform', min: 0, max: 1 } }, seed: 5 } satisfies Omit<SweepConfig, 'name'>;
    const sweep = await l.sweep({ ...config, name: 'throws-once' });
    const summary = await sweep.agent(
      async (params, _run, trial) => {
        if (trial.number === 1) throw new Error('diverged');
        return params.x as number;
      },
      { count: 4 },
    );
    assert.deepEqual(summary, { trials: 4, stopped: 0, failed: 1 });
    const trials = await sweep.trials();
    assert.deepEqual(trials.map((t) => t.status), ['COMPLETED', 'FAILED', 'COMPLETED', 'COMPLETED']);
    assert.equal((await get('runs/get', { run_id: trials[1].run_id })).run.info.status, 'FAILED');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].err.message, 'diverged');
    assert.equal(errors[0].run?.id, trials[1].run_id);

    const always = await l.sweep({ ...config, name: 'throws-always' });
    let calls = 0;
    await assert.rejects(
      always.agent(() => {
        calls++;
        throw new Error(`broken ${calls}`);
      }),
      { message: 'broken 3' },
    );
    assert.equal(calls, 3);
    assert.deepEqual((await always.trials()).map((t) => t.status), ['FAILED', 'FAILED', 'FAILED']);
    assert.equal(errors.length, 4);
  });

  it('paused: the agent waits and asks again; resume lets it run, stop ends the wait', T, async () => {
    const config: SweepConfig = { ...base, name: 'paused', method: 'random', parameters: { x: { distribution: 'uniform', min: 0, max: 1 } }, seed: 9 };
    const control = await lab().sweep(config);
    assert.equal((await control.pause()).status, 'PAUSED');

    const watch = watchingFetch();
    const waiting = (body: any) => body.retry_after_ms !== undefined && (body.sweep as SweepJson).status === 'PAUSED';
    const asked = watch.answer((route, body) => route === 'next' && waiting(body));
    const agentSweep = await lab({ fetch: watch.fetch }).sweep(control.id);
    const done = agentSweep.agent((params) => params.x as number, { count: 1, maxWaitMs: 10 });
    await asked;
    await watch.answer((route, body) => route === 'next' && waiting(body)); // and asked again
    assert.deepEqual(await control.trials(), [], 'no trial while paused');
    assert.equal((await control.resume()).status, 'RUNNING');
    assert.deepEqual(await done, { trials: 1, stopped: 0, failed: 0 });
    assert.deepEqual((await control.trials()).map((t) => t.status), ['COMPLETED']);

    await control.pause();
    const askedAgain = watch.answer((route, body) => route === 'next' && waiting(body));
    const unbounded = agentSweep.agent((params) => params.x as number, { maxWaitMs: 10 });
    await askedAgain;
    assert.equal((await control.stop()).status, 'STOPPED');
    assert.deepEqual(await unbounded, { trials: 0, stopped: 0, failed: 0 }, 'a stopped sweep ends the wait');
    assert.equal(agentSweep.last.status, 'STOPPED');
  });
});
