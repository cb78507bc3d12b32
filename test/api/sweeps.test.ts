import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAccess } from '../../server/auth/access.js';
import { LOCAL_ADMIN } from '../../server/auth/permissions.js';
import { createSweepService } from '../../server/sweeps/sweeps.service.js';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { pluck } from '../support/rows.js';
import { tableCountsOf } from './api.helpers.js';
import { createSweep, finishTrial, next, SWEEPS, trials } from './sweeps.helpers.js';

// The sweep lifecycle over the API, checked against the rows it writes.

const GRID = {
  method: 'grid',
  parameters: {
    lr: { values: [0.1, 0.01, 0.001] },
    optimizer: { values: ['sgd', 'adam'] },
    momentum: { values: [0, 0.9], when: { optimizer: 'sgd' } },
    epochs: { value: 3 },
  },
};

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('sweeps: create, attach and validate', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('creates a sweep with a parent run and echoes the normalized config', async () => {
      const sweep = await createSweep(t, { ...GRID, name: 'grid-a', seed: 5 });
      assert.equal(sweep.status, 'RUNNING');
      assert.equal(sweep.grid_size, 9);
      assert.equal(sweep.config.run_cap, 9);
      assert.deepEqual(sweep.config.parameters.momentum, { values: [0, 0.9], when: { optimizer: ['sgd'] } });
      assert.deepEqual(sweep.counts, { running: 0, completed: 0, failed: 0, stopped: 0 });
      const parent = (await t.get('runs/get', { run_id: sweep.parent_run_id })).json.run;
      assert.equal(parent.info.run_name, 'grid-a');
      assert.equal(parent.info.status, 'RUNNING');
      assert.ok(parent.data.tags.some((x: { key: string; value: string }) => x.key === 'lablog.sweep_id' && x.value === sweep.sweep_id));
    });

    it('reads the same sweep back from storage, as another server process would', async () => {
      const sweep = await createSweep(t, { ...GRID, name: 'reloaded', seed: 5 });
      const other = createSweepService(t.store, { now: () => Date.now() }, createAccess(t.store, { defaultPermission: 'READ' }));
      const read = await other.get(LOCAL_ADMIN, sweep.sweep_id);
      assert.equal(read.gridSize, 9);
      assert.deepEqual(read.config, sweep.config);
      const out = await other.next(LOCAL_ADMIN, sweep.sweep_id, { worker: 'w' });
      assert.ok('trial' in out, JSON.stringify(out));
      assert.equal(out.trial.number, 0);
      assert.deepEqual(out.trial.params, { lr: 0.1, optimizer: 'sgd', momentum: 0, epochs: 3 });
      assert.equal(out.sweep.counts.running, 1);
    });

    it('attaches when the same config is sent again, refuses a different one', async () => {
      const a = await createSweep(t, { ...GRID, name: 'attach' });
      const b = await createSweep(t, { ...GRID, name: 'attach' });
      assert.equal(b.sweep_id, a.sweep_id);
      assert.equal(b.config.seed, a.config.seed);
      const other = await t.post(`${SWEEPS}/create`, { experiment_id: a.experiment_id, name: 'attach', method: 'random', metric: { name: 'loss' }, parameters: GRID.parameters });
      assert.equal(other.status, 400);
      assert.equal(other.json.error_code, 'RESOURCE_ALREADY_EXISTS');
      const seeded = await t.post(`${SWEEPS}/create`, { experiment_id: a.experiment_id, name: 'attach', metric: { name: 'loss' }, ...GRID, seed: a.config.seed + 1 });
      assert.equal(seeded.json.error_code, 'RESOURCE_ALREADY_EXISTS');
      assert.equal(await pluck(t, "SELECT COUNT(*) AS n FROM sweeps WHERE name = 'attach'"), 1);
    });

    it('refuses bad configs with a clear message and writes nothing', async () => {
      const exp = (await t.post('experiments/create', { name: 'bad-configs' })).json.experiment_id;
      const before = await tableCountsOf(t);
      const cases: [Record<string, unknown>, RegExp, number?][] = [
        [{ method: 'anneal', parameters: { a: { values: [1] } } }, /method/],
        [{ method: 'random', parameters: { lr: { distribution: 'log_uniform', min: 0, max: 1 } } }, /lr/],
        [{ method: 'grid', parameters: { lr: { distribution: 'uniform', min: 0, max: 1 } } }, /grid/],
        [{ method: 'random', parameters: { m: { values: [1], when: { opt: 'sgd' } } } }, /opt/],
        [{ method: 'random', parameters: {} }, /parameter/i],
        [{ method: 'grid', parameters: { a: { values: [1, 2] } }, run_cap: 3 }, /run_cap/],
        [{ method: 'random', parameters: { a: { values: [1] } }, run_cap: 0 }, /run_cap/],
        [{ method: 'random', parameters: { a: { values: [1] } }, early_terminate: { type: 'asha', eta: 1 } }, /eta/],
        [{ method: 'random', parameters: 'lr' }, /parameters/],
        [{ method: 'random', parameters: { a: { values: [1] } }, experiment_id: '424242' }, /424242/, 404],
      ];
      for (const [body, message, status = 400] of cases) {
        const res = await t.post(`${SWEEPS}/create`, { experiment_id: exp, name: 'bad', metric: { name: 'loss' }, ...body });
        assert.equal(res.status, status, `${JSON.stringify(body)} -> ${res.body}`);
        assert.match(res.json.message, message, JSON.stringify(body));
      }
      assert.deepEqual(await tableCountsOf(t), before);
    });

    it('answers 404 for unknown sweeps and 400 for a malformed body', async () => {
      for (const id of ['999', 'abc', '-1']) {
        const res = await t.get(`${SWEEPS}/${id}`);
        assert.equal(res.status, 404);
        assert.equal(res.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
      }
      const sweep = await createSweep(t, { ...GRID, name: 'malformed' });
      const res = await t.post(`${SWEEPS}/${sweep.sweep_id}/should-stop`, { run_id: 42 });
      assert.equal(res.status, 400);
      assert.equal(res.json.error_code, 'INVALID_PARAMETER_VALUE');
      const notTrial = await t.post(`${SWEEPS}/${sweep.sweep_id}/heartbeat`, { run_id: sweep.parent_run_id });
      assert.equal(notTrial.status, 404);
      assert.equal(notTrial.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
      assert.match(notTrial.json.message, /is not a trial of sweep/);
    });

    it('lists sweeps newest first, by experiment, in pages', async () => {
      const exp = (await t.post('experiments/create', { name: 'listing' })).json.experiment_id;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createSweep(t, { ...GRID, name: `l${i}` }, 'listing')).sweep_id);
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const res = await t.get(`${SWEEPS}/list`, { experiment_id: exp, max_results: '2', ...(token ? { page_token: token } : {}) });
        assert.equal(res.status, 200);
        seen.push(...res.json.sweeps.map((s: { sweep_id: string }) => s.sweep_id));
        token = res.json.next_page_token;
      } while (token);
      assert.deepEqual(seen, [...ids].reverse());
      const zero = await t.get(`${SWEEPS}/list`, { max_results: '0' });
      assert.equal(zero.status, 400);
      assert.equal(zero.json.error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(zero.json.message, /max_results must be between 1 and 1000, got 0/);
    });
  });

  describe('sweeps: grid search over the API', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('hands out exactly the grid, each point once, as child runs with params and tags', async () => {
      const sweep = await createSweep(t, { ...GRID, name: 'grid' });
      const got: string[] = [];
      for (let i = 0; i < 9; i++) {
        const { trial } = await next(t, sweep.sweep_id, `w${i % 2}`);
        assert.equal(trial.number, i);
        got.push(JSON.stringify(trial.params));
        const run = (await t.get('runs/get', { run_id: trial.run_id })).json.run;
        const tags = Object.fromEntries(run.data.tags.map((x: { key: string; value: string }) => [x.key, x.value]));
        assert.equal(tags['mlflow.parentRunId'], sweep.parent_run_id);
        assert.equal(tags['lablog.sweep_id'], sweep.sweep_id);
        assert.equal(tags['lablog.sweep_trial'], String(i));
        assert.equal(run.info.run_name, `grid-${i}`);
        const params = Object.fromEntries(run.data.params.map((x: { key: string; value: string }) => [x.key, x.value]));
        assert.deepEqual(params, Object.fromEntries(Object.entries(trial.params).map(([k, v]) => [k, String(v)])));
      }
      const expected: string[] = [];
      for (const lr of [0.1, 0.01, 0.001]) {
        for (const optimizer of ['sgd', 'adam']) {
          for (const momentum of optimizer === 'sgd' ? [0, 0.9] : [undefined]) expected.push(JSON.stringify({ lr, optimizer, ...(momentum === undefined ? {} : { momentum }), epochs: 3 }));
        }
      }
      assert.deepEqual(new Set(got), new Set(expected));
      assert.equal(got.length, expected.length);

      // All points are out and running: a tenth worker is told to come back, not given a duplicate.
      const waiting = await next(t, sweep.sweep_id);
      assert.equal(waiting.trial, undefined);
      assert.ok(waiting.retry_after_ms > 0);

      const list = await trials(t, sweep.sweep_id);
      for (const [i, tr] of list.entries()) await finishTrial(t, tr.run_id, [1 / (i + 1), 0.5 / (i + 1)]);
      const done = await next(t, sweep.sweep_id);
      assert.equal(done.trial, undefined);
      assert.equal(done.retry_after_ms, undefined);
      assert.equal(done.sweep.status, 'FINISHED');
      assert.deepEqual(done.sweep.counts, { running: 0, completed: 9, failed: 0, stopped: 0 });
      assert.equal(done.sweep.best_trial.number, 8);
      assert.equal(done.sweep.best_trial.value, 0.5 / 9);
      const parent = (await t.get('runs/get', { run_id: sweep.parent_run_id })).json.run;
      assert.equal(parent.info.status, 'FINISHED');
    });

    it('a trial follows its run: FAILED and KILLED runs fail it, and its grid point stays used', async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'follow', parameters: { a: { values: [1, 2] } } });
      const a = (await next(t, sweep.sweep_id)).trial;
      const b = (await next(t, sweep.sweep_id)).trial;
      await finishTrial(t, a.run_id, [], 'FAILED');
      await finishTrial(t, b.run_id, [3], 'KILLED');
      const list = await trials(t, sweep.sweep_id);
      assert.deepEqual(list.map((x) => x.status), ['FAILED', 'FAILED']);
      const after = await next(t, sweep.sweep_id);
      assert.equal(after.trial, undefined);
      assert.equal(after.sweep.status, 'FINISHED');
    });
  });

  describe('sweeps: pause, resume, stop', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('a paused sweep hands out nothing until resumed; a stopped one is over', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'lifecycle', parameters: { x: { distribution: 'uniform', min: 0, max: 1 } } });
      const id = sweep.sweep_id;
      const running = (await next(t, id)).trial;
      const paused = await t.post(`${SWEEPS}/${id}/pause`, {});
      assert.equal(paused.json.sweep.status, 'PAUSED');
      const wait = await next(t, id);
      assert.equal(wait.trial, undefined);
      assert.ok(wait.retry_after_ms > 0);
      const again = await t.post(`${SWEEPS}/${id}/pause`, {});
      assert.equal(again.status, 400);
      assert.equal(again.json.message, `Sweep ${id} is PAUSED; it cannot become PAUSED`);
      assert.equal((await t.post(`${SWEEPS}/${id}/resume`, {})).json.sweep.status, 'RUNNING');
      assert.equal((await next(t, id)).trial.number, 1);

      const stopped = await t.post(`${SWEEPS}/${id}/stop`, {});
      assert.equal(stopped.json.sweep.status, 'STOPPED');
      const over = await next(t, id);
      assert.equal(over.trial, undefined);
      assert.equal(over.retry_after_ms, undefined);
      const stop = await t.post(`${SWEEPS}/${id}/should-stop`, { run_id: running.run_id });
      assert.equal(stop.json.should_stop, true);
      assert.match(stop.json.reason, /stopped/);
      const resumed = await t.post(`${SWEEPS}/${id}/resume`, {});
      assert.equal(resumed.status, 400);
      assert.equal(resumed.json.message, `Sweep ${id} is STOPPED; it cannot become RUNNING`);
      const parent = (await t.get('runs/get', { run_id: sweep.parent_run_id })).json.run;
      assert.equal(parent.info.status, 'KILLED');
      assert.equal(await pluck(t, 'SELECT status FROM sweeps WHERE id = ?', Number(id)), 'STOPPED');
    });
  });

  describe('sweeps: a paused sweep with nothing left to do', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('finishes once its last running trial ends', async () => {
      const sweep = await createSweep(t, { method: 'grid', name: 'paused-done', parameters: { a: { values: [1] } } });
      const trial = (await next(t, sweep.sweep_id)).trial;
      assert.equal((await t.post(`${SWEEPS}/${sweep.sweep_id}/pause`, {})).json.sweep.status, 'PAUSED');
      await finishTrial(t, trial.run_id, [0.5]);
      const after = (await t.get(`${SWEEPS}/${sweep.sweep_id}`)).json.sweep;
      assert.equal(after.status, 'FINISHED');
      assert.equal((await t.get('runs/get', { run_id: sweep.parent_run_id })).json.run.info.status, 'FINISHED');
    });
  });
});
