import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeChunk, encodeChunk } from '../../server/store/chunk-codec.js';
import { CHUNK_POINTS } from '../../server/store/sqlite/metrics.sql.js';
import { openSqliteStore } from '../../server/store/sqlite/index.js';
import type { MetricPoint, TrackingStore } from '../../server/store/types.js';

describe('chunk codec', () => {
  test('round-trips steps, timestamps and every kind of double exactly', () => {
    const steps = [0, 1, 2, 2, 10, -5, 2 ** 40, 2 ** 53 - 1];
    const ts = [1_700_000_000_000, 1_700_000_000_005, 0, 17, 2 ** 45, 3, 3, 9];
    const values = [0.1, NaN, Infinity, -Infinity, -0, 1e-300, 123456.789, -42];
    const p = decodeChunk(encodeChunk(steps, ts, values));
    assert.deepEqual([...p.steps], steps);
    assert.deepEqual([...p.timestamps], ts);
    assert.deepEqual([...p.values], values);
    assert.ok(Object.is(p.values[4], -0));
  });

  test('deltas beyond 2^52 (any safe integers) survive the varint zigzag', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const steps = [-(2 ** 52 + 1), 0, max, -max, 1, max - 1, -max + 3];
    const ts = [2 ** 52 + 1, 0, max, 0, max, 7, 8];
    const p = decodeChunk(encodeChunk(steps, ts, steps.map(() => 1)));
    assert.deepEqual([...p.steps], steps);
    assert.deepEqual([...p.timestamps], ts);
  });

  test('a delta wider than 2^53 (a far step among ordinary ones, in arrival order) survives exactly', () => {
    const far = -(2 ** 53) + 28;
    const steps = [298, 299, far, 301, 302, 2 ** 53 - 1, far];
    const p = decodeChunk(encodeChunk(steps, steps.map((_, i) => 1_700_000_000_000 + i), steps.map((_, i) => i)));
    assert.deepEqual([...p.steps], steps);
  });

  test('a regular series costs about 11 bytes a point', () => {
    const n = 1000;
    const steps = Array.from({ length: n }, (_, i) => i);
    const ts = Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 37);
    const buf = encodeChunk(steps, ts, steps.map(Math.sin));
    assert.ok(buf.length <= 8 + n * 11, `${buf.length} bytes`);
  });
});

describe('metric series in SQLite', () => {
  let dir: string;
  let store: TrackingStore & { db: import('better-sqlite3').Database };
  let runId = '';

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-metrics-'));
    store = openSqliteStore(dir);
    const experimentId = await store.createExperiment({ name: 'm', artifactLocation: null, tags: [], now: 1 });
    const info = await store.createRun({
      runUuid: 'run1',
      experimentId,
      userId: '',
      runName: 'r',
      startTime: 1,
      tags: [],
      artifactUri: (l) => l,
    });
    runId = info.runId;
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function history(q: { runId: string; key: string; offset: number; limit: number | null }) {
    const { points: p, nextOffset } = await store.getMetricHistory(q);
    const items: MetricPoint[] = Array.from(p.values, (value, i) => ({ key: q.key, value, timestamp: p.timestamps[i], step: p.steps[i] }));
    return { items, nextOffset };
  }

  async function log(points: MetricPoint[]) {
    for (let i = 0; i < points.length; i += 1000) await store.logBatch(runId, { metrics: points.slice(i, i + 1000), params: [], tags: [] });
  }

  test('points cross chunk boundaries and read back in order, paged', async () => {
    const n = CHUNK_POINTS * 2 + 100;
    await log(Array.from({ length: n }, (_, i) => ({ key: 'a', value: i / 2, timestamp: 1000 + i, step: i })));
    const chunks = store.db.prepare("SELECT n FROM metric_chunks c JOIN metric_series s ON s.id = c.series_id WHERE s.key = 'a'").pluck().all();
    assert.deepEqual(chunks, [CHUNK_POINTS, CHUNK_POINTS]);
    const tail = store.db.prepare("SELECT coalesce(sum(t.n), 0) FROM metric_tail t JOIN metric_series s ON s.id = t.series_id WHERE s.key = 'a'").pluck().get();
    assert.equal(tail, 100);

    const all = await history({ runId, key: 'a', offset: 0, limit: null });
    assert.equal(all.items.length, n);
    assert.equal(all.nextOffset, null);
    all.items.forEach((p, i) => assert.deepEqual(p, { key: 'a', value: i / 2, timestamp: 1000 + i, step: i }));

    // A page that starts inside the first chunk and ends inside the tail.
    const page = await history({ runId, key: 'a', offset: 1000, limit: 1100 });
    assert.equal(page.items.length, 1100);
    assert.equal(page.items[0].step, 1000);
    assert.equal(page.items[1099].step, 2099);
    assert.equal(page.nextOffset, 2100);
    const last = await history({ runId, key: 'a', offset: 2100, limit: 1000 });
    assert.deepEqual(last.items.map((p) => p.step), Array.from({ length: n - 2100 }, (_, i) => 2100 + i));
    assert.equal(last.nextOffset, null);
  });

  test('out-of-order steps are returned sorted by step, then timestamp', async () => {
    const points: MetricPoint[] = [];
    for (let i = 0; i < CHUNK_POINTS + 10; i++) points.push({ key: 'b', value: i, timestamp: 5000 + i, step: (i * 7919) % 1500 });
    points.push({ key: 'b', value: -1, timestamp: 1, step: 3 }); // same step as another, earlier timestamp
    await log(points);
    const got = (await history({ runId, key: 'b', offset: 0, limit: null })).items;
    const expected = [...points].sort((x, y) => x.step - y.step || x.timestamp - y.timestamp);
    assert.deepEqual(got.map((p) => [p.step, p.timestamp, p.value]), expected.map((p) => [p.step, p.timestamp, p.value]));
    const paged = (await history({ runId, key: 'b', offset: 5, limit: 3 })).items;
    assert.deepEqual(paged.map((p) => p.step), expected.slice(5, 8).map((p) => p.step));
  });

  test('small writes are merged into their series\' last small piece; a large write is a piece of its own', async () => {
    const pieces = (key: string) =>
      store.db.prepare('SELECT t.seq, t.n, t.min_step, t.max_step FROM metric_tail t JOIN metric_series s ON s.id = t.series_id WHERE s.key = ? ORDER BY t.seq').raw().all(key);
    // Two keys logged in turn, a point per call, as log-metric does: 130 calls each.
    const sent: Record<string, MetricPoint[]> = { m1: [], m2: [] };
    for (let i = 0; i < 130; i++) {
      for (const key of ['m1', 'm2']) {
        // Steps go back now and then (a restarted epoch) and repeat: arrival order must survive the merges.
        const p = { key, value: i * 10 + (key === 'm1' ? 1 : 2), timestamp: 100 + i, step: i % 50 };
        sent[key].push(p);
        await store.logBatch(runId, { metrics: [p], params: [], tags: [] });
      }
    }
    // Pieces grow to MERGE_BELOW (64) points, then the next point starts a new one.
    assert.deepEqual(pieces('m1'), [[0, 64, 0, 49], [64, 64, 0, 49], [128, 2, 28, 29]]);
    await store.logBatch(runId, { metrics: Array.from({ length: 70 }, (_, i) => ({ key: 'm1', value: -i, timestamp: 500 + i, step: 200 + i })), params: [], tags: [] });
    await store.logBatch(runId, { metrics: [{ key: 'm1', value: 0.5, timestamp: 600, step: 199 }], params: [], tags: [] });
    assert.deepEqual(pieces('m1'), [[0, 64, 0, 49], [64, 64, 0, 49], [128, 2, 28, 29], [130, 70, 200, 269], [200, 1, 199, 199]]);
    for (const key of ['m1', 'm2']) {
      const got = (await history({ runId, key, offset: 0, limit: null })).items.map((p) => [p.step, p.timestamp, p.value]);
      const all = key === 'm1' ? [...sent.m1, ...Array.from({ length: 70 }, (_, i) => ({ key, value: -i, timestamp: 500 + i, step: 200 + i })), { key, value: 0.5, timestamp: 600, step: 199 }] : sent.m2;
      const expected = [...all].sort((x, y) => x.step - y.step || x.timestamp - y.timestamp).map((p) => [p.step, p.timestamp, p.value]);
      assert.deepEqual(got, expected);
    }
    const series = store.db.prepare("SELECT count, tail_count FROM metric_series WHERE key = 'm1'").raw().get();
    assert.deepEqual(series, [201, 201]);
  });

  test('the latest value follows MLflow: highest step, then timestamp, then value; NaN kept', async () => {
    await log([
      { key: 'c', value: 5, timestamp: 10, step: 2 },
      { key: 'c', value: 1, timestamp: 99, step: 1 },
      { key: 'c', value: 3, timestamp: 11, step: 2 },
      { key: 'c', value: 7, timestamp: 11, step: 2 },
      { key: 'c', value: 6, timestamp: 11, step: 2 },
      { key: 'd', value: NaN, timestamp: 5, step: 9 },
    ]);
    const run = await store.getRun(runId);
    const c = run.data.metrics.find((m) => m.key === 'c');
    assert.deepEqual(c, { key: 'c', value: 7, timestamp: 11, step: 2 });
    const d = run.data.metrics.find((m) => m.key === 'd');
    assert.ok(d && Number.isNaN(d.value) && d.step === 9);
  });

  test('sampled read keeps every spike and matches brute force on bucket extremes', async () => {
    const n = 300_000;
    const spikes = new Map([[12_345, 1e6], [222_222, -1e6], [299_999, 5e5]]);
    const values = Array.from({ length: n }, (_, i) => spikes.get(i) ?? Math.sin(i / 5000));
    await log(values.map((v, i) => ({ key: 'big', value: v, timestamp: 10 * i, step: i })));
    for (const x of ['step', 'time'] as const) {
      const [series] = await store.sampleMetrics({ runIds: [runId], keys: ['big'], x, start: null, end: null, buckets: 100 });
      const b = series.buckets;
      assert.equal(b.reduce((s, k) => s + k.count, 0), n, 'every point counted once');
      const scale = x === 'step' ? 1 : 10;
      for (const [at, v] of spikes) {
        const hit = b.find((k) => (v > 0 ? k.max === v && k.maxX === at * scale : k.min === v && k.minX === at * scale));
        assert.ok(hit, `spike at ${at} on ${x} axis`);
      }
      assert.equal(b[b.length - 1].lastX, (n - 1) * scale);
      assert.equal(b[b.length - 1].last, values[n - 1]);
      // Bucket extremes equal the brute-force extremes over the points each bucket covers.
      for (let j = 1; j < b.length; j++) assert.ok(b[j].minX > b[j - 1].lastX - 64 * scale);
      const globalMin = Math.min(...b.map((k) => k.min));
      const globalMax = Math.max(...b.map((k) => k.max));
      assert.equal(globalMin, -1e6);
      assert.equal(globalMax, 1e6);
    }
  });

  test('a sampled range with fewer points than buckets returns every point at full resolution', async () => {
    const [series] = await store.sampleMetrics({ runIds: [runId], keys: ['big'], x: 'step', start: 12_340, end: 12_350, buckets: 1000 });
    assert.deepEqual(series.buckets.map((k) => k.lastX), Array.from({ length: 11 }, (_, i) => 12_340 + i));
    assert.equal(series.buckets.find((k) => k.lastX === 12_345)?.max, 1e6);
    const [mid] = await store.sampleMetrics({ runIds: [runId], keys: ['big'], x: 'step', start: 100_000, end: 199_999, buckets: 10 });
    assert.equal(mid.buckets.length, 10);
    // Rollup blocks (64 points) go whole to the bucket they start in: totals are exact, borders within a block.
    assert.equal(mid.buckets.reduce((sum, k) => sum + k.count, 0), 100_000);
    for (const k of mid.buckets) assert.ok(Math.abs(k.count - 10_000) <= 64, `bucket of ${k.count}`);
    const [none] = await store.sampleMetrics({ runIds: [runId], keys: ['nope'], x: 'step', start: null, end: null, buckets: 10 });
    assert.deepEqual(none.buckets, []);
  });
});
