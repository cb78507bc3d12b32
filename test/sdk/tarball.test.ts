import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { after, before, describe, test } from 'node:test';
import { registerErrorHandlers } from '../../server/http/errors.js';
import { registerSdkRoutes, SDK_DIR } from '../../server/http/sdk.js';
import { basic, bearer } from '../auth/auth.helpers.js';
import { ADMIN, buildTestApp, listen, type TestApp } from '../helper.js';

const run = promisify(execFile);
const CLIENT_PKG = JSON.parse(readFileSync(new URL('../../../client-sdk/package.json', import.meta.url), 'utf8')) as { name: string; version: string };

/** The environment of the test run minus npm's lifecycle settings (`npm test` exports npm_config_*). */
function npmEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('LABLOG_') || k.startsWith('MLFLOW_')) continue;
    if (k.startsWith('npm_') && !['npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_cafile'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** A training script on another machine: installs the SDK from the server, logs a run, prints its id. */
const SCRIPT = `
import { Lablog, SDK_VERSION } from 'lablog-client';
const lab = new Lablog({ handleExit: false, captureSource: false });
const run = await lab.startRun({ experiment: 'from-another-machine', params: { lr: 0.01, layers: 3, optimizer: 'adam' } });
for (let step = 0; step < 20; step++) run.log({ loss: 1 / (step + 1), acc: step / 20 }, { step });
await run.end();
console.log(JSON.stringify({ runId: run.id, version: SDK_VERSION }));
`;

/** `npm install <url>` in a fresh project dir, then runs SCRIPT there with `env`; answers what it printed. */
async function installAndLog(url: string, env: Record<string, string>): Promise<{ runId: string; version: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-sdk-install-'));
  try {
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'training-script', version: '1.0.0', private: true, type: 'module' }));
    writeFileSync(path.join(dir, 'train.mjs'), SCRIPT);
    // Its own npm cache: the tarball really comes from the server, and the user's cache is left alone.
    await run('npm', ['install', '--no-audit', '--no-fund', '--cache', path.join(dir, '.npm-cache'), `${url}/sdk/lablog-client.tgz`], {
      cwd: dir,
      env: npmEnv({}),
      timeout: 120_000,
    });
    const installed = JSON.parse(readFileSync(path.join(dir, 'node_modules', 'lablog-client', 'package.json'), 'utf8'));
    assert.equal(installed.version, CLIENT_PKG.version);
    const { stdout } = await run(process.execPath, ['train.mjs'], { cwd: dir, env: npmEnv({ LABLOG_TRACKING_URI: url, ...env }), timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The run as the REST API answers it: params and the latest metrics by key, plus loss's full history. */
async function storedRun(t: TestApp, runId: string, headers: Record<string, string> = {}) {
  const got = await t.app.inject({ method: 'GET', url: `/api/2.0/mlflow/runs/get?run_id=${runId}`, headers });
  assert.equal(got.statusCode, 200, got.body);
  const data = got.json().run.data;
  const hist = await t.app.inject({ method: 'GET', url: `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`, headers });
  assert.equal(hist.statusCode, 200, hist.body);
  return {
    status: got.json().run.info.status as string,
    params: Object.fromEntries((data.params as { key: string; value: string }[]).map((p) => [p.key, p.value])),
    metrics: Object.fromEntries((data.metrics as { key: string; value: number; step: number }[]).map((m) => [m.key, [m.value, m.step]])),
    loss: (hist.json().metrics as { value: number; step: number }[]).map((m) => [m.step, m.value]).sort((a, b) => a[0] - b[0]),
  };
}

function assertLogged(stored: Awaited<ReturnType<typeof storedRun>>): void {
  assert.equal(stored.status, 'FINISHED');
  assert.deepEqual(stored.params, { lr: '0.01', layers: '3', optimizer: 'adam' });
  assert.deepEqual(stored.metrics.loss, [1 / 20, 19]);
  assert.deepEqual(stored.metrics.acc, [19 / 20, 19]);
  assert.deepEqual(stored.loss, Array.from({ length: 20 }, (_, s) => [s, 1 / (s + 1)]));
}

describe('GET /sdk/', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(async () => t?.close());

  test('answers the packed SDK: name, version, tarball path and the install line for this origin', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/sdk/', headers: { host: 'lablog.example:5000' } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), {
      name: 'lablog-client',
      version: CLIENT_PKG.version,
      tarball: '/sdk/lablog-client.tgz',
      install: 'npm install http://lablog.example:5000/sdk/lablog-client.tgz',
    });
  });

  test('a client that asks for text/plain gets the version and the install line as text', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/sdk/', headers: { host: 'lablog.example:5000', accept: 'text/plain' } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(res.body, `lablog-client ${CLIENT_PKG.version}\nnpm install http://lablog.example:5000/sdk/lablog-client.tgz\n`);
  });

  test('the tarball: gzip, its length, an ETag that a revalidation matches (304), the bytes the build packed', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/sdk/lablog-client.tgz' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    const built = readFileSync(path.join(SDK_DIR, 'lablog-client.tgz'));
    assert.equal(Number(res.headers['content-length']), built.length);
    assert.ok(res.rawPayload.equals(built));
    assert.deepEqual([...res.rawPayload.subarray(0, 2)], [0x1f, 0x8b]);
    const etag = String(res.headers.etag);
    assert.match(etag, /^"[^"]+"$/);
    const again = await t.app.inject({ method: 'GET', url: '/sdk/lablog-client.tgz', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const head = await t.app.inject({ method: 'HEAD', url: '/sdk/lablog-client.tgz' });
    assert.equal(head.statusCode, 200);
    assert.equal(Number(head.headers['content-length']), built.length);
  });

  test('with LABLOG_PUBLIC_URL the install line names the public URL, whatever Host the request came with', async () => {
    const app = Fastify();
    registerSdkRoutes(app, { publicUrl: 'https://lablog.example.org/' });
    try {
      const res = await app.inject({ method: 'GET', url: '/sdk/', headers: { host: '10.0.0.5:5000' } });
      assert.equal(res.json().install, 'npm install https://lablog.example.org/sdk/lablog-client.tgz');
    } finally {
      await app.close();
    }
  });

  test('an unknown path under /sdk/ is a JSON 404, not the UI', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/sdk/other.tgz' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error_code, 'ENDPOINT_NOT_FOUND');
  });

  test('without a build (no dist/sdk) both answer 404 in MLflow\'s error shape', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'lablog-no-sdk-'));
    const app = Fastify();
    registerErrorHandlers(app);
    registerSdkRoutes(app, { dir: empty });
    try {
      for (const url of ['/sdk/', '/sdk/lablog-client.tgz']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404);
        assert.equal(res.json().error_code, 'RESOURCE_DOES_NOT_EXIST');
        assert.match(res.json().message, /npm run build/);
      }
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('npm install <server>/sdk/lablog-client.tgz on another machine', () => {
  let t: TestApp;
  let url: string;
  before(async () => {
    t = await buildTestApp();
    url = `http://127.0.0.1:${await listen(t)}`;
  });
  after(async () => t?.close());

  test('installs the SDK the server was built with, and a script using it logs a run with params and metrics', { timeout: 180_000 }, async () => {
    const out = await installAndLog(url, {});
    assert.equal(out.version, CLIENT_PKG.version);
    assertLogged(await storedRun(t, out.runId));
  });
});

describe('with auth on (LABLOG_AUTH=on)', () => {
  let t: TestApp;
  let url: string;
  let token: string;
  before(async () => {
    t = await buildTestApp({ auth: {} });
    url = `http://127.0.0.1:${await listen(t)}`;
    const made = await t.call('POST', '/api/2.0/lablog/tokens/create', { name: 'training-box' }, basic(ADMIN.username, ADMIN.password));
    assert.equal(made.status, 200, made.body);
    token = made.json.token.value;
  });
  after(async () => t?.close());

  test('the SDK is served without credentials, while the API refuses a request without them', async () => {
    for (const path of ['/sdk/', '/sdk/lablog-client.tgz']) {
      const res = await t.app.inject({ method: 'GET', url: path });
      assert.equal(res.statusCode, 200, path);
    }
    assert.equal((await t.get('experiments/search')).status, 401);
  });

  test('npm install from the server, then LABLOG_TRACKING_TOKEN is all a training script needs', { timeout: 180_000 }, async () => {
    const out = await installAndLog(url, { LABLOG_TRACKING_TOKEN: token });
    assertLogged(await storedRun(t, out.runId, bearer(token)));
    // Logged as the token's user: the run is the admin's, and the API refuses to show it without credentials.
    assert.equal((await t.get('runs/get', { run_id: out.runId })).status, 401);
  });

  test('without the token the script is refused (401), and nothing is logged', { timeout: 180_000 }, async () => {
    const runs = async () => {
      const experiments = (await t.call('GET', 'experiments/search', { max_results: '1000' }, bearer(token))).json.experiments as { experiment_id: string }[];
      const found = await t.call('POST', 'runs/search', { experiment_ids: experiments.map((e) => e.experiment_id), max_results: 1000 }, bearer(token));
      assert.equal(found.status, 200, found.body);
      return (found.json.runs ?? []).length as number;
    };
    const before = await runs();
    await assert.rejects(installAndLog(url, {}), /UNAUTHENTICATED|401/);
    assert.equal(await runs(), before);
  });
});
