import { existsSync } from 'node:fs';
import path from 'node:path';
import { translateErrors } from '../../errors.js';
import { Reader } from '../../read-turns.js';
import { createAuthFeed } from '../auth-feed.js';
import { openDatabase, openDatabaseReadOnly, type Db } from '../db.js';
import type { SampledSeries, Series, TrackingStore } from '../types.js';
import { createAuthStatements } from './auth.sql.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { createDatasetStatements } from './datasets.sql.js';
import { createExperimentStatements } from './experiments.sql.js';
import { sqliteFault } from './faults.js';
import { createGcStatements } from './gc.sql.js';
import { createImportStatements } from './import.sql.js';
import { createMetricStatements } from './metrics.sql.js';
import { createRegistryImportStatements } from './registry-import.sql.js';
import { createRegistryStatements } from './registry.sql.js';
import { createRunStatements } from './runs.sql.js';
import { searchExperimentIds, searchRunIds } from './search.sql.js';
import { createSweepStatements } from './sweeps.sql.js';

export const DB_FILE = 'lablog.db';

/** The kinds of read unit this store runs (read-turns.ts): each learns what its units cost. */
const units = { piece: new Reader(), search: new Reader(), sampled: new Reader(), range: new Reader(), earliest: new Reader() };

/** A lazily decoded synchronous iterable as the interface's async one: each step is a read unit. */
async function* paced<T>(items: Iterable<T>): AsyncGenerator<T> {
  const it = items[Symbol.iterator]();
  for (;;) {
    const step = await units.piece.run(() => it.next());
    if (step.done) return;
    yield step.value;
  }
}

const EMPTY: Series = { steps: new Float64Array(0), timestamps: new Float64Array(0), values: new Float64Array(0) };

export interface OpenOptions {
  /** Open read-only at once, for this reason (the data directory is known to refuse writes). */
  readOnly?: string;
  /** When the database cannot be opened for writing for the disk's sake, open it read-only instead. */
  readOnlyFallback?: boolean;
  /** Checkpoint the WAL from a worker thread (the server's store), not inside the commits. */
  backgroundCheckpoints?: boolean;
}

/**
 * The embedded store. better-sqlite3 is synchronous and this process holds the only writer
 * connection, so writes are serialized by the event loop; each call is one transaction. A call the
 * disk refuses (full, read-only) rejects with StorageUnavailableError, its transaction rolled back.
 * `readOnlyBecause` says why the database was opened read-only (OpenOptions), else null.
 */
export function openSqliteStore(dataDir: string, opts: OpenOptions = {}): TrackingStore & { db: Db; readOnlyBecause: string | null } {
  const file = path.join(dataDir, DB_FILE);
  let db: Db;
  let readOnlyBecause: string | null = null;
  if (opts.readOnly) {
    db = openReadOnly(file, opts.readOnly);
    readOnlyBecause = opts.readOnly;
  } else {
    try {
      db = openDatabase(file);
    } catch (err) {
      const fault = sqliteFault(err);
      if (!opts.readOnlyFallback || !fault || !existsSync(file)) throw err;
      db = openReadOnly(file, fault.reason);
      readOnlyBecause = fault.reason;
    }
  }
  // The server's store only: a short-lived command has no requests to keep waiting.
  const checkpointer = opts.backgroundCheckpoints && readOnlyBecause === null ? startCheckpointer(db, file) : null;
  return translateErrors(statements(db, readOnlyBecause, checkpointer), sqliteFault);
}

function openReadOnly(file: string, because: string): Db {
  try {
    return openDatabaseReadOnly(file);
  } catch (err) {
    throw new Error(`the database cannot be opened for writing (${because}), nor read-only: ${(err as Error).message}`);
  }
}

function statements(
  db: Db,
  readOnlyBecause: string | null,
  checkpointer: Checkpointer | null,
): TrackingStore & { db: Db; readOnlyBecause: string | null } {
  const experiments = createExperimentStatements(db);
  const metrics = createMetricStatements(db);
  const runs = createRunStatements(db, experiments, metrics);
  const gc = createGcStatements(db);
  const sweeps = createSweepStatements(db, runs);
  const datasets = createDatasetStatements(db);
  const imports = createImportStatements(db, experiments, metrics);
  // One process writes through this connection; what others write shows in authChangesHeard.
  const authFeed = createAuthFeed();

  const seriesOf = (runUuid: string, key: string) => metrics.seriesId(runs.row(runUuid).id, key);
  // total_changes() counts every row this connection's statements inserted, updated or deleted (the
  // only writer in this process); data_version moves when another connection (another process on the
  // same file) commits. Both only grow, so a pair never comes back once anything was written.
  const version = db.prepare<[], [number, number]>('SELECT total_changes(), data_version FROM pragma_data_version()').raw(true);
  const totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck();
  // Rows changed by writes that no answer reads: with auth on, every search (a POST) is recorded in the
  // audit log and a token's use is noted, and counting those would make every answer a new one.
  let unread = 0;
  const auth = createAuthStatements(db, authFeed);
  /** `write` runs its one statement synchronously inside this call, so the count's growth is its own. */
  const unreadWrite = <A extends unknown[]>(write: (...a: A) => Promise<void>) => (...a: A) => {
    const before = totalChanges.get()!;
    try {
      return write(...a);
    } finally {
      unread += totalChanges.get()! - before;
    }
  };

  return {
    db,
    readOnlyBecause,
    answerVersion: () => {
      // Inside a transaction a read sees writes that may yet roll back.
      if (db.inTransaction) return null;
      const [changes, dataVersion] = version.get()!;
      return `${changes - unread}:${dataVersion}`;
    },
    ...auth,
    appendAudit: unreadWrite(auth.appendAudit),
    touchToken: unreadWrite(auth.touchToken),
    ...createRegistryStatements(db, authFeed),
    ...createRegistryImportStatements(db),
    createExperiment: async (e) => experiments.create(e),
    getExperiment: async (id) => experiments.get(id),
    getExperimentByName: async (name) => experiments.getByName(name),
    searchExperiments: (q) =>
      units.search.run(() => {
        const page = searchExperimentIds(db, q);
        return { items: experiments.load(page.ids), nextOffset: page.nextOffset };
      }),
    renameExperiment: async (id, name, now) => experiments.rename(id, name, now),
    setExperimentLifecycle: async (id, stage, now) => experiments.setLifecycle(id, stage, now),
    setExperimentTag: async (id, tag, now) => experiments.setTag(id, tag, now),
    deleteExperimentTag: async (id, key) => experiments.deleteTag(id, key),

    createRun: async (r) => runs.create(r),
    ensureRun: async (r) => runs.ensure(r),
    getRun: async (id) => runs.get(id),
    getRunInfo: async (id) => runs.info(id),
    updateRun: async (id, u) => runs.update(id, u),
    setRunLifecycle: async (id, stage, now) => runs.setLifecycle(id, stage, now),
    logBatch: async (id, batch, idempotency) => ({ replayed: runs.logBatch(id, batch, idempotency) }),
    deleteTag: async (id, key) => runs.deleteTag(id, key),
    rewriteRunTag: async (id, key, rewrite) => runs.rewriteTag(id, key, rewrite),
    logInputs: async (id, inputs) => runs.logInputs(id, inputs),
    searchDatasets: async (ids, limit) => datasets.search(ids, limit),
    searchRuns: (q) =>
      units.search.run(() => {
        const page = searchRunIds(db, q);
        return { items: runs.load(page.ids), nextOffset: page.nextOffset };
      }),

    getMetricHistory: async (q) => {
      const series = seriesOf(q.runId, q.key);
      if (series === null) return { points: EMPTY, nextOffset: null };
      const { points, total } = metrics.readPage(series, q.offset, q.limit);
      const end = q.offset + points.values.length;
      return { points, nextOffset: end < total ? end : null };
    },
    streamMetricHistory: async (q) => {
      const series = seriesOf(q.runId, q.key);
      if (series === null) return { count: 0, pieces: paced([]), nextOffset: null };
      const { count, total, pieces } = metrics.streamPage(series, q.offset, q.limit);
      const end = q.offset + count;
      return { count, pieces: paced(pieces), nextOffset: end < total ? end : null };
    },
    getEarliestMetricPoints: (q) =>
      units.earliest.run(() => {
        const series = seriesOf(q.runId, q.key);
        return series === null ? EMPTY : metrics.earliestByTime(series, q.limit);
      }),
    getMetricRange: async (q) => {
      const out = new Map<string, Series>();
      for (const runId of q.runIds) {
        out.set(runId, await units.range.run(() => {
          const series = seriesOf(runId, q.key);
          return series === null ? EMPTY : metrics.readSeries(series, q.startStep, q.endStep);
        }));
      }
      return out;
    },
    sampleMetrics: async (q) => {
      const out: SampledSeries[] = [];
      for (const runId of q.runIds) {
        for (const key of q.keys) {
          const buckets = await units.sampled.run(() => {
            const series = metrics.seriesId(runs.row(runId).id, key);
            return series === null ? [] : metrics.sample(series, q.x === 'step' ? 'step' : 'time', q.start, q.end, q.buckets);
          });
          out.push({ runId, key, buckets });
        }
      }
      return out;
    },

    gcListDeletedRuns: async (before) => gc.listDeletedRuns(before),
    gcGetRuns: async (ids) => gc.getRuns(ids),
    gcListExperimentRuns: async (ids) => gc.listExperimentRuns(ids),
    gcListDeletedExperiments: async (before) => gc.listDeletedExperiments(before),
    gcGetExperiments: async (ids) => gc.getExperiments(ids),
    hardDeleteRun: async (id) => gc.hardDeleteRun(id),
    hardDeleteExperiment: async (id) => gc.hardDeleteExperiment(id),

    createSweep: async (n) => sweeps.create(n),
    getSweep: async (id) => sweeps.get(id),
    listSweeps: async (q) => sweeps.list(q),
    setSweepStatus: async (id, from, status, now, parentRunStatus) => sweeps.setStatus(id, from, status, now, parentRunStatus),
    listTrials: async (id, metricKey) => sweeps.trials(id, metricKey),
    scoredTrials: async (id, metricKey) => sweeps.scored(id, metricKey),
    trialProgress: async (id, metricKey) => sweeps.progress(id, metricKey),
    getTrial: async (id, runUuid, metricKey) => sweeps.trialOfRun(id, runUuid, metricKey),
    trialSummary: async (id, metricKey, goal) => sweeps.summary(id, metricKey, goal),
    startTrial: async (n) => sweeps.startTrial(n),
    trialByRequest: async (id, requestId, metricKey) => sweeps.byRequest(id, requestId, metricKey),
    refreshTrials: async (id, now, deadline) => sweeps.refresh(id, now, deadline),
    touchTrial: async (id, runUuid, now) => sweeps.touch(id, runUuid, now),
    stopTrial: async (id, runUuid, reason, now) => sweeps.stop(id, runUuid, reason, now),

    importExperiment: async (e) => imports.importExperiment(e),
    importRun: async (r) => imports.importRun(r),
    seriesSummaries: async (runUuid) => imports.seriesSummaries(runUuid),
    replaceMetricHistory: async (runUuid, key, points) => imports.replaceMetricHistory(runUuid, key, points),

    close: async () => {
      // The checkpointer's connection closes first, so this last one folds the WAL in and removes it.
      await checkpointer?.close();
      db.close();
    },
  };
}
