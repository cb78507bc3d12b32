/**
 * Two `lablog` processes on one PostgreSQL database handing out trials of the same sweeps at once:
 * the claim is guarded by the sweep's row lock in the database, not by anything in one process, so
 * every trial goes to exactly one worker, numbers and grid points are never given twice, the run cap
 * holds, and a worker's request retried through the other server gets its trial back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api } from '../support/lablog-process.js';
import { postgresSkip } from '../support/postgres.js';
import { serversOnOneDatabase } from '../support/postgres-servers.js';

const skip = postgresSkip() ?? false;
const SWEEPS = '/api/2.0/lablog/sweeps';

interface Answer {
  trial?: { number: number; run_id: string; params: Record<string, unknown> };
  retry_after_ms?: number;
  sweep: { status: string; counts: { running: number; completed: number; failed: number; stopped: number } };
}

async function post<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text) as T;
}

describe('sweeps with two lablog servers on one PostgreSQL database', { skip }, () => {
  let env: Awaited<ReturnType<typeof serversOnOneDatabase>>;
  let servers: typeof env.servers;
  let experimentId = '';

  before(async () => {
    env = await serversOnOneDatabase(2);
    servers = env.servers;
    const made = await api(servers[0].url, 'experiments/create', { name: 'two-servers' });
    assert.equal(made.status, 200, made.text);
    experimentId = made.json.experiment_id;
  });
  after(async () => assert.deepEqual(await env?.close(), [{ code: 0, signal: null }, { code: 0, signal: null }]));

  /**
   * `workers` workers, alternating between the two servers, each asking for trials until an answer
   * has none and the sweep shows `cap` trials handed out (an answer without a trial can also mean the
   * claim lost every race against the other server; that worker simply asks again).
   */
  async function drain(sweepId: string, cap: number, workers: number) {
    const given: { worker: string; number: number; runId: string; params: string }[] = [];
    const work = async (w: number) => {
      const server = servers[w % 2];
      for (let i = 0; i < 100; i++) {
        const a = await post<Answer>(`${server.url}${SWEEPS}/${sweepId}/next`, { worker: `w${w}` });
        if (a.trial) {
          given.push({ worker: `w${w}`, number: a.trial.number, runId: a.trial.run_id, params: JSON.stringify(a.trial.params) });
          continue;
        }
        const c = a.sweep.counts;
        if (c.running + c.completed + c.failed + c.stopped >= cap) return;
      }
      assert.fail(`worker w${w} never saw the sweep's ${cap} trials handed out`);
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => work(w)));
    return given;
  }

  const rows = async <T extends object>(text: string, values: unknown[]) => (await env.pool.query<T>(text, values)).rows;

  it('hands out every grid point exactly once between both servers', async () => {
    const parameters = { a: { values: [1, 2, 3, 4, 5] }, b: { values: ['x', 'y', 'z'] } };
    const { sweep } = await post<{ sweep: { sweep_id: string } }>(`${servers[0].url}${SWEEPS}/create`, {
      experiment_id: experimentId,
      name: 'grid',
      method: 'grid',
      metric: { name: 'loss' },
      parameters,
    });
    const given = await drain(sweep.sweep_id, 15, 12);
    assert.equal(given.length, 15);
    assert.equal(new Set(given.map((g) => g.params)).size, 15, 'a grid point was given twice');
    assert.equal(new Set(given.map((g) => g.runId)).size, 15);
    assert.deepEqual(given.map((g) => g.number).sort((x, y) => x - y), Array.from({ length: 15 }, (_, i) => i));
    // Both servers handed out trials (workers alternate between them).
    const workers = new Set(given.map((g) => Number(g.worker.slice(1)) % 2));
    assert.deepEqual([...workers].sort(), [0, 1]);

    const [stored] = await rows<{ n: number; points: number; runs: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT grid_index)::int AS points, count(DISTINCT run_id)::int AS runs FROM sweep_trials WHERE sweep_id = $1`,
      [Number(sweep.sweep_id)],
    );
    assert.deepEqual(stored, { n: 15, points: 15, runs: 15 });
    // No run was left behind by a claim that lost: the experiment holds the parent and the 15 trial runs.
    const [runs] = await rows<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE experiment_id = $1', [Number(experimentId)]);
    assert.equal(runs.n, 16);
  });

  it('holds a random sweep to its run cap and never repeats a trial number', async () => {
    const { sweep } = await post<{ sweep: { sweep_id: string } }>(`${servers[1].url}${SWEEPS}/create`, {
      experiment_id: experimentId,
      name: 'random',
      method: 'random',
      run_cap: 10,
      metric: { name: 'loss' },
      parameters: { lr: { distribution: 'log_uniform', min: 0.0001, max: 0.1 } },
    });
    const given = await drain(sweep.sweep_id, 10, 12);
    assert.equal(given.length, 10);
    assert.equal(new Set(given.map((g) => g.runId)).size, 10);
    assert.deepEqual(given.map((g) => g.number).sort((x, y) => x - y), Array.from({ length: 10 }, (_, i) => i));
    const stored = await rows<{ number: number; run_uuid: string }>(
      'SELECT t.number, r.run_uuid FROM sweep_trials t JOIN runs r ON r.id = t.run_id WHERE t.sweep_id = $1 ORDER BY t.number',
      [Number(sweep.sweep_id)],
    );
    assert.deepEqual(
      stored.map((s) => [s.number, s.run_uuid]),
      [...given].sort((x, y) => x.number - y.number).map((g) => [g.number, g.runId]),
    );
  });

  it('a request retried through the other server at the same time gets the same trial', async () => {
    const { sweep } = await post<{ sweep: { sweep_id: string } }>(`${servers[0].url}${SWEEPS}/create`, {
      experiment_id: experimentId,
      name: 'retried',
      method: 'grid',
      metric: { name: 'loss' },
      parameters: { a: { values: [1, 2, 3, 4, 5, 6, 7, 8] } },
    });
    for (let k = 0; k < 4; k++) {
      const ask = { worker: 'flaky', request_id: `req-${k}` };
      const [a, b] = await Promise.all(servers.map((s) => post<Answer>(`${s.url}${SWEEPS}/${sweep.sweep_id}/next`, ask)));
      assert.ok(a.trial && b.trial, JSON.stringify([a, b]));
      assert.deepEqual(b.trial, a.trial);
    }
    const [stored] = await rows<{ n: number; requests: number }>('SELECT count(*)::int AS n, count(DISTINCT request_id)::int AS requests FROM sweep_trials WHERE sweep_id = $1', [
      Number(sweep.sweep_id),
    ]);
    assert.deepEqual(stored, { n: 4, requests: 4 });
  });
});
