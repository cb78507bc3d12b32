import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parameterImportance } from '../../server/sweeps/importance.js';
import { sampleRandom } from '../../server/sweeps/random.js';
import { createRng } from '../../server/sweeps/rng.js';
import type { Assignment, Param, Space } from '../../server/sweeps/types.js';

/** A Param without `when` (Omit distributed over the union, so each kind keeps its fields). */
type Bare<P = Param> = P extends Param ? Omit<P, 'when'> & { when?: Param['when'] } : never;
const param = (p: Bare): Param => ({ when: null, ...p }) as Param;

const SPACE: Space = [
  param({ name: 'lr', kind: 'log_uniform', min: 1e-5, max: 1e-1 }),
  param({ name: 'optimizer', kind: 'categorical', values: ['sgd', 'adam', 'rmsprop'] }),
  param({ name: 'noise', kind: 'uniform', min: 0, max: 1 }),
  param({ name: 'epochs', kind: 'constant', value: 20 }),
];

const OPTIMIZER_EFFECT: Record<string, number> = { sgd: 1.2, adam: 0, rmsprop: 0.6 };

/** Loss: a U in log10(lr) with its minimum at 1e-3 (the middle of the range), plus the optimizer, plus noise. */
function lossOf(p: Assignment, eps: number): number {
  return (Math.log10(p.lr as number) + 3) ** 2 / 2 + OPTIMIZER_EFFECT[p.optimizer as string]! + eps;
}

function trialsFor(seed: number, n: number) {
  const rng = createRng('importance', seed);
  return Array.from({ length: n }, () => {
    const params = sampleRandom(SPACE, rng);
    return { params, value: lossOf(params, rng.normal(0, 0.3)) };
  });
}

/** Spearman's ρ, for contrast: the rank correlation a monotone-only measure would use. */
function spearman(x: number[], y: number[]): number {
  const rank = (v: number[]) => {
    const order = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
    const r = new Array<number>(v.length);
    order.forEach((i, pos) => (r[i] = pos + 1));
    return r;
  };
  const rx = rank(x);
  const ry = rank(y);
  const mean = (x.length + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (rx[i]! - mean) * (ry[i]! - mean);
    sxx += (rx[i]! - mean) ** 2;
    syy += (ry[i]! - mean) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const byName = (rows: { name: string; importance: number }[]) => Object.fromEntries(rows.map((r) => [r.name, r.importance]));
const sum = (rows: { importance: number }[]) => rows.reduce((s, r) => s + r.importance, 0);

describe('parameterImportance', () => {
  it('ranks a U-shaped lr and the optimizer well above a noise parameter', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const trials = trialsFor(seed, 60);
      const rows = parameterImportance(SPACE, trials, 'minimize');
      const imp = byName(rows);
      assert.deepEqual(rows.map((r) => r.name).slice(2), ['noise', 'epochs'], JSON.stringify(rows));
      assert.ok(imp.lr! > 0.35 && imp.optimizer! > 0.2, JSON.stringify(rows));
      assert.ok(imp.noise! < 0.15, JSON.stringify(rows));
      assert.ok(Math.min(imp.lr!, imp.optimizer!) > imp.noise! + 0.15, JSON.stringify(rows));
      assert.equal(imp.epochs, 0);
      assert.ok(Math.abs(sum(rows) - 1) < 1e-12);
      // Sorted, most important first.
      assert.deepEqual(rows, [...rows].sort((a, b) => b.importance - a.importance));
      // The goal only decides which end is best; the grouping of ranks is the same.
      const flipped = parameterImportance(SPACE, trials, 'maximize');
      assert.deepEqual(flipped.map((r) => r.name), rows.map((r) => r.name));
      flipped.forEach((r, i) => assert.ok(Math.abs(r.importance - rows[i]!.importance) < 1e-12));
    }
  });

  it('gives a noise parameter no share in a typical sweep (η² bias-corrected)', () => {
    // Raw η² would hand it about (bins − 1)/(n − 1) of the variance: a median share near 0.12 here.
    const shares = [];
    for (let seed = 100; seed < 140; seed++) {
      shares.push(byName(parameterImportance(SPACE, trialsFor(seed, 60), 'minimize')).noise!);
    }
    shares.sort((a, b) => a - b);
    assert.equal(shares[20], 0, shares.join(' '));
    assert.ok(shares[38]! < 0.2, shares.join(' '));
  });

  it('sees the U shape that a rank correlation misses', () => {
    const lrOnly: Space = [SPACE[0]!, SPACE[2]!];
    const rng = createRng('u-shape', 1);
    const trials = Array.from({ length: 80 }, () => {
      const params = sampleRandom(lrOnly, rng);
      return { params, value: lossOf({ ...params, optimizer: 'adam' }, rng.normal(0, 0.3)) };
    });
    const rho = spearman(
      trials.map((t) => t.params.lr as number),
      trials.map((t) => t.value),
    );
    assert.ok(Math.abs(rho) < 0.2, `Spearman ρ(lr, loss) = ${rho}`);
    const imp = byName(parameterImportance(lrOnly, trials, 'minimize'));
    assert.ok(imp.lr! > 0.9 && imp.noise! < 0.1, JSON.stringify(imp));
  });

  it('gives 0 to constants, and all zeros with no signal or fewer than 3 trials', () => {
    const trials = trialsFor(7, 30);
    assert.deepEqual(
      parameterImportance(SPACE, trials.slice(0, 2), 'minimize'),
      SPACE.map((p) => ({ name: p.name, importance: 0 })),
    );
    const flat = trials.map((t) => ({ ...t, value: 1 }));
    assert.deepEqual(
      parameterImportance(SPACE, flat, 'minimize'),
      SPACE.map((p) => ({ name: p.name, importance: 0 })),
    );
    // A parameter that happens to take one value in every trial says nothing either.
    const oneOptimizer = trials.map((t) => ({ ...t, params: { ...t.params, optimizer: 'adam' } }));
    assert.equal(byName(parameterImportance(SPACE, oneOptimizer, 'minimize')).optimizer, 0);
  });

  it('counts a conditional parameter only over the trials where it is present', () => {
    const space: Space = [
      param({ name: 'optimizer', kind: 'categorical', values: ['sgd', 'adam'] }),
      param({ name: 'momentum', kind: 'uniform', min: 0, max: 1, when: { optimizer: ['sgd'] } }),
    ];
    const rng = createRng('conditional', 1);
    const draw = (momentumMatters: boolean) =>
      Array.from({ length: 60 }, () => {
        const params = sampleRandom(space, rng);
        const m = params.momentum as number | undefined;
        const value = (params.optimizer === 'sgd' ? 2 : 0) + (momentumMatters && m !== undefined ? 3 * m : 0) + rng.normal(0, 0.1);
        return { params, value };
      });
    // Momentum is noise within sgd: were the trials without it a group of their own, momentum would
    // inherit the whole optimizer effect.
    const noise = byName(parameterImportance(space, draw(false), 'minimize'));
    assert.ok(noise.optimizer! > 0.9 && noise.momentum! < 0.1, JSON.stringify(noise));
    // Momentum drives the loss within sgd: it gets its due from those trials alone.
    const matters = byName(parameterImportance(space, draw(true), 'minimize'));
    assert.ok(matters.momentum! > 0.3, JSON.stringify(matters));
    // Present in fewer than 3 trials: 0.
    const rare = draw(true).map((t, i) => (i < 2 ? t : { ...t, params: { optimizer: 'adam' } }));
    assert.equal(byName(parameterImportance(space, rare, 'minimize')).momentum, 0);
    // The same for a categorical child: absence is not a value of its own.
    const withFlag: Space = [
      ...space,
      param({ name: 'nesterov', kind: 'categorical', values: [true, false], when: { optimizer: ['sgd'] } }),
    ];
    const flagTrials = Array.from({ length: 60 }, () => {
      const params = sampleRandom(withFlag, rng);
      return { params, value: (params.optimizer === 'sgd' ? 2 : 0) + rng.normal(0, 0.1) };
    });
    const flag = byName(parameterImportance(withFlag, flagTrials, 'minimize'));
    assert.ok(flag.optimizer! > 0.9 && flag.nesterov! < 0.1, JSON.stringify(flag));
  });

  it('tells 1 from "1"', () => {
    const space: Space = [param({ name: 'c', kind: 'categorical', values: [1, '1'] })];
    const trials = [1, '1', 1, '1', 1, '1'].map((c, i) => ({ params: { c }, value: typeof c === 'number' ? i : 10 + i }));
    assert.deepEqual(parameterImportance(space, trials, 'minimize'), [{ name: 'c', importance: 1 }]);
  });

  it('keeps equal values of a numeric parameter in one bin', () => {
    // 30 trials at x = 0 whose losses climb 0..29 in trial order, then x = 1..10 at middling losses.
    // Split by position, the x = 0 block would fall into several bins that sort its losses: a strong
    // "effect" of x. Kept whole, x explains nothing.
    const space: Space = [param({ name: 'x', kind: 'uniform', min: 0, max: 10 })];
    const trials = [
      ...Array.from({ length: 30 }, (_, i) => ({ params: { x: 0 }, value: i })),
      ...Array.from({ length: 10 }, (_, j) => ({ params: { x: j + 1 }, value: 14.5 + 0.01 * j })),
    ];
    assert.deepEqual(parameterImportance(space, trials, 'minimize'), [{ name: 'x', importance: 0 }]);
    // Control: with the block's values spread over distinct x in the same order, x does matter.
    const spread = trials.map((t, i) => (i < 30 ? { ...t, params: { x: -1 + i / 100 } } : t));
    assert.deepEqual(parameterImportance(space, spread, 'minimize'), [{ name: 'x', importance: 1 }]);
  });

  it('ranks NaN values as the worst, whichever the goal', () => {
    // Values 1, 2, 3, 4, NaN, NaN. u splits {1, 2, 3 | 4, NaN, NaN} and v splits {1, NaN, NaN | 2, 3, 4}.
    // Minimizing, NaN is worst next to 4, so u separates good from bad and v mixes them; maximizing,
    // NaN is worst next to 1, and it is the other way round.
    const space: Space = [
      param({ name: 'u', kind: 'categorical', values: ['lo', 'hi'] }),
      param({ name: 'v', kind: 'categorical', values: ['lo', 'hi'] }),
    ];
    const rows: Array<[number, string, string]> = [
      [1, 'lo', 'lo'], [2, 'lo', 'hi'], [3, 'lo', 'hi'], [4, 'hi', 'hi'], [NaN, 'hi', 'lo'], [NaN, 'hi', 'lo'],
    ];
    const trials = rows.map(([value, u, v]) => ({ params: { u, v }, value }));
    assert.deepEqual(parameterImportance(space, trials, 'minimize'), [
      { name: 'u', importance: 1 },
      { name: 'v', importance: 0 },
    ]);
    assert.deepEqual(parameterImportance(space, trials, 'maximize'), [
      { name: 'v', importance: 1 },
      { name: 'u', importance: 0 },
    ]);
  });
});
