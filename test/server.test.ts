import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS_DIR } from '../server/store/db.js';
import { sampleBatch } from './support/sample-batch.js';
import { api, CLI_JS, cleanup, runToExit, spawnLablog, startLablog, stop, tempDir } from './support/lablog-process.js';

// The server as a user runs it: a child process on a real port, configured by flags and env vars.

const DB_FILE = 'lablog.db';
const T = { timeout: 60_000 };

after(cleanup);

async function seedRun(url: string, experimentName: string) {
  const exp = await api(url, 'experiments/create', { name: experimentName });
  assert.equal(exp.status, 200, exp.text);
  const run = await api(url, 'runs/create', { experiment_id: exp.json.experiment_id, run_name: 'r1', start_time: 1000 });
  assert.equal(run.status, 200, run.text);
  return { experimentId: exp.json.experiment_id as string, runId: run.json.run.info.run_id as string };
}


/** The run as the API returns it after `batch` was logged. */
async function assertBatchStored(url: string, runId: string) {
  const got = await api(url, `runs/get?run_id=${runId}`);
  assert.equal(got.status, 200, got.text);
  const { info, data } = got.json.run;
  assert.equal(info.run_id, runId);
  assert.equal(info.run_name, 'r1');
  assert.equal(info.start_time, 1000);
  assert.deepEqual(data.metrics, [{ key: 'loss', value: 0.25, timestamp: 20, step: 2 }]);
  assert.deepEqual(data.params, [{ key: 'lr', value: '0.01' }]);
  assert.deepEqual(data.tags.find((t: { key: string }) => t.key === 'team'), { key: 'team', value: 'vision' });
  const history = await api(url, `metrics/get-history?run_id=${runId}&metric_key=loss`);
  assert.deepEqual(history.json.metrics.map((m: { value: number }) => m.value), [0.5, 0.25]);
}

describe('lablog server process', () => {
  it('starts from flags, serves /health and the tracking API, and logs one JSON line per request', T, async () => {
    const dir = tempDir();
    const s = await startLablog(['--port', '0', '--data-dir', dir, '--log-level', 'info']);
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(s.url).port, '5000');
    assert.equal(s.listening.dataDir, dir);
    assert.ok(existsSync(path.join(dir, DB_FILE)), 'the SQLite file is in the data dir');

    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'OK');
    const { experimentId, runId } = await seedRun(s.url, 'served');
    const logged = await api(s.url, 'runs/log-batch', sampleBatch(runId));
    assert.equal(logged.status, 200);
    assert.deepEqual(logged.json, {});
    await assertBatchStored(s.url, runId);
    const missing = await api(s.url, 'runs/get?run_id=nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error_code, 'RESOURCE_DOES_NOT_EXIST');

    // Lines are written after each response, in order: waiting for the last one means all are there.
    await s.waitForLine((l) => l.msg === 'request' && l.url === '/api/2.0/mlflow/runs/get?run_id=nope', 'the last request line');
    const requests = s.lines.filter((l) => l.msg === 'request').map(({ method, url, status }) => ({ method, url, status }));
    assert.deepEqual(requests, [
      { method: 'GET', url: '/health', status: 200 },
      { method: 'POST', url: '/api/2.0/mlflow/experiments/create', status: 200 },
      { method: 'POST', url: '/api/2.0/mlflow/runs/create', status: 200 },
      { method: 'POST', url: '/api/2.0/mlflow/runs/log-batch', status: 200 },
      { method: 'GET', url: `/api/2.0/mlflow/runs/get?run_id=${runId}`, status: 200 },
      { method: 'GET', url: `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`, status: 200 },
      { method: 'GET', url: '/api/2.0/mlflow/runs/get?run_id=nope', status: 404 },
    ]);
    for (const l of s.lines.filter((x) => x.msg === 'request')) {
      assert.equal(typeof l.ms, 'number');
      assert.ok(l.ms >= 0);
      assert.equal(l.level, 30, 'request lines are info');
    }
    assert.ok(experimentId);
    assert.deepEqual(await stop(s), { code: 0, signal: null });
  });

  it('SIGTERM lets an in-flight request finish, exits 0, and the data is there after a restart', T, async () => {
    const dir = tempDir();
    const s = await startLablog(['--port', '0', '--data-dir', dir]);
    const { runId } = await seedRun(s.url, 'graceful');
    const body = JSON.stringify(sampleBatch(runId));
    const { hostname, port } = new URL(s.url);
    // Expect: 100-continue makes the server acknowledge the request head before the body is sent,
    // so the request is provably in flight when the signal arrives.
    const req = http.request({
      hostname,
      port,
      method: 'POST',
      path: '/api/2.0/mlflow/runs/log-batch',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue', connection: 'close' },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    await new Promise<void>((resolve) => {
      req.once('continue', resolve);
      req.flushHeaders();
    });
    s.child.kill('SIGTERM');
    await s.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'), 'the shutdown line');
    req.end(body);
    assert.deepEqual(await response, { status: 200, text: '{}' });
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(s.lines.some((l) => l.msg === 'stopped'));

    const again = await startLablog(['--port', '0', '--data-dir', dir]);
    await assertBatchStored(again.url, runId);
    assert.deepEqual(await stop(again), { code: 0, signal: null });
  });

  it('an acknowledged write survives kill -9', T, async () => {
    const dir = tempDir();
    const s = await startLablog(['--port', '0', '--data-dir', dir]);
    const { runId } = await seedRun(s.url, 'killed');
    assert.equal((await api(s.url, 'runs/log-batch', sampleBatch(runId))).status, 200);
    s.child.kill('SIGKILL');
    assert.deepEqual(await s.exited, { code: null, signal: 'SIGKILL' });

    const again = await startLablog(['--port', '0', '--data-dir', dir]);
    await assertBatchStored(again.url, runId);
    assert.deepEqual(await stop(again), { code: 0, signal: null });
  });

  it('reads LABLOG_* env vars, and flags win over them', T, async () => {
    const fromEnv = tempDir();
    const s = await startLablog([], { env: { LABLOG_PORT: '0', LABLOG_DATA_DIR: fromEnv, LABLOG_HOST: '127.0.0.1' } });
    assert.equal(s.listening.dataDir, fromEnv);
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    assert.ok(existsSync(path.join(fromEnv, DB_FILE)));
    assert.deepEqual(await stop(s), { code: 0, signal: null });

    // Every env value below is overridden by a flag; an invalid env port or a silent log level would show.
    const envDir = tempDir();
    const flagDir = tempDir();
    const env = { LABLOG_PORT: '70000', LABLOG_DATA_DIR: envDir, LABLOG_LOG_LEVEL: 'silent' };
    const f = await startLablog(['--port', '0', '--data-dir', flagDir, '--log-level', 'info'], { env });
    assert.equal(f.listening.dataDir, flagDir);
    assert.ok(existsSync(path.join(flagDir, DB_FILE)));
    assert.ok(!existsSync(path.join(envDir, DB_FILE)), 'the env data dir is not used');
    assert.deepEqual(await stop(f), { code: 0, signal: null });
  });

  it('refuses invalid configuration with exit code 2 and a message on stderr', T, async () => {
    const port = await runToExit(['--port', '70000', '--data-dir', tempDir()]);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /port/);
    assert.match(port.stderr, /65535/);
    assert.ok(!port.lines.some((l) => l.msg === 'lablog listening'));

    const envPort = await runToExit([], { env: { LABLOG_PORT: 'abc', LABLOG_DATA_DIR: tempDir() } });
    assert.equal(envPort.code, 2);
    assert.match(envPort.stderr, /port/);

    const file = path.join(tempDir(), 'plain-file');
    writeFileSync(file, 'not a directory');
    const dataDir = await runToExit(['--port', '0', '--data-dir', path.join(file, 'sub')]);
    assert.equal(dataDir.code, 2);
    assert.match(dataDir.stderr, /data dir/);
    assert.ok(dataDir.stderr.includes(path.join(file, 'sub')), dataDir.stderr);

    const unknown = await runToExit(['--port', '0', '--bogus', '1']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--bogus'/);

    const noValue = await runToExit(['--data-dir']);
    assert.equal(noValue.code, 2);
    assert.match(noValue.stderr, /'--data-dir' needs a value/);
  });

  it('a port already in use: exits 1 with a message naming the problem', T, async () => {
    const first = await startLablog(['--port', '0', '--data-dir', tempDir()]);
    const taken = new URL(first.url).port;
    const second = await runToExit(['--port', taken, '--data-dir', tempDir()]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /could not start/);
    assert.match(second.stderr, /EADDRINUSE|in use/);
    assert.equal((await fetch(`${first.url}/health`)).status, 200, 'the first server is unaffected');
    assert.deepEqual(await stop(first), { code: 0, signal: null });
  });

  it('two processes started at once on one fresh data dir both come up, sharing one migrated database', T, async () => {
    const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: { idx: number }[] };
    for (let round = 0; round < 3; round++) {
      const dir = tempDir();
      const [a, b] = await Promise.all([startLablog(['--port', '0', '--data-dir', dir]), startLablog(['--port', '0', '--data-dir', dir])]);
      for (const s of [a, b]) assert.equal(await (await fetch(`${s.url}/health`)).text(), 'OK');
      const created = await api(a.url, 'experiments/create', { name: `shared-${round}` });
      assert.equal(created.status, 200, created.text);
      const seen = await api(b.url, `experiments/get-by-name?experiment_name=shared-${round}`);
      assert.equal(seen.json.experiment.experiment_id, created.json.experiment_id, 'b reads what a wrote');
      const listed = await api(b.url, 'experiments/search?view_type=ALL');
      assert.deepEqual(listed.json.experiments.map((e: { name: string }) => e.name).sort(), ['Default', `shared-${round}`]);
      assert.deepEqual(await Promise.all([stop(a), stop(b)]), [{ code: 0, signal: null }, { code: 0, signal: null }]);

      const db = new Database(path.join(dir, DB_FILE), { readonly: true });
      try {
        assert.equal(db.prepare("SELECT count(*) FROM experiments WHERE name = 'Default'").pluck().get(), 1);
        assert.equal(db.prepare("SELECT experiment_id FROM experiments WHERE name = 'Default'").pluck().get(), 0);
        const applied = db.prepare('SELECT idx FROM lablog_migrations ORDER BY idx').pluck().all();
        assert.deepEqual(applied, journal.entries.map((e) => e.idx).sort((x, y) => x - y), 'each migration recorded once');
      } finally {
        db.close();
      }
    }
  });

  it('the lablog bin: `server` runs the server, --help prints usage, an unknown command exits 2', T, async () => {
    const dir = tempDir();
    const s = await startLablog(['server', '--port', '0', '--data-dir', dir], { script: CLI_JS });
    assert.equal(s.listening.dataDir, dir);
    assert.equal(await (await fetch(`${s.url}/health`)).text(), 'OK');
    assert.deepEqual(await stop(s), { code: 0, signal: null });

    const help = await runToExit(['--help'], { script: CLI_JS });
    assert.equal(help.code, 0);
    const usage = help.lines.map((l) => l.raw).join('\n');
    assert.match(usage, /^usage: lablog <command>/);
    assert.match(usage, /server \[--host H\] \[--port P\] \[--data-dir D\]/);

    const bad = await runToExit(['frobnicate'], { script: CLI_JS });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command 'frobnicate'/);
    assert.match(bad.stderr, /usage: lablog/);
  });
});
