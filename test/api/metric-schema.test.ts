/**
 * log-batch's metric schema (runs.routes.ts metricBody) checks both int64 fields in one check on the
 * object, for speed. It must accept, return and locate failures exactly as the composition it
 * replaced, `{ timestamp: nonNegInt64, step: int64.default(0) }`, which is written out here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { metricBody } from '../../server/api/runs.routes.js';
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
