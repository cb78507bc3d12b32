/**
 * Runs of more experiments than are merged one by one, in start_time order: the stream plan walks the
 * store-wide runs_start_time index (migration 0011) and must give exactly what sorting every candidate
 * gives, ties on start_time broken by run_uuid, with filters, other experiments' runs in between, and
 * deleted runs skipped.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRunFilter, parseRunOrderBy } from '../../server/search/parser.js';
import { explainRunSearch, searchRunIds } from '../../server/store/sqlite/search.sql.js';
import { openDatabase, type Db } from '../../server/store/db.js';
import { prng } from '../support/prng.js';

const EXPERIMENTS = 12;
const RUNS = 600;
let dir: string;
let db: Db;

interface Row {
  id: number;
  exp: number;
  start: number;
  uuid: string;
  deleted: boolean;
  lr: string;
}
const rows: Row[] = [];

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lablog-time-walk-'));
  db = openDatabase(path.join(dir, 'lablog.db'));
  const r = prng(7);
  const exp = db.prepare("INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, last_update_time) VALUES (?, ?, '', 0, 0)");
  const run = db.prepare("INSERT INTO runs (id, run_uuid, experiment_id, start_time, lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, ?, '')");
  const param = db.prepare("INSERT INTO params (run_id, key, value) VALUES (?, 'lr', ?)");
  db.transaction(() => {
    for (let e = 1; e <= EXPERIMENTS; e++) exp.run(e, `e${e}`);
    for (let id = 1; id <= RUNS; id++) {
      // Coarse start times, so that many runs tie and the run_uuid tie-break decides.
      const row = { id, exp: 1 + Math.floor(r() * EXPERIMENTS), start: Math.floor(r() * 100) * 1000, uuid: Math.floor(r() * 2 ** 40).toString(16).padStart(12, '0') + id, deleted: r() < 0.1, lr: r() < 0.3 ? '0.1' : '0.01' };
      rows.push(row);
      run.run(id, row.uuid, row.exp, row.start, row.deleted ? 'deleted' : 'active');
      param.run(id, row.lr);
    }
  })();
});
after(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function expected(exps: number[], filter: (r: Row) => boolean, ascending: boolean): number[] {
  return rows
    .filter((r) => exps.includes(r.exp) && !r.deleted && filter(r))
    .sort((a, b) => (ascending ? a.start - b.start : b.start - a.start) || (a.uuid < b.uuid ? -1 : 1))
    .map((r) => r.id);
}

describe('start_time order over many experiments', () => {
  const cases = [
    { name: 'all experiments, default order', exps: [...Array(EXPERIMENTS).keys()].map((e) => e + 1), filter: null, orderBy: [] as string[], keep: () => true, ascending: false },
    { name: 'ten experiments, ascending', exps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], filter: null, orderBy: ['attributes.start_time ASC'], keep: () => true, ascending: true },
    { name: 'nine experiments with a param filter', exps: [2, 3, 4, 5, 6, 7, 8, 9, 11], filter: "params.lr = '0.1'", orderBy: ['start_time DESC'], keep: (r: Row) => r.lr === '0.1', ascending: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = expected(c.exps, c.keep, c.ascending);
      assert.ok(want.length > 100);
      for (const plan of ['stream', 'full'] as const) {
        const got: number[] = [];
        for (let offset = 0; ; offset += 37) {
          const page = searchRunIds(db, { experimentIds: c.exps.map(String), filter: parseRunFilter(c.filter), orderBy: parseRunOrderBy(c.orderBy), viewType: 'ACTIVE_ONLY', offset, limit: 37 }, { plan });
          got.push(...page.ids);
          if (page.nextOffset === null) break;
        }
        assert.deepEqual(got, want, plan);
      }
    });
  }

  it('walks the start_time index when streaming, and the planner streams over all experiments', () => {
    const q = { experimentIds: [...Array(EXPERIMENTS).keys()].map((e) => String(e + 1)), filter: null, orderBy: [], viewType: 'ACTIVE_ONLY' as const, offset: 0, limit: 100 };
    const ex = explainRunSearch(db, q);
    assert.equal(ex?.plan.stream, true);
    const sql = ex!.queries[0].select;
    assert.match(sql, /INDEXED BY runs_start_time/);
    const detail = db.prepare(`EXPLAIN QUERY PLAN ${sql} ORDER BY ${ex!.queries[0].order} LIMIT 100`).all(...ex!.queries[0].values) as { detail: string }[];
    assert.ok(detail.some((d) => d.detail.includes('runs_start_time')), JSON.stringify(detail));
  });
});
