/**
 * Two real lablog processes on one PostgreSQL database, as behind a load balancer: what one server
 * writes the other reads at once, concurrent log-batch calls to one run from both store every point
 * once with the right latest value, params stay write-once across servers (the database decides, not
 * an in-process lock), and an Idempotency-Key retry that lands on the other server is still a replay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, cleanup, startLablog, tempDir } from '../support/lablog-process.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';

const skip = postgresSkip() ?? false;
const T = { timeout: 120_000 };

async function post(url: string, route: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/2.0/mlflow/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), replayed: res.headers.get('idempotent-replayed') === 'true', text };
}

describe('two lablog servers on one PostgreSQL database', { skip }, () => {
  let db = '';
  let a = '';
  let b = '';
  let experimentId = '';

  before(async () => {
    db = await createDatabase();
    const env = { LABLOG_DATABASE_URL: db };
    const servers = await Promise.all([startLablog(['--port', '0', '--data-dir', tempDir()], { env }), startLablog(['--port', '0', '--data-dir', tempDir()], { env })]);
    [a, b] = servers.map((s) => s.url);
    experimentId = (await post(a, 'experiments/create', { name: 'two-servers' })).json.experiment_id;
  });
  after(async () => {
    await cleanup();
    await dropDatabase(db);
  });

  const newRun = async (on: string, name: string) => (await post(on, 'runs/create', { experiment_id: experimentId, run_name: name, start_time: 1 })).json.run.info.run_id as string;

  it('a run created on one server is readable on the other at once, and searchable', T, async () => {
    for (let i = 0; i < 10; i++) {
      const [from, to] = i % 2 ? [a, b] : [b, a];
      const runId = await newRun(from, `r${i}`);
      const got = await api(to, `runs/get?run_id=${runId}`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.json.run.info.run_name, `r${i}`);
    }
    const search = await post(b, 'runs/search', { experiment_ids: [experimentId], filter: "attributes.run_name LIKE 'r%'", max_results: 100 });
    assert.equal(search.json.runs.length, 10);
  });

  it('concurrent log-batch calls to one run from both servers store every point once, with the right latest value', T, async () => {
    const runId = await newRun(a, 'shared');
    const BATCHES = 40;
    const PER = 250;
    // Interleaved steps: batch k holds steps k, k + BATCHES, ...; sent 8 at a time, alternating servers.
    const batches = Array.from({ length: BATCHES }, (_, k) => ({
      run_id: runId,
      metrics: Array.from({ length: PER }, (_, i) => {
        const step = k + i * BATCHES;
        return [
          { key: 'loss', value: 1 / (step + 1), timestamp: 1000 + step, step },
          { key: 'acc', value: step / (BATCHES * PER), timestamp: 1000 + step, step },
        ];
      }).flat().slice(0, 500),
    }));
    const answers = [];
    for (let k = 0; k < BATCHES; k += 8) {
      answers.push(...(await Promise.all(batches.slice(k, k + 8).map((body, j) => post((k + j) % 2 ? a : b, 'runs/log-batch', body)))));
    }
    assert.deepEqual(answers.map((r) => r.status), Array(BATCHES).fill(200));
    const expectedSteps = batches.flatMap((x) => x.metrics.filter((m) => m.key === 'loss').map((m) => m.step)).sort((x, y) => x - y);
    for (const server of [a, b]) {
      const history = await api(server, `metrics/get-history?run_id=${runId}&metric_key=loss`);
      const steps = history.json.metrics.map((m: { step: number }) => m.step);
      assert.deepEqual(steps, expectedSteps, 'every point once, in step order');
      for (const m of history.json.metrics) assert.equal(m.value, 1 / (m.step + 1));
      const run = await api(server, `runs/get?run_id=${runId}`);
      const last = expectedSteps[expectedSteps.length - 1];
      const latest = Object.fromEntries(run.json.run.data.metrics.map((m: { key: string; step: number; value: number }) => [m.key, m]));
      assert.deepEqual(latest.loss, { key: 'loss', value: 1 / (last + 1), timestamp: 1000 + last, step: last });
      assert.equal(latest.acc.step, last);
    }
  });

  it('params stay write-once across servers: of two different values sent at once, exactly one is kept', T, async () => {
    const runId = await newRun(b, 'params');
    const KEYS = 30;
    const results = await Promise.all(
      Array.from({ length: KEYS }, (_, i) => [
        post(a, 'runs/log-parameter', { run_id: runId, key: `p${i}`, value: 'from-a' }),
        post(b, 'runs/log-parameter', { run_id: runId, key: `p${i}`, value: 'from-b' }),
      ]).flat(),
    );
    const stored = Object.fromEntries((await api(a, `runs/get?run_id=${runId}`)).json.run.data.params.map((p: { key: string; value: string }) => [p.key, p.value]));
    assert.equal(Object.keys(stored).length, KEYS);
    for (let i = 0; i < KEYS; i++) {
      const [fromA, fromB] = [results[2 * i], results[2 * i + 1]];
      assert.deepEqual([fromA.status, fromB.status].sort(), [200, 400], `p${i}: one wins, one is refused`);
      const loser = fromA.status === 400 ? fromA : fromB;
      assert.equal(loser.json.error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(loser.json.message, new RegExp(`^Changing param values is not allowed. Param with key='p${i}' was already logged with value='${stored[`p${i}`]}'`));
      assert.equal(stored[`p${i}`], fromA.status === 200 ? 'from-a' : 'from-b', 'the stored value is the one answered 200');
    }
    // The same value again, on either server, is accepted (MLflow's rule).
    assert.equal((await post(b, 'runs/log-parameter', { run_id: runId, key: 'p0', value: stored.p0 })).status, 200);
  });

  it('an Idempotency-Key retry that lands on the other server is answered as a replay and stored once', T, async () => {
    const runId = await newRun(a, 'retries');
    const body = (k: number) => ({ run_id: runId, metrics: Array.from({ length: 100 }, (_, i) => ({ key: 'x', value: i, timestamp: 5, step: k * 100 + i })) });
    // Sequential: first on a, the retry on b.
    const first = await post(a, 'runs/log-batch', body(0), { 'idempotency-key': 'k-0' });
    const retry = await post(b, 'runs/log-batch', body(0), { 'idempotency-key': 'k-0' });
    assert.deepEqual([first.status, first.replayed, retry.status, retry.replayed], [200, false, 200, true]);
    // At once on both servers, ten keys: each stored once, one of each pair answered as a replay.
    const pairs = await Promise.all(
      Array.from({ length: 10 }, (_, k) => Promise.all([a, b].map((s) => post(s, 'runs/log-batch', body(k + 1), { 'idempotency-key': `k-${k + 1}` })))),
    );
    for (const pair of pairs) {
      assert.deepEqual(pair.map((r) => r.status), [200, 200]);
      assert.deepEqual(pair.map((r) => r.replayed).sort(), [false, true]);
    }
    const history = await api(b, `metrics/get-history?run_id=${runId}&metric_key=x`);
    assert.deepEqual(
      history.json.metrics.map((m: { step: number }) => m.step),
      Array.from({ length: 1100 }, (_, i) => i),
    );
  });
});
