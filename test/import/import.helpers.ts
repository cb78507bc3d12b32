import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalArtifactStore } from '../../server/artifacts/local.js';
import { openTestStore, sqlRows, type Backend } from '../helper.js';

export type Target = Awaited<ReturnType<typeof openTarget>>;

/**
 * A fresh lablog data dir with its store (SQLite in the dir, or a fresh PostgreSQL database) and
 * artifact store open, as the import command opens them.
 */
export async function openTarget(backend: Backend = 'sqlite') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-import-'));
  const opened = await openTestStore(backend, dir);
  const artifacts = createLocalArtifactStore(path.join(dir, 'artifacts'));
  return {
    dir,
    store: opened.store,
    artifacts,
    /** The PostgreSQL database's URL (null on SQLite), for a lablog process to open. */
    url: opened.url,
    /** Rows of a query on the target's database; `?` placeholders. */
    sql: <T = Record<string, unknown>>(text: string, ...params: unknown[]) => sqlRows<T>(opened, text, ...params),
    async close() {
      await opened.store.close();
      await opened.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Row counts of every table the import writes: equal counts after a second import mean nothing was duplicated. */
export async function rowCounts(t: Pick<Target, 'sql'>): Promise<Record<string, number>> {
  const tables = ['experiments', 'experiment_tags', 'runs', 'params', 'tags', 'metric_series', 'metric_chunks', 'metric_tail', 'datasets', 'inputs', 'input_tags'];
  const out: Record<string, number> = {};
  for (const table of tables) out[table] = Number((await t.sql<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0].n);
  out.points = Number((await t.sql<{ n: number }>('SELECT coalesce(sum(count), 0) AS n FROM metric_series'))[0].n);
  return out;
}
