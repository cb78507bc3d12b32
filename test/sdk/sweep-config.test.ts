import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lablog, sweepConfigToWire, type SweepConfig, type SweepParams, type SweepParamsOf } from 'lablog-client';
import { servedApp } from './sdk.helpers.js';

// The camelCase config as the wire takes it, field by field, and the params' types inferred from the
// search space (this file compiles only while they are right; the values are checked at run time).

const served = servedApp();
const lab = () => new Lablog({ url: served.url, handleExit: false, captureSource: false });

/** Compile-time equality of two types. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typeIs = <_T extends true>() => undefined;

describe('sweep config and params', () => {
  it('sweepConfigToWire: every field in snake_case, single `when` values kept, options left out stay out', () => {
    const parameters: SweepConfig['parameters'] = {
      opt: { values: ['sgd', 'adam'] },
      momentum: { distribution: 'uniform', min: 0, max: 0.9, when: { opt: 'sgd' } },
      nesterov: { values: [true, false], when: { opt: ['sgd'] } },
    };
    const full: SweepConfig = {
      experiment: 'ignored: the id is given',
      name: 'full',
      method: 'bayes',
      metric: { name: 'val_loss', goal: 'maximize' },
      parameters,
      runCap: 7,
      earlyTerminate: { type: 'median', minIter: 3, eta: 4, minTrials: 2 },
      seed: 0,
      heartbeatTimeoutMs: 9000,
      tpe: { nStartupTrials: 0, nEiCandidates: 5 },
    };
    assert.deepEqual(sweepConfigToWire(full, '12'), {
      experiment_id: '12',
      name: 'full',
      method: 'bayes',
      metric: { name: 'val_loss', goal: 'maximize' },
      parameters,
      run_cap: 7,
      early_terminate: { type: 'median', min_iter: 3, eta: 4, min_trials: 2 },
      seed: 0,
      heartbeat_timeout_ms: 9000,
      tpe: { n_startup_trials: 0, n_ei_candidates: 5 },
    });
    const bare = sweepConfigToWire({ name: 'bare', method: 'grid', metric: { name: 'loss' }, parameters: { a: { value: 1 } }, earlyTerminate: { type: 'asha' }, tpe: {} }, '0');
    assert.deepEqual(bare, { experiment_id: '0', name: 'bare', method: 'grid', metric: { name: 'loss' }, parameters: { a: { value: 1 } }, early_terminate: { type: 'asha' }, tpe: {} });
    assert.deepEqual(Object.keys(bare).sort(), ['early_terminate', 'experiment_id', 'method', 'metric', 'name', 'parameters', 'tpe']);
  });

  it('params are typed from the search space: literals, numbers, optional conditionals; by id, plain scalars', async () => {
    const sweep = await lab().sweep({
      experiment: 'sdk-sweep-config',
      name: 'typed',
      method: 'grid',
      metric: { name: 'loss' },
      parameters: {
        opt: { values: ['sgd', 'adam'] },
        momentum: { values: [0.5, 0.9], when: { opt: 'sgd' } },
        layers: { distribution: 'int_uniform', min: 1, max: 2 },
        epochs: { value: 3 },
      },
    });
    // The server took the single `when` value and gives it back as a list.
    assert.deepEqual(sweep.last.config.parameters.momentum, { values: [0.5, 0.9], when: { opt: ['sgd'] } });
    assert.equal(sweep.last.grid_size, 6);
    const seen: string[] = [];
    const summary = await sweep.agent((params) => {
      typeIs<Equal<typeof params, { opt: 'sgd' | 'adam'; layers: number; epochs: 3; momentum?: 0.5 | 0.9 }>>();
      const lr: number = params.layers * 0.1 + (params.momentum ?? 0);
      seen.push(`${params.opt}/${params.momentum ?? '-'}/${params.layers}/${params.epochs}`);
      return lr;
    });
    assert.deepEqual(summary, { trials: 6, stopped: 0, failed: 0 });
    assert.deepEqual(seen.sort(), ['adam/-/1/3', 'adam/-/2/3', 'sgd/0.5/1/3', 'sgd/0.5/2/3', 'sgd/0.9/1/3', 'sgd/0.9/2/3']);

    const byId = await lab().sweep(sweep.id);
    await byId.agent((params) => {
      typeIs<Equal<typeof params, SweepParams>>();
    });
    // A config typed as the wide SweepConfig gives the wide params too.
    const wide: SweepConfig = { experiment: 'sdk-sweep-config', name: 'typed-wide', method: 'random', metric: { name: 'loss' }, parameters: { x: { distribution: 'uniform', min: 0, max: 1 } } };
    typeIs<Equal<SweepParamsOf<SweepConfig['parameters']>, Record<string, string | number | boolean>>>();
    const summaryWide = await (await lab().sweep(wide)).agent((params) => params.x as number, { count: 1 });
    assert.deepEqual(summaryWide, { trials: 1, stopped: 0, failed: 0 });
  });
});
