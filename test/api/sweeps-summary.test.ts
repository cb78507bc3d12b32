import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { normalizeConfig, type SweepConfigInput } from '../../server/sweeps/config.js';
import { createRng } from '../../server/sweeps/rng.js';
import { suggestTpe } from '../../server/sweeps/tpe.js';
import type { Assignment, TrialRecord } from '../../server/sweeps/types.js';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { manualClock } from './api.helpers.js';
import { createSweep, finishTrial, next, SWEEPS, trials } from './sweeps.helpers.js';

// `next` and the sweep page read counts, the best trial, the free grid point and TPE's history with
// queries of their own instead of every trial; these check each against the whole trial list.

for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('sweeps: what the database counts', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    // Trial i ends as `ends[i]`: the values it logs, then its run's status (null: left running).
    const ends: [values: (number | 'NaN')[], status: string | null][] = [
      [[5, 3], 'FINISHED'],
      [[2], 'FINISHED'],
      [[2], 'FINISHED'], // ties with trial 1, which came first
      [['NaN'], 'FINISHED'],
      [[], 'FINISHED'], // no value at all
      [[1], 'FAILED'], // better, but failed
      [[0.5], null], // better, but still running
    ];

    for (const [goal, best] of [['minimize', { number: 1, value: 2 }], ['maximize', { number: 0, value: 3 }]] as const) {
      it(`${goal}: the best trial is the best completed value, NaN and a missing value never, the first of a tie`, async () => {
        const sweep = await createSweep(t, { method: 'random', name: `best-${goal}`, metric: { name: 'loss', goal }, parameters: { x: { distribution: 'uniform', min: 0, max: 1 } } });
        const id = sweep.sweep_id;
        for (const [values, status] of ends) {
          const { trial } = await next(t, id);
          const metrics = values.map((value, step) => ({ key: 'loss', value, step, timestamp: 1 }));
          if (metrics.length) assert.equal((await t.post('runs/log-batch', { run_id: trial.run_id, metrics })).status, 200);
          if (status) assert.equal((await t.post('runs/update', { run_id: trial.run_id, status, end_time: 2 })).status, 200);
        }
        const { sweep: read } = (await t.get(`${SWEEPS}/${id}`)).json;
        assert.deepEqual(read.counts, { running: 1, completed: 5, failed: 1, stopped: 0 });
        assert.deepEqual({ number: read.best_trial.number, value: read.best_trial.value }, best);
        const list = await trials(t, id);
        assert.deepEqual(read.best_trial, list[best.number]);
        // The reply to `next` counts the trial it hands out.
        const more = await next(t, id);
        assert.deepEqual(more.sweep.counts, { running: 2, completed: 5, failed: 1, stopped: 0 });
        assert.equal(more.sweep.best_trial.number, best.number);
      });
    }
  });

  describe("sweeps: should-stop's view of the trials", () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('each trial as the whole list has it: run, status, stop reason, latest step and points of the metric', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'progress', metric: { name: 'loss', goal: 'minimize' }, parameters: { x: { distribution: 'uniform', min: 0, max: 1 } } });
      const id = sweep.sweep_id;
      const runs: string[] = [];
      for (let i = 0; i < 4; i++) runs.push((await next(t, id)).trial.run_id);
      // 0: three points, the latest at step 7; 1: none; 2: one point, then finished; 3: another metric only.
      const log = (run: string, key: string, steps: number[]) => t.post('runs/log-batch', { run_id: run, metrics: steps.map((step) => ({ key, value: step / 10, step, timestamp: 1 })) });
      assert.equal((await log(runs[0], 'loss', [7, 2, 5])).status, 200);
      assert.equal((await log(runs[2], 'loss', [1])).status, 200);
      assert.equal((await t.post('runs/update', { run_id: runs[2], status: 'FINISHED', end_time: 2 })).status, 200);
      assert.equal((await log(runs[3], 'acc', [4])).status, 200);
      await t.store.stopTrial(id, runs[1], 'by hand', 3);
      await t.store.refreshTrials(id, 10, 0); // the finished run completes its trial; none times out

      const progress = await t.store.trialProgress(id, 'loss');
      assert.deepEqual(progress, [
        { runId: runs[0], status: 'RUNNING', stopReason: null, step: 7, points: 3 },
        { runId: runs[1], status: 'STOPPED', stopReason: 'by hand', step: null, points: 0 },
        { runId: runs[2], status: 'COMPLETED', stopReason: null, step: 1, points: 1 },
        { runId: runs[3], status: 'RUNNING', stopReason: null, step: null, points: 0 },
      ]);
      const whole = await t.store.listTrials(id, 'loss');
      assert.deepEqual(progress, whole.map((w) => ({ runId: w.runId, status: w.status, stopReason: w.stopReason, step: w.step, points: w.points })));
    });
  });

  describe('sweeps: the free grid point', () => {
    const clock = manualClock();
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend, now: clock.now })));
    after(() => t.close());

    it('a point freed in the middle of the grid by a timeout is the next handed out, then the rest in order', async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'gap', heartbeat_timeout_ms: 1000, parameters: { a: { values: [1, 2, 3, 4, 5] } } });
      const id = sweep.sweep_id;
      const first = [(await next(t, id, 'w0')).trial, (await next(t, id, 'w1')).trial, (await next(t, id, 'w2')).trial];
      assert.deepEqual(first.map((x) => x.params.a), [1, 2, 3]);
      clock.advance(600);
      for (const alive of [first[0], first[2]]) assert.equal((await t.post(`${SWEEPS}/${id}/heartbeat`, { run_id: alive.run_id })).status, 200);
      clock.advance(600); // the worker of a = 2 has been silent for 1200 ms

      const again = await next(t, id, 'w3');
      assert.deepEqual([again.trial.number, again.trial.params.a], [3, 2]);
      assert.deepEqual(again.sweep.counts, { running: 3, completed: 0, failed: 1, stopped: 0 });
      const last = [(await next(t, id, 'w4')).trial, (await next(t, id, 'w5')).trial];
      assert.deepEqual(last.map((x) => [x.number, x.params.a]), [[4, 4], [5, 5]]);
      const full = await next(t, id, 'w6');
      assert.equal(full.trial, undefined);
      assert.ok(full.retry_after_ms > 0);
      const list = await trials(t, id);
      assert.deepEqual(list.map((x) => [x.number, x.status, x.params.a]), [[0, 'RUNNING', 1], [1, 'FAILED', 2], [2, 'RUNNING', 3], [3, 'RUNNING', 2], [4, 'RUNNING', 4], [5, 'RUNNING', 5]]);
    });
  });

  describe('sweeps: TPE history', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('each suggestion is the one TPE makes from every earlier trial, whatever their state', async () => {
      const input: SweepConfigInput = {
        method: 'bayes',
        metric: { name: 'loss', goal: 'minimize' },
        parameters: { x: { distribution: 'uniform', min: -2, max: 2 }, opt: { values: ['sgd', 'adam'] } },
        seed: 7,
        tpe: { n_startup_trials: 3 },
      };
      const { config, space } = normalizeConfig(input);
      const sweep = await createSweep(t, { ...input, name: 'tpe' });
      // Trial k: 0 completes, 1 fails, 2 logs NaN, 3 stays running, 4 logs nothing; the rest complete.
      const history: TrialRecord[] = [];
      for (let k = 0; k < 14; k++) {
        const { trial } = await next(t, sweep.sweep_id);
        const expected = suggestTpe(space, history, {
          goal: 'minimize',
          rng: createRng(config.seed, 'trial', k),
          nStartupTrials: config.tpe.n_startup_trials,
          nEiCandidates: config.tpe.n_ei_candidates,
        });
        assert.deepEqual(trial.params, expected, `trial ${k}`);
        const p = trial.params as Assignment;
        const value = ((p.x as number) - 0.5) ** 2 + (p.opt === 'adam' ? 0 : 0.3);
        if (k === 3) {
          history.push({ params: p, state: 'running', value: null, step: null });
        } else if (k === 4) {
          await finishTrial(t, trial.run_id, []);
          history.push({ params: p, state: 'complete', value: null, step: null });
        } else if (k === 2) {
          assert.equal((await t.post('runs/log-batch', { run_id: trial.run_id, metrics: [{ key: 'loss', value: 'NaN', step: 0, timestamp: 1 }] })).status, 200);
          await finishTrial(t, trial.run_id, []);
          history.push({ params: p, state: 'complete', value: NaN, step: 0 });
        } else {
          const status = k === 1 ? 'FAILED' : 'FINISHED';
          await finishTrial(t, trial.run_id, [value + 1, value], status);
          history.push({ params: p, state: k === 1 ? 'failed' : 'complete', value, step: 1 });
        }
      }
      const list = await trials(t, sweep.sweep_id);
      assert.deepEqual(list.map((x) => x.status).slice(0, 5), ['COMPLETED', 'FAILED', 'COMPLETED', 'RUNNING', 'COMPLETED']);
    });
  });
});
