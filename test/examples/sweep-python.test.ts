import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { cleanup, startLablog, tempDir } from '../support/lablog-process.js';

// examples/sweep_agent.py, the stdlib-only Python worker, run with python3 against a real lablog: the
// trials it ran and the metrics it logged, read back over HTTP.

const T = { timeout: 180_000 };
const SCRIPT = fileURLToPath(new URL('../../../examples/sweep_agent.py', import.meta.url));
const probe = (args: string[]) => spawnSync('python3', args, { encoding: 'utf8' });
const PYTHON = probe(['--version']).status === 0;
const MLFLOW = PYTHON && probe(['-c', 'import mlflow']).status === 0;

let server: Awaited<ReturnType<typeof startLablog>>;
before(async () => {
  server = await startLablog(['--port', '0', '--data-dir', tempDir()]);
});
after(cleanup);

/** Runs the script to its end, with the server as MLFLOW_TRACKING_URI and no other MLflow/lablog settings. */
function runScript(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MLFLOW_') && !k.startsWith('LABLOG_')) env[k] = v;
  env.MLFLOW_TRACKING_URI = server.url;
  const child = spawn('python3', [SCRIPT, ...args], { cwd: tempDir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function get(path: string, query: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200, await res.clone().text());
  return res.json() as Promise<any>;
}
const mlflow = (route: string, query: Record<string, string>) => get(`/api/2.0/mlflow/${route}`, query);
const kv = (list: { key: string; value: string }[] | undefined) => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

async function history(runId: string, key: string): Promise<{ value: number; step: number }[]> {
  const json = await mlflow('metrics/get-history', { run_id: runId, metric_key: key });
  return ((json.metrics ?? []) as { value: number; step: number }[]).sort((x, y) => x.step - y.step);
}

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
  const stoppedLines = stdout.split('\n').filter((l) => l.endsWith('stopped early')).length;
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
});
