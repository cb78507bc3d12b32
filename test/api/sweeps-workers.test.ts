import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backends, buildTestApp, listen, type TestApp } from '../helper.js';
import { oneRowOf } from '../support/rows.js';
import { manualClock } from './api.helpers.js';
import { createSweep, finishTrial, logSteps, next, SWEEPS, trials } from './sweeps.helpers.js';

// Workers as the server sees them: concurrent claims, silence, early stopping and reproducible draws.

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('sweeps: concurrent workers over a real socket', () => {
    let t: TestApp;
    let base: string;
    before(async () => {
      t = await buildTestApp({ backend });
      base = `http://127.0.0.1:${await listen(t)}`;
    });
    after(() => t.close());

    it('never gives two workers the same grid point', async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'race', parameters: { a: { values: [1, 2, 3, 4] }, b: { values: ['x', 'y', 'z'] } } });
      const ask = async (worker: string) => {
        const res = await fetch(`${base}${SWEEPS}/${sweep.sweep_id}/next`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ worker }) });
        assert.equal(res.status, 200);
        return (await res.json()) as { trial?: { params: Record<string, unknown>; number: number }; retry_after_ms?: number };
      };
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(`w${i % 3}`)));
      const given = answers.flatMap((a) => (a.trial ? [JSON.stringify(a.trial.params)] : []));
      assert.equal(given.length, 12);
      assert.equal(new Set(given).size, 12);
      assert.equal(answers.filter((a) => a.retry_after_ms !== undefined).length, 18);
      const numbers = answers.flatMap((a) => (a.trial ? [a.trial.number] : [])).sort((x, y) => x - y);
      assert.deepEqual(numbers, Array.from({ length: 12 }, (_, i) => i));
      const rows = await oneRowOf(t, 'SELECT COUNT(DISTINCT grid_index) AS points, COUNT(*) AS n FROM sweep_trials WHERE sweep_id = ?', Number(sweep.sweep_id));
      assert.deepEqual(rows, { points: 12, n: 12 });
    });
  });

  describe('sweeps: a silent worker', () => {
    const clock = manualClock();
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend, now: clock.now })));
    after(() => t.close());

    it('has its trial failed after the heartbeat timeout and its grid point handed out again', async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'silent', heartbeat_timeout_ms: 1000, parameters: { a: { values: [1, 2, 3] } } });
      const id = sweep.sweep_id;
      const dead = (await next(t, id, 'dead')).trial;
      const alive = (await next(t, id, 'alive')).trial;
      clock.advance(600);
      assert.equal((await t.post(`${SWEEPS}/${id}/heartbeat`, { run_id: alive.run_id })).json.trial.status, 'RUNNING');
      clock.advance(600); // dead: silent for 1200 ms; alive: 600 ms

      // The next worker to ask gets the dead worker's point (the lowest free one), then the last one.
      const again = (await next(t, id, 'third')).trial;
      assert.deepEqual(again.params, dead.params);
      assert.equal(again.number, 2);
      const third = (await next(t, id, 'fourth')).trial;
      assert.deepEqual(third.params, { a: 3 });

      const list = await trials(t, id);
      assert.deepEqual(list.map((x) => [x.number, x.status, x.params.a]), [[0, 'FAILED', 1], [1, 'RUNNING', 2], [2, 'RUNNING', 1], [3, 'RUNNING', 3]]);
      assert.match(list[0]!.stop_reason!, /heartbeat/);
      const deadRun = (await t.get('runs/get', { run_id: dead.run_id })).json.run;
      assert.equal(deadRun.info.status, 'FAILED');
      const late = await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: dead.run_id });
      assert.equal(late.json.should_stop, true);
      assert.match(late.json.reason, /FAILED/);

      // The timed-out trial does not use up the grid: once the others finish, the sweep is done.
      for (const tr of [alive, third, again]) await finishTrial(t, tr.run_id, [1]);
      const end = await next(t, id);
      assert.equal(end.sweep.status, 'FINISHED');
      assert.deepEqual(end.sweep.counts, { running: 0, completed: 3, failed: 1, stopped: 0 });
    });

    it('a stopped trial whose worker then goes silent has its run ended KILLED; a silent running one FAILED', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'silent-stopped', heartbeat_timeout_ms: 1000, early_terminate: { type: 'asha', min_iter: 1, eta: 2 }, parameters: { x: { values: [1, 2] } } });
      const id = sweep.sweep_id;
      const running = (await next(t, id)).trial;
      const stopped = (await next(t, id)).trial;
      await logSteps(t, running.run_id, [[0, 1], [1, 0.1]]);
      await logSteps(t, stopped.run_id, [[0, 1], [1, 0.9]]);
      assert.equal((await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: stopped.run_id })).json.should_stop, true);
      clock.advance(1500);
      assert.deepEqual((await trials(t, id)).map((x) => x.status), ['FAILED', 'STOPPED']);
      const status = async (runId: string) => (await t.get('runs/get', { run_id: runId })).json.run.info.status;
      assert.equal(await status(running.run_id), 'FAILED');
      assert.equal(await status(stopped.run_id), 'KILLED');
    });
  });

  describe('sweeps: should-stop over logged metrics', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('ASHA stops a trial that is not in the best 1/eta at its rung', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'asha', seed: 1, early_terminate: { type: 'asha', min_iter: 1, eta: 2 }, parameters: { x: { distribution: 'uniform', min: 0, max: 1 } } });
      const id = sweep.sweep_id;
      const good = (await next(t, id)).trial;
      const bad = (await next(t, id)).trial;
      const ask = async (runId: string) => (await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: runId })).json;
      assert.equal((await ask(good.run_id)).should_stop, false, 'nothing logged yet');
      await logSteps(t, good.run_id, [[0, 1.0], [1, 0.5]]);
      assert.equal((await ask(good.run_id)).should_stop, false, 'alone at rung 1');
      await logSteps(t, bad.run_id, [[0, 1.0], [1, 0.9]]);
      const verdict = await ask(bad.run_id);
      assert.equal(verdict.should_stop, true);
      assert.equal(verdict.step, 1);
      assert.match(verdict.reason, /rung/);
      const list = await trials(t, id);
      assert.deepEqual(list.map((x) => x.status), ['RUNNING', 'STOPPED']);
      assert.equal((await ask(bad.run_id)).should_stop, true, 'a stopped trial stays stopped');
      assert.equal((await t.get(`${SWEEPS}/${id}`)).json.sweep.counts.stopped, 1);
    });

    it('the median rule compares with finished trials at the same step', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'median', early_terminate: { type: 'median', min_iter: 2, min_trials: 2 }, parameters: { x: { values: [1, 2, 3, 4] } } });
      const id = sweep.sweep_id;
      for (const curve of [[3, 2, 1, 0.5], [3, 2.5, 2, 1.5]]) await finishTrial(t, (await next(t, id)).trial.run_id, curve);
      const probe = (await next(t, id)).trial;
      const ask = async () => (await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: probe.run_id })).json;
      await logSteps(t, probe.run_id, [[0, 9], [1, 9]]);
      assert.equal((await ask()).should_stop, false, 'still warming up before step 2');
      await logSteps(t, probe.run_id, [[2, 1.2]]);
      assert.equal((await ask()).should_stop, false, '1.2 beats the median of 1 and 2');
      await logSteps(t, probe.run_id, [[3, 1.3]]);
      const v = await ask();
      assert.equal(v.should_stop, true, '1.2 is worse than the median of 0.5 and 1.5');
      assert.equal(v.step, 3);
    });

    it('a sweep without early termination never stops a trial', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'plain', parameters: { x: { values: [1] } } });
      const tr = (await next(t, sweep.sweep_id)).trial;
      await logSteps(t, tr.run_id, [[0, 1e9]]);
      const v = (await t.post(`${SWEEPS}/${sweep.sweep_id}/should-stop`, { run_id: tr.run_id })).json;
      assert.equal(v.should_stop, false);
    });
  });

  describe('sweeps: reproducible random and bayes draws', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    const space = {
      lr: { distribution: 'log_uniform', min: 1e-5, max: 1 },
      layers: { distribution: 'int_uniform', min: 1, max: 4 },
      optimizer: { values: ['sgd', 'adam'] },
      momentum: { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: 'sgd' } },
    };

    /** Runs `n` trials with a deterministic objective; returns their params. */
    async function drive(name: string, method: string, seed: number, n: number) {
      const sweep = await createSweep(t, { method, name, seed, run_cap: n, tpe: { n_startup_trials: 4 }, parameters: space });
      const out: Record<string, unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const { trial } = await next(t, sweep.sweep_id);
        out.push(trial.params);
        const lr = trial.params.lr as number;
        await finishTrial(t, trial.run_id, [(Math.log10(lr) + 2.5) ** 2]);
      }
      const end = await next(t, sweep.sweep_id);
      assert.equal(end.sweep.status, 'FINISHED');
      assert.equal(end.trial, undefined);
      return out;
    }

    for (const method of ['random', 'bayes']) {
      it(`${method}: the same seed gives the same trials, another seed others, all within the space`, async () => {
        const a = await drive(`${method}-a`, method, 11, 12);
        const b = await drive(`${method}-b`, method, 11, 12);
        const c = await drive(`${method}-c`, method, 12, 12);
        assert.deepEqual(a, b);
        assert.notDeepEqual(a, c);
        for (const p of [...a, ...c]) {
          assert.ok((p.lr as number) >= 1e-5 && (p.lr as number) <= 1);
          assert.ok(Number.isInteger(p.layers) && (p.layers as number) >= 1 && (p.layers as number) <= 4);
          assert.ok(['sgd', 'adam'].includes(p.optimizer as string));
          assert.equal('momentum' in p, p.optimizer === 'sgd');
        }
      });
    }

    it('importance ranks the parameter the objective depends on first', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'importance', seed: 3, parameters: space });
      for (let i = 0; i < 30; i++) {
        const { trial } = await next(t, sweep.sweep_id);
        await finishTrial(t, trial.run_id, [(Math.log10(trial.params.lr as number) + 2.5) ** 2]);
      }
      const res = await t.get(`${SWEEPS}/${sweep.sweep_id}/importance`);
      assert.equal(res.status, 200);
      assert.equal(res.json.trials, 30);
      assert.equal(res.json.importance[0].name, 'lr');
      assert.ok(res.json.importance[0].importance > 0.5, JSON.stringify(res.json.importance));
    });
  });

  describe('sweeps: a worker retrying its request, and what it is told', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('a next retried with the same request_id gets the same trial, even after a pause', async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'retry', parameters: { a: { values: [1, 2, 3] } } });
      const id = sweep.sweep_id;
      const ask = async (request_id: string) => (await t.post(`${SWEEPS}/${id}/next`, { worker: 'w', request_id, user: 'ada' })).json;
      const first = await ask('req-1');
      const again = await ask('req-1');
      assert.equal(again.trial.run_id, first.trial.run_id);
      assert.deepEqual(again.trial.params, first.trial.params);
      assert.equal((await ask('req-2')).trial.number, 1);
      await t.post(`${SWEEPS}/${id}/pause`, {});
      assert.equal((await ask('req-2')).trial.number, 1, 'a paused sweep still answers a retry');
      assert.equal((await ask('req-3')).trial, undefined);
      assert.equal((await trials(t, id)).length, 2);
      const run = (await t.get('runs/get', { run_id: first.trial.run_id })).json.run;
      assert.equal(run.info.user_id, 'ada');
      assert.ok(run.data.tags.some((x: { key: string; value: string }) => x.key === 'mlflow.user' && x.value === 'ada'));
      const empty = await t.post(`${SWEEPS}/${id}/next`, { request_id: '' });
      assert.equal(empty.status, 400);
      assert.equal(empty.json.error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(empty.json.message, /request_id/);
    });

    it('heartbeat tells the sweep status; should-stop tells the trial status', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'told', early_terminate: { type: 'asha', min_iter: 1, eta: 2 }, parameters: { x: { values: [1, 2] } } });
      const id = sweep.sweep_id;
      const a = (await next(t, id)).trial;
      const b = (await next(t, id)).trial;
      const beat = (await t.post(`${SWEEPS}/${id}/heartbeat`, { run_id: a.run_id })).json;
      assert.equal(beat.sweep_status, 'RUNNING');
      assert.equal(beat.trial.status, 'RUNNING');
      await logSteps(t, a.run_id, [[0, 1], [1, 0.1]]);
      await logSteps(t, b.run_id, [[0, 1], [1, 0.9]]);
      const keep = (await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: a.run_id })).json;
      assert.deepEqual([keep.should_stop, keep.trial_status], [false, 'RUNNING']);
      const pruned = (await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: b.run_id })).json;
      assert.deepEqual([pruned.should_stop, pruned.trial_status], [true, 'STOPPED']);
      await t.post(`${SWEEPS}/${id}/stop`, {});
      assert.equal((await t.post(`${SWEEPS}/${id}/heartbeat`, { run_id: a.run_id })).json.sweep_status, 'STOPPED');
    });
  });
});
