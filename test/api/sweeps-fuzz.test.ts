import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { backends, buildTestApp, type TestApp } from '../helper.js';
import { tableCountsOf } from './api.helpers.js';
import { createSweep, next, SWEEPS, trials } from './sweeps.helpers.js';

// Malformed sweep requests: never a 5xx, always MLflow's error shape, and a refused create writes nothing.

const scalar = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null));
const spec = fc.record(
  {
    values: fc.oneof(fc.array(scalar, { maxLength: 4 }), scalar),
    value: scalar,
    distribution: fc.oneof(fc.constantFrom('uniform', 'log_uniform', 'int_uniform', 'q_uniform', 'normal', 'beta'), scalar),
    min: fc.oneof(fc.double(), fc.integer({ min: -5, max: 5 }), scalar),
    max: fc.oneof(fc.double(), fc.integer({ min: -5, max: 5 }), scalar),
    q: fc.oneof(fc.double(), scalar),
    mu: fc.double(),
    sigma: fc.oneof(fc.double(), fc.constant(0)),
    when: fc.oneof(fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }))), scalar),
  },
  { requiredKeys: [] },
);
const config = fc.record(
  {
    method: fc.oneof(fc.constantFrom('grid', 'random', 'bayes'), scalar),
    metric: fc.oneof(fc.record({ name: fc.oneof(fc.string({ maxLength: 4 }), scalar), goal: fc.oneof(fc.constantFrom('minimize', 'maximize'), scalar) }), scalar),
    parameters: fc.oneof(fc.dictionary(fc.constantFrom('a', 'b', 'c', ''), spec, { maxKeys: 3 }), scalar),
    run_cap: fc.oneof(fc.integer({ min: -2, max: 20 }), scalar),
    early_terminate: fc.oneof(fc.record({ type: fc.oneof(fc.constantFrom('asha', 'median'), scalar), eta: fc.oneof(fc.integer({ min: -1, max: 4 }), scalar), min_iter: fc.oneof(fc.integer({ min: -1, max: 4 }), scalar) }), scalar),
    seed: fc.oneof(fc.integer(), fc.double(), scalar),
    heartbeat_timeout_ms: fc.oneof(fc.integer({ min: -1, max: 10 }), scalar),
    tpe: fc.oneof(fc.record({ n_startup_trials: fc.oneof(fc.integer({ min: -1, max: 3 }), scalar) }), scalar),
  },
  { requiredKeys: [] },
);

// Every suite here runs on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('sweeps: malformed requests', () => {
    let t: TestApp;
    before(async () => (t = await buildTestApp({ backend })));
    after(() => t.close());

    it('create never answers 5xx, and a refused create writes no row', async () => {
      const exp = (await t.post('experiments/create', { name: 'fuzz' })).json.experiment_id;
      let names = 0;
      await fc.assert(
        fc.asyncProperty(config, async (body) => {
          const before = await tableCountsOf(t);
          const res = await t.post(`${SWEEPS}/create`, { experiment_id: exp, name: `s${names++}`, ...body });
          assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `${res.status} ${res.body} for ${JSON.stringify(body)}`);
          if (res.status !== 200) {
            assert.equal(typeof res.json.error_code, 'string');
            assert.equal(typeof res.json.message, 'string');
            assert.deepEqual(await tableCountsOf(t), before);
          } else {
            // An accepted config must also serve a trial.
            const n = await t.post(`${SWEEPS}/${res.json.sweep.sweep_id}/next`, {});
            assert.equal(n.status, 200, n.body);
          }
        }),
        { numRuns: 300, seed: 20261127 },
      );
    });

    it('the worker endpoints refuse junk bodies and ids with a 4xx, and change nothing', async () => {
      const sweep = await createSweep(t, { method: 'random', name: 'junk', parameters: { x: { values: [1] } } });
      const trial = (await next(t, sweep.sweep_id)).trial;
      const state = async () => ({
        sweep: (await t.get(`${SWEEPS}/${sweep.sweep_id}`)).json.sweep.status,
        trials: (await trials(t, sweep.sweep_id)).map((x) => [x.number, x.status, (x as { last_heartbeat_time?: number }).last_heartbeat_time]),
        rows: await tableCountsOf(t),
      });
      const before = await state();
      const notString = fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(scalar, { maxLength: 2 }));
      const notObject = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null), fc.array(scalar, { maxLength: 2 }));
      // Bodies each route must refuse: no run id, a run id that is not a string or not this sweep's trial.
      const badTrialBody = fc.oneof(
        notObject,
        fc.record({ run_id: fc.oneof(notString, fc.constantFrom('', 'x', '0'.repeat(32), `${trial.run_id}0`)), worker: scalar }, { requiredKeys: [] }),
      );
      const badNextBody = fc.oneof(notObject, fc.record({ worker: notString, x: scalar }, { requiredKeys: ['worker'] }));
      const request = fc.oneof(
        // Any action on a sweep id that does not exist, with any body (also a valid one).
        fc.tuple(
          fc.constantFrom('next', 'heartbeat', 'should-stop', 'pause', 'resume', 'stop'),
          fc.constantFrom('0', 'x', '1e3', '99999999999999999999', `${sweep.sweep_id}0`),
          fc.oneof(badTrialBody, fc.constant({ run_id: trial.run_id }), fc.constant({})),
        ),
        fc.tuple(fc.constantFrom('heartbeat', 'should-stop'), fc.constant(sweep.sweep_id), badTrialBody),
        fc.tuple(fc.constant('next'), fc.constant(sweep.sweep_id), badNextBody),
      );
      await fc.assert(
        fc.asyncProperty(request, async ([action, id, body]) => {
          const res = await t.app.inject({ method: 'POST', url: `${SWEEPS}/${id}/${action}`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
          const what = `${action} ${id} ${JSON.stringify(body)} -> ${res.statusCode} ${res.body}`;
          assert.ok(res.statusCode === 400 || res.statusCode === 404, what);
          const err = JSON.parse(res.body);
          assert.equal(err.error_code, res.statusCode === 400 ? 'INVALID_PARAMETER_VALUE' : 'RESOURCE_DOES_NOT_EXIST', what);
          assert.equal(typeof err.message, 'string');
        }),
        { numRuns: 300, seed: 7 },
      );
      // Refused requests handed out no trial, beat no trial, and paused or stopped nothing.
      assert.deepEqual(await state(), before);
    });
  });
});
