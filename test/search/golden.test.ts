/**
 * End to end: filter text -> parser -> SQL -> the exact ordered run names, on a real SQLite file.
 * Every case runs under both execution plans (ordered index walk and set-then-sort) and the
 * planner's own choice; all three must agree with the hand-computed answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseRunFilter, parseRunOrderBy } from '../../server/search/parser.js';
import { explainRunSearch, searchRunIds } from '../../server/store/sqlite/search.sql.js';
import type { Db } from '../../server/store/db.js';
import { ALL, FILTERS, many, ORDERS, type Search } from './golden-cases.js';
import { namesOf, openFixture } from './fixture.js';

const ALL_EXPERIMENTS = ['1', '2', '3'];
const PLANS = [undefined, 'stream', 'full'] as const;

let db: Db;
let close: () => void;
before(() => ({ db, close } = openFixture()));
after(() => close());

function search(s: Search, plan?: 'stream' | 'full') {
  const page = searchRunIds(
    db,
    {
      experimentIds: s.experimentIds ?? ALL_EXPERIMENTS,
      filter: parseRunFilter(s.filter),
      orderBy: parseRunOrderBy(s.orderBy),
      viewType: s.viewType ?? 'ACTIVE_ONLY',
      offset: s.offset ?? 0,
      limit: s.limit ?? 1000,
    },
    { plan },
  );
  return { names: namesOf(db, page.ids), nextOffset: page.nextOffset };
}

function expectRuns(s: Search, expected: string[]): void {
  for (const plan of PLANS) {
    assert.deepEqual(search(s, plan).names, expected, `plan ${plan ?? 'auto'}`);
  }
}


describe('run filters (exact ordered names)', () => {
  for (const [filter, expected] of FILTERS) {
    it(filter.length > 120 ? `${filter.slice(0, 120)}…` : filter || '(no filter)', () => expectRuns({ filter }, expected));
  }
  it('has at least 60 filter cases', () => assert.ok(FILTERS.length >= 60));
});

describe('view types and experiment ids', () => {
  it('DELETED_ONLY', () => expectRuns({ filter: "params.lr = '0.01'", viewType: 'DELETED_ONLY' }, ['vit-deleted', 'deleted-run']));
  it('ALL', () => expectRuns({ filter: 'metrics.acc > 0.95', viewType: 'ALL' }, ['vit-deleted', 'deleted-run']));
  it('ALL in one experiment', () => expectRuns({ experimentIds: ['3'], viewType: 'ALL' }, ['vit-deleted', 'vit']));
  it('one experiment', () => expectRuns({ experimentIds: ['2'] }, ['lstm', 'gpt-small', 'gpt-mini', 'mlp']));
  it('two experiments with a filter', () =>
    expectRuns({ experimentIds: ['1', '3'], filter: "tags.env = 'prod'" }, ['vit', 'resnet-50', 'bert-base']));
  it('many experiment ids, most of them unknown', () => {
    expectRuns({ experimentIds: many(5000, (i) => String(i)) }, ALL);
    expectRuns({ experimentIds: many(5000, (i) => String(i + 10)) }, []);
  });
  it('non-numeric experiment ids match nothing', () => {
    expectRuns({ experimentIds: ['2', 'abc'] }, ['lstm', 'gpt-small', 'gpt-mini', 'mlp']);
    expectRuns({ experimentIds: ['abc'] }, []);
    expectRuns({ experimentIds: ['99'] }, []);
    expectRuns({ experimentIds: [] }, []);
  });
});


describe('order_by', () => {
  for (const [orderBy, expected, filter] of ORDERS) {
    it(`${orderBy.join(', ')}${filter ? ` where ${filter}` : ''}`, () => expectRuns({ orderBy, filter }, expected));
  }
});

describe('paging', () => {
  it('walks the default order in pages with nextOffset', () => {
    for (const plan of PLANS) {
      assert.deepEqual(search({ limit: 5 }, plan), { names: ALL.slice(0, 5), nextOffset: 5 });
      assert.deepEqual(search({ limit: 5, offset: 5 }, plan), { names: ALL.slice(5, 10), nextOffset: 10 });
      assert.deepEqual(search({ limit: 5, offset: 10 }, plan), { names: ALL.slice(10), nextOffset: null });
    }
  });

  it('has no next page when the last page is exactly full', () => {
    assert.deepEqual(search({ limit: 12 }), { names: ALL, nextOffset: null });
    assert.deepEqual(search({ limit: 11 }), { names: ALL.slice(0, 11), nextOffset: 11 });
    assert.deepEqual(search({ limit: 5, offset: 20 }), { names: [], nextOffset: null });
  });

  it('treats a non-positive limit as an empty last page and a negative offset as 0', () => {
    assert.deepEqual(search({ limit: 0 }), { names: [], nextOffset: null });
    assert.deepEqual(search({ limit: -3 }), { names: [], nextOffset: null });
    assert.deepEqual(search({ limit: 2, offset: -5 }), { names: ALL.slice(0, 2), nextOffset: 2 });
  });

  it('carries offsets across the valued / NaN / missing parts of a metric order', () => {
    const full = ORDERS[0][1];
    for (const plan of PLANS) {
      const s = { orderBy: ['metrics.acc DESC'] };
      assert.deepEqual(search({ ...s, limit: 4, offset: 8 }, plan), { names: full.slice(8), nextOffset: null });
      assert.deepEqual(search({ ...s, limit: 1, offset: 10 }, plan), { names: ['gpt-small'], nextOffset: 11 });
      assert.deepEqual(search({ ...s, limit: 5, offset: 11 }, plan), { names: ['lstm'], nextOffset: null });
      assert.deepEqual(search({ ...s, limit: 3, offset: 12 }, plan), { names: [], nextOffset: null });
    }
  });

  it('concatenated pages equal one big page, for every order and plan', () => {
    for (const [orderBy, expected, filter] of ORDERS) {
      for (const plan of PLANS) {
        for (const limit of [1, 2, 3, 5]) {
          const names: string[] = [];
          let offset: number | null = 0;
          while (offset !== null) {
            const page: { names: string[]; nextOffset: number | null } = search({ orderBy, filter, limit, offset }, plan);
            names.push(...page.names);
            offset = page.nextOffset;
          }
          assert.deepEqual(names, expected, `${orderBy} limit ${limit} plan ${plan ?? 'auto'}`);
        }
      }
    }
  });

  it('merges per-experiment walks for start_time order over several experiments', () => {
    const q = { experimentIds: ALL_EXPERIMENTS, filter: null, orderBy: [], viewType: 'ACTIVE_ONLY' as const, offset: 3, limit: 4 };
    const ex = explainRunSearch(db, q, { plan: 'stream' });
    assert.equal(ex?.mode, 'merge');
    assert.deepEqual(namesOf(db, searchRunIds(db, q, { plan: 'stream' }).ids), ALL.slice(3, 7));
  });
});

describe('SQL safety', () => {
  it('binds every value and key; none appears in the SQL text', () => {
    const filter = parseRunFilter("params.`k'ey` = 'v''al' AND tags.t LIKE 'p%' AND metrics.m > 0.123 OR run_name IN ('n1')");
    for (const plan of ['stream', 'full'] as const) {
      const ex = explainRunSearch(db, { experimentIds: ['1'], filter, orderBy: parseRunOrderBy(['metrics.zz DESC']), viewType: 'ALL', offset: 0, limit: 10 }, { plan });
      for (const q of ex?.queries ?? []) {
        const sql = `${q.select} ${q.order}`;
        for (const literal of ["k'ey", "v'al", 'p*', 'p%', '0.123', 'n1', 'zz', "'t'", "'m'"]) {
          assert.ok(!sql.includes(literal), `${literal} leaked into ${sql}`);
        }
      }
    }
    // The injection-looking cases above returned nothing and left the tables intact.
    assert.equal(db.prepare('SELECT count(*) FROM runs').pluck().get(), 14);
  });
});
