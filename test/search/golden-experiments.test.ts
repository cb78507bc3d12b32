/** Experiment search end to end: filter/order_by text -> SQL -> the exact ordered experiment names. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseExperimentFilter, parseExperimentOrderBy } from '../../server/search/parser.js';
import { searchExperimentIds } from '../../server/store/sqlite/search.sql.js';
import type { Db } from '../../server/store/db.js';
import type { ViewType } from '../../server/store/types.js';
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

// Fixture times: Default 100, alpha 300, beta 200, gamma 300 (tie with alpha), delta 400 (deleted).
const CASES: Array<[{ filter?: string; orderBy?: string[]; viewType?: ViewType }, string[]]> = [
  // MLflow's default: creation_time DESC, then experiment_id ASC.
  [{}, ['alpha', 'gamma', 'beta', 'Default']],
  // With an explicit order the tie-break is experiment_id DESC (MLflow's SqlAlchemyStore).
  [{ orderBy: ['creation_time DESC'] }, ['gamma', 'alpha', 'beta', 'Default']],
  [{ orderBy: ['creation_time'] }, ['Default', 'beta', 'gamma', 'alpha']],
  [{ orderBy: ['name'] }, ['Default', 'alpha', 'beta', 'gamma']],
  [{ orderBy: ['attributes.name DESC'] }, ['gamma', 'beta', 'alpha', 'Default']],
  [{ orderBy: ['last_update_time DESC'] }, ['alpha', 'beta', 'gamma', 'Default']],
  [{ orderBy: ['experiment_id DESC'] }, ['gamma', 'beta', 'alpha', 'Default']],
  [{ orderBy: ['creation_time DESC', 'experiment_id ASC'] }, ['alpha', 'gamma', 'beta', 'Default']],
  [{ filter: "name = 'alpha'" }, ['alpha']],
  [{ filter: "attributes.name LIKE '%a'" }, ['alpha', 'gamma', 'beta']],
  [{ filter: "name LIKE 'def%'" }, []],
  [{ filter: "name ILIKE 'DEF%'" }, ['Default']],
  [{ filter: "name != 'alpha'" }, ['gamma', 'beta', 'Default']],
  [{ filter: "name IN ('beta', 'gamma')" }, ['gamma', 'beta']],
  [{ filter: "tags.team = 'vision'" }, ['alpha']],
  [{ filter: "tag.team ILIKE 'vision'" }, ['alpha', 'gamma']],
  [{ filter: "tags.team != 'nlp'" }, ['alpha', 'gamma']],
  [{ filter: 'tags.owner IS NULL' }, ['gamma', 'beta', 'Default']],
  [{ filter: 'tags.owner IS NOT NULL' }, ['alpha']],
  [{ filter: 'creation_time >= 200 AND last_update_time < 850' }, ['gamma', 'beta']],
  [{ filter: 'attributes.creation_time = 300' }, ['alpha', 'gamma']],
  [{ filter: "name != 'alpha' OR tags.owner = 'Ann'" }, ['alpha', 'gamma', 'beta', 'Default']],
  [{ filter: "(tags.team = 'nlp' OR tags.team = 'Vision') AND creation_time > 150" }, ['gamma', 'beta']],
  [{ filter: "tags.team ILIKE 'vision'", viewType: 'ALL' }, ['delta', 'alpha', 'gamma']],
  [{ viewType: 'DELETED_ONLY' }, ['delta']],
  [{ viewType: 'ALL', orderBy: ['name'] }, ['Default', 'alpha', 'beta', 'delta', 'gamma']],
];

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
