import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isActive, sampleParam, sampleRandom } from '../../server/sweeps/random.js';
import { createRng } from '../../server/sweeps/rng.js';
import { normalizeSpace, paramValueOptions } from '../../server/sweeps/space.js';
import type { Param, ParamValue, RawParam } from '../../server/sweeps/types.js';
import { chiSquarePValue, chiSquareStatistic, ksCritical, ksStatistic, normalCdf } from './stats.js';

// Random search follows each prior: KS against the exact CDF for the continuous kinds, chi-square for
// the discrete ones. Seeds are fixed, so each statistic is the same number on every run; alpha = 0.001
// keeps a correct sampler far from the threshold, and each check is also shown to reject a wrong law.

// 10,000 draws put the KS critical value at 0.0195, small enough to catch sigma off by 20% (D ≈ 0.044).
const N = 10_000;
const ALPHA = 0.001;
const D_CRIT = ksCritical(N, ALPHA);

function param(raw: RawParam): Param {
  return normalizeSpace({ p: raw })[0]!;
}

function draw(p: Param, n: number, seed: string): ParamValue[] {
  const rng = createRng(seed, 0);
  return Array.from({ length: n }, () => sampleParam(p, rng));
}

function numbers(values: ParamValue[]): number[] {
  return values.map((v) => {
    assert.equal(typeof v, 'number');
    return v as number;
  });
}

const uniformCdf = (a: number, b: number) => (x: number) => Math.min(1, Math.max(0, (x - a) / (b - a)));

/** Counts of each option among the draws, asserting every draw is one of the options. */
function histogram(values: ParamValue[], options: ParamValue[]): number[] {
  const counts = options.map(() => 0);
  for (const v of values) {
    const i = options.indexOf(v);
    assert.ok(i >= 0, `${JSON.stringify(v)} is not one of the options`);
    counts[i]!++;
  }
  return counts;
}

function chiSquareP(observed: number[], weights: number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  const total = weights.reduce((a, b) => a + b, 0);
  return chiSquarePValue(chiSquareStatistic(observed, weights.map((w) => (n * w) / total)), observed.length - 1);
}

describe('goodness-of-fit helpers', () => {
  it('match tabulated values', () => {
    assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
    assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
    assert.ok(Math.abs(normalCdf(-2.326348) - 0.01) < 1e-6);
    assert.ok(Math.abs(normalCdf(12, 10, 2) - normalCdf(1)) < 1e-12);
    // Chi-square 0.999 quantiles: dof 1 10.828, dof 2 13.816, dof 10 29.588, dof 30 59.703.
    for (const [x, dof] of [[10.828, 1], [13.816, 2], [29.588, 10], [59.703, 30]] as const) {
      assert.ok(Math.abs(chiSquarePValue(x, dof) - 0.001) < 2e-6, `dof ${dof}: ${chiSquarePValue(x, dof)}`);
    }
    assert.ok(Math.abs(chiSquarePValue(4, 4) - 0.406006) < 1e-6);
    assert.ok(Math.abs(D_CRIT * Math.sqrt(N) - 1.94947) < 1e-5);
    assert.equal(ksStatistic([0.5], uniformCdf(0, 1)), 0.5);
    assert.ok(Math.abs(ksStatistic([0.1, 0.2, 0.3, 0.4], uniformCdf(0, 1)) - 0.6) < 1e-12);
  });
});

describe('sampleParam follows its distribution', () => {
  it('uniform: KS against (x - min) / (max - min)', () => {
    const p = param({ distribution: 'uniform', min: -3, max: 5 });
    const xs = numbers(draw(p, N, 'uniform'));
    assert.ok(xs.every((x) => x >= -3 && x <= 5));
    const d = ksStatistic(xs, uniformCdf(-3, 5));
    assert.ok(d < D_CRIT, `D = ${d}, critical ${D_CRIT}`);
    // A wrong law fails the same check: the right shape on a range 20% too wide.
    const wrong = ksStatistic(xs, uniformCdf(-3, 6.6));
    assert.ok(wrong > D_CRIT, `wrong law D = ${wrong}`);
  });

  it('log_uniform: KS of the logs against uniform on [ln min, ln max]', () => {
    const p = param({ distribution: 'log_uniform', min: 1e-5, max: 1 });
    const xs = numbers(draw(p, N, 'log_uniform'));
    assert.ok(xs.every((x) => x >= 1e-5 && x <= 1));
    const d = ksStatistic(xs.map(Math.log), uniformCdf(Math.log(1e-5), 0));
    assert.ok(d < D_CRIT, `D = ${d}, critical ${D_CRIT}`);
    // The mistake this catches: a plain uniform between the bounds.
    const wrong = ksStatistic(xs, uniformCdf(1e-5, 1));
    assert.ok(wrong > D_CRIT, `wrong law D = ${wrong}`);
    // Each of the five decades holds a fifth of the draws.
    const perDecade = [0, 0, 0, 0, 0];
    for (const x of xs) perDecade[Math.min(4, Math.floor(-Math.log10(x)))]!++;
    assert.ok(chiSquareP(perDecade, [1, 1, 1, 1, 1]) > ALPHA, `per decade ${perDecade}`);
  });

  it('normal: KS against Φ((x - mu) / sigma)', () => {
    const p = param({ distribution: 'normal', mu: 0.1, sigma: 0.02 });
    const xs = numbers(draw(p, N, 'normal'));
    const d = ksStatistic(xs, (x) => normalCdf(x, 0.1, 0.02));
    assert.ok(d < D_CRIT, `D = ${d}, critical ${D_CRIT}`);
    const shifted = ksStatistic(xs, (x) => normalCdf(x, 0.105, 0.02));
    assert.ok(shifted > D_CRIT, `mean off by sigma/4: D = ${shifted}`);
    const wider = ksStatistic(xs, (x) => normalCdf(x, 0.1, 0.024));
    assert.ok(wider > D_CRIT, `sigma 1.2x: D = ${wider}`);
  });

  it('int_uniform: chi-square, both ends included', () => {
    const p = param({ distribution: 'int_uniform', min: -2, max: 7 });
    const options = paramValueOptions(p);
    const counts = histogram(draw(p, 3000, 'int_uniform'), options);
    assert.ok(counts[0]! > 0 && counts.at(-1)! > 0, 'min and max are drawn');
    const pValue = chiSquareP(counts, options.map(() => 1));
    assert.ok(pValue > ALPHA, `p = ${pValue}, counts ${counts}`);
    // Against a ramp (weights 1..10) the same counts must fail.
    assert.ok(chiSquareP(counts, options.map((_, i) => i + 1)) < ALPHA);
  });

  it('q_uniform with an integer q: chi-square over min + k·q, never above max', () => {
    const p = param({ distribution: 'q_uniform', min: 16, max: 250, q: 16 });
    const options = paramValueOptions(p);
    assert.equal(options.length, 15);
    const counts = histogram(draw(p, 3000, 'q_uniform'), options);
    const pValue = chiSquareP(counts, options.map(() => 1));
    assert.ok(pValue > ALPHA, `p = ${pValue}, counts ${counts}`);
    assert.ok(chiSquareP(counts, options.map((_, i) => (i < 7 ? 1 : 2))) < ALPHA);
  });

  it('q_uniform with q = 0.1: draws are exactly the rounded steps 0, 0.1, ..., 1', () => {
    const p = param({ distribution: 'q_uniform', min: 0, max: 1, q: 0.1 });
    const options = paramValueOptions(p);
    assert.deepEqual(options, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    const counts = histogram(draw(p, 3000, 'q_uniform_f'), options);
    const pValue = chiSquareP(counts, options.map(() => 1));
    assert.ok(pValue > ALPHA, `p = ${pValue}, counts ${counts}`);
  });

  it('categorical: chi-square over the values, any JSON scalar', () => {
    const values: ParamValue[] = ['sgd', 'adam', 3, true, 'rmsprop'];
    const p = param({ values });
    const counts = histogram(draw(p, 3000, 'categorical'), values);
    const pValue = chiSquareP(counts, [1, 1, 1, 1, 1]);
    assert.ok(pValue > ALPHA, `p = ${pValue}, counts ${counts}`);
    assert.ok(chiSquareP(counts, [2, 1, 1, 1, 1]) < ALPHA);
  });

  it('constant: always the value', () => {
    assert.deepEqual(new Set(draw(param({ value: false }), 100, 'constant')), new Set([false]));
  });
});

describe('sampleRandom', () => {
  const SPACE = normalizeSpace({
    lr: { distribution: 'log_uniform', min: 1e-5, max: 1 },
    optimizer: { values: ['sgd', 'adam'] },
    momentum: { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: 'sgd' } },
    nesterov: { values: [true, false], when: { optimizer: 'sgd' } },
    dampening: { value: 0.1, when: { nesterov: false } },
    layers: { distribution: 'int_uniform', min: 1, max: 4 },
    width: { distribution: 'q_uniform', min: 32, max: 128, q: 32, when: { layers: [2, 3, 4] } },
    init_std: { distribution: 'normal', mu: 0.1, sigma: 0.02 },
  });

  it('is reproducible from its seed and differs between seeds', () => {
    const run = (...seed: Array<string | number>) => {
      const rng = createRng(...seed);
      return Array.from({ length: 50 }, () => sampleRandom(SPACE, rng));
    };
    assert.deepEqual(run(7, 3), run(7, 3));
    const a = run(7, 3);
    const b = run(7, 4);
    const c = run(8, 3);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, c);
    // Not merely a shifted stream: no first-draw learning rate repeats across the seeds.
    assert.notEqual(a[0]!.lr, b[0]!.lr);
    assert.notEqual(a[0]!.lr, c[0]!.lr);
  });

  it('draws a conditional parameter exactly when its parents enable it', () => {
    const rng = createRng('conditional', 1);
    const seen = { sgd: 0, adam: 0, dampening: 0, wide: 0, shallow: 0 };
    for (let i = 0; i < 4000; i++) {
      const a = sampleRandom(SPACE, rng);
      const sgd = a.optimizer === 'sgd';
      assert.equal('momentum' in a, sgd);
      assert.equal('nesterov' in a, sgd);
      // A grandchild: nesterov must be active *and* false.
      assert.equal('dampening' in a, sgd && a.nesterov === false);
      assert.equal('width' in a, a.layers !== 1);
      for (const p of SPACE) assert.equal(p.name in a, isActive(p, a), p.name);
      if (sgd) seen.sgd++;
      else seen.adam++;
      if ('dampening' in a) seen.dampening++;
      if ('width' in a) seen.wide++;
      else seen.shallow++;
    }
    // The parents' own laws decide how often: 1/2 sgd, 1/4 dampening, 3/4 with a width.
    assert.ok(chiSquareP([seen.sgd, seen.adam], [1, 1]) > ALPHA, JSON.stringify(seen));
    assert.ok(chiSquareP([seen.dampening, 4000 - seen.dampening], [1, 3]) > ALPHA, JSON.stringify(seen));
    assert.ok(chiSquareP([seen.wide, seen.shallow], [3, 1]) > ALPHA, JSON.stringify(seen));
  });
});

describe('rng', () => {
  it('weighted: frequencies proportional to the weights, zero weight never drawn', () => {
    const weights = [1, 2, 3, 0, 4, 0];
    const rng = createRng('weighted');
    const counts = weights.map(() => 0);
    for (let i = 0; i < 20_000; i++) counts[rng.weighted(weights)]!++;
    assert.equal(counts[3], 0);
    assert.equal(counts[5], 0);
    const nonZero = [counts[0]!, counts[1]!, counts[2]!, counts[4]!];
    assert.ok(chiSquareP(nonZero, [1, 2, 3, 4]) > ALPHA, `counts ${counts}`);
    assert.ok(chiSquareP(nonZero, [1, 1, 1, 1]) < ALPHA);
    // Any ArrayLike of weights gives the same draws as the plain array.
    const fromTyped = createRng('weighted');
    const plain = createRng('weighted');
    for (let i = 0; i < 100; i++) assert.equal(fromTyped.weighted(Float64Array.from(weights)), plain.weighted(weights));
  });

  it('next is in [0, 1) and int covers both ends', () => {
    const rng = createRng('ranges');
    const xs = Array.from({ length: N }, () => rng.next());
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.ok(ksStatistic(xs, uniformCdf(0, 1)) < D_CRIT);
    const ints = new Set(Array.from({ length: 500 }, () => rng.int(3, 5)));
    assert.deepEqual([...ints].sort(), [3, 4, 5]);
  });
});
