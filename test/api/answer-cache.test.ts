import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { createAnswerCache } from '../../server/api/answer-cache.js';
import { DB_FILE } from '../../server/store/sqlite/index.js';
import { ADMIN, backends, buildTestApp, type Backend, type TestApp, type TestAuth } from '../helper.js';
import { basic } from '../auth/auth.helpers.js';

// Repeated runs/search and metrics/get-history answers are kept (server/api/answer-cache.ts). These
// tests check that a repeat is served without reading the store, and that every kind of write, by this
// process or another, makes the next answer a fresh read that shows the write.

const LABLOG = '/api/2.0/lablog';
const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
const codec = new URL('../../server/store/chunk-codec.js', import.meta.url).href;

/** A test app whose store counts the reads behind search and get-history answers (the real store underneath). */
async function countingApp(backend: Backend = 'sqlite', auth?: TestAuth) {
  const t = await buildTestApp({ backend, auth });
  const reads = { search: 0, history: 0 };
  const store = t.store;
  const searchRuns = store.searchRuns.bind(store);
  const streamHistory = store.streamMetricHistory.bind(store);
  // The services look these up on every call, so the counting wrappers sit in front of every read.
  store.searchRuns = (q) => (reads.search++, searchRuns(q));
  store.streamMetricHistory = (q) => (reads.history++, streamHistory(q));
  return { t, reads };
}

async function fixture(t: TestApp) {
  const experimentId = (await t.post('experiments/create', { name: 'cached' })).json.experiment_id as string;
  const runs: string[] = [];
  for (const [i, p] of ['a', 'b'].entries()) {
    const runId = (await t.post('runs/create', { experiment_id: experimentId, run_name: `r${i}`, start_time: 1000 + i })).json.run.info.run_id as string;
    const metrics = Array.from({ length: 50 }, (_, s) => ({ key: 'm', value: i + s / 100, timestamp: 5000 + s, step: s }));
    assert.equal((await t.post('runs/log-batch', { run_id: runId, metrics, params: [{ key: 'p', value: p }], tags: [{ key: 't', value: 'x' }] })).status, 200);
    runs.push(runId);
  }
  return { experimentId, runs };
}

type Answer = { search: any; history: any };

describe('kept answers', () => {
  test('a repeat is the same bytes, served without reading the store', async (c) => {
    const { t, reads } = await countingApp();
    c.after(() => t.close());
    const { experimentId, runs } = await fixture(t);
    const body = { experiment_ids: [experimentId], order_by: ['metrics.m DESC'], max_results: 10 };
    const first = await t.post('runs/search', body);
    const again = await t.post('runs/search', body);
    assert.equal(first.status, 200);
    assert.equal(again.body, first.body);
    assert.equal(again.headers['content-type'], first.headers['content-type']);
    assert.deepEqual(again.json.runs.map((r: any) => r.info.run_id), [runs[1], runs[0]]);
    assert.equal(reads.search, 1);
    // Another request (another page size) is another answer.
    assert.equal((await t.post('runs/search', { ...body, max_results: 1 })).json.runs.length, 1);
    assert.equal(reads.search, 2);

    const q = { run_id: runs[0], metric_key: 'm' };
    const h1 = await t.get('metrics/get-history', q);
    const h2 = await t.get('metrics/get-history', q);
    assert.equal(h2.body, h1.body);
    assert.equal(h1.json.metrics.length, 50);
    assert.equal(reads.history, 1);
    assert.equal((await t.get('metrics/get-history', { ...q, max_results: '5' })).json.metrics.length, 5);
    assert.equal(reads.history, 2);
  });

  test('every kind of write makes the next answer a fresh read that shows it', async (c) => {
    const { t, reads } = await countingApp();
    c.after(() => t.close());
    const { experimentId, runs } = await fixture(t);
    const [r0, r1] = runs;
    const body = { experiment_ids: [experimentId], order_by: ['metrics.m DESC'], max_results: 10, run_view_type: 'ALL' };
    const ask = async (): Promise<Answer> => ({
      search: (await t.post('runs/search', body)).json,
      history: (await t.get('metrics/get-history', { run_id: r0, metric_key: 'm' })).json,
    });
    const run = (a: Answer, id: string) => a.search.runs.find((r: any) => r.info.run_id === id);
    const sqlite = path.join(t.dir, DB_FILE);
    const writes: Array<[string, () => Promise<unknown>, (a: Answer) => void]> = [
      ['log-metric', () => t.post('runs/log-metric', { run_id: r0, key: 'm', value: 9, timestamp: 9000, step: 100 }), (a) => {
        assert.equal(a.history.metrics.at(-1).value, 9);
        assert.equal(a.search.runs[0].info.run_id, r0);
      }],
      ['log-batch', () => t.post('runs/log-batch', { run_id: r1, metrics: [{ key: 'm', value: 20, timestamp: 9001, step: 101 }], params: [{ key: 'q', value: 'new' }], tags: [] }), (a) => {
        assert.equal(a.search.runs[0].info.run_id, r1);
        assert.ok(run(a, r1).data.params.some((p: any) => p.key === 'q' && p.value === 'new'));
      }],
      ['set-tag', () => t.post('runs/set-tag', { run_id: r0, key: 't', value: 'changed' }), (a) => {
        assert.equal(run(a, r0).data.tags.find((x: any) => x.key === 't').value, 'changed');
      }],
      ['delete-tag', () => t.post('runs/delete-tag', { run_id: r0, key: 't' }), (a) => {
        assert.equal(run(a, r0).data.tags.find((x: any) => x.key === 't'), undefined);
      }],
      ['log-parameter', () => t.post('runs/log-parameter', { run_id: r0, key: 'lr', value: '0.1' }), (a) => {
        assert.ok(run(a, r0).data.params.some((p: any) => p.key === 'lr' && p.value === '0.1'));
      }],
      ['update-run', () => t.post('runs/update', { run_id: r0, status: 'FINISHED', end_time: 7777, run_name: 'renamed' }), (a) => {
        assert.equal(run(a, r0).info.status, 'FINISHED');
        assert.equal(run(a, r0).info.run_name, 'renamed');
      }],
      ['delete-run', () => t.post('runs/delete', { run_id: r0 }), (a) => {
        assert.equal(run(a, r0).info.lifecycle_stage, 'deleted');
      }],
      ['restore-run', () => t.post('runs/restore', { run_id: r0 }), (a) => {
        assert.equal(run(a, r0).info.lifecycle_stage, 'active');
      }],
      ['rename experiment', () => t.post('experiments/update', { experiment_id: experimentId, new_name: 'cached-renamed' }), () => {}],
      ['delete experiment', () => t.post('experiments/delete', { experiment_id: experimentId }), (a) => {
        // Deleting an experiment deletes its runs with it.
        assert.equal(run(a, r1).info.lifecycle_stage, 'deleted');
      }],
      ['restore experiment', () => t.post('experiments/restore', { experiment_id: experimentId }), (a) => {
        assert.equal(run(a, r1).info.lifecycle_stage, 'active');
      }],
      ['metric history replaced (an import)', () => t.store.replaceMetricHistory(r0, 'm', {
        steps: Float64Array.of(0, 1), timestamps: Float64Array.of(1, 2), values: Float64Array.of(-1, -2),
      }), (a) => {
        assert.deepEqual(a.history.metrics.map((m: any) => m.value), [-1, -2]);
      }],
      ['a write by another process on the same file', async () => {
        // The tail holds pieces in the chunk encoding: the other process rewrites them with the codec.
        const script = `import { createRequire } from 'node:module'; import { decodeChunk, encodeChunk } from ${JSON.stringify(codec)};
          const D = createRequire(import.meta.url)(${JSON.stringify(betterSqlite)}); const db = new D(${JSON.stringify(sqlite)});
          db.prepare("UPDATE params SET value = 'elsewhere' WHERE key = 'p'").run();
          const set = db.prepare('UPDATE metric_tail SET data = ? WHERE series_id = ? AND seq = ?');
          for (const r of db.prepare('SELECT series_id, seq, data FROM metric_tail').all()) {
            const p = decodeChunk(r.data);
            set.run(encodeChunk(p.steps, p.timestamps, p.values.map(() => 42)), r.series_id, r.seq);
          }
          db.close();`;
        const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
        assert.equal(child.status, 0, child.stderr);
      }, (a) => {
        assert.equal(run(a, r1).data.params.find((p: any) => p.key === 'p').value, 'elsewhere');
        assert.deepEqual(a.history.metrics.map((m: any) => m.value), [42, 42]);
      }],
    ];
    for (const [what, write, shows] of writes) {
      const before = await ask();
      const { search, history } = reads;
      assert.deepEqual(await ask(), before, `${what}: the repeat`);
      assert.deepEqual(reads, { search, history }, `${what}: a repeat before the write is served kept`);
      const res = (await write()) as { status?: number; body?: string } | undefined;
      if (res?.status !== undefined) assert.equal(res.status, 200, `${what}: ${res.body}`);
      const after = await ask();
      assert.deepEqual(reads, { search: search + 1, history: history + 1 }, `${what}: the answers after the write are read afresh`);
      shows(after);
    }
  });

  test('an answer is never served to a caller with other permissions, and follows permission changes', async (c) => {
    const { t, reads } = await countingApp('sqlite', { defaultPermission: 'NO_PERMISSIONS' });
    c.after(() => t.close());
    const admin = basic(ADMIN.username, ADMIN.password);
    const experimentId = (await t.post('experiments/create', { name: 'private' }, admin)).json.experiment_id;
    const runId = (await t.post('runs/create', { experiment_id: experimentId }, admin)).json.run.info.run_id;
    await t.post('runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1, step: 0 }, admin);
    for (const name of ['vera', 'bob']) {
      assert.equal((await t.post(`${LABLOG}/users/create`, { username: name, password: `${name}-password-1`, role: 'viewer' }, admin)).status, 200);
    }
    const vera = basic('vera', 'vera-password-1');
    const bob = basic('bob', 'bob-password-1');
    await t.post(`${LABLOG}/permissions/set`, { experiment_id: experimentId, username: 'vera', permission: 'READ' }, admin);
    const search = (who: Record<string, string>) => t.post('runs/search', { experiment_ids: [experimentId] }, who);
    const history = (who: Record<string, string>) => t.call('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=m`, undefined, who);

    for (let i = 0; i < 2; i++) {
      assert.equal((await search(vera)).json.runs.length, 1);
      assert.equal((await history(vera)).json.metrics.length, 1);
    }
    // Each search is still recorded in the audit log: a write no answer reads, so it keeps the answer.
    assert.deepEqual(reads, { search: 1, history: 1 });
    assert.equal((await t.sql<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE username = 'vera' AND route LIKE '%runs/search'"))[0].n, 2);
    // The same requests by a caller who may not read the experiment.
    assert.equal((await search(bob)).json.runs, undefined);
    assert.equal((await history(bob)).status, 403);

    // A grant reaches bob's next answer; a revocation reaches vera's.
    await t.post(`${LABLOG}/permissions/set`, { experiment_id: experimentId, username: 'bob', permission: 'READ' }, admin);
    assert.equal((await search(bob)).json.runs.length, 1);
    assert.equal((await history(bob)).json.metrics.length, 1);
    await t.post(`${LABLOG}/permissions/delete`, { experiment_id: experimentId, username: 'vera' }, admin);
    assert.equal((await search(vera)).json.runs, undefined);
    assert.equal((await history(vera)).status, 403);
  });

  test('LABLOG_ANSWER_CACHE_MB=0 keeps no answer', async (c) => {
    // Set through the test app's settings, which also turn auth on: the admin asks.
    const { t, reads } = await countingApp('sqlite', { answerCacheMb: 0 });
    c.after(() => t.close());
    const admin = basic(ADMIN.username, ADMIN.password);
    const experimentId = (await t.post('experiments/create', { name: 'unkept' }, admin)).json.experiment_id;
    const runId = (await t.post('runs/create', { experiment_id: experimentId }, admin)).json.run.info.run_id;
    for (let i = 0; i < 2; i++) {
      assert.equal((await t.post('runs/search', { experiment_ids: [experimentId] }, admin)).json.runs[0].info.run_id, runId);
      const history = await t.call('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=m`, undefined, admin);
      assert.equal(history.status, 200, history.body);
      assert.deepEqual(history.json.metrics ?? [], []);
    }
    assert.deepEqual(reads, { search: 2, history: 2 });
  });

  for (const { backend, skip } of backends().filter((b) => b.backend === 'postgres')) {
    test('PostgreSQL keeps no answer: another server may write to the same database', { skip }, async (c) => {
      const { t, reads } = await countingApp(backend);
      c.after(() => t.close());
      const { experimentId, runs } = await fixture(t);
      for (let i = 0; i < 2; i++) {
        // Each repeat is a full answer read from the database, not an error that skipped the read.
        const search = await t.post('runs/search', { experiment_ids: [experimentId] });
        assert.deepEqual(search.json.runs.map((r: any) => r.info.run_id).sort(), [...runs].sort());
        const history = await t.get('metrics/get-history', { run_id: runs[0], metric_key: 'm' });
        assert.deepEqual(history.json.metrics.map((m: any) => m.step), Array.from({ length: 50 }, (_, s) => s));
      }
      assert.deepEqual(reads, { search: 2, history: 2 });
    });
  }
});

describe('answer cache bounds', () => {
  const bytes = (n: number) => Buffer.alloc(n, 1);

  test('least recently used answers go first once the bytes are spent; an answer over a quarter of them is not kept', () => {
    const cache = createAnswerCache(() => 'v1', 240);
    for (const key of ['a', 'b', 'c', 'd']) cache.put(key, 'v1', bytes(60));
    assert.equal(cache.get('a', 'v1')?.length, 60); // a is now the most recent
    cache.put('e', 'v1', bytes(60));
    assert.equal(cache.get('b', 'v1'), undefined);
    for (const key of ['a', 'c', 'd', 'e']) assert.equal(cache.get(key, 'v1')?.length, 60, key);
    cache.put('f', 'v1', bytes(61));
    assert.equal(cache.get('f', 'v1'), undefined);
    assert.equal(cache.get('a', 'v1')?.length, 60);
    assert.equal(cache.fits(60), true);
    assert.equal(cache.fits(61), false);
  });

  test('an answer read while the store moved on is not kept, and a kept one dies with its version', () => {
    let version = 'v1';
    const cache = createAnswerCache(() => version, 240);
    version = 'v2';
    cache.put('a', 'v1', bytes(10));
    assert.equal(cache.get('a', 'v1'), undefined);
    cache.put('a', 'v2', bytes(10));
    assert.equal(cache.get('a', 'v2')?.length, 10);
    version = 'v3';
    assert.equal(cache.get('a', 'v3'), undefined);
    // The dead entry's bytes are freed: four full-size answers fit again.
    for (const key of ['b', 'c', 'd', 'e']) cache.put(key, 'v3', bytes(60));
    for (const key of ['b', 'c', 'd', 'e']) assert.equal(cache.get(key, 'v3')?.length, 60, key);
  });
});
