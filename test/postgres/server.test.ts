/**
 * `lablog` with LABLOG_DATABASE_URL, as real child processes: two servers starting at once on one
 * empty PostgreSQL database both come up (migrations under the advisory lock), share the data, and
 * log the database without its password (experiments, runs and sweeps made through one are seen
 * through the other); a bad URL is refused at start.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { api, cleanup, runToExit, startLablog, stop, tempDir } from '../support/lablog-process.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';

const skip = postgresSkip() ?? false;

describe('lablog on PostgreSQL (LABLOG_DATABASE_URL)', { skip }, () => {
  const urls: string[] = [];
  after(async () => {
    await cleanup();
    for (const url of urls) await dropDatabase(url);
  });

  it('two servers started at once on one empty database both come up and share one store', async () => {
    const db = await createDatabase();
    urls.push(db);
    const withPassword = db.replace('postgres://lablog@', 'postgres://lablog:s3cret-pw@');
    const env = { LABLOG_DATABASE_URL: withPassword };
    const [a, b] = await Promise.all([startLablog(['--port', '0', '--data-dir', tempDir()], { env }), startLablog(['--port', '0', '--data-dir', tempDir()], { env })]);
    for (const s of [a, b]) {
      assert.match(String(s.listening.database), /^postgres postgres:\/\/lablog:\*\*\*@localhost\//);
      assert.ok(!JSON.stringify(s.lines).includes('s3cret-pw'), 'the password never reaches the log');
    }
    const created = await api(a.url, 'experiments/create', { name: 'shared' });
    assert.equal(created.status, 200, created.text);
    const seen = await api(b.url, 'experiments/get-by-name?experiment_name=shared');
    assert.equal(seen.json.experiment.experiment_id, created.json.experiment_id);
    const run = await api(b.url, 'runs/create', { experiment_id: created.json.experiment_id, run_name: 'r' });
    const runId = run.json.run.info.run_id as string;
    const logged = await api(a.url, 'runs/log-batch', { run_id: runId, metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }], params: [{ key: 'lr', value: '0.1' }] });
    assert.equal(logged.status, 200, logged.text);
    const got = await api(b.url, `runs/get?run_id=${runId}`);
    assert.deepEqual(got.json.run.data.metrics, [{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }]);
    assert.deepEqual(got.json.run.data.params, [{ key: 'lr', value: '0.1' }]);
    const listed = await api(a.url, 'experiments/search?view_type=ALL');
    assert.deepEqual(listed.json.experiments.map((e: { name: string }) => e.name).sort(), ['Default', 'shared']);

    // Sweeps live in the shared database too: one made through a is listed by b.
    const sweep = await fetch(`${a.url}/api/2.0/lablog/sweeps/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiment_id: created.json.experiment_id, name: 'shared-sweep', method: 'grid', metric: { name: 'loss' }, parameters: { lr: { values: [1, 2] } } }),
    });
    assert.equal(sweep.status, 200, await sweep.clone().text());
    const sweepId = (await sweep.json()).sweep.sweep_id;
    const listed2 = await (await fetch(`${b.url}/api/2.0/lablog/sweeps/list?experiment_id=${created.json.experiment_id}`)).json();
    assert.deepEqual(listed2.sweeps.map((s: { sweep_id: string; name: string }) => [s.sweep_id, s.name]), [[sweepId, 'shared-sweep']]);
    assert.deepEqual(await Promise.all([stop(a), stop(b)]), [{ code: 0, signal: null }, { code: 0, signal: null }]);
  });

  it('a URL that is not postgres:// is a configuration error at start', async () => {
    const res = await runToExit(['--port', '0', '--data-dir', tempDir(), '--database-url', 'mysql://x@y/z']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /databaseUrl: database URL must look like postgres:\/\//);
  });
});
