import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LablogError } from '../../server/errors.js';
import { enumerateGrid, GRID_MAX_POINTS, gridSize } from '../../server/sweeps/grid.js';
import { normalizeSpace, paramValueOptions } from '../../server/sweeps/space.js';
import type { Assignment, ParamValue, RawParam, Space } from '../../server/sweeps/types.js';

// The grid is exactly the product over active parameters, first declared varying slowest. Each check
// compares against a product written here a different way: a mixed-radix counter over every
// parameter, with inactive parameters dropped afterwards and the duplicates that leaves merged.

/** An order-independent key for a point. */
const key = (a: Assignment) => JSON.stringify(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));

/** Every combination of every parameter's options, counted like an odometer (last parameter fastest). */
function fullProduct(space: Space): Assignment[] {
  const options = space.map((p) => paramValueOptions(p));
  const total = options.reduce((n, o) => n * o.length, 1);
  const out: Assignment[] = [];
  for (let index = 0; index < total; index++) {
    const point: Assignment = {};
    let rest = index;
    for (let i = space.length - 1; i >= 0; i--) {
      point[space[i]!.name] = options[i]![rest % options[i]!.length]!;
      rest = Math.floor(rest / options[i]!.length);
    }
    out.push(point);
  }
  return out;
}

/** The grid by definition: a full point minus the parameters its own values switch off, deduplicated. */
function expectedGrid(space: Space): Assignment[] {
  const seen = new Map<string, Assignment>();
  for (const full of fullProduct(space)) {
    const point: Assignment = {};
    for (const p of space) {
      const on = p.when === null || Object.entries(p.when).every(([parent, allowed]) => parent in point && allowed.includes(point[parent]!));
      if (on) point[p.name] = full[p.name]!;
    }
    if (!seen.has(key(point))) seen.set(key(point), point);
  }
  return [...seen.values()];
}

function assertSameSet(actual: Assignment[], expected: Assignment[]): void {
  const keys = actual.map(key);
  assert.equal(new Set(keys).size, keys.length, 'no point twice');
  assert.equal(actual.length, expected.length);
  assert.deepEqual(new Set(keys), new Set(expected.map(key)));
}

/** Asserts the points come in lexicographic order of (option index per parameter, absent first). */
function assertOrdered(space: Space, points: Assignment[]): void {
  const options = space.map((p) => paramValueOptions(p));
  const rank = (a: Assignment) => space.map((p, i) => (p.name in a ? options[i]!.indexOf(a[p.name]!) : -1));
  for (let j = 1; j < points.length; j++) {
    const [x, y] = [rank(points[j - 1]!), rank(points[j]!)];
    const i = x.findIndex((v, k) => v !== y[k]);
    assert.ok(i >= 0 && x[i]! < y[i]!, `point ${j} out of order: ${JSON.stringify(points[j - 1])} then ${JSON.stringify(points[j])}`);
  }
}

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof LablogError);
    assert.equal(err.errorCode, 'INVALID_PARAMETER_VALUE');
    assert.equal(err.message, message);
    return true;
  });
}

const space = (raw: Record<string, RawParam>) => normalizeSpace(raw);

describe('enumerateGrid', () => {
  it('is exactly the Cartesian product, first parameter slowest', () => {
    const s = space({
      optimizer: { values: ['sgd', 'adam', 'rmsprop'] },
      layers: { distribution: 'int_uniform', min: 1, max: 4 },
      batch: { distribution: 'q_uniform', min: 16, max: 64, q: 16 },
      epochs: { value: 20 },
      flag: { values: [true, false] },
    });
    const grid = enumerateGrid(s);
    assert.equal(grid.length, 3 * 4 * 4 * 1 * 2);
    assert.equal(gridSize(s), grid.length);
    // Without conditions the odometer order is the grid order, point for point.
    assert.deepEqual(grid, fullProduct(s));
    assertSameSet(grid, expectedGrid(s));
    assertOrdered(s, grid);
    assert.deepEqual(grid[0], { optimizer: 'sgd', layers: 1, batch: 16, epochs: 20, flag: true });
    assert.deepEqual(grid[1], { optimizer: 'sgd', layers: 1, batch: 16, epochs: 20, flag: false });
    assert.deepEqual(grid.at(-1), { optimizer: 'rmsprop', layers: 4, batch: 64, epochs: 20, flag: false });
    // Keys follow declaration order too, so params are logged in a stable order.
    assert.deepEqual(Object.keys(grid[5]!), ['optimizer', 'layers', 'batch', 'epochs', 'flag']);
  });

  it('multiplies a conditional parameter only into the points that enable it', () => {
    const s = space({
      optimizer: { values: ['sgd', 'adam'] },
      lr: { values: [0.1, 0.01, 0.001] },
      momentum: { values: [0, 0.9], when: { optimizer: 'sgd' } },
    });
    const grid = enumerateGrid(s);
    assert.deepEqual(grid, [
      { optimizer: 'sgd', lr: 0.1, momentum: 0 },
      { optimizer: 'sgd', lr: 0.1, momentum: 0.9 },
      { optimizer: 'sgd', lr: 0.01, momentum: 0 },
      { optimizer: 'sgd', lr: 0.01, momentum: 0.9 },
      { optimizer: 'sgd', lr: 0.001, momentum: 0 },
      { optimizer: 'sgd', lr: 0.001, momentum: 0.9 },
      { optimizer: 'adam', lr: 0.1 },
      { optimizer: 'adam', lr: 0.01 },
      { optimizer: 'adam', lr: 0.001 },
    ]);
    assert.equal(gridSize(s), 9);
    assertSameSet(grid, expectedGrid(s));
  });

  it('handles a child declared between other parameters, grandchildren and int / q parents', () => {
    const spaces = [
      space({
        optimizer: { values: ['sgd', 'adam'] },
        momentum: { values: [0, 0.9], when: { optimizer: 'sgd' } },
        lr: { values: [0.1, 0.01, 0.001] },
      }),
      space({
        optimizer: { values: ['sgd', 'adam', 'rmsprop'] },
        nesterov: { values: [true, false], when: { optimizer: ['sgd', 'rmsprop'] } },
        dampening: { values: [0, 0.1, 0.2], when: { nesterov: false } },
        layers: { distribution: 'int_uniform', min: 1, max: 5 },
        width: { distribution: 'q_uniform', min: 0.1, max: 0.5, q: 0.1, when: { layers: [3, 5] } },
        residual: { values: ['yes', 'no'], when: { layers: 5, width: [0.3, 0.5], optimizer: 'adam' } },
        seed: { value: 1, when: { width: 0.2 } },
      }),
    ];
    for (const s of spaces) {
      const grid = enumerateGrid(s);
      assertSameSet(grid, expectedGrid(s));
      assertOrdered(s, grid);
      assert.equal(gridSize(s), grid.length);
    }
    const [first, second] = spaces.map((s) => enumerateGrid(s));
    assert.deepEqual(first!.slice(0, 4), [
      { optimizer: 'sgd', momentum: 0, lr: 0.1 },
      { optimizer: 'sgd', momentum: 0, lr: 0.01 },
      { optimizer: 'sgd', momentum: 0, lr: 0.001 },
      { optimizer: 'sgd', momentum: 0.9, lr: 0.1 },
    ]);
    assert.equal(first!.length, 9);
    // sgd and rmsprop: nesterov true, or false x 3 dampenings = 4 ways; adam: 1 way. Layers 1, 2, 4
    // give 1 point each, 3 and 5 give 5 widths each (seed is a constant, it adds no points), and for
    // adam only, layers 5 with width 0.3 or 0.5 doubles by residual: 2 more.
    assert.equal(second!.length, 2 * 4 * (3 + 5 + 5) + 1 * (3 + 5 + 5 + 2));
  });

  it('expands int_uniform and q_uniform, including a fractional q, to exact values', () => {
    const s = space({
      n: { distribution: 'int_uniform', min: -1, max: 2 },
      q: { distribution: 'q_uniform', min: 0, max: 0.5, q: 0.1 },
      r: { distribution: 'q_uniform', min: 0.05, max: 0.3, q: 0.05 },
    });
    const grid = enumerateGrid(s);
    assert.equal(grid.length, 4 * 6 * 6);
    assert.deepEqual([...new Set(grid.map((p) => p.n))], [-1, 0, 1, 2]);
    assert.deepEqual([...new Set(grid.map((p) => p.q))], [0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    assert.deepEqual([...new Set(grid.map((p) => p.r))], [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
    assertSameSet(grid, expectedGrid(s));
    // max not on a step: the last value stays below it.
    assert.deepEqual(
      enumerateGrid(space({ b: { distribution: 'q_uniform', min: 16, max: 100, q: 16 } })).map((p) => p.b),
      [16, 32, 48, 64, 80, 96],
    );
  });

  it('refuses continuous parameters, naming the first one', () => {
    const msg = (name: string, kind: string) =>
      `grid search needs discrete parameters; '${name}' is ${kind} (use values, value, int_uniform or q_uniform, or method random or bayes)`;
    rejects(() => enumerateGrid(space({ a: { values: [1] }, lr: { distribution: 'uniform', min: 0, max: 1 } })), msg('lr', 'uniform'));
    rejects(() => enumerateGrid(space({ lr: { distribution: 'log_uniform', min: 1e-4, max: 1 } })), msg('lr', 'log_uniform'));
    rejects(() => gridSize(space({ w: { distribution: 'normal', mu: 0, sigma: 1 } })), msg('w', 'normal'));
    // Even when the continuous parameter is conditional.
    rejects(
      () => enumerateGrid(space({ o: { values: ['a', 'b'] }, m: { distribution: 'uniform', min: 0, max: 1, when: { o: 'a' } } })),
      msg('m', 'uniform'),
    );
  });

  it('allows exactly 100,000 points and refuses one more, counting conditionals', () => {
    assert.equal(GRID_MAX_POINTS, 100_000);
    const limit = space({ a: { distribution: 'int_uniform', min: 1, max: 1000 }, b: { distribution: 'int_uniform', min: 1, max: 100 } });
    assert.equal(gridSize(limit), 100_000);
    const grid = enumerateGrid(limit);
    assert.equal(grid.length, 100_000);
    assert.deepEqual(grid[99_999], { a: 1000, b: 100 });
    rejects(
      () => enumerateGrid(space({ a: { distribution: 'int_uniform', min: 0, max: 100_000 } })),
      'the grid would have 100,001 points; a grid sweep may have at most 100,000 (use method random or bayes)',
    );
    const conditional = (bMax: number) =>
      space({
        o: { values: ['x', 'y'] },
        b: { distribution: 'int_uniform', min: 1, max: bMax, when: { o: 'x' } },
        c: { values: [1, 2], when: { o: 'y' } },
      });
    assert.equal(gridSize(conditional(99_998)), 100_000);
    rejects(
      () => enumerateGrid(conditional(99_999)),
      'the grid would have 100,001 points; a grid sweep may have at most 100,000 (use method random or bayes)',
    );
  });

  it('counts a huge grid without listing it', () => {
    const raw = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${i}`, { distribution: 'int_uniform', min: 0, max: 999 } as RawParam]));
    rejects(
      () => enumerateGrid(space(raw)),
      'the grid would have 1,000,000,000,000,000 points; a grid sweep may have at most 100,000 (use method random or bayes)',
    );
    // A parent with a billion values, some named by a child: counted by classes, not values.
    const wide = space({
      seed: { distribution: 'int_uniform', min: 0, max: 999_999_999 },
      extra: { values: ['a', 'b', 'c'], when: { seed: [0, 1] } },
    });
    rejects(
      () => gridSize(wide),
      'the grid would have 1,000,000,004 points; a grid sweep may have at most 100,000 (use method random or bayes)',
    );
    // 100 parameters of 1000 values each: 1e300 points, beyond what toLocaleString prints in full.
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { values: Array.from({ length: 1000 }, (_, j) => j) } as RawParam]));
    rejects(() => gridSize(space(many)), 'the grid would have 1.00e+300 points; a grid sweep may have at most 100,000 (use method random or bayes)');
    // Two parents whose every value a child names: a million classes, so counting stops early.
    const all = Array.from({ length: 1000 }, (_, j) => j);
    const named = space({
      p1: { distribution: 'int_uniform', min: 0, max: 999 },
      p2: { distribution: 'int_uniform', min: 0, max: 999 },
      c: { value: 1, when: { p1: all, p2: all } },
    });
    rejects(() => gridSize(named), 'the grid would have more than 100,000 points; a grid sweep may have at most 100,000 (use method random or bayes)');
  });

  it('gives a single point for constants only', () => {
    const values: ParamValue[] = ['x', 1, true];
    const s = space(Object.fromEntries(values.map((v, i) => [`c${i}`, { value: v }])));
    assert.deepEqual(enumerateGrid(s), [{ c0: 'x', c1: 1, c2: true }]);
  });
});
