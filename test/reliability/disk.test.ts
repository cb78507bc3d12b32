import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, startLablog, stop, type LablogProcess } from '../support/lablog-process.js';
import { parseJsonOr } from '../support/json.js';
import { sampleBatch } from '../support/sample-batch.js';
import { until } from '../sdk/sdk.helpers.js';
import { mountSmallDisk, type SmallDisk } from '../support/small-disk.js';

// The server as a user runs it (a child process on a real port) on a small tmpfs of its own: filled to
// the last page, then freed; or mounted read-only under a server that starts on it.

const T = { timeout: 60_000 };
const MiB = 1 << 20;
const DB = 'lablog.db';

const fullDisk = await mountSmallDisk(16 * MiB);
const readOnlyDisk = await mountSmallDisk(16 * MiB);
after(async () => {
  await cleanup();
  for (const d of [fullDisk, readOnlyDisk]) if (typeof d !== 'string') await d.close();
});

type Server = LablogProcess & { url: string; listening: Record<string, any> };

const ADMIN = { LABLOG_AUTH: 'on', LABLOG_ADMIN_USERNAME: 'admin', LABLOG_ADMIN_PASSWORD: 'disk-admin-password' };
const adminAuth = `Basic ${Buffer.from('admin:disk-admin-password').toString('base64')}`;

const start = (disk: SmallDisk, env: Record<string, string> = {}) =>
  startLablog(['--port', '0', '--data-dir', disk.dir, '--log-level', 'info'], { wrap: disk.wrap, env });

interface Answer {
  status: number;
  json: any;
  text: string;
}

/** The tracking API and the artifact routes of one server, as one caller. */
function client(url: string, authorization?: string) {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const send = async (method: string, route: string, body?: BodyInit, type?: string): Promise<Answer> => {
    const res = await fetch(`${url}${route}`, { method, body, headers: type ? { ...headers, 'content-type': type } : headers });
    const text = await res.text();
    return { status: res.status, json: parseJsonOr(text, undefined), text };
  };
  return {
    url,
    api: (route: string, body?: unknown) =>
      body === undefined ? send('GET', `/api/2.0/mlflow/${route}`) : send('POST', `/api/2.0/mlflow/${route}`, JSON.stringify(body), 'application/json'),
    lablog: (route: string, body?: unknown) =>
      body === undefined ? send('GET', `/api/2.0/lablog/${route}`) : send('POST', `/api/2.0/lablog/${route}`, JSON.stringify(body), 'application/json'),
    putArtifact: (rel: string, bytes: Buffer) => send('PUT', `/api/2.0/mlflow-artifacts/artifacts/${rel}`, new Uint8Array(bytes) as unknown as BodyInit, 'application/octet-stream'),
    async getArtifact(rel: string) {
      const res = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${rel}`, { headers });
      return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
}
type Client = ReturnType<typeof client>;

async function health(url: string) {
  const res = await fetch(`${url}/health`, { headers: { accept: 'application/json' } });
  assert.equal(res.status, 200, '/health answers 200 whatever the disk says: reads still work');
  return (await res.json()) as { status: string; storage: { writable: boolean; reason?: string; free_bytes: number | null } };
}

interface Seeded {
  experimentId: string;
  runId: string;
  sweepId: string;
  model: Buffer;
  modelPath: string;
}

/** An experiment, a run with two loss points, a param, a tag, a 200 KB artifact, and a sweep. */
async function seed(c: Client, experiment = 'disk'): Promise<Seeded> {
  const exp = await c.api('experiments/create', { name: experiment });
  assert.equal(exp.status, 200, exp.text);
  const run = await c.api('runs/create', { experiment_id: exp.json.experiment_id, run_name: 'r1', start_time: 1000 });
  assert.equal(run.status, 200, run.text);
  const runId = run.json.run.info.run_id as string;
  const logged = await c.api('runs/log-batch', sampleBatch(runId));
  assert.equal(logged.status, 200, logged.text);
  const model = randomBytes(200 * 1024);
  const modelPath = `${exp.json.experiment_id}/${runId}/artifacts/model.bin`;
  assert.equal((await c.putArtifact(modelPath, model)).status, 200);
  const sweep = await c.lablog('sweeps/create', { experiment_id: exp.json.experiment_id, name: 'sw', method: 'random', metric: { name: 'loss' }, parameters: { lr: { values: [0.1, 0.01] } } });
  assert.equal(sweep.status, 200, sweep.text);
  return { experimentId: exp.json.experiment_id, runId, sweepId: sweep.json.sweep.sweep_id, model, modelPath };
}

/** The writes a training script makes, each answered on its own. */
function writes(s: Seeded, more: Buffer) {
  return {
    'log-metric': (c: Client) => c.api('runs/log-metric', { run_id: s.runId, key: 'loss', value: 0.125, timestamp: 30, step: 3 }),
    'log-batch': (c: Client) =>
      c.api('runs/log-batch', { run_id: s.runId, metrics: [{ key: 'acc', value: 0.9, timestamp: 30, step: 3 }], params: [{ key: 'bs', value: '64' }], tags: [{ key: 'phase', value: 'train' }] }),
    'set-tag': (c: Client) => c.api('runs/set-tag', { run_id: s.runId, key: 'note', value: 'after the disk filled' }),
    'runs/create': (c: Client) => c.api('runs/create', { experiment_id: s.experimentId, run_name: 'r2', start_time: 2000 }),
    'artifact upload': (c: Client) => c.putArtifact(`${s.experimentId}/${s.runId}/artifacts/more.bin`, more),
  };
}

/** The reads a user makes, each with the data stored before the disk went bad. */
async function assertReadsServeStoredData(c: Client, s: Seeded) {
  const got = await c.api(`runs/get?run_id=${s.runId}`);
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json.run.data.metrics, [{ key: 'loss', value: 0.25, timestamp: 20, step: 2 }]);
  assert.deepEqual(got.json.run.data.params, [{ key: 'lr', value: '0.01' }]);
  assert.deepEqual(got.json.run.data.tags.find((t: { key: string }) => t.key === 'team'), { key: 'team', value: 'vision' });
  const history = await c.api(`metrics/get-history?run_id=${s.runId}&metric_key=loss`);
  assert.equal(history.status, 200, history.text);
  assert.deepEqual(history.json.metrics.map((m: { step: number; value: number }) => [m.step, m.value]), [[1, 0.5], [2, 0.25]]);
  const search = await c.api('runs/search', { experiment_ids: [s.experimentId], order_by: ['attributes.start_time'] });
  assert.equal(search.status, 200, search.text);
  // The sweep's parent run is the second (started at the real time).
  assert.deepEqual(search.json.runs.map((r: { info: { run_name: string } }) => r.info.run_name), ['r1', 'sw']);
  const model = await c.getArtifact(s.modelPath);
  assert.equal(model.status, 200);
  assert.ok(model.bytes.equals(s.model), 'the artifact downloads whole');
  // Looking at a sweep applies its trials' timeouts (a write), which must not stand in the way.
  const sweep = await c.lablog(`sweeps/${s.sweepId}`);
  assert.equal(sweep.status, 200, sweep.text);
  assert.equal(sweep.json.sweep.name, 'sw');
}

/**
 * Fills the disk (leaving `leave` bytes) as the server sees it once its WAL holds no spare space: near a
 * full disk the checkpointer truncates the WAL at each checkpoint (checkpoint-worker.ts), every 250 ms,
 * which gives its space back to the disk; so the test waits for that and fills again.
 */
async function fillDisk(disk: SmallDisk, leave = 0): Promise<void> {
  disk.fill(leave);
  const wal = path.join(disk.outside, `${DB}-wal`);
  await until(() => !existsSync(wal) || statSync(wal).size === 0, 'the WAL truncated by a checkpoint near the full disk');
  disk.fill(leave);
}

function assertRefused(res: Answer, what: string, reason: RegExp) {
  assert.equal(res.status, 503, `${what}: ${res.text}`);
  assert.equal(res.json.error_code, 'TEMPORARILY_UNAVAILABLE', what);
  assert.match(res.json.message, reason, what);
  assert.match(res.json.message, /This write was not stored/, what);
}

/** Files under the disk's artifact staging area: a refused upload must leave none. */
function staged(disk: SmallDisk): string[] {
  const staging = path.join(disk.outside, '.artifacts-staging');
  return readdirSync(staging, { recursive: true, encoding: 'utf8' }).filter((f) => f !== 'mpu');
}

describe('a full disk', { skip: typeof fullDisk === 'string' ? fullDisk : false }, () => {
  const disk = fullDisk as SmallDisk;
  let server: Server;
  let c: Client;
  let s: Seeded;
  let token: string;
  let before_: ReturnType<SmallDisk['census']>;
  const more = randomBytes(100 * 1024);

  before(async () => {
    // With auth on: a read with a token the server has not seen yet must not need a write.
    server = await start(disk, ADMIN);
    c = client(server.url, adminAuth);
    s = await seed(c);
    const created = await c.lablog('tokens/create', { name: 'reader' });
    assert.equal(created.status, 200, created.text);
    token = created.json.token.value;
    before_ = disk.census(DB);
    await fillDisk(disk);
  });

  it('answers each write 503 TEMPORARILY_UNAVAILABLE saying the disk is full, and stores none of it', T, async () => {
    for (const [what, write] of Object.entries(writes(s, more))) assertRefused(await write(c), what, /full/);
    const after_ = disk.census(DB);
    assert.equal(after_.integrity, 'ok');
    assert.deepEqual(after_.rows, before_.rows, 'not one row more: each refused write was rolled back whole');
    assert.equal((await c.getArtifact(`${s.experimentId}/${s.runId}/artifacts/more.bin`)).status, 404);
    assert.deepEqual(staged(disk), [], 'the refused upload left no temp file');
  });

  it('keeps answering reads with the data stored before, also for a token used for the first time', T, async () => {
    await assertReadsServeStoredData(c, s);
    await assertReadsServeStoredData(client(server.url, `Bearer ${token}`), s);
  });

  it('says so on /health (still 200) and in the log', T, async () => {
    const h = await health(server.url);
    assert.equal(h.status, 'OK');
    assert.equal(h.storage.writable, false);
    assert.match(h.storage.reason!, /full \((ENOSPC|SQLITE_FULL)\)/);
    assert.equal(h.storage.free_bytes, 0);
    assert.equal(await (await fetch(`${server.url}/health`)).text(), 'OK', 'plain /health stays the text MLflow answers');
    // The line may still be on its way through the pipe: waited for, not looked up.
    const warned = await server.waitForLine((l) => l.level === 40 && /^storage is not writable: .*full/.test(l.msg), 'the warning');
    assert.match(warned.msg, /writes answer 503 TEMPORARILY_UNAVAILABLE, reads go on$/);
  });

  it('refuses an upload that meets the full disk midway and a batch larger than the space left, leaving no trace of either', T, async () => {
    disk.free();
    await fillDisk(disk, 256 * 1024);
    const left = statfsSync(disk.outside);
    assert.ok(left.bavail * left.bsize >= 200 * 1024, 'about 256 KB free');
    const big = `${s.experimentId}/${s.runId}/artifacts/big.bin`;
    assertRefused(await c.putArtifact(big, randomBytes(2 * MiB)), 'a 2 MB upload', /full/);
    assert.equal((await c.getArtifact(big)).status, 404);
    assert.deepEqual(staged(disk), [], 'the part written before the disk filled is gone');
    const after = statfsSync(disk.outside);
    assert.ok(after.bavail * after.bsize >= 200 * 1024, 'its space was given back');

    // 1,000 series with 250-character keys need far more than 256 KB of pages: SQLite fails midway
    // through writing the transaction to the WAL.
    const metrics = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`.padEnd(250, 'x'), value: i, timestamp: 40, step: 4 }));
    assertRefused(await c.api('runs/log-batch', { run_id: s.runId, metrics }), 'a 1,000-metric batch', /full|failed a read or write/);
    const census = disk.census(DB);
    assert.equal(census.integrity, 'ok');
    // With room for it, each refused write is audited (auth is on), with its 503.
    const { audit_log: audited, ...rows } = census.rows;
    const { audit_log: auditedBefore, ...rowsBefore } = before_.rows;
    assert.deepEqual(rows, rowsBefore, 'none of the batch is stored');
    assert.equal(audited, auditedBefore + 2);
  });

  it('stores the same writes once space returns, and /health says writable again', T, async () => {
    disk.free();
    const h = await health(server.url);
    assert.equal(h.storage.writable, true, JSON.stringify(h));
    assert.equal(h.storage.reason, undefined);
    assert.ok(h.storage.free_bytes! > 8 * MiB);
    await server.waitForLine((l) => l.msg === 'storage is writable again: writes are stored', 'the all-clear in the log');

    for (const [what, write] of Object.entries(writes(s, more))) {
      const res = await write(c);
      assert.equal(res.status, 200, `${what}: ${res.text}`);
    }
    const history = await c.api(`metrics/get-history?run_id=${s.runId}&metric_key=loss`);
    assert.deepEqual(history.json.metrics.map((m: { value: number }) => m.value), [0.5, 0.25, 0.125]);
    const run = (await c.api(`runs/get?run_id=${s.runId}`)).json.run;
    assert.deepEqual(run.data.params, [{ key: 'bs', value: '64' }, { key: 'lr', value: '0.01' }]);
    const tags = Object.fromEntries(run.data.tags.map((t: { key: string; value: string }) => [t.key, t.value]));
    assert.equal(tags.note, 'after the disk filled');
    assert.equal(tags.phase, 'train');
    const search = await c.api('runs/search', { experiment_ids: [s.experimentId], order_by: ['attributes.start_time'] });
    assert.deepEqual(search.json.runs.map((r: { info: { run_name: string } }) => r.info.run_name), ['r1', 'r2', 'sw']);
    const uploaded = await c.getArtifact(`${s.experimentId}/${s.runId}/artifacts/more.bin`);
    assert.ok(uploaded.bytes.equals(more));
    const census = disk.census(DB);
    assert.equal(census.integrity, 'ok');
    assert.equal(census.rows.runs, before_.rows.runs + 1);
  });

  it('a server (re)started on the full disk serves reads, refuses writes, and asks for a restart once space returns', T, async () => {
    await stop(server);
    disk.fill();
    const full = await start(disk, ADMIN);
    const c2 = client(full.url, adminAuth);
    assert.equal(full.listening.storage, 'not writable');
    assert.ok(full.lines.some((l) => l.level === 40 && /^storage is not writable: the disk holding the data directory is full \(ENOSPC\)/.test(l.msg)));
    const history = await c2.api(`metrics/get-history?run_id=${s.runId}&metric_key=loss`);
    assert.deepEqual(history.json.metrics.map((m: { value: number }) => m.value), [0.5, 0.25, 0.125]);
    // SQLite cannot even size its shared-memory file on the full disk: the database is opened read-only.
    assertRefused(await c2.api('runs/set-tag', { run_id: s.runId, key: 'late', value: 'x' }), 'set-tag', /the database is read-only/);
    disk.free();
    const h = await health(full.url);
    assert.equal(h.storage.writable, false, 'a database opened read-only stays so until a restart, whatever the disk says');
    assert.match(h.storage.reason!, /^the database was opened read-only at start because .*\(SQLITE_IOERR_SHMSIZE\); restart the server/);
    await stop(full);
    const restarted = await start(disk, ADMIN);
    assert.equal(restarted.listening.storage, 'writable');
    const tagged = await client(restarted.url, adminAuth).api('runs/set-tag', { run_id: s.runId, key: 'late', value: 'x' });
    assert.equal(tagged.status, 200, tagged.text);
    assert.equal(disk.census(DB).integrity, 'ok');
    await stop(restarted);
  });
});

describe('a read-only data directory', { skip: typeof readOnlyDisk === 'string' ? readOnlyDisk : false }, () => {
  const disk = readOnlyDisk as SmallDisk;
  const ways = [
    { how: 'stopped cleanly (the database alone, no -wal)', end: (p: LablogProcess) => stop(p), wal: false },
    { how: 'killed (its -wal and -shm left behind)', end: (p: LablogProcess) => (p.child.kill('SIGKILL'), p.exited), wal: true },
  ];
  for (const [i, way] of ways.entries()) {
    it(`a server starts on it after the last one was ${way.how}: says so, serves reads, refuses writes with 503`, T, async () => {
      const first = await start(disk);
      // Each round seeds an experiment of its own, on the same database.
      const s = await seed(client(first.url), `disk-${i}`);
      // Counted before the end: a reader afterwards would leave a -wal of its own.
      const before_ = disk.census(DB);
      await way.end(first);
      assert.equal(existsSync(path.join(disk.outside, `${DB}-wal`)), way.wal);
      disk.setReadOnly(true);
      try {
        const server = await start(disk);
        const c = client(server.url);
        assert.equal(server.listening.storage, 'not writable');
        const warned = server.lines.find((l) => l.level === 40 && /read-only file system \(EROFS\)/.test(l.msg));
        assert.ok(warned, `the start-up log says the data directory is read-only: ${JSON.stringify(server.lines)}`);
        const h = await health(server.url);
        assert.equal(h.storage.writable, false);
        assert.match(h.storage.reason!, /the data directory is on a read-only file system \(EROFS\)/);

        for (const [what, write] of Object.entries(writes(s, randomBytes(1024)))) assertRefused(await write(c), what, /read-only/);
        await assertReadsServeStoredData(c, s);

        // Writable again under the running server: it opened the database read-only, so /health asks
        // for a restart rather than claiming writes would work.
        disk.setReadOnly(false);
        const later = await health(server.url);
        assert.equal(later.storage.writable, false);
        assert.match(later.storage.reason!, /^the database was opened read-only at start because the data directory is on a read-only file system \(EROFS\); restart the server/);
        await stop(server);
      } finally {
        disk.setReadOnly(false);
      }
      const census = disk.census(DB);
      assert.equal(census.integrity, 'ok');
      assert.deepEqual(census.rows, before_.rows);
      // Restarted on the writable disk, the same writes are stored.
      const again = await start(disk);
      assert.equal(again.listening.storage, 'writable');
      const res = await client(again.url).api('runs/log-metric', { run_id: s.runId, key: 'loss', value: 0.125, timestamp: 30, step: 3 });
      assert.equal(res.status, 200, res.text);
      await stop(again);
    });
  }
});
