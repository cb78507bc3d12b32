/**
 * Differential test: random filter ASTs and orderings over the fixture, run through the SQL compiler
 * under both plans, must agree with a direct in-memory reading of the intended semantics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Comparison, Expr, OrderKey } from '../../server/search/ast.js';
import { searchRunIds } from '../../server/store/sqlite/search.sql.js';
import type { Db } from '../../server/store/db.js';
import { DATASETS, namesOf, openFixture, RUNS } from './fixture.js';

type Run = (typeof RUNS)[number];

let db: Db;
let close: () => void;
before(() => ({ db, close } = openFixture()));
after(() => close());

function likeRegex(pattern: string, insensitive: boolean): RegExp {
  const body = [...pattern].map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, insensitive ? 'is' : 's');
}

/** SQL-style: a missing (NULL) left side fails every comparison. */
function compare(lhs: string | number | null | undefined, c: Comparison): boolean {
  if (c.op === 'IS NULL') return lhs === undefined || lhs === null;
  if (c.op === 'IS NOT NULL') return lhs !== undefined && lhs !== null;
  if (lhs === undefined || lhs === null || (typeof lhs === 'number' && Number.isNaN(lhs))) return false;
  const v = c.value;
  switch (c.op) {
    case '=': return lhs === v;
    case '!=': return lhs !== v;
    case '<': return (lhs as number) < (v as number);
    case '<=': return (lhs as number) <= (v as number);
    case '>': return (lhs as number) > (v as number);
    case '>=': return (lhs as number) >= (v as number);
    case 'LIKE': return likeRegex(v as string, false).test(lhs as string);
    case 'ILIKE': return likeRegex(v as string, true).test(lhs as string);
    case 'IN': return (v as string[]).includes(lhs as string);
    case 'NOT IN': return !(v as string[]).includes(lhs as string);
  }
}

function attribute(run: Run, key: string): string | number | null {
  const map: Record<string, string | number | null> = {
    run_id: run.uuid, run_name: run.name, status: run.status, user_id: run.user,
    start_time: run.start, end_time: run.end, lifecycle_stage: run.deleted ? 'deleted' : 'active',
  };
  return map[key];
}

function matches(run: Run, e: Expr): boolean {
  if (e.kind !== 'cmp') return e.kind === 'and' ? e.items.every((x) => matches(run, x)) : e.items.some((x) => matches(run, x));
  switch (e.entity) {
    case 'metric': {
      const has = run.metrics !== undefined && e.key in run.metrics;
      if (e.op === 'IS NULL' || e.op === 'IS NOT NULL') return (e.op === 'IS NULL') !== has;
      return compare(has ? run.metrics![e.key] : undefined, e);
    }
    case 'param': return compare(run.params?.[e.key], e);
    case 'tag': return compare(run.tags?.[e.key], e);
    case 'attribute': return compare(attribute(run, e.key), e);
    case 'dataset':
      return (run.inputs ?? []).some(([name, context]) => {
        const d = DATASETS.find((x) => x.name === name)!;
        return compare(e.key === 'context' ? context : e.key === 'name' ? d.name : d.digest, e);
      });
  }
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
  const runs = RUNS.filter((r) => !r.deleted && expIds.includes(r.exp) && (filter === null || matches(r, filter)));
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
