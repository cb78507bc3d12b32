/**
 * Learning-rate schedules against reference values from PyTorch's documented formulas. The expected
 * numbers are hand-computed constants (or the documented formula re-derived independently here), not
 * calls back into the implementation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  constantLr,
  cosineAnnealingLr,
  cosineWithWarmup,
  cyclicLr,
  exponentialLr,
  oneCycleLr,
  stepLr,
  type Schedule,
} from 'lablog-client';

const REL = 1e-12;
let checked = 0;

/** Relative tolerance; `scale` (default: the expected value) is the magnitude the error is relative to. */
function close(actual: number, expected: number, what: string, scale = Math.abs(expected)): void {
  const tol = REL * Math.max(scale, 1e-300);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
  checked++;
}

function expectAll(name: string, s: Schedule, table: [number, number][], scale?: number): void {
  for (const [step, lr] of table) close(s(step), lr, `${name} at step ${step}`, scale);
}

describe('schedules equal the reference values', () => {
  test('constantLr', () => {
    expectAll('constant', constantLr({ lr: 0.003 }), [[0, 0.003], [1, 0.003], [1000, 0.003]]);
  });

  test('stepLr (StepLR: lr·gamma^floor(step/stepSize))', () => {
    const s = stepLr({ lr: 0.1, stepSize: 30, gamma: 0.1 });
    expectAll('stepLr', s, [[0, 0.1], [29, 0.1], [30, 0.01], [59, 0.01], [60, 0.001]]);
    expectAll('stepLr default gamma', stepLr({ lr: 1, stepSize: 2 }), [[1, 1], [2, 0.1], [5, 0.01]]);
    expectAll('stepLr gamma 0.5', stepLr({ lr: 0.8, stepSize: 1, gamma: 0.5 }), [[3, 0.1]]);
  });

  test('exponentialLr (ExponentialLR: lr·gamma^step)', () => {
    const s = exponentialLr({ lr: 0.1, gamma: 0.9 });
    expectAll('exponentialLr', s, [[0, 0.1], [1, 0.09], [2, 0.081], [10, 0.03486784401]]);
  });

  test('cosineAnnealingLr (closed form, periodic past tMax)', () => {
    const s = cosineAnnealingLr({ lr: 0.1, tMax: 100, etaMin: 0.001 });
    expectAll('cosineAnnealingLr', s, [
      [0, 0.1],
      [25, 0.0855017856687341], // 0.001 + 0.099·(1 + √2/2)/2
      [50, 0.0505],
      [100, 0.001],
      [150, 0.0505],
      [200, 0.1],
    ]);
    expectAll('cosineAnnealingLr etaMin 0', cosineAnnealingLr({ lr: 2, tMax: 4 }), [[0, 2], [2, 1], [4, 0]]);
  });

  test("cosineAnnealingLr tracks PyTorch's recursive implementation", () => {
    // torch.optim.lr_scheduler.CosineAnnealingLR.get_lr, stepped one epoch at a time.
    const base = 0.1, etaMin = 0.001, tMax = 37;
    const s = cosineAnnealingLr({ lr: base, tMax, etaMin });
    let lr = base;
    for (let e = 1; e <= 4 * tMax; e++) {
      if ((e - 1 - tMax) % (2 * tMax) === 0) lr = lr + ((base - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2;
      else lr = ((1 + Math.cos((Math.PI * e) / tMax)) / (1 + Math.cos((Math.PI * (e - 1)) / tMax))) * (lr - etaMin) + etaMin;
      assert.ok(Math.abs(s(e) - lr) <= 1e-10 * base, `step ${e}: ${s(e)} vs recursive ${lr}`);
    }
  });

  test('cosineWithWarmup (linear warmup, then cosine to minLr, then flat)', () => {
    const s = cosineWithWarmup({ lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expectAll('cosineWithWarmup', s, [
      [0, 0],
      [5, 0.5],
      [10, 1],
      [60, 0.55],
      [110, 0.1],
      [500, 0.1],
    ]);
    const w = cosineWithWarmup({ lr: 1, warmupSteps: 4, totalSteps: 8, warmupStartLr: 0.2 });
    expectAll('cosineWithWarmup warmupStartLr', w, [[0, 0.2], [2, 0.6], [4, 1], [6, 0.5], [8, 0]]);
    expectAll('cosineWithWarmup no warmup', cosineWithWarmup({ lr: 1, warmupSteps: 0, totalSteps: 2 }), [[0, 1], [1, 0.5]]);
  });

  test('cyclicLr triangular', () => {
    const s = cyclicLr({ baseLr: 0.001, maxLr: 0.006, stepSizeUp: 2000, mode: 'triangular' });
    expectAll('triangular', s, [
      [0, 0.001],
      [1000, 0.0035],
      [2000, 0.006],
      [3000, 0.0035],
      [4000, 0.001],
      [6000, 0.006],
    ]);
    const a = cyclicLr({ baseLr: 0, maxLr: 1, stepSizeUp: 4, stepSizeDown: 6 });
    expectAll('triangular asymmetric', a, [[2, 0.5], [4, 1], [7, 0.5], [10, 0], [14, 1]]);
  });

  test('cyclicLr triangular2 halves the amplitude each cycle', () => {
    const s = cyclicLr({ baseLr: 0.1, maxLr: 1.1, stepSizeUp: 10, mode: 'triangular2' });
    expectAll('triangular2', s, [[0, 0.1], [10, 1.1], [20, 0.1], [30, 0.6], [50, 0.35], [55, 0.225]]);
  });

  test('cyclicLr exp_range scales by gamma^step', () => {
    const s = cyclicLr({ baseLr: 0.1, maxLr: 1.1, stepSizeUp: 10, mode: 'exp_range', gamma: 0.99 });
    expectAll('exp_range', s, [
      [0, 0.1],
      [5, 0.57549502495], // 0.1 + 0.5·0.99^5
      [10, 1.0043820750088044], // 0.1 + 0.99^10
      [30, 0.8397003733882802], // 0.1 + 0.99^30
    ]);
  });

  test('oneCycleLr cos (two phases)', () => {
    const s = oneCycleLr({ maxLr: 1, totalSteps: 100 });
    expectAll('oneCycle cos', s, [
      [0, 0.04], // maxLr / 25
      [10, 0.29516394846410077], // 1 + (0.04 − 1)/2·(cos(π·10/29) + 1)
      [29, 1], // end of phase 1: float(0.3·100) − 1
      [64, 0.500002], // halfway down: (1 + 4e-6)/2
      [99, 4e-6], // maxLr / 25 / 1e4
    ]);
  });

  test('oneCycleLr linear and three-phase', () => {
    const l = oneCycleLr({ maxLr: 1, totalSteps: 100, annealStrategy: 'linear' });
    // PyTorch's linear anneal, (end − start)·pct + start, cancels at the end of a phase (1 − 1 + 4e-6),
    // so the error is relative to maxLr there, in PyTorch as here.
    expectAll('oneCycle linear', l, [[0, 0.04], [29, 1], [64, 0.500002], [99, 4e-6]], 1);
    const t = oneCycleLr({ maxLr: 2, totalSteps: 100, pctStart: 0.25, threePhase: true, divFactor: 10, finalDivFactor: 100 });
    // initial 0.2, min 0.002; phases end at 24, 48, 99.
    expectAll('oneCycle three-phase', t, [[0, 0.2], [12, 1.1], [24, 2], [36, 1.1], [48, 0.2], [99, 0.002]]);
    const tl = oneCycleLr({ maxLr: 2, totalSteps: 100, pctStart: 0.25, threePhase: true, divFactor: 10, finalDivFactor: 100, annealStrategy: 'linear' });
    expectAll('oneCycle three-phase linear', tl, [[6, 0.65], [30, 1.55], [65, 0.134]]);
  });

  test('at least 40 reference values were checked', () => {
    assert.ok(checked >= 40, `only ${checked} values checked`);
  });
});

describe('schedule arguments are validated', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['negative lr', () => constantLr({ lr: -1 }), /lr must be >= 0/],
    ['NaN lr', () => exponentialLr({ lr: NaN, gamma: 0.9 }), /finite/],
    ['zero stepSize', () => stepLr({ lr: 0.1, stepSize: 0 }), /stepSize must be > 0/],
    ['fractional stepSize', () => stepLr({ lr: 0.1, stepSize: 1.5 }), /integer/],
    ['zero tMax', () => cosineAnnealingLr({ lr: 0.1, tMax: 0 }), /tMax must be > 0/],
    ['totalSteps <= warmupSteps', () => cosineWithWarmup({ lr: 1, warmupSteps: 10, totalSteps: 10 }), /greater than warmupSteps/],
    ['zero totalSteps (warmup)', () => cosineWithWarmup({ lr: 1, warmupSteps: 0, totalSteps: 0 }), /totalSteps must be > 0/],
    ['zero stepSizeUp', () => cyclicLr({ baseLr: 0, maxLr: 1, stepSizeUp: 0 }), /stepSizeUp must be > 0/],
    ['bad mode', () => cyclicLr({ baseLr: 0, maxLr: 1, stepSizeUp: 2, mode: 'sawtooth' as never }), /mode must be/],
    ['zero gamma', () => cyclicLr({ baseLr: 0, maxLr: 1, stepSizeUp: 2, mode: 'exp_range', gamma: 0 }), /gamma must be > 0/],
    ['zero totalSteps', () => oneCycleLr({ maxLr: 1, totalSteps: 0 }), /totalSteps must be > 0/],
    ['pctStart 0', () => oneCycleLr({ maxLr: 1, totalSteps: 100, pctStart: 0 }), /pctStart must be in \(0, 1\)/],
    ['pctStart 1', () => oneCycleLr({ maxLr: 1, totalSteps: 100, pctStart: 1 }), /pctStart must be in \(0, 1\)/],
    ['empty first phase', () => oneCycleLr({ maxLr: 1, totalSteps: 3, pctStart: 0.3 }), /phase 1 of 2 would be empty/],
    ['empty three-phase last phase', () => oneCycleLr({ maxLr: 1, totalSteps: 10, pctStart: 0.6, threePhase: true }), /phase 3 of 3 would be empty/],
    ['bad anneal', () => oneCycleLr({ maxLr: 1, totalSteps: 10, annealStrategy: 'step' as never }), /annealStrategy/],
    ['zero divFactor', () => oneCycleLr({ maxLr: 1, totalSteps: 10, divFactor: 0 }), /divFactor must be > 0/],
  ];
  for (const [what, fn, msg] of bad) {
    test(what, () => assert.throws(fn, (e: unknown) => e instanceof RangeError && msg.test(e.message)));
  }

  test('steps must be non-negative integers', () => {
    const s = stepLr({ lr: 0.1, stepSize: 3 });
    for (const step of [-1, 1.5, NaN, Infinity]) assert.throws(() => s(step), RangeError);
  });

  test('oneCycleLr refuses steps past totalSteps, like PyTorch', () => {
    const s = oneCycleLr({ maxLr: 1, totalSteps: 10 });
    assert.doesNotThrow(() => s(10));
    assert.throws(() => s(11), /past totalSteps/);
  });
});
