import type pg from 'pg';
import { createAuthFeed } from '../auth-feed.js';
import type { SampledSeries, Series, TrackingStore } from '../types.js';
import { listenForAuthChanges, type ListenerState } from './auth-changes.js';
import { createPgAuth } from './auth.sql.js';
import { createPool, migratePostgres, snapshot } from './db.js';
import { searchDatasetsPg } from './datasets.sql.js';
import { createPgExperiments } from './experiments.sql.js';
import { createPgGc } from './gc.sql.js';
import { createPgImport } from './import.sql.js';
import { createPgMetrics } from './metrics.sql.js';
import { createPgRegistryImport } from './registry-import.sql.js';
import { createPgRegistry } from './registry.sql.js';
import { notYetOnPostgres } from './not-yet.js';
import { createPgRuns } from './runs.sql.js';
import { searchExperimentIdsPg, searchRunIdsPg } from './search.sql.js';
import { createPgSweeps } from './sweeps.sql.js';

const EMPTY: Series = { steps: new Float64Array(0), timestamps: new Float64Array(0), values: new Float64Array(0) };

/**
 * The PostgreSQL store (LABLOG_DATABASE_URL): the tracking core (experiments, runs, params, tags,
 * log-batch with idempotency keys, inputs, metric history in the SQLite store's chunk encoding, run
 * and experiment search), the Model Registry, import and gc, auth and sweeps. Several lablog servers
 * can share one database: migrations run under an advisory lock, writes to a run hold its row lock,
 * a trial is claimed under its sweep's row lock, multi-statement reads share one snapshot, and an auth
 * change made through one server reaches the others' caches by NOTIFY (auth-changes.ts). A method not
 * ported yet rejects with NotYetOnPostgresError (not-yet.ts).
 */
export async function openPostgresStore(
  url: string,
  opts: { poolSize?: number; onAuthListener?: (state: ListenerState) => void } = {},
): Promise<TrackingStore & { pool: pg.Pool }> {
  const pool = createPool(url, opts.poolSize ?? 10);
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const experiments = createPgExperiments(pool);
  const metrics = createPgMetrics();
  const runs = createPgRuns(pool, experiments, metrics);
  const authFeed = createAuthFeed();
  // Started by the first subscriber (the server's caches): a command that caches nothing holds no
  // connection for it.
  const listener = listenForAuthChanges(url, authFeed, opts.onAuthListener);

  return {
    pool,
    ...notYetOnPostgres(),
    ...createPgRegistry(pool, authFeed),
    ...createPgRegistryImport(pool),
    ...createPgGc(pool),
    ...createPgImport(pool, experiments, runs, metrics),
    ...createPgAuth(pool, authFeed),
    onAuthChanged: (fn) => {
      void listener.start();
      return authFeed.onAuthChanged(fn);
    },
    authChangesHeard: () => listener.listening(),
    ...createPgSweeps(pool, runs),
    createExperiment: (e) => experiments.create(e),
    getExperiment: (id) => experiments.get(id),
    getExperimentByName: (name) => experiments.getByName(name),
    searchExperiments: (q) =>
      snapshot(pool, async (c) => {
        const page = await searchExperimentIdsPg(c, q);
        return { items: await experiments.load(c, page.ids), nextOffset: page.nextOffset };
      }),
    renameExperiment: (id, name, now) => experiments.rename(id, name, now),
    setExperimentLifecycle: (id, stage, now) => experiments.setLifecycle(id, stage, now),
    setExperimentTag: (id, tag, now) => experiments.setTag(id, tag, now),
    deleteExperimentTag: (id, key) => experiments.deleteTag(id, key),

    createRun: (r) => runs.create(r),
    ensureRun: (r) => runs.ensure(r),
    getRun: (id) => snapshot(pool, async (c) => (await runs.load(c, [(await runs.row(c, id)).id]))[0]),
    getRunInfo: (id) => runs.info(id),
    updateRun: (id, u) => runs.update(id, u),
    setRunLifecycle: (id, stage, now) => runs.setLifecycle(id, stage, now),
    logBatch: async (id, batch, idempotency) => ({ replayed: await runs.logBatch(id, batch, idempotency) }),
    deleteTag: (id, key) => runs.deleteTag(id, key),
    rewriteRunTag: (id, key, rewrite) => runs.rewriteTag(id, key, rewrite),
    logInputs: (id, inputs) => runs.logInputs(id, inputs),
    searchDatasets: (ids, limit) => searchDatasetsPg(pool, ids, limit),
    searchRuns: (q) =>
      snapshot(pool, async (c) => {
        const page = await searchRunIdsPg(c, q);
        return { items: await runs.load(c, page.ids), nextOffset: page.nextOffset };
      }),

    getMetricHistory: (q) =>
      snapshot(pool, async (c) => {
        const series = await metrics.seriesId(c, (await runs.row(c, q.runId)).id, q.key);
        if (series === null) return { points: EMPTY, nextOffset: null };
        const { points, total } = await metrics.readPage(c, series, q.offset, q.limit);
        const end = q.offset + points.values.length;
        return { points, nextOffset: end < total ? end : null };
      }),
    streamMetricHistory: (q) =>
      snapshot(pool, async (c) => {
        const series = await metrics.seriesId(c, (await runs.row(c, q.runId)).id, q.key);
        if (series === null) return { count: 0, pieces: (async function* () {})(), nextOffset: null };
        const { count, total, pieces } = await metrics.streamPage(c, pool, series, q.offset, q.limit);
        const end = q.offset + count;
        return { count, pieces, nextOffset: end < total ? end : null };
      }),
    getEarliestMetricPoints: (q) =>
      snapshot(pool, async (c) => {
        const series = await metrics.seriesId(c, (await runs.row(c, q.runId)).id, q.key);
        return series === null ? EMPTY : metrics.earliestByTime(c, series, q.limit);
      }),
    getMetricRange: (q) =>
      snapshot(pool, async (c) => {
        const found = await c.query<{ run_uuid: string; series: number | null }>(
          'SELECT r.run_uuid, s.id AS series FROM runs r LEFT JOIN metric_series s ON s.run_id = r.id AND s.key = $2 WHERE r.run_uuid = ANY($1::text[])',
          [q.runIds, q.key],
        );
        const seriesOf = new Map(found.rows.map((r) => [r.run_uuid, r.series]));
        // A run that does not exist fails the call as runs.row says it.
        for (const runId of q.runIds) if (!seriesOf.has(runId)) await runs.row(c, runId);
        const ids = [...new Set([...seriesOf.values()].filter((s): s is number => s !== null))];
        const read = await metrics.readMany(c, ids, q.startStep, q.endStep);
        const out = new Map<string, Series>();
        for (const runId of q.runIds) {
          const series = seriesOf.get(runId) ?? null;
          out.set(runId, series === null ? EMPTY : read.get(series)!);
        }
        return out;
      }),
    sampleMetrics: (q) =>
      snapshot(pool, async (c) => {
        const out: SampledSeries[] = [];
        for (const runId of q.runIds) {
          const run = await runs.row(c, runId);
          for (const key of q.keys) {
            const series = await metrics.seriesId(c, run.id, key);
            out.push({ runId, key, buckets: series === null ? [] : await metrics.sample(c, series, q.x === 'step' ? 'step' : 'time', q.start, q.end, q.buckets) });
          }
        }
        return out;
      }),

    close: async () => {
      await listener.close();
      await pool.end();
    },
  };
}
