/**
 * log-batch's metric schema (log-batch.schema.ts metricBody) checks both int64 fields in one check on the
 * object, for speed. It must accept, return and locate failures exactly as the composition it
 * replaced, `{ timestamp: nonNegInt64, step: int64.default(0) }`, which is written out here.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { logBatchBody, metricBody, wellFormedBatch } from '../../server/api/log-batch.schema.js';
import { double, int64, nonNegInt64 } from '../../server/api/schemas.js';

const reference = z.object({ key: z.string(), value: double, timestamp: nonNegInt64, step: int64.default(0) });

const ints: unknown[] = [
  0, -0, 1, -1, 7.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53 - 1), -(2 ** 53), 1e21, NaN, Infinity, -Infinity,
  '0', '12', '-12', '007', '1.5', '1e3', ' 1', '', 'abc', '9007199254740991', '9007199254740993', '-9007199254740991',
  null, true, [], {}, undefined,
];

/** Every combination of the int64 values for timestamp and step, with a good key and value. */
function* cases(): Generator<Record<string, unknown>> {
  for (const timestamp of ints) {
    for (const step of ints) {
      const m: Record<string, unknown> = { key: 'loss', value: 0.5 };
      if (timestamp !== undefined) m.timestamp = timestamp;
      if (step !== undefined) m.step = step;
      yield m;
    }
  }
  yield { key: 7, value: 1, timestamp: 1, step: 1 };
  yield { key: 'k', value: 'NaN', timestamp: '5', step: '6', extra: 'dropped' };
  yield { key: 'k', value: 'x', timestamp: -1 };
  yield { value: 1, timestamp: 1 };
}

const paths = (r: { success: boolean; error?: z.ZodError }) => (r.success ? [] : [...new Set(r.error!.issues.map((i) => i.path.join('.')))].sort());

describe('log-batch metric schema', () => {
  test('accepts, returns and fails on the same fields as nonNegInt64 / int64.default(0)', () => {
    let checked = 0;
    for (const m of cases()) {
      const mine = metricBody.safeParse(m);
      const theirs = reference.safeParse(m);
      const what = JSON.stringify(m);
      assert.equal(mine.success, theirs.success, what);
      if (theirs.success) assert.deepEqual(mine.data, theirs.data, what);
      else assert.deepEqual(paths(mine), paths(theirs), what);
      checked++;
    }
    assert.equal(checked, ints.length ** 2 + 4);
  });

  test('in a batch, a bad field is named by its place, and the input is not changed', async () => {
    const input = [{ key: 'a', value: 1, timestamp: 1 }, { key: 'a', value: 1, timestamp: 2, step: 1.5 }];
    const r = z.array(metricBody).safeParse(input);
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues.map((i) => i.path), [[1, 'step']]);
    const ok = z.array(metricBody).parse([input[0]]);
    assert.deepEqual(ok, [{ key: 'a', value: 1, timestamp: 1, step: 0 }]);
    assert.deepEqual(input[0], { key: 'a', value: 1, timestamp: 1 });
  });
});

// Values that sit on every edge of wellFormedBatch's own checks, and the ones it leaves to the schema.
const int64ish = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(...ints.filter((x) => x !== undefined)),
);
const valueish = fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity', '-Infinity', 'inf', '1.5', ' 2 ', 'x', '', null, true, [], {}));
/** A metric as training scripts send it: the case wellFormedBatch exists for. */
const plainMetric = fc.record(
  { key: fc.constantFrom('loss', 'acc'), value: fc.double({ noNaN: true, noDefaultInfinity: true }), timestamp: fc.maxSafeNat(), step: fc.maxSafeInteger() },
  { requiredKeys: ['key', 'value', 'timestamp'] },
);
const metricish = fc.oneof(
  fc.record(
    { key: fc.oneof(fc.constantFrom('loss', 'acc', 'k/ü', ''), fc.integer(), fc.constant(null)), value: valueish, timestamp: int64ish, step: int64ish, extra: fc.string() },
    { requiredKeys: [] },
  ),
  fc.constantFrom(null, 1, 'm', [], [{ key: 'a' }]),
);
/** Mostly right, so that a batch is often wrong in one place only: the place wellFormedBatch must not miss. */
const mostly = <T, U>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<U>) => fc.oneof({ arbitrary: right, weight: 6 }, { arbitrary: wrong, weight: 1 });
const batchish = fc.record(
  {
    run_id: mostly(fc.constant('0a1b2c3d4e5f60718293a4b5c6d7e8f9'), fc.constantFrom('', 7, null)),
    run_uuid: fc.string({ maxLength: 4 }),
    metrics: mostly(fc.array(mostly(plainMetric, metricish), { maxLength: 12 }), fc.constantFrom('nope', null, {}, 3)),
    params: mostly(fc.array(fc.record({ key: fc.constantFrom('p', 'q'), value: fc.string() }), { maxLength: 3 }), fc.constantFrom([{ key: 'p', value: 1 }], [{ value: 'v' }])),
    tags: mostly(fc.array(fc.record({ key: fc.constant('t'), value: fc.string() }), { maxLength: 2 }), fc.constant('x')),
    other: fc.anything({ maxDepth: 2 }),
  },
  { requiredKeys: ['metrics'] },
);
const plainBatch = fc.record({ run_id: fc.constant('0a1b2c3d4e5f60718293a4b5c6d7e8f9'), metrics: fc.array(plainMetric, { maxLength: 30 }) });

describe('log-batch bodies past the schema (wellFormedBatch)', () => {
  test('what it takes, it gives exactly as logBatchBody does; what the schema refuses, it never takes', () => {
    fc.assert(
      fc.property(fc.oneof(batchish, fc.anything({ maxDepth: 2 })), (body) => {
        // Through JSON, as a request body arrives: no undefined, no -0 lost, no prototype other than Object's.
        const data = JSON.parse(JSON.stringify(body) ?? 'null');
        const fast = wellFormedBatch(data);
        if (fast === null) return;
        const schema = logBatchBody.safeParse(data);
        assert.equal(schema.success, true, JSON.stringify(data));
        // deepStrictEqual compares numbers with Object.is: -0 stays -0.
        assert.deepStrictEqual(fast, schema.data);
      }),
      { numRuns: 5000 },
    );
    // Values JSON cannot carry, in case a body ever comes from elsewhere: the schema refuses them too.
    for (const value of [Infinity, -Infinity, NaN]) {
      const body = { run_id: 'r', metrics: [{ key: 'a', value, timestamp: 1 }] };
      assert.equal(wellFormedBatch(body), null);
      assert.equal(logBatchBody.safeParse(body).success, false);
    }
  });

  test('it takes every batch of plainly well-formed metrics, with step defaulting to 0 as in the schema', () => {
    fc.assert(
      fc.property(plainBatch, (body) => {
        const fast = wellFormedBatch(body);
        assert.notEqual(fast, null, JSON.stringify(body));
        assert.deepStrictEqual(fast, logBatchBody.parse(body));
      }),
    );
    assert.deepStrictEqual(wellFormedBatch({ run_id: 'r', metrics: [{ key: 'a', value: -0, timestamp: 5 }] }), {
      run_id: 'r',
      metrics: [{ key: 'a', value: -0, timestamp: 5, step: 0 }],
      params: [],
      tags: [],
    });
    assert.deepStrictEqual(wellFormedBatch({ run_id: 'r', tags: [{ key: 't' }] }), { run_id: 'r', metrics: [], params: [], tags: [{ key: 't', value: '' }] });
  });
});
