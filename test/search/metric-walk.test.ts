/**
 * A search in one experiment ordered by a metric walks that experiment's values of the metric only
 * (metric_series.experiment_id and its index, migrations 0012-0014), whichever way the series were
 * written: log-batch appends and imports record the run's experiment, and the migration fills it in for
 * series written before it. Both plans must give the hand-sorted answer, with the other experiments'
 * runs interleaved (as a team's runs are) and NaN and missing metrics in their MLflow places.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRunFilter, parseRunOrderBy } from '../../server/search/parser.js';
import { MIGRATIONS_DIR } from '../../server/store/db.js';
import { migrate } from '../../server/store/migrate.js';
import { DB_FILE, openSqliteStore } from '../../server/store/sqlite/index.js';
import { explainRunSearch, searchRunIds } from '../../server/store/sqlite/search.sql.js';
import type { TrackingStore } from '../../server/store/types.js';
import type { Db } from '../../server/store/db.js';
import { prng } from '../support/prng.js';

const EXPERIMENTS = 4;
const RUNS = 400;

interface Seeded {
  id: number;
  exp: string;
  uuid: string;
  acc: number | null | undefined;
  opt: string;
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs spread round-robin-ish over the experiments; acc absent for some, NaN for some. */
async function seed(store: TrackingStore & { db: Db }, how: 'append' | 'import'): Promise<Seeded[]> {
  const r = prng(how === 'append' ? 3 : 4);
  const exps: string[] = [];
  for (let e = 0; e < EXPERIMENTS; e++) exps.push(await store.createExperiment({ name: `e${e}`, artifactLocation: null, tags: [], now: 1 }));
  const out: Seeded[] = [];
  for (let i = 0; i < RUNS; i++) {
    const exp = exps[Math.floor(r() * EXPERIMENTS)];
    const info = await store.createRun({ runUuid: `${how}${String(i).padStart(5, '0')}`, experimentId: exp, userId: 'u', runName: `r${i}`, startTime: 1000 + i, tags: [], artifactUri: (l) => l });
    const u = r();
    const acc = u < 0.1 ? undefined : u < 0.15 ? null : Math.round(r() * 50) / 50;
    const opt = r() < 0.3 ? 'adam' : 'sgd';
    const metrics = acc === undefined ? [] : [{ key: 'acc', value: acc === null ? NaN : acc, timestamp: 5, step: 0 }];
    if (how === 'append') await store.logBatch(info.runId, { metrics, params: [{ key: 'opt', value: opt }], tags: [] });
    else {
      await store.logBatch(info.runId, { metrics: [], params: [{ key: 'opt', value: opt }], tags: [] });
      if (acc !== undefined) await store.replaceMetricHistory(info.runId, 'acc', { steps: Float64Array.of(0), timestamps: Float64Array.of(5), values: Float64Array.of(acc === null ? NaN : acc) });
    }
    const id = store.db.prepare('SELECT id FROM runs WHERE run_uuid = ?').pluck().get(info.runId) as number;
    out.push({ id, exp, uuid: info.runId, acc, opt });
  }
  return out;
}

/** MLflow's order: values (ties by start_time DESC, then run_uuid), then NaN, then runs without the metric. */
function expected(rows: Seeded[], exp: string, keep: (s: Seeded) => boolean, ascending: boolean): number[] {
  const rank = (s: Seeded) => (s.acc === undefined ? 2 : s.acc === null ? 1 : 0);
  return rows
    .filter((s) => s.exp === exp && keep(s))
    .sort((a, b) => rank(a) - rank(b) || (rank(a) === 0 && a.acc !== b.acc ? (ascending ? a.acc! - b.acc! : b.acc! - a.acc!) : 0) || b.id - a.id)
    .map((s) => s.id);
}

function checkSearches(db: Db, rows: Seeded[]): void {
  const exp = rows[0].exp;
  const cases = [
    { filter: null, order: 'metrics.acc DESC', keep: () => true, ascending: false },
    { filter: "params.opt = 'adam'", order: 'metrics.acc ASC', keep: (s: Seeded) => s.opt === 'adam', ascending: true },
    { filter: "params.opt = 'sgd' AND metrics.acc > 0.5", order: 'metrics.acc DESC', keep: (s: Seeded) => s.opt === 'sgd' && typeof s.acc === 'number' && s.acc > 0.5, ascending: false },
  ];
  for (const c of cases) {
    const want = expected(rows, exp, c.keep, c.ascending);
    for (const plan of ['stream', 'full'] as const) {
      const got: number[] = [];
      for (let offset = 0; ; offset += 17) {
        const page = searchRunIds(db, { experimentIds: [exp], filter: parseRunFilter(c.filter), orderBy: parseRunOrderBy([c.order]), viewType: 'ACTIVE_ONLY', offset, limit: 17 }, { plan });
        got.push(...page.ids);
        if (page.nextOffset === null) break;
      }
      assert.deepEqual(got, want, `${c.filter} by ${c.order}, plan ${plan}`);
    }
  }
  const ex = explainRunSearch(db, { experimentIds: [exp], filter: null, orderBy: parseRunOrderBy(['metrics.acc DESC']), viewType: 'ACTIVE_ONLY', offset: 0, limit: 10 }, { plan: 'stream' })!;
  const part = ex.queries[0];
  const detail = db.prepare(`EXPLAIN QUERY PLAN ${part.select} ORDER BY ${part.order} LIMIT ? OFFSET ?`).all(...part.values, 10, 0) as { detail: string }[];
  assert.ok(detail.some((d) => d.detail.includes('metric_series_experiment_key_value_run')), JSON.stringify(detail));
}

for (const how of ['append', 'import'] as const) {
  describe(`metric order within one experiment, series written by ${how}`, () => {
    let store: TrackingStore & { db: Db };
    let rows: Seeded[];
    before(async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-metric-walk-'));
      dirs.push(dir);
      store = openSqliteStore(dir);
      rows = await seed(store, how);
    });
    after(() => store.close());

    it("records each series' experiment", () => {
      const wrong = store.db.prepare('SELECT count(*) FROM metric_series s JOIN runs r ON r.id = s.run_id WHERE s.experiment_id IS NOT r.experiment_id').pluck().get();
      assert.equal(wrong, 0);
      assert.ok((store.db.prepare('SELECT count(*) FROM metric_series').pluck().get() as number) > RUNS / 2);
    });

    it('answers as the hand sort, under both plans', () => checkSearches(store.db, rows));
  });
}

describe('migration 0013: series written before the column get their experiment', () => {
  it('fills experiment_id for every series, and the scoped walk finds them', async () => {
    // A data dir as of migration 0011, filled by today's store, then the column emptied as it would be
    // (only 0013 and 0014 are run again: later migrations reshape tables today's store already wrote).
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lablog-metric-walk-old-'));
    const migrations = mkdtempSync(path.join(os.tmpdir(), 'lablog-migrations-'));
    dirs.push(dataDir, migrations);
    let store = openSqliteStore(dataDir);
    const rows = await seed(store, 'append');
    await store.close();
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    const journalFile = path.join(migrations, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { idx: number }[] };
    const db = new Database(path.join(dataDir, DB_FILE));
    db.exec('DROP INDEX metric_series_experiment_key_value_run; UPDATE metric_series SET experiment_id = NULL; DELETE FROM lablog_migrations WHERE idx IN (13, 14)');
    journal.entries = journal.entries.filter((e) => e.idx <= 12);
    writeFileSync(journalFile, JSON.stringify(journal));
    migrate(db, migrations);
    assert.equal(db.prepare('SELECT count(*) FROM metric_series WHERE experiment_id IS NOT NULL').pluck().get(), 0);
    db.close();

    store = openSqliteStore(dataDir);
    try {
      assert.equal(store.db.prepare('SELECT count(*) FROM metric_series s JOIN runs r ON r.id = s.run_id WHERE s.experiment_id IS NOT r.experiment_id').pluck().get(), 0);
      checkSearches(store.db, rows);
    } finally {
      await store.close();
    }
  });
});
