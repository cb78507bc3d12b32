/**
 * Differential test: random filter ASTs and orderings over the fixture, run through the SQL compiler
 * under both plans, must agree with a direct in-memory reading of the intended semantics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Comparison, Expr, OrderKey } from '../../server/search/ast.js';
import { matches, type RunView } from '../support/filter-oracle.js';
import { searchRunIds } from '../../server/store/sqlite/search.sql.js';
import type { Db } from '../../server/store/db.js';
import { DATASETS, namesOf, openFixture, RUNS } from './fixture.js';

type Run = (typeof RUNS)[number];

let db: Db;
let close: () => void;
before(() => ({ db, close } = openFixture()));
after(() => close());

function attribute(run: Run, key: string): string | number | null {
  const map: Record<string, string | number | null> = {
    run_id: run.uuid, run_name: run.name, status: run.status, user_id: run.user,
    start_time: run.start, end_time: run.end, lifecycle_stage: run.deleted ? 'deleted' : 'active',
  };
  return map[key];
}

function view(run: Run): RunView {
  const attributes = Object.fromEntries(['run_id', 'run_name', 'status', 'user_id', 'start_time', 'end_time', 'lifecycle_stage'].map((k) => [k, attribute(run, k)]));
  const datasets = (run.inputs ?? []).map(([name, context]) => ({ name, digest: DATASETS.find((x) => x.name === name)!.digest, context }));
  return { metrics: run.metrics ?? {}, params: run.params ?? {}, tags: run.tags ?? {}, attributes, datasets };
}

/** Sort value class: 0 a value, 1 NaN, 2 missing (missing always last, NaN just before it). */
function sortValue(run: Run, k: OrderKey): [number, string | number] {
  let v: string | number | null | undefined;
  if (k.entity === 'metric') v = run.metrics?.[k.key];
  else if (k.entity === 'param') v = run.params?.[k.key];
  else if (k.entity === 'tag') v = run.tags?.[k.key];
  else v = attribute(run, k.key);
  if (v === undefined || v === null) return [2, 0];
  if (typeof v === 'number' && Number.isNaN(v)) return [1, 0];
  return [0, v];
}

function expected(filter: Expr | null, orderBy: OrderKey[], expIds: number[]): string[] {
  const runs = RUNS.filter((r) => !r.deleted && expIds.includes(r.exp) && (filter === null || matches(view(r), filter)));
  const keys = [...orderBy];
  if (!keys.some((k) => k.entity === 'attribute' && k.key === 'start_time')) keys.push({ entity: 'attribute', key: 'start_time', ascending: false });
  keys.push({ entity: 'attribute', key: 'run_id', ascending: true });
  return runs
    .sort((a, b) => {
      for (const k of keys) {
        const [ca, va] = sortValue(a, k);
        const [cb, vb] = sortValue(b, k);
        if (ca !== cb) return ca - cb;
        if (va !== vb) return (va < vb ? -1 : 1) * (k.ascending ? 1 : -1);
      }
      return 0;
    })
    .map((r) => r.name);
}

const metricKey = fc.constantFrom('acc', 'loss', 'val loss', 'a.b', 'nope');
const stringKey = fc.constantFrom('lr', 'optimizer', 'batch', 'env', 'note', 'model type', 'nope');
const word = fc.constantFrom('0.01', '0.001', 'adam', 'Adam', 'prod', 'PROD', 'dev', '32', 'transformer', 'x', '');
const pattern = fc.constantFrom('%', 'a%', '%a%', 'A%', '_d%', '0.0_', '%o%', 'p%', 'P%', '%[v2]%', '%*', 'prod');
const number = fc.constantFrom(-2, 0, 0.1, 0.25, 0.5, 0.75, 0.91, 0.95, 1, 1000, 1400, 2000);

const leaf: fc.Arbitrary<Comparison> = fc.oneof(
  fc.record({ entity: fc.constant('metric' as const), key: metricKey, op: fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), value: number }),
  fc.record({ entity: fc.constantFrom('metric' as const, 'param' as const, 'tag' as const), key: fc.oneof(metricKey, stringKey), op: fc.constantFrom('IS NULL', 'IS NOT NULL' as const), value: fc.constant(null) }),
  fc.record({ entity: fc.constantFrom('param' as const, 'tag' as const), key: stringKey, op: fc.constantFrom('=', '!=' as const), value: word }),
  fc.record({ entity: fc.constantFrom('param' as const, 'tag' as const), key: stringKey, op: fc.constantFrom('LIKE', 'ILIKE' as const), value: pattern }),
  fc.record({ entity: fc.constantFrom('param' as const, 'tag' as const), key: stringKey, op: fc.constantFrom('IN', 'NOT IN' as const), value: fc.array(word, { minLength: 1, maxLength: 3 }) }),
  fc.record({ entity: fc.constant('attribute' as const), key: fc.constantFrom('status', 'run_name', 'user_id'), op: fc.constantFrom('=', '!=', 'LIKE', 'ILIKE' as const), value: fc.constantFrom('FINISHED', 'bob', 'Bob', 'b%', '%n%', 'vit') }),
  fc.record({ entity: fc.constant('attribute' as const), key: fc.constantFrom('start_time', 'end_time'), op: fc.constantFrom('=', '!=', '<', '>=' as const), value: number }),
  fc.record({ entity: fc.constant('attribute' as const), key: fc.constant('end_time'), op: fc.constantFrom('IS NULL', 'IS NOT NULL' as const), value: fc.constant(null) }),
  fc.record({ entity: fc.constant('dataset' as const), key: fc.constantFrom('name', 'digest', 'context'), op: fc.constantFrom('=', '!=', 'ILIKE' as const), value: fc.constantFrom('squad', 'd1', 'train', 'TR%') }),
).map((c) => ({ kind: 'cmp' as const, ...c }) as Comparison);

const filter: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), items: fc.array(tie('e'), { minLength: 2, maxLength: 3 }) }),
  ),
})).e;

const orderKey: fc.Arbitrary<OrderKey> = fc.oneof(
  fc.record({ entity: fc.constant('metric' as const), key: metricKey, ascending: fc.boolean() }),
  fc.record({ entity: fc.constantFrom('param' as const, 'tag' as const), key: stringKey, ascending: fc.boolean() }),
  fc.record({ entity: fc.constant('attribute' as const), key: fc.constantFrom('start_time', 'end_time', 'status', 'run_name'), ascending: fc.boolean() }),
);

describe('SQL compiler agrees with the reference semantics', () => {
  it('random filters, orders, experiment sets and pages under both plans', () => {
    fc.assert(
      fc.property(
        fc.option(filter, { nil: null }),
        fc.array(orderKey, { maxLength: 2 }),
        fc.subarray([1, 2, 3], { minLength: 1 }),
        fc.nat(14),
        fc.integer({ min: 1, max: 15 }),
        (f, orderBy, expIds, offset, limit) => {
          const all = expected(f, orderBy, expIds);
          for (const plan of ['stream', 'full'] as const) {
            const page = searchRunIds(
              db,
              { experimentIds: expIds.map(String), filter: f, orderBy, viewType: 'ACTIVE_ONLY', offset, limit },
              { plan },
            );
            const want = all.slice(offset, offset + limit);
            assert.deepEqual(namesOf(db, page.ids), want, plan);
            assert.equal(page.nextOffset, offset + limit < all.length ? offset + limit : null, plan);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
