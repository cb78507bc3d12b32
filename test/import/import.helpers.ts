import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalArtifactStore } from '../../server/artifacts/local.js';
import { openSqliteStore } from '../../server/store/sqlite/index.js';

export type Target = ReturnType<typeof openTarget>;

/** A fresh lablog data dir with its store and artifact store open, as the import command opens them. */
export function openTarget() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-import-'));
  const store = openSqliteStore(dir);
  const artifacts = createLocalArtifactStore(path.join(dir, 'artifacts'));
  return {
    dir,
    store,
    artifacts,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Row counts of every table the import writes: equal counts after a second import mean nothing was duplicated. */
export function rowCounts(db: ReturnType<typeof openSqliteStore>['db']): Record<string, number> {
  const tables = ['experiments', 'experiment_tags', 'runs', 'params', 'tags', 'metric_series', 'metric_chunks', 'metric_tail', 'datasets', 'inputs', 'input_tags'];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
  out.points = (db.prepare('SELECT coalesce(sum(count), 0) AS n FROM metric_series').get() as { n: number }).n;
  return out;
}

