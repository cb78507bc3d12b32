/**
 * The golden search tables (golden-cases.ts) on PostgreSQL: the same fixture, the same filter and
 * order texts, the same exact ordered names as on SQLite, through the PostgreSQL compiler
 * (store/postgres/search.sql.ts). Skipped, with the reason, where no PostgreSQL cluster can start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { parseExperimentFilter, parseExperimentOrderBy, parseRunFilter, parseRunOrderBy } from '../../server/search/parser.js';
import { createPool, migratePostgres } from '../../server/store/postgres/db.js';
import { searchExperimentIdsPg, searchRunIdsPg } from '../../server/store/postgres/search.sql.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';
import { seedPostgres } from './fixture-postgres.js';
import { ALL, EXPERIMENT_CASES, FILTERS, many, ORDERS, type Search } from './golden-cases.js';

const skip = postgresSkip() ?? false;

describe('golden search tables on PostgreSQL', { skip }, () => {
  let pool: pg.Pool;
  let url = '';
  before(async () => {
    url = await createDatabase();
    pool = createPool(url, 2);
    await migratePostgres(pool);
    await seedPostgres(pool);
  });
  after(async () => {
    await pool?.end();
    if (url) await dropDatabase(url);
  });

  async function names(table: 'runs' | 'experiments', ids: number[]): Promise<string[]> {
    const col = table === 'runs' ? 'id' : 'experiment_id';
    const res = await pool.query<{ id: number; name: string }>(`SELECT ${col} AS id, name FROM ${table} WHERE ${col} = ANY($1::bigint[])`, [ids]);
    const byId = new Map(res.rows.map((r) => [r.id, r.name]));
    return ids.map((id) => byId.get(id)!);
  }

  async function search(s: Search) {
    const page = await searchRunIdsPg(pool, {
      experimentIds: s.experimentIds ?? ['1', '2', '3'],
      filter: parseRunFilter(s.filter),
      orderBy: parseRunOrderBy(s.orderBy),
      viewType: s.viewType ?? 'ACTIVE_ONLY',
      offset: s.offset ?? 0,
      limit: s.limit ?? 1000,
    });
    return { names: await names('runs', page.ids), nextOffset: page.nextOffset };
  }

  describe('run filters (exact ordered names)', () => {
    for (const [filter, expected] of FILTERS) {
      it(filter.length > 120 ? `${filter.slice(0, 120)}…` : filter || '(no filter)', async () => assert.deepEqual((await search({ filter })).names, expected));
    }
  });

  describe('view types and experiment ids', () => {
    const cases: Array<[Search, string[]]> = [
      [{ filter: "params.lr = '0.01'", viewType: 'DELETED_ONLY' }, ['vit-deleted', 'deleted-run']],
      [{ filter: 'metrics.acc > 0.95', viewType: 'ALL' }, ['vit-deleted', 'deleted-run']],
      [{ experimentIds: ['3'], viewType: 'ALL' }, ['vit-deleted', 'vit']],
      [{ experimentIds: ['2'] }, ['lstm', 'gpt-small', 'gpt-mini', 'mlp']],
      [{ experimentIds: ['1', '3'], filter: "tags.env = 'prod'" }, ['vit', 'resnet-50', 'bert-base']],
      [{ experimentIds: many(5000, (i) => String(i)) }, ALL],
      [{ experimentIds: many(5000, (i) => String(i + 10)) }, []],
      [{ experimentIds: ['abc', '1e3', '-1'] }, []],
    ];
    for (const [s, expected] of cases) {
      it(JSON.stringify(s).slice(0, 120), async () => assert.deepEqual((await search(s)).names, expected));
    }
  });

  describe('order_by', () => {
    for (const [orderBy, expected, filter] of ORDERS) {
      it(`${orderBy.join(', ')}${filter ? ` where ${filter}` : ''}`, async () => assert.deepEqual((await search({ orderBy, filter })).names, expected));
    }
  });

  describe('paging', () => {
    it('walks the default order in pages with nextOffset; non-positive limits give an empty last page', async () => {
      assert.deepEqual(await search({ limit: 5 }), { names: ALL.slice(0, 5), nextOffset: 5 });
      assert.deepEqual(await search({ limit: 5, offset: 10 }), { names: ALL.slice(10), nextOffset: null });
      assert.deepEqual(await search({ limit: 12 }), { names: ALL, nextOffset: null });
      assert.deepEqual(await search({ limit: 0 }), { names: [], nextOffset: null });
      assert.deepEqual(await search({ limit: 2, offset: -5 }), { names: ALL.slice(0, 2), nextOffset: 2 });
    });

    it('concatenated pages equal one big page, for every order', async () => {
      for (const [orderBy, expected, filter] of ORDERS) {
        for (const limit of [1, 3, 5]) {
          const seen: string[] = [];
          let offset: number | null = 0;
          while (offset !== null) {
            const page: { names: string[]; nextOffset: number | null } = await search({ orderBy, filter, limit, offset });
            seen.push(...page.names);
            offset = page.nextOffset;
          }
          assert.deepEqual(seen, expected, `${orderBy} limit ${limit}`);
        }
      }
    });
  });

  describe('experiment search (exact ordered names)', () => {
    for (const [s, expected] of EXPERIMENT_CASES) {
      it(JSON.stringify(s), async () => {
        const page = await searchExperimentIdsPg(pool, {
          filter: parseExperimentFilter(s.filter),
          orderBy: parseExperimentOrderBy(s.orderBy),
          viewType: s.viewType ?? 'ACTIVE_ONLY',
          offset: 0,
          limit: 1000,
        });
        assert.deepEqual(await names('experiments', page.ids), expected);
      });
    }
  });

  it('binds every value: injection-looking keys and values match nothing and leave the tables intact', async () => {
    const filter = "params.`k'ey` = 'v''al; DROP TABLE runs' AND tags.t LIKE 'p%' OR run_name IN ('n1''--')";
    assert.deepEqual((await search({ filter, orderBy: ["metrics.`z'z` DESC"] })).names, []);
    assert.equal((await pool.query('SELECT count(*) AS n FROM runs')).rows[0].n, 14);
  });
});
