import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lablog, LR_RANGE_TAGS, lrRangeTest } from 'lablog-client';
import { prng } from '../support/prng.js';
import { kv, lablogProcess, metricHistory, mlflowGet } from './sdk.helpers.js';

// lrRangeTest on a synthetic loss whose good range is known, and logged into a real lablog run.

/**
 * A loss as a function of x = log10(lr): flat ≈ 1 below 1e-5, a steep descent centred on 1e-3 (between
 * 1e-4 and 1e-2), the minimum at 0.1, rising past it and exploding above 1; times 1 ± 1% seeded noise.
 * With the default smoothing (β = 0.98, a lag of ~50 steps) the smoothed loss bottoms out later than the raw
 * one, which is why the suggestion uses the minimum / 10.
 */
function syntheticLoss(seed = 1): { loss: (lr: number) => number; calls: number[] } {
  const rand = prng(seed);
  const calls: number[] = [];
  const loss = (lr: number): number => {
    calls.push(lr);
    const x = Math.log10(lr);
    const descent = 1 - 0.9 / (1 + Math.exp(-4 * (x + 3)));
    const worse = x > -1 ? 0.5 * (x + 1) ** 2 : 0;
    const explosion = 0.1 * Math.exp(10 * x);
    return (descent + worse + explosion) * (1 + 0.02 * (rand() - 0.5));
  };
  return { loss, calls };
}

describe('lrRangeTest', () => {
  it('suggests a range inside the known good one, and stops once the loss diverges', async () => {
    const { loss, calls } = syntheticLoss();
    const r = await lrRangeTest({ step: async (lr) => loss(lr) });
    assert.ok(r.steepestLr >= 1e-4 && r.steepestLr <= 1e-2, `steepestLr ${r.steepestLr}`);
    assert.ok(r.suggestedRange[0] >= 1e-4 && r.suggestedRange[1] <= 1e-1, `suggestedRange ${r.suggestedRange}`);
    assert.ok(r.suggestedRange[0] <= r.suggestedRange[1]);
    assert.deepEqual(r.suggestedRange, [Math.min(r.steepestLr, r.minLossLr / 10), Math.max(r.steepestLr, r.minLossLr / 10)]);
    // The minimum of the smoothed loss lies past the raw minimum (the EMA lags), but before the explosion.
    assert.ok(r.minLossLr >= 1e-2 && r.minLossLr <= 1, `minLossLr ${r.minLossLr}`);

    assert.equal(r.stoppedEarly, true);
    assert.equal(r.divergedAt, r.lrs.length - 1);
    assert.ok(calls.length < 100, `${calls.length} calls`);
    assert.equal(calls.length, r.lrs.length);
    assert.deepEqual(calls, r.lrs);
    assert.equal(r.losses.length, r.lrs.length);
    assert.equal(r.smoothed.length, r.lrs.length);
    const best = Math.min(...r.smoothed.slice(0, -1));
    assert.ok(r.smoothed.at(-1)! > 4 * best, 'the last point is the divergent one');
    assert.ok(r.smoothed.slice(0, -1).every((s, i) => i === 0 || s <= 4 * Math.min(...r.smoothed.slice(0, i))), 'no earlier divergence');
    // The divergence is in the exploding part, above 1.
    assert.ok(r.lrs.at(-1)! > 1, `diverged at lr ${r.lrs.at(-1)}`);
  });

  it('the suggestion holds for any noise seed', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { loss, calls } = syntheticLoss(seed);
      const r = await lrRangeTest({ step: loss });
      assert.ok(r.steepestLr >= 1e-4 && r.steepestLr <= 1e-2, `seed ${seed}: steepestLr ${r.steepestLr}`);
      assert.ok(r.suggestedRange[0] >= 1e-4 && r.suggestedRange[1] <= 1e-1, `seed ${seed}: suggestedRange ${r.suggestedRange}`);
      assert.ok(r.stoppedEarly && calls.length < 100, `seed ${seed}`);
    }
  });

  it('exp mode: the lrs are geometric from minLr to maxLr; the smoothed loss is the debiased EMA', async () => {
    const losses = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const r = await lrRangeTest({ minLr: 1e-3, maxLr: 1e6, steps: 10, smoothing: 0.9, divergeFactor: 100, step: (_lr, i) => losses[i] });
    assert.equal(r.stoppedEarly, false);
    assert.equal(r.divergedAt, undefined);
    assert.equal(r.lrs.length, 10);
    r.lrs.forEach((lr, i) => assert.ok(Math.abs(lr / 10 ** (i - 3) - 1) < 1e-12, `lr ${i} = ${lr}`));
    assert.equal(r.lrs[9], 1e6);
    let avg = 0;
    losses.forEach((l, i) => {
      avg = 0.9 * avg + 0.1 * l;
      assert.ok(Math.abs(r.smoothed[i] - avg / (1 - 0.9 ** (i + 1))) < 1e-12);
    });
    assert.equal(r.smoothed[0], 3);
    assert.deepEqual(r.losses, losses);
  });

  it('linear mode works: equal increments, steepest descent w.r.t. lr', async () => {
    // loss = 1 - 0.9·sigmoid((lr - 0.3)/0.03) + explosion past 0.8: steepest near 0.3, minimum near 0.6.
    const rand = prng(7);
    const r = await lrRangeTest({
      minLr: 0.01,
      maxLr: 1,
      steps: 100,
      mode: 'linear',
      smoothing: 0.5,
      step: async (lr) => (1 - 0.9 / (1 + Math.exp(-(lr - 0.3) / 0.03)) + 0.01 * Math.exp(20 * (lr - 0.8))) * (1 + 0.01 * (rand() - 0.5)),
    });
    r.lrs.forEach((lr, i) => assert.ok(Math.abs(lr - (0.01 + 0.01 * i)) < 1e-12, `lr ${i} = ${lr}`));
    assert.ok(r.steepestLr >= 0.25 && r.steepestLr <= 0.35, `steepestLr ${r.steepestLr}`);
    assert.ok(r.minLossLr >= 0.5 && r.minLossLr <= 0.8, `minLossLr ${r.minLossLr}`);
    assert.deepEqual(r.suggestedRange, [Math.min(r.steepestLr, r.minLossLr / 10), Math.max(r.steepestLr, r.minLossLr / 10)]);
    assert.equal(r.stoppedEarly, true, 'the explosion past 0.8 is a divergence');
    assert.ok(r.lrs.length < 100 && r.lrs.at(-1)! > 0.8);
  });

  it('stops at a NaN or infinite loss, leaving it out of the suggestion', async () => {
    const r = await lrRangeTest({ steps: 50, step: (lr) => (lr > 1e-2 ? NaN : 1 / (1 + lr * 1e3)) });
    assert.equal(r.stoppedEarly, true);
    assert.ok(Number.isNaN(r.losses.at(-1)));
    assert.equal(r.divergedAt, r.lrs.length - 1);
    assert.ok(r.lrs.at(-2)! <= 1e-2 && r.lrs.at(-1)! > 1e-2);
    assert.ok(Number.isFinite(r.steepestLr) && Number.isFinite(r.minLossLr));
    assert.ok(r.minLossLr <= 1e-2);

    const inf = await lrRangeTest({ steps: 20, step: (_lr, i) => (i === 5 ? Infinity : 1) });
    assert.equal(inf.divergedAt, 5);
    assert.equal(inf.lrs.length, 6);

    const first = await lrRangeTest({ steps: 20, step: () => NaN });
    assert.equal(first.lrs.length, 1);
    assert.ok(Number.isNaN(first.steepestLr) && Number.isNaN(first.minLossLr));
  });

  it('a loss diving to -1e308 (overflow in the making) is divergence, not the minimum', async () => {
    const r = await lrRangeTest({ steps: 50, step: (lr) => (lr > 1e-2 ? -1.7e308 : 1 / (1 + lr * 1e3)) });
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.divergedAt, r.lrs.length - 1);
    assert.ok(r.lrs.at(-1)! > 1e-2);
    assert.ok(r.minLossLr <= 1e-2, `the blown-up step was taken as the minimum: ${r.minLossLr}`);
    assert.ok(r.suggestedRange[1] <= 1e-2, JSON.stringify(r.suggestedRange));
  });

  it('validates its arguments (RangeError)', async () => {
    const step = () => 1;
    const bad: [string, Record<string, unknown>][] = [
      ['no step', {}],
      ['step not a function', { step: 1 }],
      ['minLr 0', { step, minLr: 0 }],
      ['minLr < 0', { step, minLr: -1 }],
      ['minLr NaN', { step, minLr: NaN }],
      ['maxLr = minLr', { step, minLr: 1e-3, maxLr: 1e-3 }],
      ['maxLr < minLr', { step, minLr: 1, maxLr: 0.1 }],
      ['maxLr Infinity', { step, maxLr: Infinity }],
      ['steps 1', { step, steps: 1 }],
      ['steps 2.5', { step, steps: 2.5 }],
      ['steps "10"', { step, steps: '10' }],
      ['mode', { step, mode: 'cosine' }],
      ['smoothing 1', { step, smoothing: 1 }],
      ['smoothing < 0', { step, smoothing: -0.1 }],
      ['smoothing NaN', { step, smoothing: NaN }],
      ['divergeFactor 1', { step, divergeFactor: 1 }],
      ['divergeFactor NaN', { step, divergeFactor: NaN }],
      ['run', { step, run: {} }],
    ];
    for (const [what, opts] of bad) await assert.rejects(lrRangeTest(opts as any), RangeError, what);
    await assert.rejects(lrRangeTest(undefined as any), RangeError);
    // a failing step propagates
    await assert.rejects(lrRangeTest({ step: () => { throw new Error('oom'); } }), /oom/);
    // the edges that are allowed
    assert.equal((await lrRangeTest({ step, steps: 2, smoothing: 0, divergeFactor: Infinity })).lrs.length, 2);
  });
});

describe('lrRangeTest into a lablog run', () => {
  const env = lablogProcess();
  const get = (route: string, query: Record<string, string>) => mlflowGet(env.server.url, route, query);

  it('logs lr, loss and loss_smoothed per step, and the suggestion as tags and params', { timeout: 120_000 }, async () => {
    const lab = new Lablog({ url: env.server.url, handleExit: false, captureSource: false });
    const run = await lab.startRun({ experiment: 'lr-range', name: 'lr-find', params: { batch: 64 } });
    const { loss } = syntheticLoss(3);
    const r = await lrRangeTest({ step: async (lr) => loss(lr), run });
    await run.end();
    assert.equal(r.stoppedEarly, true);
    const taken = r.lrs.length;

    for (const [key, values] of [['lr', r.lrs], ['loss', r.losses], ['loss_smoothed', r.smoothed]] as const) {
      const points = await metricHistory(env.server.url, run.id, key);
      assert.equal(points.length, taken, key);
      assert.deepEqual(points.map((p) => p.step), [...Array(taken).keys()], key);
      assert.deepEqual(points.map((p) => p.value), values, key);
    }

    const { run: got } = await get('runs/get', { run_id: run.id });
    assert.equal(got.info.status, 'FINISHED');
    const tags = kv(got.data.tags);
    assert.equal(Number(tags[LR_RANGE_TAGS.steepest]), r.steepestLr);
    assert.equal(Number(tags['lablog.lr_range.min_loss']), r.minLossLr);
    assert.equal(Number(tags['lablog.lr_range.suggested_min']), r.suggestedRange[0]);
    assert.equal(Number(tags['lablog.lr_range.suggested_max']), r.suggestedRange[1]);
    const params = kv(got.data.params);
    assert.deepEqual(params, {
      batch: '64',
      'lr_range.min_lr': '1e-07', // as Python's str() writes it
      'lr_range.max_lr': '10',
      'lr_range.steps': '100',
      'lr_range.mode': 'exp',
      'lr_range.smoothing': '0.98',
      'lr_range.diverge_factor': '4',
    });
  });
});
