import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore } from '../../server/store/sqlite/index.js';
import { CHUNK_POINTS, MAX_TAIL, SEALS_PER_TURN } from '../../server/store/sqlite/metrics.sql.js';
import type { MetricPoint } from '../../server/store/types.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('chunks sealed a few per event-loop turn', () => {
  let dir: string;
  let store: ReturnType<typeof openSqliteStore>;
  const keys = Array.from({ length: 10 }, (_, k) => `k${k}`);
  const logged = new Map<string, MetricPoint[]>();

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-seals-'));
    store = openSqliteStore(dir);
    const experimentId = await store.createExperiment({ name: 's', artifactLocation: null, tags: [], now: 1 });
    await store.createRun({ runUuid: 'r', experimentId, userId: '', runName: 'r', startTime: 1, tags: [], artifactUri: (l) => l });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `n` more points of each of `ks`, in one batch (at most 1000 points a batch, as MLflow allows). */
  async function log(ks: string[], n: number) {
    const metrics: MetricPoint[] = [];
    for (const key of ks) {
      const list = logged.get(key) ?? [];
      for (let i = 0; i < n; i++) list.push({ key, value: list.length * 0.5, timestamp: 1000 + list.length, step: list.length });
      metrics.push(...list.slice(list.length - n));
      logged.set(key, list);
    }
    for (let i = 0; i < metrics.length; i += 1000) await store.logBatch('r', { metrics: metrics.slice(i, i + 1000), params: [], tags: [] });
  }
  const layout = (key: string) => ({
    chunks: store.db.prepare('SELECT c.n FROM metric_chunks c JOIN metric_series s ON s.id = c.series_id WHERE s.key = ? ORDER BY c.id').pluck().all(key) as number[],
    tail: store.db.prepare('SELECT coalesce(sum(t.n), 0) FROM metric_tail t JOIN metric_series s ON s.id = t.series_id WHERE s.key = ?').pluck().get(key) as number,
  });

  test('series due together: a few seal in this turn, the rest on their next append, and every point reads back', async () => {
    for (let i = 0; i < 1020; i += 100) {
      await log(keys, Math.min(100, 1020 - i));
      await nextTurn();
    }
    assert.deepEqual(keys.map((k) => layout(k).chunks.length), keys.map(() => 0));
    // One batch takes all ten past 1024 points in the same turn.
    await log(keys, 10);
    const sealed = keys.filter((k) => layout(k).chunks.length === 1);
    assert.equal(sealed.length, SEALS_PER_TURN);
    for (const k of sealed) assert.deepEqual(layout(k), { chunks: [CHUNK_POINTS], tail: 6 });
    for (const k of keys.filter((x) => !sealed.includes(x))) assert.deepEqual(layout(k), { chunks: [], tail: 1030 });
    // Each later turn seals a few more, each with the whole tail it has by then.
    for (let turn = 0; turn < 3; turn++) {
      await nextTurn();
      await log(keys, 1);
    }
    for (const k of keys) {
      const { chunks, tail } = layout(k);
      assert.equal(chunks.length, 1, k);
      assert.equal(chunks[0] + tail, 1033, k);
      const { points } = await store.getMetricHistory({ runId: 'r', key: k, offset: 0, limit: null });
      assert.deepEqual([...points.steps], logged.get(k)!.map((p) => p.step));
      assert.deepEqual([...points.values], logged.get(k)!.map((p) => p.value));
    }
  });

  test('a tail reaching four chunks is sealed even when the turn has sealed its share', async () => {
    await nextTurn();
    // Use up this turn's seals on other series...
    const others = Array.from({ length: SEALS_PER_TURN }, (_, i) => `o${i}`);
    await log(others, CHUNK_POINTS);
    assert.ok(others.every((k) => layout(k).chunks.length === 1));
    // ...then, still in the same turn, one series logs past MAX_TAIL.
    for (let i = 0; i < MAX_TAIL + 10; i += 1000) await log(['big'], Math.min(1000, MAX_TAIL + 10 - i));
    assert.deepEqual(layout('big'), { chunks: [MAX_TAIL], tail: 10 });
    const { points } = await store.getMetricHistory({ runId: 'r', key: 'big', offset: 0, limit: null });
    assert.deepEqual([...points.steps], logged.get('big')!.map((p) => p.step));
  });
});
