import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LablogError } from '../../server/errors.js';
import { normalizeSpace, paramCanTake, paramValueCount, paramValueOptions, spaceToRaw } from '../../server/sweeps/space.js';
import type { Param, RawParam } from '../../server/sweeps/types.js';

// normalizeSpace: the wire rules of docs/sweeps.md ("The sweep config"), each with the message a user sees.

/** Asserts normalizeSpace refuses `raw` with INVALID_PARAMETER_VALUE and exactly `message`. */
function rejects(raw: unknown, message: string): void {
  assert.throws(
    () => normalizeSpace(raw as Record<string, RawParam>),
    (err: unknown) => {
      assert.ok(err instanceof LablogError, `not a LablogError: ${String(err)}`);
      assert.equal(err.errorCode, 'INVALID_PARAMETER_VALUE');
      assert.equal(err.message, message);
      return true;
    },
  );
}

const FULL: Record<string, RawParam> = {
  lr: { distribution: 'log_uniform', min: 1e-5, max: 1 },
  optimizer: { values: ['sgd', 'adam'] },
  momentum: { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: 'sgd' } },
  layers: { distribution: 'int_uniform', min: 1, max: 4 },
  batch: { distribution: 'q_uniform', min: 16, max: 256, q: 16 },
  init_std: { distribution: 'normal', mu: 0.1, sigma: 0.02 },
  epochs: { value: 20 },
  dropout: { values: [0, 0.5, true, 'none'], when: { layers: [2, 3, 4], batch: 32 } },
};

describe('normalizeSpace: normalization', () => {
  it('keeps declaration order and builds one Param per kind, when normalized to lists or null', () => {
    const space = normalizeSpace(FULL);
    const expected: Param[] = [
      { name: 'lr', when: null, kind: 'log_uniform', min: 1e-5, max: 1 },
      { name: 'optimizer', when: null, kind: 'categorical', values: ['sgd', 'adam'] },
      { name: 'momentum', when: { optimizer: ['sgd'] }, kind: 'uniform', min: 0, max: 0.99 },
      { name: 'layers', when: null, kind: 'int_uniform', min: 1, max: 4 },
      { name: 'batch', when: null, kind: 'q_uniform', min: 16, max: 256, q: 16 },
      { name: 'init_std', when: null, kind: 'normal', mu: 0.1, sigma: 0.02 },
      { name: 'epochs', when: null, kind: 'constant', value: 20 },
      { name: 'dropout', when: { layers: [2, 3, 4], batch: [32] }, kind: 'categorical', values: [0, 0.5, true, 'none'] },
    ];
    assert.deepEqual(space, expected);
  });

  it('round-trips through spaceToRaw: the canonical form normalizes to the same space and is a fixed point', () => {
    const space = normalizeSpace(FULL);
    const raw = spaceToRaw(space);
    assert.deepEqual(raw.momentum, { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: ['sgd'] } });
    assert.deepEqual(raw.dropout, { values: [0, 0.5, true, 'none'], when: { layers: [2, 3, 4], batch: [32] } });
    assert.deepEqual(raw.epochs, { value: 20 });
    assert.deepEqual(raw.batch, { distribution: 'q_uniform', min: 16, max: 256, q: 16 });
    assert.deepEqual(Object.keys(raw), Object.keys(FULL));
    // Through JSON as the store keeps it.
    const again = normalizeSpace(JSON.parse(JSON.stringify(raw)));
    assert.deepEqual(again, space);
    assert.deepEqual(spaceToRaw(again), raw);
  });

  it('accepts the edge values of each rule', () => {
    const space = normalizeSpace({
      one: { values: ['only'] },
      many: { values: Array.from({ length: 1000 }, (_, i) => i) },
      point: { distribution: 'int_uniform', min: 3, max: 3 },
      degenerate: { distribution: 'q_uniform', min: 0.5, max: 0.5, q: 0.1 },
      neg: { distribution: 'uniform', min: -2, max: -1 },
      f: { value: false },
      zero: { value: 0 },
      'name with spaces/and.dots-ok': { value: 'x'.repeat(6000) },
      ['a'.repeat(250)]: { values: [1] },
      cond: { value: 1, when: { f: false, zero: [0], point: 3, degenerate: 0.5 } },
    });
    assert.equal(space.length, 10);
    assert.deepEqual(space.at(-1)!.when, { f: [false], zero: [0], point: [3], degenerate: [0.5] });
  });

  it('treats an empty when as no condition', () => {
    assert.equal(normalizeSpace({ a: { value: 1, when: {} } })[0]!.when, null);
  });

  it('accepts up to 100 parameters', () => {
    const raw = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { value: i }]));
    assert.equal(normalizeSpace(raw).length, 100);
  });
});

describe('normalizeSpace: validation', () => {
  it('counts parameters: at least 1, at most 100', () => {
    rejects({}, 'parameters needs at least 1 parameter');
    const raw = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, { value: i }]));
    rejects(raw, 'parameters may hold at most 100 parameters (got 101)');
    rejects([], 'parameters must be an object mapping parameter names to their specs');
    rejects(null, 'parameters must be an object mapping parameter names to their specs');
  });

  it('checks names: 1..250 characters, MLflow param key rules, no __proto__', () => {
    rejects({ '': { value: 1 } }, "Parameter names must be 1 to 250 characters (got 0: '')");
    rejects({ ['b'.repeat(251)]: { value: 1 } }, `Parameter names must be 1 to 250 characters (got 251: '${'b'.repeat(50)}')`);
    rejects(
      { 'lr,2': { value: 1 } },
      "Invalid param name: 'lr,2'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).",
    );
    rejects(JSON.parse('{"__proto__": {"value": 1}}'), "Parameter '__proto__': this name is reserved");
  });

  it('needs exactly one of values / value / distribution', () => {
    rejects({ a: {} }, "Parameter 'a': give exactly one of values, value or distribution (got none)");
    rejects({ a: { min: 0, max: 1 } }, "Parameter 'a': give exactly one of values, value or distribution (got none)");
    rejects({ a: { values: [1], value: 1 } }, "Parameter 'a': give exactly one of values, value or distribution (got values and value)");
    rejects(
      { a: { value: 1, distribution: 'uniform', min: 0, max: 1 } },
      "Parameter 'a': give exactly one of values, value or distribution (got value and distribution)",
    );
    rejects({ a: 5 }, 'Parameter \'a\': the spec must be an object such as {"values": [...]}, {"value": x} or {"distribution": ...}');
    rejects(
      { a: { distribution: 'beta', min: 0, max: 1 } },
      "Parameter 'a': unknown distribution \"beta\" (expected one of uniform, log_uniform, int_uniform, q_uniform, normal)",
    );
  });

  it('values: 1..1000 JSON scalars, no duplicates', () => {
    rejects({ a: { values: [] } }, "Parameter 'a': values needs a list of 1 to 1000 entries (got 0 entries)");
    rejects({ a: { values: Array.from({ length: 1001 }, (_, i) => i) } }, "Parameter 'a': values needs a list of 1 to 1000 entries (got 1001 entries)");
    rejects({ a: { values: 'sgd' } }, "Parameter 'a': values needs a list of 1 to 1000 entries (got string)");
    rejects({ a: { values: [1, null] } }, "Parameter 'a': values[1] must be a JSON scalar (number, string or boolean), got null");
    rejects({ a: { values: [[1]] } }, "Parameter 'a': values[0] must be a JSON scalar (number, string or boolean), got an array");
    rejects({ a: { values: [{ x: 1 }] } }, "Parameter 'a': values[0] must be a JSON scalar (number, string or boolean), got object");
    rejects({ a: { values: ['sgd', 'adam', 'sgd'] } }, 'Parameter \'a\': values lists "sgd" twice');
    rejects({ a: { values: [0.5, 1, 0.5] } }, "Parameter 'a': values lists 0.5 twice");
    rejects({ a: { values: ['y'.repeat(6001)] } }, "Parameter 'a': values[0] is a string of 6001 characters, longer than the 6000 an MLflow param value may have");
    // Different JSON types are different values.
    assert.deepEqual((normalizeSpace({ a: { values: [1, '1', true, 'true'] } })[0] as { values: unknown[] }).values, [1, '1', true, 'true']);
  });

  it('value: a JSON scalar', () => {
    rejects({ a: { value: null } }, "Parameter 'a': value must be a JSON scalar (number, string or boolean), got null");
    rejects({ a: { value: [1, 2] } }, "Parameter 'a': value must be a JSON scalar (number, string or boolean), got an array");
  });

  it('uniform: finite min < max', () => {
    const msg = "Parameter 'u': uniform needs finite min < max";
    rejects({ u: { distribution: 'uniform', min: 1, max: 1 } }, msg);
    rejects({ u: { distribution: 'uniform', min: 2, max: 1 } }, msg);
    rejects({ u: { distribution: 'uniform', min: 0 } }, msg);
    rejects({ u: { distribution: 'uniform', min: '0', max: 1 } }, msg);
    rejects({ u: { distribution: 'uniform', min: 0, max: Infinity } }, msg);
  });

  it('log_uniform: 0 < min < max', () => {
    const msg = "Parameter 'lr': log_uniform needs 0 < min < max";
    rejects({ lr: { distribution: 'log_uniform', min: 0, max: 1 } }, msg);
    rejects({ lr: { distribution: 'log_uniform', min: -1, max: 1 } }, msg);
    rejects({ lr: { distribution: 'log_uniform', min: 1, max: 1 } }, msg);
    rejects({ lr: { distribution: 'log_uniform', min: 1, max: 0.1 } }, msg);
  });

  it('int_uniform: integers min <= max', () => {
    const msg = "Parameter 'n': int_uniform needs integers min <= max";
    rejects({ n: { distribution: 'int_uniform', min: 1.5, max: 4 } }, msg);
    rejects({ n: { distribution: 'int_uniform', min: 1, max: 4.5 } }, msg);
    rejects({ n: { distribution: 'int_uniform', min: 5, max: 4 } }, msg);
    rejects({ n: { distribution: 'int_uniform', min: 0, max: 2 ** 60 } }, msg);
  });

  it('q_uniform: finite min <= max, q > 0, q resolvable at the bounds\' magnitude', () => {
    const msg = "Parameter 'b': q_uniform needs finite min <= max and q > 0";
    rejects({ b: { distribution: 'q_uniform', min: 0, max: 1, q: 0 } }, msg);
    rejects({ b: { distribution: 'q_uniform', min: 0, max: 1, q: -0.1 } }, msg);
    rejects({ b: { distribution: 'q_uniform', min: 0, max: 1 } }, msg);
    rejects({ b: { distribution: 'q_uniform', min: 2, max: 1, q: 0.5 } }, msg);
    rejects({ b: { distribution: 'q_uniform', min: 1e17, max: 1e17 + 64, q: 1 } }, "Parameter 'b': q_uniform's q = 1 is too small to tell neighbouring values apart at this magnitude");
  });

  it('normal: finite mu, sigma > 0', () => {
    const msg = "Parameter 'w': normal needs finite mu and sigma > 0";
    rejects({ w: { distribution: 'normal', mu: 0, sigma: 0 } }, msg);
    rejects({ w: { distribution: 'normal', mu: 0, sigma: -1 } }, msg);
    rejects({ w: { distribution: 'normal', sigma: 1 } }, msg);
  });

  it('refuses a field that does not belong to the chosen kind', () => {
    rejects({ a: { distribution: 'uniform', min: 0, max: 1, q: 0.1 } }, "Parameter 'a': 'q' does not belong to the uniform distribution (it takes distribution, min, max)");
    rejects({ a: { values: [1, 2], min: 0 } }, "Parameter 'a': 'min' does not belong to a 'values' parameter (it takes values)");
    rejects({ a: { value: 3, sigma: 1 } }, "Parameter 'a': 'sigma' does not belong to a 'value' parameter (it takes value)");
    rejects({ a: { distribution: 'normal', mu: 0, sigma: 1, max: 3 } }, "Parameter 'a': 'max' does not belong to the normal distribution (it takes distribution, mu, sigma)");
    rejects({ a: { distribution: 'log_uniform', min: 1, max: 2, mu: 1 } }, "Parameter 'a': 'mu' does not belong to the log_uniform distribution (it takes distribution, min, max)");
  });

  it('when: parents declared earlier, discrete, not itself; values the parent can take', () => {
    const opt = { values: ['sgd', 'adam'] };
    rejects({ m: { value: 1, when: { m: 1 } } }, "Parameter 'm': when cannot refer to the parameter itself");
    rejects({ m: { value: 1, when: { opt: 'sgd' } }, opt }, "Parameter 'm': when refers to 'opt', which is not declared before it");
    rejects({ opt, m: { value: 1, when: { nope: 'sgd' } } }, "Parameter 'm': when refers to 'nope', which is not declared before it");
    rejects(
      { lr: { distribution: 'uniform', min: 0, max: 1 }, m: { value: 1, when: { lr: 0.5 } } },
      "Parameter 'm': when refers to 'lr', which is uniform; a parent must be values, value, int_uniform or q_uniform",
    );
    rejects(
      { s: { distribution: 'normal', mu: 0, sigma: 1 }, m: { value: 1, when: { s: 0 } } },
      "Parameter 'm': when refers to 's', which is normal; a parent must be values, value, int_uniform or q_uniform",
    );
    rejects({ opt, m: { value: 1, when: { opt: 'rmsprop' } } }, 'Parameter \'m\': when.opt lists "rmsprop", a value \'opt\' never takes');
    rejects({ opt, m: { value: 1, when: { opt: ['sgd', 'sgd'] } } }, 'Parameter \'m\': when.opt lists "sgd" twice');
    rejects({ opt, m: { value: 1, when: { opt: [] } } }, "Parameter 'm': when lists no value for 'opt'");
    const big = { distribution: 'int_uniform', min: 0, max: 5000 } as const;
    rejects({ big, m: { value: 1, when: { big: Array.from({ length: 1001 }, (_, i) => i) } } }, "Parameter 'm': when.big lists 1001 values, more than 1000");
    rejects({ opt, m: { value: 1, when: { opt: null } } }, "Parameter 'm': when.opt[0] must be a JSON scalar (number, string or boolean), got null");
    rejects({ opt, m: { value: 1, when: ['opt'] } }, "Parameter 'm': when must be an object mapping parent names to the value (or values) that enable this parameter");
    const n = { distribution: 'int_uniform', min: 1, max: 4 } as const;
    rejects({ n, m: { value: 1, when: { n: 5 } } }, "Parameter 'm': when.n lists 5, a value 'n' never takes");
    rejects({ n, m: { value: 1, when: { n: 2.5 } } }, "Parameter 'm': when.n lists 2.5, a value 'n' never takes");
    rejects({ n, m: { value: 1, when: { n: '2' } } }, 'Parameter \'m\': when.n lists "2", a value \'n\' never takes');
    const q = { distribution: 'q_uniform', min: 0, max: 1, q: 0.1 } as const;
    rejects({ q, m: { value: 1, when: { q: 0.35 } } }, "Parameter 'm': when.q lists 0.35, a value 'q' never takes");
    rejects({ q, m: { value: 1, when: { q: 1.1 } } }, "Parameter 'm': when.q lists 1.1, a value 'q' never takes");
    rejects({ c: { value: 'x' }, m: { value: 1, when: { c: 'y' } } }, 'Parameter \'m\': when.c lists "y", a value \'c\' never takes');
    // 0.3 is the value the sampler produces for k = 3 (not 0.30000000000000004), so it is accepted.
    assert.deepEqual(normalizeSpace({ q, m: { value: 1, when: { q: [0, 0.3, 1] } } })[1]!.when, { q: [0, 0.3, 1] });
  });
});

describe('discrete parameter values', () => {
  const [cat, cons, int, q, qf, uni] = normalizeSpace({
    cat: { values: ['a', 2, false] },
    cons: { value: 'x' },
    int: { distribution: 'int_uniform', min: -2, max: 2 },
    q: { distribution: 'q_uniform', min: 16, max: 250, q: 16 },
    qf: { distribution: 'q_uniform', min: 0, max: 1, q: 0.1 },
    uni: { distribution: 'uniform', min: 0, max: 1 },
  });

  it('lists the values each kind can take, in order', () => {
    assert.deepEqual(paramValueOptions(cat!), ['a', 2, false]);
    assert.deepEqual(paramValueOptions(cons!), ['x']);
    assert.deepEqual(paramValueOptions(int!), [-2, -1, 0, 1, 2]);
    assert.deepEqual(paramValueOptions(q!), [16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240]);
    assert.deepEqual(paramValueOptions(qf!), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    for (const p of [cat!, cons!, int!, q!, qf!]) {
      assert.equal(paramValueCount(p), paramValueOptions(p).length);
      for (const v of paramValueOptions(p)) assert.ok(paramCanTake(p, v), `${p.name} takes ${String(v)}`);
    }
    assert.throws(() => paramValueOptions(uni!), /Parameter 'uni' is uniform, which has no finite list of values/);
  });

  it('keeps q_uniform values on the grid and inside the bounds when min is finer than q', () => {
    const [p] = normalizeSpace({ p: { distribution: 'q_uniform', min: 1e-7, max: 3, q: 1 } });
    assert.deepEqual(paramValueOptions(p!), [1e-7, 1.0000001, 2.0000001]);
  });
});
