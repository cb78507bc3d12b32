import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { createLocalArtifactStore } from '../../server/artifacts/local.js';
import type { TrackingStore } from '../../server/store/types.js';
import { collectGarbage } from '../../server/tracking/gc.service.js';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { pluck } from '../support/rows.js';
import { manualClock } from './api.helpers.js';
import { createSweep, finishTrial, next, SWEEPS, trials } from './sweeps.helpers.js';

// A review of the server side of sweeps: state changes that race, workers heard from late, values
// and params as MLflow writes them, and `lablog gc` under the new foreign keys.

const UNIFORM = { x: { distribution: 'uniform', min: 0, max: 1 } };

/**
 * Holds the next call of one store method at its await until `release()`: the interleaving that two
 * requests get whenever the store really awaits (any async TrackingStore; SQLite only hides it).
 */
function holdNext(t: TestApp, method: keyof TrackingStore) {
  const store = t.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = store[method]!;
  let reached!: () => void;
  let release!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  store[method] = async (...args: unknown[]) => {
    store[method] = original;
    reached();
    await released;
    return original.apply(t.store, args);
  };
  return { held, release };
}

const status = async (t: TestApp, id: string) => (await t.get(`${SWEEPS}/${id}`)).json.sweep.status as string;
const runStatus = async (t: TestApp, runId: string) => (await t.get('runs/get', { run_id: runId })).json.run.info.status as string;
const gcDeps = (t: TestApp) => ({ store: t.store, artifacts: createLocalArtifactStore(path.join(t.dir, 'artifacts')) });
const count = async (t: TestApp, sql: string, ...args: unknown[]) => Number(await pluck(t, sql, ...args));

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('sweeps review: a status change is not lost to a request that read the sweep earlier', () => {
    let t: TestApp;
    beforeEach(async () => (t = await buildTestApp({ backend })));
    afterEach(() => t.close());

    it('a pause in flight does not undo a stop (which resume would then bring back to RUNNING)', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'pause-vs-stop', parameters: UNIFORM });
      const id = sweep.sweep_id;
      const gate = holdNext(t, 'refreshTrials');
      const pausing = t.post(`${SWEEPS}/${id}/pause`, {});
      await gate.held; // the pause has read the sweep as RUNNING
      assert.equal((await t.post(`${SWEEPS}/${id}/stop`, {})).json.sweep.status, 'STOPPED');
      gate.release();
      const paused = await pausing;
      assert.equal(paused.status, 400, `a stopped sweep was paused: ${paused.body}`);
      assert.equal(paused.json.message, `Sweep ${id} is STOPPED; it cannot become PAUSED`);
      assert.equal(await status(t, id), 'STOPPED');
      const resumed = await t.post(`${SWEEPS}/${id}/resume`, {});
      assert.equal(resumed.status, 400);
      assert.equal(resumed.json.message, `Sweep ${id} is STOPPED; it cannot become RUNNING`);
      const over = await next(t, id);
      assert.equal(over.trial, undefined, 'a stopped sweep handed out a trial');
      assert.equal(await runStatus(t, sweep.parent_run_id), 'KILLED');
    });

    it('a read in flight does not turn a stopped sweep FINISHED', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'read-vs-stop', run_cap: 1, parameters: UNIFORM });
      const id = sweep.sweep_id;
      const { trial } = await next(t, id);
      const gate = holdNext(t, 'refreshTrials');
      const reading = t.get(`${SWEEPS}/${id}`);
      await gate.held; // the read has the sweep as RUNNING, before the trial's run ends
      assert.equal((await t.post(`${SWEEPS}/${id}/stop`, {})).json.sweep.status, 'STOPPED');
      await finishTrial(t, trial.run_id, [0.5]);
      gate.release();
      await reading;
      assert.equal(await status(t, id), 'STOPPED');
      assert.equal(await runStatus(t, sweep.parent_run_id), 'KILLED');
    });
  });

  describe('sweeps review: a worker heard from late, before anyone noticed its silence', () => {
    const clock = manualClock();
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend, now: clock.now })));
    after(() => t.close());

    // trials.service says "the question is a sign of life too, so it is recorded before timeouts are
    // applied", and docs/sweeps.md that heartbeat and should-stop keep the trial alive; both first
    // applied the timeouts, so a late sign of life failed its own trial and its run.
    for (const call of ['heartbeat', 'should-stop'] as const) {
      it(`${call} keeps its trial alive`, async () => {
        const sweep = await createSweep(t, { method: 'grid', name: `late-${call}`, heartbeat_timeout_ms: 1000, parameters: { a: { values: [1, 2] } } });
        const { trial } = await next(t, sweep.sweep_id);
        clock.advance(1500); // e.g. a laptop asleep; nobody else asked about this sweep meanwhile
        const res = await t.post(`${SWEEPS}/${sweep.sweep_id}/${call}`, { run_id: trial.run_id });
        assert.equal(res.status, 200);
        if (call === 'should-stop') assert.equal(res.json.should_stop, false, res.body);
        const [row] = await trials(t, sweep.sweep_id);
        assert.equal(row!.status, 'RUNNING', `killed by its own ${call}: ${row!.stop_reason}`);
        assert.equal(await runStatus(t, trial.run_id), 'RUNNING');
        // Silence after that sign of life still times the trial out.
        clock.advance(1500);
        assert.equal((await trials(t, sweep.sweep_id))[0]!.status, 'FAILED');
      });
    }
  });

  describe('sweeps review: values and params as MLflow writes them', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('an infinite objective is clamped to ±DBL_MAX as runs/get writes it, not sent as null', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'inf', metric: { name: 'loss', goal: 'maximize' }, parameters: UNIFORM });
      const { trial } = await next(t, sweep.sweep_id);
      await t.post('runs/log-batch', { run_id: trial.run_id, metrics: [{ key: 'loss', value: 'Infinity', step: 0, timestamp: 1 }] });
      await finishTrial(t, trial.run_id, []);
      const run = (await t.get('runs/get', { run_id: trial.run_id })).json.run;
      assert.equal(run.data.metrics[0].value, Number.MAX_VALUE);
      assert.equal((await trials(t, sweep.sweep_id))[0]!.value, Number.MAX_VALUE);
      assert.equal((await t.get(`${SWEEPS}/${sweep.sweep_id}`)).json.sweep.best_trial?.value, Number.MAX_VALUE);
    });

    it("params are logged as Python's str() prints them, so mlflow.log_params(trial['params']) does not conflict", async () => {
      // What a Python worker's mlflow.log_param sends for the value json.loads made of the trial's params.
      const python = new Map<unknown, string>([[0.00001, '1e-05'], [3.2e-7, '3.2e-07'], [0.5, '0.5'], [true, 'True']]);
      const sweep = await createSweep(t, { method: 'grid', name: 'py-params', parameters: { lr: { values: [0.00001, 3.2e-7, 0.5] }, flag: { values: [true] } } });
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { trial } = await next(t, sweep.sweep_id);
        const params = Object.entries(trial.params).map(([key, v]) => ({ key, value: python.get(v)! }));
        const res = await t.post('runs/log-batch', { run_id: trial.run_id, params });
        assert.equal(res.status, 200, `${JSON.stringify(params)}: ${res.body}`);
        // The server had logged the trial's params already; they are stored in Python's spelling.
        const stored = (await t.get('runs/get', { run_id: trial.run_id })).json.run.data.params as { key: string; value: string }[];
        assert.deepEqual(
          Object.fromEntries(stored.map((p) => [p.key, p.value])),
          Object.fromEntries(params.map((p) => [p.key, p.value])),
        );
        seen.push(python.get(trial.params.lr)!);
      }
      assert.deepEqual(seen.sort(), ['0.5', '1e-05', '3.2e-07']);
    });
  });

  describe('sweeps review: lablog gc under the new foreign keys', () => {
    let t: TestApp;
    beforeEach(async () => (t = await buildTestApp({ backend })));
    afterEach(() => t.close());

    it('purges a deleted experiment that holds a sweep: runs, sweep and trials go, other sweeps stay', async () => {
      const keep = await createSweep(t, { method: 'grid', name: 'kept', parameters: { a: { values: [1, 2] } } }, 'gc-keep');
      await next(t, keep.sweep_id);
      const sweep = await createSweep(t, { method: 'grid', name: 'purged', parameters: { a: { values: [1, 2, 3] } } }, 'gc-purge');
      const a = (await next(t, sweep.sweep_id)).trial;
      await finishTrial(t, a.run_id, [0.3]);
      await next(t, sweep.sweep_id);
      assert.equal((await t.post('experiments/delete', { experiment_id: sweep.experiment_id })).status, 200);
      const report = await collectGarbage(gcDeps(t), { olderThanMs: null, runIds: [], experimentIds: [sweep.experiment_id], dryRun: false, now: Date.now() });
      assert.equal(report.failed, 0, JSON.stringify(report));
      assert.deepEqual(report.experiments.map((e) => [e.id, e.status, e.runs]), [[sweep.experiment_id, 'removed', 3]]);
      assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM sweeps WHERE id = ?', Number(sweep.sweep_id)), 0);
      assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM sweep_trials WHERE sweep_id = ?', Number(sweep.sweep_id)), 0);
      assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM runs WHERE experiment_id = ?', Number(sweep.experiment_id)), 0);
      const gone = await t.get(`${SWEEPS}/${sweep.sweep_id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
      const kept = (await t.get(`${SWEEPS}/${keep.sweep_id}`)).json.sweep;
      assert.equal(kept.counts.running, 1);
      assert.equal(kept.parent_run_id, keep.parent_run_id);
      // The purged sweep was the newest: its id is not given to the next one (an old URL stays a 404).
      const after = await createSweep(t, { method: 'grid', name: 'after-purge', parameters: { a: { values: [1] } } }, 'gc-keep');
      assert.ok(Number(after.sweep_id) > Number(sweep.sweep_id), `${after.sweep_id} reuses a purged id`);
    });

    it('purges a deleted parent run; the sweep goes on without it and still finishes', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'orphan', run_cap: 2, parameters: UNIFORM });
      const first = (await next(t, sweep.sweep_id)).trial;
      await t.post('runs/delete', { run_id: sweep.parent_run_id });
      const report = await collectGarbage(gcDeps(t), { olderThanMs: null, runIds: [sweep.parent_run_id], experimentIds: [], dryRun: false, now: Date.now() });
      assert.deepEqual(report.runs.map((r) => r.status), ['removed']);
      const second = await next(t, sweep.sweep_id);
      assert.equal(second.sweep.parent_run_id, undefined);
      const tags = (await t.get('runs/get', { run_id: second.trial.run_id })).json.run.data.tags as { key: string }[];
      assert.ok(!tags.some((x) => x.key === 'mlflow.parentRunId'));
      for (const tr of [first, second.trial]) await finishTrial(t, tr.run_id, [1]);
      assert.equal(await status(t, sweep.sweep_id), 'FINISHED');
    });

    it("purges a deleted trial run: the trial leaves the sweep and its grid point is free again", async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'lost-trial', parameters: { a: { values: [1, 2] } } });
      const a = (await next(t, sweep.sweep_id)).trial;
      const b = (await next(t, sweep.sweep_id)).trial;
      await t.post('runs/delete', { run_id: a.run_id });
      await collectGarbage(gcDeps(t), { olderThanMs: null, runIds: [a.run_id], experimentIds: [], dryRun: false, now: Date.now() });
      assert.deepEqual((await trials(t, sweep.sweep_id)).map((x) => x.run_id), [b.run_id]);
      const again = (await next(t, sweep.sweep_id)).trial;
      assert.deepEqual(again.params, a.params);
      assert.equal(await count(t, 'SELECT COUNT(DISTINCT grid_index) AS n FROM sweep_trials WHERE sweep_id = ?', Number(sweep.sweep_id)), 2);
    });
  });

  describe('sweeps review: random worker histories keep the invariants', () => {
    let t: TestApp;
    let round = 0;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    const action = fc.oneof(
      fc.constant({ a: 'next' as const, i: 0 }),
      fc.record({ a: fc.constantFrom('heartbeat', 'should-stop', 'finish', 'fail', 'log', 'delete-run'), i: fc.nat(20) }),
      fc.record({ a: fc.constantFrom('pause', 'resume', 'stop', 'tick', 'gc', 'delete-experiment', 'restore-experiment'), i: fc.constant(0) }),
    );

    it('no 5xx; STOPPED and FINISHED are final; FINISHED means nothing runs; the cap and the grid hold', async () => {
      const clock = manualClock();
      await t.close();
      t = await buildTestApp({ backend, now: clock.now });
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('grid', 'random', 'bayes'), fc.integer({ min: 1, max: 6 }), fc.array(action, { maxLength: 50 }), async (method, cap, actions) => {
          const experiment = `fuzz-${round++}`;
          const params = method === 'grid' ? { a: { values: [1, 2, 3] }, b: { values: ['x', 'y'] } } : UNIFORM;
          const sweep = await createSweep(t, { method, name: 's', run_cap: cap, parameters: params, heartbeat_timeout_ms: 1000, early_terminate: { type: 'asha', eta: 2 }, seed: 1, tpe: { n_startup_trials: 2 } }, experiment);
          const id = sweep.sweep_id;
          const runs: string[] = [];
          let final: string | null = null;
          for (const { a, i } of actions) {
            const run = runs.length > 0 ? runs[i % runs.length]! : null;
            let res: { status: number; body: string; json: any } | null = null;
            if (a === 'next') {
              res = await t.post(`${SWEEPS}/${id}/next`, {});
              if (res.json?.trial) runs.push(res.json.trial.run_id);
            } else if (a === 'heartbeat' || a === 'should-stop') {
              if (run) res = await t.post(`${SWEEPS}/${id}/${a}`, { run_id: run });
            } else if (a === 'finish' || a === 'fail') {
              if (run) res = await t.post('runs/update', { run_id: run, status: a === 'finish' ? 'FINISHED' : 'FAILED', end_time: clock.ms });
            } else if (a === 'log') {
              if (run) res = await t.post('runs/log-batch', { run_id: run, metrics: [{ key: 'loss', value: (i % 7) / 3, step: i % 5, timestamp: 1 }] });
            } else if (a === 'delete-run') {
              if (run) res = await t.post('runs/delete', { run_id: run });
            } else if (a === 'pause' || a === 'resume' || a === 'stop') {
              res = await t.post(`${SWEEPS}/${id}/${a}`, {});
            } else if (a === 'tick') {
              clock.advance(700);
            } else if (a === 'delete-experiment' || a === 'restore-experiment') {
              res = await t.post(`experiments/${a === 'delete-experiment' ? 'delete' : 'restore'}`, { experiment_id: sweep.experiment_id });
            } else {
              // `lablog gc` with no ids: every deleted run and experiment, this sweep's experiment too.
              const report = await collectGarbage(gcDeps(t), { olderThanMs: null, runIds: [], experimentIds: [], dryRun: false, now: clock.ms });
              assert.equal(report.failed, 0, JSON.stringify(report));
            }
            if (res) assert.ok(res.status < 500, `${a}: ${res.status} ${res.body}`);

            const got = await t.get(`${SWEEPS}/${id}`);
            if (got.status === 404) {
              assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM sweep_trials WHERE sweep_id = ?', Number(id)), 0);
              assert.equal(await count(t, 'SELECT COUNT(*) AS n FROM experiments WHERE experiment_id = ?', Number(sweep.experiment_id)), 0);
              return; // purged with its experiment
            }
            assert.equal(got.status, 200, got.body);
            const s = got.json.sweep;
            if (final !== null) assert.equal(s.status, final, `${final} became ${s.status} after ${a}`);
            if (s.status === 'STOPPED' || s.status === 'FINISHED') final = s.status;
            if (s.status === 'FINISHED') assert.equal(s.counts.running, 0);
            const live = await count(t, 'SELECT COUNT(*) AS n FROM sweep_trials WHERE sweep_id = ? AND NOT timed_out', Number(id));
            assert.ok(live <= cap, `${live} live trials, run_cap ${cap}`);
            const shared = await count(t, 'SELECT COUNT(*) - COUNT(DISTINCT grid_index) AS n FROM sweep_trials WHERE sweep_id = ? AND NOT timed_out AND grid_index IS NOT NULL', Number(id));
            assert.equal(shared, 0, 'two live trials share a grid point');
          }
        }),
        { numRuns: 120, seed: 20261128 },
      );
    });
  });
});
