import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Lablog } from 'lablog-client';

// The Docker image, built from the real Dockerfile and run: healthcheck, auth on, a token, a run logged
// over raw HTTP and through the SDK, data kept across `docker restart`, and a graceful `docker stop`.
//
// Here (DESIGN.md "Docker here") no registry serves images, so the base the Dockerfile names
// (node:20-bookworm-slim) is a local stand-in made by stand-in-base.sh (debootstrap + this machine's
// Node; cached in /var/cache/lablog-test). A real node:20-bookworm-slim already present is used as is.
// When no engine runs, the test starts dockerd itself (root, --iptables=false) and stops it at the end.
// Where none can run (no docker.io, not root, dockerd fails), every test reports itself skipped with
// the reason. Containers run with --network host on a free loopback port.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BASE_SCRIPT = path.join(ROOT, 'test/docker/stand-in-base.sh');
const BASE = 'node:20-bookworm-slim';
const IMAGE = 'lablog:smoke-test';
const NAME = `lablog-smoke-${process.pid}`;
const VOLUME = `lablog-smoke-${process.pid}`;
const ADMIN_PASSWORD = 'smoke-test-password';
const MIN = 60_000;

const work = mkdtempSync(path.join(os.tmpdir(), 'lablog-docker-'));
let skip = '';
let dockerd: ChildProcess | null = null;
let url = '';

function docker(args: string[], timeout = 2 * MIN) {
  const res = spawnSync('docker', args, { encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  return { status: res.error ? -1 : res.status, stdout: res.stdout ?? '', stderr: (res.stderr ?? '') + (res.error ? String(res.error) : '') };
}
function dockerOk(args: string[], timeout?: number): string {
  const res = docker(args, timeout);
  assert.equal(res.status, 0, `docker ${args.join(' ')}: ${res.stderr.slice(-4000)}`);
  return res.stdout.trim();
}
const engineUp = () => docker(['version', '--format', '{{.Server.Version}}'], 20_000).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tail = (file: string) => {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
};

/** An engine to talk to: the one running, or a dockerd started here; '' when ready, else why not. */
async function ensureEngine(): Promise<string> {
  if (spawnSync('docker', ['--version']).status !== 0) return 'the docker client is not installed (apt-get install docker.io)';
  if (engineUp()) return '';
  if (process.getuid?.() !== 0) return 'no Docker engine runs and starting dockerd needs root';
  if (spawnSync('sh', ['-c', 'command -v dockerd']).status !== 0) return 'no Docker engine runs and dockerd is not installed (apt-get install docker.io)';
  const log = path.join(work, 'dockerd.log');
  const fd = openSync(log, 'a');
  dockerd = spawn('dockerd', ['--iptables=false'], { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  let exited = false;
  dockerd.once('exit', () => (exited = true));
  for (let i = 0; i < 60 && !exited; i++) {
    if (engineUp()) return '';
    await sleep(1000);
  }
  await stopDockerd();
  return `dockerd could not start here: ${tail(log)}`;
}

async function stopDockerd(): Promise<void> {
  const child = dockerd;
  dockerd = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await gone;
  clearTimeout(timer);
}

/** The base image: a real one if present, else the stand-in (built when missing). */
function ensureBase(): string {
  if (docker(['image', 'inspect', BASE], 30_000).status === 0) return '';
  if (spawnSync('sh', ['-c', 'command -v debootstrap']).status !== 0) return `no ${BASE} image and no debootstrap to make a stand-in (apt-get install debootstrap)`;
  const res = spawnSync('bash', [BASE_SCRIPT, BASE], { encoding: 'utf8', timeout: 15 * MIN });
  assert.equal(res.status, 0, `stand-in-base.sh: ${res.stderr}${res.error ?? ''}`);
  return '';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const inspect = (format: string) => dockerOk(['inspect', '--format', format, NAME]);

/** Waits for the container's HEALTHCHECK to say healthy (started after `since`, when given). */
async function waitHealthy(since?: string, ms = 2 * MIN): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    const [status, running, started] = inspect('{{.State.Health.Status}} {{.State.Running}} {{.State.StartedAt}}').split(' ');
    last = status;
    if (running !== 'true' && since === undefined) break;
    if (status === 'healthy' && (since === undefined || started !== since)) return;
    if (status === 'unhealthy') break;
    await sleep(500);
  }
  assert.fail(`container not healthy (last: ${last}); logs:\n${docker(['logs', '--tail', '30', NAME]).stdout}${docker(['logs', '--tail', '30', NAME]).stderr}`);
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
async function call(method: 'GET' | 'POST', route: string, auth: string | null, body?: unknown) {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

describe('docker image (build, run, restart, stop)', { timeout: 30 * MIN }, () => {
  let token = '';
  let httpRunId = '';
  let sdkRunId = '';

  before(async () => {
    skip = await ensureEngine();
    if (skip) return;
    skip = ensureBase();
    if (skip) return;
    const t0 = Date.now();
    const log = path.join(work, 'build.log');
    const res = spawnSync('sh', ['-c', `docker build --network host -t ${IMAGE} "$0" >"$1" 2>&1`, ROOT, log], { timeout: 25 * MIN });
    assert.equal(res.status, 0, `docker build failed:\n${tail(log)}`);
    console.log(`# docker build: ${((Date.now() - t0) / 1000).toFixed(0)} s, image ${(Number(dockerOk(['image', 'inspect', '--format', '{{.Size}}', IMAGE])) / 1e6).toFixed(0)} MB`);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    docker(['rm', '-f', NAME]);
    docker(['volume', 'rm', '-f', VOLUME]);
    dockerOk([
      'run', '-d', '--name', NAME, '--network', 'host', '-v', `${VOLUME}:/data`,
      '-e', 'LABLOG_HOST=127.0.0.1', '-e', `LABLOG_PORT=${port}`,
      '-e', 'LABLOG_AUTH=on', '-e', `LABLOG_ADMIN_PASSWORD=${ADMIN_PASSWORD}`,
      IMAGE,
    ]);
  }, { timeout: 28 * MIN });

  after(async () => {
    if (!skip && engineUp()) {
      docker(['rm', '-f', NAME]);
      docker(['volume', 'rm', '-f', VOLUME]);
    }
    await stopDockerd();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs as a non-root user with the image settings, and its HEALTHCHECK turns healthy', async (t) => {
    if (skip) return t.skip(skip);
    await waitHealthy();
    assert.equal(inspect('{{.Config.User}}'), 'node');
    const env = inspect('{{json .Config.Env}}');
    for (const e of ['LABLOG_DATA_DIR=/data', 'LABLOG_HOST=0.0.0.0', 'LABLOG_PORT=5000']) assert.ok(dockerOk(['image', 'inspect', '--format', '{{json .Config.Env}}', IMAGE]).includes(e), e);
    assert.ok(env.includes('LABLOG_AUTH=on'));
    assert.match(dockerOk(['image', 'inspect', '--format', '{{json .Config.Volumes}}', IMAGE]), /"\/data"/);
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'OK');
  });

  it('refuses a request without credentials with 401', async (t) => {
    if (skip) return t.skip(skip);
    const res = await call('POST', '/api/2.0/mlflow/runs/create', null, { experiment_id: '0' });
    assert.equal(res.status, 401, JSON.stringify(res.json));
    assert.equal(res.json.error_code, 'UNAUTHENTICATED');
    const wrong = await call('POST', '/api/2.0/mlflow/runs/create', basic('admin', 'not-the-password'), { experiment_id: '0' });
    assert.equal(wrong.status, 401);
  });

  it('makes a token for the admin (Basic admin:password) and logs a run with it over raw HTTP', async (t) => {
    if (skip) return t.skip(skip);
    const created = await call('POST', '/api/2.0/lablog/tokens/create', basic('admin', ADMIN_PASSWORD), { name: 'ci' });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    token = created.json.token.value;
    assert.ok(typeof token === 'string' && token.length > 0);
    const bearer = `Bearer ${token}`;
    const run = await call('POST', '/api/2.0/mlflow/runs/create', bearer, { experiment_id: '0', run_name: 'docker-http' });
    assert.equal(run.status, 200, JSON.stringify(run.json));
    httpRunId = run.json.run.info.run_id;
    const now = Date.now();
    const batch = await call('POST', '/api/2.0/mlflow/runs/log-batch', bearer, {
      run_id: httpRunId,
      params: [{ key: 'lr', value: '0.01' }],
      metrics: [
        { key: 'loss', value: 0.5, timestamp: now, step: 0 },
        { key: 'loss', value: 0.25, timestamp: now + 1, step: 1 },
      ],
      tags: [{ key: 'via', value: 'http' }],
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.json));
    const done = await call('POST', '/api/2.0/mlflow/runs/update', bearer, { run_id: httpRunId, status: 'FINISHED', end_time: now + 2 });
    assert.equal(done.status, 200, JSON.stringify(done.json));
  });

  it('logs a run through the SDK with the token', async (t) => {
    if (skip) return t.skip(skip);
    assert.ok(token, 'a token from the test before');
    const lab = new Lablog({ url, token, handleExit: false, captureSource: false, spoolDir: path.join(work, 'spool'), flushIntervalMs: 50 });
    const run = await lab.startRun({ experiment: 'docker-smoke', name: 'docker-sdk', params: { batch: 32 } });
    sdkRunId = run.id;
    run.log({ acc: 0.5 }, { step: 0 });
    run.log({ acc: 0.9 }, { step: 1 });
    await run.end('FINISHED', { timeoutMs: 30_000 });
  });

  it('keeps the runs across docker restart (volume /data), read back with the token', async (t) => {
    if (skip) return t.skip(skip);
    assert.ok(httpRunId && sdkRunId, 'runs from the tests before');
    const started = inspect('{{.State.StartedAt}}');
    dockerOk(['restart', NAME]);
    await waitHealthy(started);
    const bearer = `Bearer ${token}`;

    const http = await call('GET', `/api/2.0/mlflow/runs/get?run_id=${httpRunId}`, bearer);
    assert.equal(http.status, 200, JSON.stringify(http.json));
    assert.equal(http.json.run.info.status, 'FINISHED');
    assert.deepEqual(http.json.run.data.params, [{ key: 'lr', value: '0.01' }]);
    assert.deepEqual(http.json.run.data.metrics.map((m: any) => [m.key, m.value, m.step]), [['loss', 0.25, 1]]);
    const history = await call('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${httpRunId}&metric_key=loss`, bearer);
    assert.equal(history.status, 200, JSON.stringify(history.json));
    assert.deepEqual(history.json.metrics.map((m: any) => m.value).sort(), [0.25, 0.5]);

    const sdk = await call('GET', `/api/2.0/mlflow/runs/get?run_id=${sdkRunId}`, bearer);
    assert.equal(sdk.status, 200, JSON.stringify(sdk.json));
    assert.equal(sdk.json.run.info.status, 'FINISHED');
    assert.equal(sdk.json.run.info.run_name, 'docker-sdk');
    assert.deepEqual(sdk.json.run.data.params.filter((p: any) => p.key === 'batch'), [{ key: 'batch', value: '32' }]);
    assert.deepEqual(sdk.json.run.data.metrics.map((m: any) => [m.key, m.value, m.step]), [['acc', 0.9, 1]]);

    // Still refused without credentials after the restart: auth came back on from the environment.
    assert.equal((await call('GET', `/api/2.0/mlflow/runs/get?run_id=${sdkRunId}`, null)).status, 401);
  });

  it('stops gracefully on docker stop: exit code 0 and the log line "stopped"', async (t) => {
    if (skip) return t.skip(skip);
    const t0 = Date.now();
    dockerOk(['stop', '-t', '30', NAME], 2 * MIN);
    const took = Date.now() - t0;
    assert.equal(inspect('{{.State.ExitCode}}'), '0');
    assert.ok(took < 25_000, `stopped by SIGTERM, not by the SIGKILL after the timeout (${took} ms)`);
    const logs = docker(['logs', NAME]);
    const lines = (logs.stdout + logs.stderr).split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    assert.ok(lines.some((l) => l.msg === 'stopped'), `no 'stopped' line in:\n${logs.stdout.slice(-2000)}`);
    assert.ok(lines.some((l) => l.signal === 'SIGTERM'));
  });
});
