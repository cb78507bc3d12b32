import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { manualClock } from '../api/api.helpers.js';
import { startProxy } from '../sdk/counting-proxy.js';
import { kv, lablogProcess, metricHistory, mlflowGet, servedApp } from '../sdk/sdk.helpers.js';
import { tempDir } from '../support/lablog-process.js';

// examples/sweep_agent.py, the stdlib-only Python worker, run with python3 against a real lablog: the
// trials it ran and the metrics it logged, read back over HTTP.

const T = { timeout: 180_000 };
const SCRIPT = fileURLToPath(new URL('../../../examples/sweep_agent.py', import.meta.url));
const probe = (args: string[]) => spawnSync('python3', args, { encoding: 'utf8' });
const PYTHON = probe(['--version']).status === 0;
const MLFLOW = PYTHON && probe(['-c', 'import mlflow']).status === 0;

const lablog = lablogProcess();

type Outcome = { code: number | null; stdout: string; stderr: string };

/** Runs the script to its end, with `url` (default the server) as MLFLOW_TRACKING_URI and no other MLflow/lablog settings. */
function runScript(args: string[], url = lablog.server.url, extraEnv: Record<string, string> = {}): Promise<Outcome> {
  return spawnPython([SCRIPT, ...args], url, extraEnv);
}

/** Runs Python code that imports the example as a module (`sweep_agent`), with `url` as MLFLOW_TRACKING_URI. */
function runModule(code: string, url: string): Promise<Outcome> {
  return spawnPython(['-c', `import sys\nsys.path.insert(0, ${JSON.stringify(path.dirname(SCRIPT))})\nimport sweep_agent\n${code}`], url);
}

function spawnPython(argv: string[], url: string, extraEnv: Record<string, string> = {}): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MLFLOW_') && !k.startsWith('LABLOG_')) env[k] = v;
  Object.assign(env, extraEnv);
  env.MLFLOW_TRACKING_URI = url;
  const child = spawn('python3', argv, { cwd: tempDir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function get(path: string, query: Record<string, string> = {}) {
  const res = await fetch(`${lablog.server.url}${path}?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json() as Promise<any>;
}
const mlflow = (route: string, query: Record<string, string>) => mlflowGet(lablog.server.url, route, query);
async function post(path: string, body: unknown) {
  const res = await fetch(`${lablog.server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json() as Promise<any>;
}
const history = (runId: string, key: string) => metricHistory(lablog.server.url, runId, key);

/** What the example uses of mlflow, with mlflow 2.x's signatures (mlflow/tracking/fluent.py), over MLflow's REST API. */
const MLFLOW_STANDIN = `"""A stand-in for the mlflow package in tests: the fluent functions the example calls."""
import json, math, os, time, urllib.request

_uri = None
_active = []


def _record(*call):
    with open(os.environ["MLFLOW_STANDIN_LOG"], "a") as f:
        f.write(json.dumps(call) + "\\n")


def _post(route, body):
    request = urllib.request.Request(_uri + "/api/2.0/mlflow/" + route, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def set_tracking_uri(uri):
    global _uri
    _uri = str(uri).rstrip("/")


def start_run(run_id=None, experiment_id=None, run_name=None, nested=False, tags=None, description=None, log_system_metrics=None):
    if _active and not nested:
        raise Exception("Run with UUID {} is already active.".format(_active[0]))
    if not run_id:
        raise NotImplementedError("the stand-in only resumes runs")
    _record("start_run", run_id)
    _post("runs/update", {"run_id": run_id, "status": "RUNNING"})
    _active.append(run_id)


def _double(v):
    v = float(v)
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity") if math.isinf(v) else v


def log_metrics(metrics, step=None, synchronous=None, run_id=None):
    run_id = run_id or _active[-1]
    now = int(time.time() * 1000)
    points = [{"key": k, "value": _double(v), "timestamp": now, "step": step or 0} for k, v in metrics.items()]
    _post("runs/log-batch", {"run_id": run_id, "metrics": points})


def flush_async_logging():
    _record("flush_async_logging")


def end_run(status="FINISHED"):
    if _active:
        run_id = _active.pop()
        _record("end_run", status)
        _post("runs/update", {"run_id": run_id, "status": status, "end_time": int(time.time() * 1000)})
`;

const STEPS = 120;
const CHECK_EVERY = 10;

/** Checks every trial of the sweep named `name` against what the script logs; returns the sweep and its trials. */
async function checkSweep(name: string, experiment: string, stdout: string) {
  const experimentId = (await mlflow('experiments/get-by-name', { experiment_name: experiment })).experiment.experiment_id;
  const { sweeps } = await get('/api/2.0/lablog/sweeps/list', { experiment_id: experimentId });
  const mine = sweeps.filter((s: any) => s.name === name);
  assert.equal(mine.length, 1, 'one sweep: later workers attach to it');
  const sweep = mine[0];
  assert.equal(sweep.config.method, 'bayes');
  assert.deepEqual(sweep.config.metric, { name: 'val_loss', goal: 'minimize' });
  assert.deepEqual(Object.keys(sweep.config.parameters), ['lr', 'momentum', 'batch_size']);
  const { trials } = await get(`/api/2.0/lablog/sweeps/${sweep.sweep_id}/trials`);
  const stoppedLines = stdout.split('\n').filter((l) => / stopped early \(.+\)$/.test(l)).length;
  assert.equal(trials.filter((t: any) => t.status === 'STOPPED').length, stoppedLines, 'the trials the script saw stopped are the STOPPED ones');
  for (const t of trials) {
    assert.ok(t.status === 'COMPLETED' || t.status === 'STOPPED', `trial ${t.number}: ${t.status}`);
    const { lr, momentum, batch_size: batch } = t.params;
    assert.ok(lr >= 1e-3 && lr <= 3, `lr ${lr}`);
    assert.ok(momentum >= 0 && momentum <= 0.95, `momentum ${momentum}`);
    assert.ok([8, 32, 128].includes(batch), `batch_size ${batch}`);

    const { run } = await mlflow('runs/get', { run_id: t.run_id });
    assert.equal(run.info.status, 'FINISHED');
    assert.equal(kv(run.data.tags)['lablog.sweep_id'], sweep.sweep_id);
    assert.equal(kv(run.data.params).batch_size, String(batch));
    // val_loss every CHECK_EVERY steps up to the end, or up to the check that stopped it.
    const val = await history(t.run_id, 'val_loss');
    const lastStep = t.status === 'COMPLETED' ? STEPS - 1 : val.at(-1)!.step;
    if (t.status === 'STOPPED') assert.ok(lastStep < STEPS - 1, `trial ${t.number} stopped at ${lastStep}`);
    assert.deepEqual(val.map((p) => p.step), Array.from({ length: (lastStep + 1) / CHECK_EVERY }, (_, i) => (i + 1) * CHECK_EVERY - 1));
    assert.ok(val.every((p) => Number.isFinite(p.value) && p.value > 0), 'log losses are positive numbers');
    assert.equal(t.value, val.at(-1)!.value, 'the objective is the last val_loss');
    assert.equal(t.step, lastStep);
    // loss and lr at every step up to there.
    const loss = await history(t.run_id, 'loss');
    assert.deepEqual(loss.map((p) => p.step), Array.from({ length: lastStep + 1 }, (_, i) => i));
    const lrs = await history(t.run_id, 'lr');
    assert.equal(lrs.length, lastStep + 1);
    assert.ok(lrs.every((p) => p.value === lr));
  }
  return { sweep, trials };
}

describe('examples/sweep_agent.py', () => {
  it('creates the sweep, runs and logs its trials over REST, and a second worker attaches to it', T, async (t) => {
    if (!PYTHON) {
      t.skip('python3 is not on PATH: the Python sweep example cannot run');
      return;
    }
    const args = ['--sweep-name', 'py-rest', '--steps', String(STEPS), '--check-every', String(CHECK_EVERY), '--heartbeat-s', '0.05', '--rest'];
    const first = await runScript([...args, '--count', '4']);
    assert.equal(first.code, 0, `stdout:\n${first.stdout}\nstderr:\n${first.stderr}`);
    assert.match(first.stdout, /logging with rest/);
    let { trials } = await checkSweep('py-rest', 'examples/sweep-python', first.stdout);
    assert.deepEqual(trials.map((x: any) => x.number), [0, 1, 2, 3]);

    const second = await runScript([...args, '--count', '2']);
    assert.equal(second.code, 0, second.stderr);
    const checked = await checkSweep('py-rest', 'examples/sweep-python', first.stdout + second.stdout);
    trials = checked.trials;
    assert.deepEqual(trials.map((x: any) => x.number), [0, 1, 2, 3, 4, 5]);
    assert.equal(checked.sweep.status, 'RUNNING');
  });

  it('logs through the mlflow package when it is installed', T, async (t) => {
    if (!MLFLOW) {
      t.skip(PYTHON ? 'the mlflow package is not installed for python3: its path is not exercised' : 'python3 is not on PATH');
      return;
    }
    const out = await runScript(['--sweep-name', 'py-mlflow', '--steps', String(STEPS), '--check-every', String(CHECK_EVERY), '--count', '3']);
    assert.equal(out.code, 0, `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
    assert.match(out.stdout, /logging with mlflow/);
    const { trials } = await checkSweep('py-mlflow', 'examples/sweep-python', out.stdout);
    assert.equal(trials.length, 3);
  });

  it('logs through the mlflow API: a stand-in package with the signatures of mlflow 2.x, over its REST calls', T, async (t) => {
    if (!PYTHON) return t.skip('python3 is not on PATH');
    // mlflow cannot be installed here (no PyPI): this stand-in has the signatures of mlflow.tracking.fluent
    // (mlflow 2.x) for what the example calls, keyword names and defaults included, so a call that the
    // real package would refuse (a wrong keyword, a missing argument) fails here too; it resumes a run as
    // start_run(run_id=...) does (status RUNNING) and writes NaN as protobuf's JSON does.
    const dir = tempDir();
    mkdirSync(path.join(dir, 'mlflow'));
    writeFileSync(path.join(dir, 'mlflow', '__init__.py'), MLFLOW_STANDIN);
    const out = await runScript(['--sweep-name', 'py-mlflow-standin', '--steps', String(STEPS), '--check-every', String(CHECK_EVERY), '--count', '3'], lablog.server.url, {
      PYTHONPATH: dir,
      MLFLOW_STANDIN_LOG: path.join(dir, 'calls.jsonl'),
    });
    assert.equal(out.code, 0, `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
    assert.match(out.stdout, /logging with mlflow/);
    const { trials } = await checkSweep('py-mlflow-standin', 'examples/sweep-python', out.stdout);
    assert.equal(trials.length, 3);
    const calls = readFileSync(path.join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as [string, ...unknown[]]);
    const per = (name: string) => calls.filter((c) => c[0] === name).map((c) => c.slice(1));
    assert.deepEqual(per('start_run'), trials.map((x: any) => [x.run_id]));
    assert.deepEqual(per('end_run'), trials.map(() => ['FINISHED']));
    assert.ok(per('flush_async_logging').length >= 3, 'flushed before each should-stop');
  });

  it('is Python 3.8 syntax, and writes NaN and the infinities as MLflow does (a bare NaN is not JSON)', T, async (t) => {
    if (!PYTHON) return t.skip('python3 is not on PATH');
    const syntax = await runModule(`import ast\nast.parse(open(sweep_agent.__file__).read(), feature_version=(3, 8))\nprint("3.8 ok")`, lablog.server.url);
    assert.equal(syntax.stdout.trim(), '3.8 ok', syntax.stderr);
    const created = await post('/api/2.0/mlflow/runs/create', { experiment_id: '0' });
    const runId = created.run.info.run_id as string;
    const out = await runModule(
      `logger = sweep_agent.RestLogger(${JSON.stringify(runId)})\n` +
        `logger.log_metrics({"loss": float("nan"), "up": float("inf"), "down": float("-inf"), "ok": 0.25}, 3)\n` +
        `logger.end("FINISHED")`,
      lablog.server.url,
    );
    assert.equal(out.code, 0, out.stderr);
    const values = Object.fromEntries(
      await Promise.all(['loss', 'up', 'down', 'ok'].map(async (k) => [k, (await history(runId, k)).map((p) => [p.step, p.value])] as const)),
    );
    assert.deepEqual(values, { loss: [[3, 'NaN']], up: [[3, Number.MAX_VALUE]], down: [[3, -Number.MAX_VALUE]], ok: [[3, 0.25]] });
    assert.equal((await mlflow('runs/get', { run_id: runId })).run.info.status, 'FINISHED');
  });

  it('rides out a 503 and a lost answer: no trial lost, no metric point written twice', T, async (t) => {
    if (!PYTHON) return t.skip('python3 is not on PATH');
    const proxy = await startProxy(lablog.server.url);
    try {
      // The first `next` meets a restarting server (503); the first log-batch is written, but its answer
      // never arrives (the connection drops), so it is sent again under the same Idempotency-Key.
      let nexts = 0;
      proxy.intercept = (req) => (req.url.endsWith('/next') && nexts++ === 0 ? 503 : undefined);
      let batches = 0;
      proxy.deliverAnswer = (req) => !(req.batch !== undefined && batches++ === 0);
      const out = await runScript(['--sweep-name', 'py-flaky', '--steps', '40', '--check-every', '10', '--count', '1', '--rest'], proxy.url);
      assert.equal(out.code, 0, `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
      assert.equal(nexts, 2, 'the 503 was retried');
      const dropped = proxy.requests.filter((r) => r.failure === 'dropped');
      assert.equal(dropped.length, 1);
      const again = proxy.logBatches().filter((r) => r.headers['idempotency-key'] === dropped[0].headers['idempotency-key']);
      assert.deepEqual(again.map((r) => [r.failure, r.replayed]), [['dropped', false], [undefined, true]]);
      const experimentId = (await mlflow('experiments/get-by-name', { experiment_name: 'examples/sweep-python' })).experiment.experiment_id;
      const sweep = (await get('/api/2.0/lablog/sweeps/list', { experiment_id: experimentId })).sweeps.find((x: any) => x.name === 'py-flaky');
      const { trials } = await get(`/api/2.0/lablog/sweeps/${sweep.sweep_id}/trials`);
      assert.equal(trials.length, 1, 'one next answered, one trial');
      const loss = await history(trials[0].run_id, 'loss');
      assert.deepEqual(loss.map((p) => p.step), Array.from({ length: 40 }, (_, i) => i), 'every step once');
    } finally {
      await proxy.close();
    }
  });

  it('stops its heartbeat thread before the trial ends; beats at least three times per heartbeat timeout', T, async (t) => {
    if (!PYTHON) return t.skip('python3 is not on PATH');
    const created = await post('/api/2.0/lablog/sweeps/create', {
      experiment_id: '0',
      name: 'py-heartbeat',
      method: 'random',
      metric: { name: 'loss' },
      parameters: { x: { distribution: 'uniform', min: 0, max: 1 } },
      heartbeat_timeout_ms: 6000,
    });
    const { sweep, trial } = await post(`/api/2.0/lablog/sweeps/${created.sweep.sweep_id}/next`, {});
    const out = await runModule(
      `import time\n` +
        `sweep = ${JSON.stringify(JSON.stringify(sweep))}\n` +
        `import json\nsweep = json.loads(sweep)\n` +
        `print(sweep_agent.heartbeat_every(30.0, sweep))\n` +
        `hb = sweep_agent.Heartbeat(sweep["sweep_id"], ${JSON.stringify(trial.run_id)}, 0.01)\n` +
        `time.sleep(0.05)\nhb.stop()\nprint(hb.thread.is_alive(), hb.lost)`,
      lablog.server.url,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(out.stdout.trim().split('\n'), ['2.0', 'False None']);
  });
});

describe('examples/sweep_agent.py against a server whose clock the test moves', () => {
  const clock = manualClock();
  const served = servedApp({ now: clock.now });

  it('leaves the run of a trial the server timed out FAILED (no FINISHED over it) and reports it lost', T, async (t) => {
    if (!PYTHON) return t.skip('python3 is not on PATH');
    const sweeps = '/api/2.0/lablog/sweeps';
    const created = await served.app.post(`${sweeps}/create`, {
      experiment_id: '0',
      name: 'py-timed-out',
      method: 'random',
      metric: { name: 'val_loss' },
      parameters: { lr: { value: 0.1 }, momentum: { value: 0.5 }, batch_size: { value: 8 } },
      heartbeat_timeout_ms: 60_000,
    });
    const id = created.json.sweep.sweep_id as string;
    const { sweep, trial } = (await served.app.post(`${sweeps}/${id}/next`, { worker: 'py' })).json;
    // The worker was silent past the timeout (a laptop asleep): the next read fails the trial and its run.
    clock.advance(61_000);
    assert.equal((await served.app.get(`${sweeps}/${id}`)).status, 200);
    const out = await runModule(
      `import argparse, json\n` +
        `args = argparse.Namespace(steps=30, check_every=10, data_seed=7, heartbeat_s=30.0)\n` +
        `outcome = sweep_agent.run_trial(args, json.loads(${JSON.stringify(JSON.stringify(sweep))}), json.loads(${JSON.stringify(JSON.stringify(trial))}), sweep_agent.RestLogger)\n` +
        `print("outcome", outcome)`,
      served.url,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /failed by the server \(no heartbeat/);
    assert.match(out.stdout, /^outcome lost$/m);
    const run = (await served.app.get('runs/get', { run_id: trial.run_id })).json.run;
    assert.equal(run.info.status, 'FAILED');
    const [after] = (await served.app.get(`${sweeps}/${id}/trials`)).json.trials;
    assert.equal(after.status, 'FAILED');
  });
});
