import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { categoricalParzen, defaultWeights, numericParzen } from '../../server/sweeps/parzen.js';
import { isActive, quantized, sampleRandom } from '../../server/sweeps/random.js';
import { createRng } from '../../server/sweeps/rng.js';
import { gamma, splitTrials, suggestTpe } from '../../server/sweeps/tpe.js';
import type { Assignment, Goal, Param, Space, TrialRecord } from '../../server/sweeps/types.js';

// TPE on hand-built spaces and histories. Every rng is seeded, so each check computes the same numbers
// on every run; the optimisation checks compare against random search on the very same seeds.

const uniform = (name: string, min: number, max: number, when: Param['when'] = null): Param => ({ name, when, kind: 'uniform', min, max });
const logLr: Param = { name: 'lr', when: null, kind: 'log_uniform', min: 1e-6, max: 1 };

const EVERY_KIND: Space = [
  { name: 'opt', when: null, kind: 'categorical', values: ['sgd', 'adam', 'lion'] },
  { name: 'momentum', when: { opt: ['sgd'] }, kind: 'uniform', min: 0, max: 0.99 },
  { name: 'beta2', when: { opt: ['adam', 'lion'] }, kind: 'log_uniform', min: 1e-4, max: 0.1 },
  { name: 'layers', when: null, kind: 'int_uniform', min: 1, max: 4 },
  { name: 'width', when: { layers: [3, 4] }, kind: 'q_uniform', min: 0, max: 1, q: 0.3 },
  { name: 'init', when: null, kind: 'normal', mu: 0.1, sigma: 0.02 },
  { name: 'epochs', when: null, kind: 'constant', value: 20 },
  { name: 'shuffle', when: null, kind: 'categorical', values: [true, false] },
];

/** An objective over EVERY_KIND with its best corner inside the space (lion, 4 layers, width 0.9). */
function everyKindObjective(a: Assignment): number {
  let v = a.opt === 'lion' ? 0 : 1;
  if (a.momentum !== undefined) v += (a.momentum as number) ** 2;
  if (a.beta2 !== undefined) v += Math.abs(Math.log10(a.beta2 as number) + 2);
  v += 4 - (a.layers as number);
  v += a.width === undefined ? 1 : 1 - (a.width as number);
  v += Math.abs((a.init as number) - 0.13) * 10;
  return v + (a.shuffle ? 0 : 0.5);
}

interface Loop {
  params: Assignment[];
  history: TrialRecord[];
  best: number;
}

/** A sequential search: trial i draws from rng (seed, i), as a sweep does. */
function search(space: Space, f: (a: Assignment) => number, seed: string, trials: number, method: 'tpe' | 'random', goal: Goal = 'minimize'): Loop {
  const history: TrialRecord[] = [];
  const params: Assignment[] = [];
  for (let i = 0; i < trials; i++) {
    const rng = createRng(seed, i);
    const p = method === 'tpe' ? suggestTpe(space, history, { goal, rng }) : sampleRandom(space, rng);
    params.push(p);
    history.push({ params: p, state: 'complete', value: f(p), step: 0 });
  }
  const values = history.map((t) => t.value!);
  return { params, history, best: goal === 'minimize' ? Math.min(...values) : Math.max(...values) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
};

const complete = (params: Assignment, value: number | null): TrialRecord => ({ params, state: 'complete', value, step: 0 });

describe('TPE: trial split and weights (Optuna defaults)', () => {
  it('gamma is 10 % rounded up, capped at 25', () => {
    assert.deepEqual([0, 1, 10, 11, 20, 21, 250, 1000].map(gamma), [0, 1, 1, 2, 2, 3, 25, 25]);
  });

  it('weights are flat below 25 observations, then ramp from 1/n for the oldest', () => {
    assert.deepEqual(defaultWeights(3), [1, 1, 1]);
    assert.deepEqual(defaultWeights(26), [1 / 26, ...new Array(25).fill(1)]);
    const w = defaultWeights(35);
    assert.equal(w.length, 35);
    assert.equal(w[0], 1 / 35);
    assert.ok(Math.abs(w[9]! - 1) < 1e-12);
    assert.ok(w.slice(0, 10).every((x, i) => i === 0 || x > w[i - 1]!), 'the ramp rises');
    assert.deepEqual(w.slice(10), new Array(25).fill(1));
  });

  it('ranks completed trials by value, pruned ones after them by depth then value, and drops the rest', () => {
    const t = (n: number, state: TrialRecord['state'], value: number | null, step: number | null): TrialRecord => ({ params: { n }, state, value, step });
    const history = [
      t(0, 'complete', 5, 10),
      t(1, 'pruned', -100, 3), // the best value of all, but pruned
      t(2, 'complete', 1, 10),
      t(3, 'running', -1000, 1),
      t(4, 'failed', -1000, 1),
      t(5, 'complete', null, null),
      t(6, 'pruned', 50, 9), // deeper than trial 1: ranks before it despite its value
      t(7, 'complete', 3, 10),
      t(8, 'pruned', 0, null), // no step: last of the pruned
      ...[9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((n) => t(n, 'complete', 100 + n, 10)),
    ];
    // 18 usable trials -> gamma 2; then below = the 2 best complete, in trial order.
    const { below, above } = splitTrials(history, 'minimize');
    assert.deepEqual(below.map((x) => x.params.n), [2, 7]);
    assert.deepEqual(above.map((x) => x.params.n), [0, 1, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    // With only one completed trial the pruned ones fill the below set: deeper first, then by value.
    const fewComplete = history.map((x) => (x.state === 'complete' && x.params.n !== 2 ? { ...x, state: 'pruned' as const, step: 9 } : x));
    // Trial 2 (complete), then trial 7: stopped at step 9 with 3, ahead of trial 1's -100 at step 3.
    assert.deepEqual(splitTrials(fewComplete, 'minimize').below.map((x) => x.params.n), [2, 7]);
    // Maximize: highest value first among completed trials.
    assert.deepEqual(splitTrials(history, 'maximize').below.map((x) => x.params.n), [18, 19]);
  });
});

describe('TPE: Parzen estimators are proper densities', () => {
  it('a continuous estimator integrates to 1 over its interval, a discrete one sums to 1 over its grid', () => {
    const cont = numericParzen([0.1, 0.15, 0.9, 2.5], { low: 0, high: 3, step: null });
    const steps = 30000;
    const h = 3 / steps;
    const xs = Array.from({ length: steps }, (_, i) => (i + 0.5) * h);
    const integral = cont.logPdf(xs).reduce((s, l) => s + Math.exp(l) * h, 0);
    assert.ok(Math.abs(integral - 1) < 1e-6, `integral ${integral}`);

    const disc = numericParzen([2, 2, 7], { low: 1, high: 10, step: 1 });
    const grid = Array.from({ length: 10 }, (_, i) => i + 1);
    const total = disc.logPdf(grid).reduce((s, l) => s + Math.exp(l), 0);
    assert.ok(Math.abs(total - 1) < 1e-12, `total ${total}`);
    const probs = disc.logPdf(grid).map(Math.exp);
    assert.ok(probs[1]! > probs[8]!, 'mass follows the observations');

    const cat = categoricalParzen([1, 1, 3], 4);
    const catTotal = cat.logPdf([0, 1, 2, 3]).reduce((s, l) => s + Math.exp(l), 0);
    assert.ok(Math.abs(catTotal - 1) < 1e-12);
    // Kernels on 1, 1, 3 put 1.25/2 on their choice and 0.25/2 elsewhere; the prior 1/4 everywhere; equal weights.
    const expected1 = (0.625 + 0.625 + 0.125 + 0.25) / 4;
    assert.ok(Math.abs(Math.exp(cat.logPdf([1])[0]!) - expected1) < 1e-12);
  });
});

describe('suggestTpe', () => {
  const warm = search(EVERY_KIND, everyKindObjective, 'warm', 15, 'random').history;

  it('gives the same suggestion for the same seed and history, another for another seed', () => {
    const a = suggestTpe(EVERY_KIND, warm, { goal: 'minimize', rng: createRng('same', 1) });
    const b = suggestTpe(EVERY_KIND, warm, { goal: 'minimize', rng: createRng('same', 1) });
    const c = suggestTpe(EVERY_KIND, warm, { goal: 'minimize', rng: createRng('same', 2) });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('is random search from the same rng stream until n_startup_trials usable trials exist', () => {
    // 9 completed with values, plus trials that do not count: running, failed, and completed without a value.
    const history = [
      ...warm.slice(0, 9),
      { ...warm[9]!, state: 'running' as const },
      { ...warm[10]!, state: 'failed' as const },
      complete(warm[11]!.params, null),
    ];
    const tpe = suggestTpe(EVERY_KIND, history, { goal: 'minimize', rng: createRng('startup', 0) });
    assert.deepEqual(tpe, sampleRandom(EVERY_KIND, createRng('startup', 0)));
    // A tenth usable trial, even a pruned one, switches TPE on.
    const tenth = [...history, { ...warm[12]!, state: 'pruned' as const, step: 3 }];
    const on = suggestTpe(EVERY_KIND, tenth, { goal: 'minimize', rng: createRng('startup', 0) });
    assert.notDeepEqual(on, sampleRandom(EVERY_KIND, createRng('startup', 0)));
    // The threshold is configurable.
    const custom = suggestTpe(EVERY_KIND, tenth, { goal: 'minimize', rng: createRng('startup', 0), nStartupTrials: 11 });
    assert.deepEqual(custom, sampleRandom(EVERY_KIND, createRng('startup', 0)));
  });

  it('keeps every value in its domain and sets exactly the active parameters', () => {
    const seen = { width09: 0, layers4: 0, momentum: 0, beta2: 0 };
    for (const seed of ['d1', 'd2', 'd3']) {
      const { params } = search(EVERY_KIND, everyKindObjective, seed, 60, 'tpe');
      for (const a of params.slice(10)) {
        const expected: Assignment = {};
        for (const p of EVERY_KIND) if (isActive(p, expected)) expected[p.name] = a[p.name]!;
        assert.deepEqual(Object.keys(a).sort(), Object.keys(expected).sort(), JSON.stringify(a));
        for (const p of EVERY_KIND) {
          if (!(p.name in a)) continue;
          const v = a[p.name]!;
          switch (p.kind) {
            case 'categorical':
              assert.ok(p.values.includes(v), `${p.name}=${v}`);
              break;
            case 'constant':
              assert.equal(v, p.value);
              break;
            case 'uniform':
            case 'log_uniform':
              assert.ok(typeof v === 'number' && v >= p.min && v <= p.max, `${p.name}=${v}`);
              break;
            case 'int_uniform':
              assert.ok(Number.isInteger(v) && (v as number) >= p.min && (v as number) <= p.max, `${p.name}=${v}`);
              break;
            case 'q_uniform':
              assert.ok([0, 1, 2, 3].some((k) => v === quantized(p.min, p.q, k)), `${p.name}=${v} is off the grid 0, 0.3, 0.6, 0.9`);
              break;
            case 'normal':
              assert.ok(typeof v === 'number' && Math.abs(v - p.mu) <= 5 * p.sigma, `${p.name}=${v}`);
              break;
          }
        }
        if (a.width === 0.9) seen.width09++;
        if (a.layers === 4) seen.layers4++;
        if ('momentum' in a) seen.momentum++;
        if ('beta2' in a) seen.beta2++;
      }
    }
    // The grid tops (the objective's best) are reached, and both conditional branches get suggested.
    assert.ok(seen.width09 > 0 && seen.layers4 > 0 && seen.momentum > 0 && seen.beta2 > 0, JSON.stringify(seen));
  });

  it('finds a better best than random search on a quadratic in log10(lr) (median of 10 seeds, 40 trials)', () => {
    const f = (a: Assignment) => (Math.log10(a.lr as number) + 2.5) ** 2;
    const tpe: number[] = [];
    const random: number[] = [];
    for (let seed = 0; seed < 10; seed++) {
      tpe.push(search([logLr], f, `quad-${seed}`, 40, 'tpe').best);
      random.push(search([logLr], f, `quad-${seed}`, 40, 'random').best);
    }
    assert.ok(median(tpe) < median(random) / 10, `TPE median ${median(tpe)}, random median ${median(random)}`);
    assert.ok(tpe.filter((v, i) => v <= random[i]!).length >= 8, `TPE ${tpe} vs random ${random}`);
  });

  it("mirrors itself under goal 'maximize' with the objective negated", () => {
    const space = [logLr, uniform('m', 0, 1)];
    const f = (a: Assignment) => (Math.log10(a.lr as number) + 3) ** 2 + (a.m as number);
    const min = search(space, f, 'mirror', 30, 'tpe', 'minimize');
    const max = search(space, (a) => -f(a), 'mirror', 30, 'tpe', 'maximize');
    assert.deepEqual(max.params, min.params);
    assert.equal(max.best, -min.best);
    // Pruned trials rank the same way mirrored.
    const pruned = min.history.map((t, i) => (i % 3 === 0 ? { ...t, state: 'pruned' as const, step: i % 2 } : t));
    const negated = pruned.map((t) => ({ ...t, value: -t.value! }));
    assert.deepEqual(
      suggestTpe(space, negated, { goal: 'maximize', rng: createRng('m', 1) }),
      suggestTpe(space, pruned, { goal: 'minimize', rng: createRng('m', 1) }),
    );
  });

  it('suggests a clearly best categorical choice most of the time after startup', () => {
    const space: Space = [{ name: 'act', when: null, kind: 'categorical', values: ['relu', 'gelu', 'tanh', 'sigmoid'] }, uniform('x', 0, 1)];
    const f = (a: Assignment) => (a.act === 'gelu' ? 0 : 1) + 0.1 * (a.x as number);
    let gelu = 0;
    let total = 0;
    for (const seed of ['c1', 'c2', 'c3']) {
      const { params } = search(space, f, seed, 40, 'tpe');
      for (const a of params.slice(10)) {
        total++;
        if (a.act === 'gelu') gelu++;
      }
    }
    // Random search would pick it a quarter of the time.
    assert.ok(gelu / total >= 0.6, `gelu ${gelu} of ${total}`);
  });

  it('counts pruned trials as worse than every completed one', () => {
    // x in [0, 10]. Two trials near 2 completed with mediocre values; two near 8 have far better values
    // but were pruned. The rest are spread symmetrically around 5 with worse values. With 20 usable
    // trials the below set holds 2: the pair near 2 when pruning ranks last, the pair near 8 otherwise.
    const spread = [0.2, 0.6, 3.8, 4.4, 5.6, 6.2, 9.4, 9.8];
    const space = [uniform('x', 0, 10)];
    const history = (prunedState: 'pruned' | 'complete'): TrialRecord[] => [
      complete({ x: 1.9 }, 50),
      { params: { x: 7.9 }, state: prunedState, value: 0, step: 5 },
      ...spread.map((x, i) => complete({ x }, 60 + i)),
      complete({ x: 2.1 }, 51),
      { params: { x: 8.1 }, state: prunedState, value: 0.1, step: 5 },
      ...spread.map((x, i) => ({ params: { x: x + 0.05 }, state: prunedState, value: 70 + i, step: 5 })),
    ];
    for (let seed = 0; seed < 8; seed++) {
      const asPruned = suggestTpe(space, history('pruned'), { goal: 'minimize', rng: createRng('pruned', seed) }).x as number;
      const asComplete = suggestTpe(space, history('complete'), { goal: 'minimize', rng: createRng('pruned', seed) }).x as number;
      assert.ok(asPruned < 5, `seed ${seed}: with the pair near 8 pruned, TPE suggested ${asPruned}`);
      assert.ok(asComplete > 5, `seed ${seed}: with the pair near 8 completed, TPE suggested ${asComplete}`);
    }
  });
});
