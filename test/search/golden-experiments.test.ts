/** Experiment search end to end: filter/order_by text -> SQL -> the exact ordered experiment names. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseExperimentFilter, parseExperimentOrderBy } from '../../server/search/parser.js';
import { searchExperimentIds } from '../../server/store/sqlite/search.sql.js';
import type { Db } from '../../server/store/db.js';
import type { ViewType } from '../../server/store/types.js';
import { EXPERIMENT_CASES as CASES } from './golden-cases.js';
import { experimentNamesOf, openFixture } from './fixture.js';

let db: Db;
let close: () => void;
before(() => ({ db, close } = openFixture()));
after(() => close());

function search(s: { filter?: string; orderBy?: string[]; viewType?: ViewType; offset?: number; limit?: number }) {
  const page = searchExperimentIds(db, {
    filter: parseExperimentFilter(s.filter),
    orderBy: parseExperimentOrderBy(s.orderBy),
    viewType: s.viewType ?? 'ACTIVE_ONLY',
    offset: s.offset ?? 0,
    limit: s.limit ?? 1000,
  });
  return { names: experimentNamesOf(db, page.ids), nextOffset: page.nextOffset };
}


describe('experiment search (exact ordered names)', () => {
  for (const [s, expected] of CASES) {
    it(JSON.stringify(s), () => assert.deepEqual(search(s).names, expected));
  }

  it('pages with nextOffset', () => {
    assert.deepEqual(search({ limit: 2 }), { names: ['alpha', 'gamma'], nextOffset: 2 });
    assert.deepEqual(search({ limit: 2, offset: 2 }), { names: ['beta', 'Default'], nextOffset: null });
    assert.deepEqual(search({ limit: 3, offset: 3 }), { names: ['Default'], nextOffset: null });
  });
});
