import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PAGE_CHUNKS } from '../../server/store/sqlite/chunk-pages.sql.js';
import { openSqliteStore } from '../../server/store/sqlite/index.js';
import { CHUNK_POINTS } from '../../server/store/sqlite/metrics.sql.js';
import type { MetricPoint, SampledQuery } from '../../server/store/types.js';
import { prng } from '../support/prng.js';

describe('chunk pages (one row of chunk summaries per 32 chunks)', () => {
  let dir: string;
  let store: ReturnType<typeof openSqliteStore>;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-pages-'));
    store = openSqliteStore(dir);
    const experimentId = await store.createExperiment({ name: 'p', artifactLocation: null, tags: [], now: 1 });
    for (const runUuid of ['logged', 'older', 'imported']) {
      await store.createRun({ runUuid, experimentId, userId: '', runName: runUuid, startTime: 1, tags: [], artifactUri: (l) => l });
    }
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pagesOf = (runUuid: string, key: string) =>
    store.db
      .prepare('SELECT p.page, p.chunks, length(p.data) AS bytes FROM metric_chunk_pages p JOIN metric_series s ON s.id = p.series_id JOIN runs r ON r.id = s.run_id WHERE r.run_uuid = ? AND s.key = ? ORDER BY p.page')
      .all(runUuid, key) as { page: number; chunks: number; bytes: number }[];
  const dropPages = (runUuid: string, key: string) =>
    store.db.prepare('DELETE FROM metric_chunk_pages WHERE series_id = (SELECT s.id FROM metric_series s JOIN runs r ON r.id = s.run_id WHERE r.run_uuid = ? AND s.key = ?)').run(runUuid, key);

  /** Noisy points with spikes and NaNs, steps in order, time jittering (not monotonic within a chunk). */
  function points(key: string, from: number, n: number, seed: number): MetricPoint[] {
    const r = prng(seed);
    return Array.from({ length: n }, (_, k) => {
      const i = from + k;
      const v = r() < 0.001 ? NaN : r() < 0.002 ? (r() - 0.5) * 1e6 : Math.sin(i / 3000) + r() * 0.1;
      return { key, value: v, timestamp: 1_000_000 + i * 10 + Math.floor(r() * 30), step: i };
    });
  }

  /** As requests arrive: one batch per event-loop turn (the store seals a few chunks per turn). */
  async function logInBatches(runUuid: string, list: MetricPoint[]) {
    for (let i = 0; i < list.length; i += 1000) {
      await store.logBatch(runUuid, { metrics: list.slice(i, i + 1000), params: [], tags: [] });
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The same sampled reads with the series' pages and without them (chunk rollups only): equal. */
  async function sameWithoutPages(runUuid: string, key: string, n: number) {
    const queries: Omit<SampledQuery, 'runIds' | 'keys'>[] = [
      { x: 'step', start: null, end: null, buckets: 10 },
      { x: 'step', start: null, end: null, buckets: 7 },
      { x: 'time', start: null, end: null, buckets: 9 },
      { x: 'step', start: 3 * CHUNK_POINTS + 100, end: n - 2000, buckets: 5 },
      { x: 'time', start: 1_000_000 + 50_000, end: 1_000_000 + (n - 5000) * 10, buckets: 6 },
    ];
    const withPages = [];
    for (const q of queries) withPages.push(await store.sampleMetrics({ runIds: [runUuid], keys: [key], ...q }));
    dropPages(runUuid, key);
    for (let i = 0; i < queries.length; i++) {
      assert.deepEqual(await store.sampleMetrics({ runIds: [runUuid], keys: [key], ...queries[i] }), withPages[i], JSON.stringify(queries[i]));
    }
    const total = withPages[0][0].buckets.reduce((s, b) => s + b.count, 0);
    assert.equal(total, n);
  }

  test('logged points: a summary per sealed chunk, 32 to a page, and sampled reads equal to reading every chunk rollup', async () => {
    const n = (PAGE_CHUNKS + 8) * CHUNK_POINTS + 300;
    await logInBatches('logged', points('loss', 0, n, 1));
    assert.deepEqual(pagesOf('logged', 'loss').map((p) => [p.page, p.chunks]), [[0, PAGE_CHUNKS], [1, 8]]);
    assert.equal(pagesOf('logged', 'loss')[1].bytes, 8 * 17 * 8, '17 float64s per chunk');
    await sameWithoutPages('logged', 'loss', n);
  });

  test('a series whose first chunks were sealed before pages existed gets none as it grows, and is read from its chunks', async () => {
    await logInBatches('older', points('acc', 0, 2 * CHUNK_POINTS, 2));
    dropPages('older', 'acc'); // as a series written before migration 0009 has none
    await logInBatches('older', points('acc', 2 * CHUNK_POINTS, 3 * CHUNK_POINTS + 10, 3));
    assert.deepEqual(pagesOf('older', 'acc'), []);
    const [s] = await store.sampleMetrics({ runIds: ['older'], keys: ['acc'], x: 'step', start: null, end: null, buckets: 10 });
    assert.equal(s.buckets.reduce((sum, b) => sum + b.count, 0), 5 * CHUNK_POINTS + 10);
  });

  test('a replaced (imported) series gets its pages written whole, and they match its chunks', async () => {
    const n = 70 * CHUNK_POINTS + 5;
    const list = points('val', 0, n, 4);
    await store.replaceMetricHistory('imported', 'val', {
      steps: Float64Array.from(list, (p) => p.step),
      timestamps: Float64Array.from(list, (p) => p.timestamp),
      values: Float64Array.from(list, (p) => p.value),
    });
    assert.deepEqual(pagesOf('imported', 'val').map((p) => p.chunks), [32, 32, 6]);
    await sameWithoutPages('imported', 'val', n);
  });

  test('pages go with their series: replacing a series replaces them', async () => {
    const list = points('short', 0, 3 * CHUNK_POINTS, 5);
    const series = { steps: Float64Array.from(list, (p) => p.step), timestamps: Float64Array.from(list, (p) => p.timestamp), values: Float64Array.from(list, (p) => p.value) };
    await store.replaceMetricHistory('imported', 'short', series);
    await store.replaceMetricHistory('imported', 'short', series);
    assert.deepEqual(pagesOf('imported', 'short').map((p) => p.chunks), [3]);
    const orphans = store.db.prepare('SELECT count(*) AS n FROM metric_chunk_pages WHERE series_id NOT IN (SELECT id FROM metric_series)').get() as { n: number };
    assert.equal(orphans.n, 0);
  });
});
