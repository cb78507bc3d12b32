import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { copyPlan } from '../../server/store/migrate/tables.js';
import { createPool } from '../../server/store/postgres/db.js';
import { openPostgresStore } from '../../server/store/postgres/index.js';
import { openDatabaseReadOnly } from '../../server/store/db.js';
import { openSqliteStore } from '../../server/store/sqlite/index.js';
import { ADMIN, buildTestApp } from '../helper.js';
import { basic, createToken, createUser } from '../auth/auth.helpers.js';
import { CLI_JS } from '../support/lablog-process.js';
import { createDatabase, dropDatabase, postgresSkip } from '../support/postgres.js';
import { freshBucket } from '../support/s3.js';
import { bucketObjects } from '../support/stored-artifacts.js';

// `lablog migrate-store` as a user runs it (a child process) from a SQLite data dir filled through the
// API into fresh PostgreSQL databases; every table is then compared row by row.

const T = { timeout: 120_000 };
const skip = postgresSkip() ?? false;
const admin = basic(ADMIN.username, ADMIN.password);

function migrate(...args: string[]) {
  return migrateWith({}, ...args);
}

function migrateWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI_JS, 'migrate-store', ...args], { encoding: 'utf8', timeout: 100_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every copied table's rows in a canonical order, booleans as SQLite keeps them (0/1). */
async function pgRows(url: string): Promise<Record<string, unknown[]>> {
  const pool = createPool(url, 1);
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of copyPlan()) {
      const cols = t.columns.map((c) => `"${c}"`).join(', ');
      const rows = (await pool.query({ text: `SELECT ${cols} FROM "${t.name}" ORDER BY ${t.columns.map((_, i) => i + 1).join(', ')}`, rowMode: 'array' })).rows as unknown[][];
      out[t.name] = rows.map((r) => r.map((v, i) => (t.booleans.has(t.columns[i]) && v !== null ? Number(v) : v)));
    }
    return out;
  } finally {
    await pool.end();
  }
}

function sqliteRows(dir: string): Record<string, unknown[]> {
  const db = openDatabaseReadOnly(`${dir}/lablog.db`);
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of copyPlan()) {
      const cols = t.columns.map((c) => `"${c}"`).join(', ');
      // PostgreSQL sorts text bytewise under the test cluster's C collation, as SQLite does.
      out[t.name] = db.prepare(`SELECT ${cols} FROM "${t.name}" ORDER BY ${t.columns.map((_, i) => i + 1).join(', ')}`).raw().all();
    }
    return out;
  } finally {
    db.close();
  }
}

const ARTIFACTS: Record<string, Buffer> = { 'model/weights.bin': randomBytes(300_000), 'plots/loss.png': randomBytes(2_000), 'notes.txt': Buffer.from('é') };

describe('lablog migrate-store', { skip }, () => {
  let dir = '';
  let runId = '';
  let artifactRoot = '';
  const dbs: string[] = [];
  const fresh = async () => {
    const url = await createDatabase();
    dbs.push(url);
    return url;
  };

  before(async () => {
    const t = await buildTestApp({ auth: {} });
    dir = t.dir;
    await createUser(t, admin, 'eve', 'eve-password-1', 'editor');
    await createToken(t, basic('eve', 'eve-password-1'), 'script');
    const call = (url: string, body: unknown) => t.call('POST', url.startsWith('/') ? url : `/api/2.0/mlflow/${url}`, body, admin);
    const experimentId = (await call('experiments/create', { name: 'moved' })).json.experiment_id as string;
    const seeded = { experimentId, runId: (await call('runs/create', { experiment_id: experimentId, run_name: 'long' })).json.run.info.run_id as string };
    runId = seeded.runId;
    for (let i = 0; i < 5; i++) {
      const metrics = Array.from({ length: 990 }, (_, k) => ({ key: 'loss', value: k === 3 ? 'NaN' : k === 4 ? '-Infinity' : 1 / (i * 990 + k + 1), timestamp: 10 * (i * 990 + k), step: i * 990 + k }));
      const res = await call('runs/log-batch', { run_id: runId, metrics, params: i === 0 ? [{ key: 'lr', value: '0.01' }, { key: 'note', value: 'é 😀' }] : [], tags: [{ key: `t${i}`, value: String(i) }] });
      assert.equal(res.status, 200, res.body);
    }
    for (let r = 0; r < 20; r++) {
      const res = await call('runs/create', { experiment_id: seeded.experimentId, run_name: `r${r}`, start_time: 1000 + r });
      const id = res.json.run.info.run_id as string;
      await call('runs/log-batch', { run_id: id, metrics: [{ key: 'acc', value: r / 20, timestamp: 5, step: 0 }], params: [{ key: 'seed', value: String(r) }] });
      if (r % 5 === 0) await call('runs/delete', { run_id: id });
    }
    await call('runs/log-inputs', { run_id: runId, datasets: [{ dataset: { name: 'mnist', digest: 'abc', source_type: 'local', source: '/data' }, tags: [{ key: 'mlflow.data.context', value: 'train' }] }] });
    await call('experiments/set-experiment-tag', { experiment_id: seeded.experimentId, key: 'team', value: 'vision' });
    await call('registered-models/create', { name: 'net' });
    await call('model-versions/create', { name: 'net', source: `runs:/${runId}/model`, run_id: runId });
    const sweep = await call('/api/2.0/lablog/sweeps/create', { experiment_id: seeded.experimentId, name: 'grid', method: 'grid', metric: { name: 'loss' }, parameters: { lr: { values: [0.1, 0.01] } } });
    assert.equal(sweep.status, 200, sweep.body);
    for (const [name, bytes] of Object.entries(ARTIFACTS)) {
      const put = await t.call('PUT', `/api/2.0/mlflow-artifacts/artifacts/${seeded.experimentId}/${runId}/artifacts/${name}`, bytes, { ...admin, 'content-type': 'application/octet-stream' });
      assert.equal(put.status, 200, put.body);
    }
    artifactRoot = `${seeded.experimentId}/${runId}/artifacts`;
    await t.app.close();
    await t.store.close();
  });
  after(async () => {
    for (const url of dbs) await dropDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies every table into an empty database and verifies it; a server on it reads the same runs', T, async () => {
    const url = await fresh();
    const r = migrate('--from', dir, '--to', url);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /copied \d+ rows \(\d+ tables, 22 runs, 4970 metric points\) .* row counts and every run's checksum match/);
    const source = sqliteRows(dir);
    for (const table of ['experiments', 'runs', 'params', 'metric_chunks', 'users', 'api_tokens', 'registered_models', 'model_versions', 'sweeps']) {
      assert.ok(source[table].length > 0, `the source has ${table} rows`);
    }
    // metric_tail's pieces included: the same bytes under the same seq in both stores.
    assert.deepEqual(await pgRows(url), source);

    const store = await openPostgresStore(url, { poolSize: 2 });
    try {
      const history = await store.getMetricHistory({ runId, key: 'loss', offset: 0, limit: null });
      assert.equal(history.points.values.length, 4950);
      assert.ok(Number.isNaN(history.points.values[3]));
      assert.equal(history.points.values[4], -Infinity);
      // Identity sequences were moved past the copied ids: a new experiment and run get fresh ones.
      const id = await store.createExperiment({ name: 'after', artifactLocation: null, tags: [], now: 1 });
      assert.ok(Number(id) > Number(source.experiments.map((e) => (e as unknown[])[0]).sort((a, b) => Number(b) - Number(a))[0]));
    } finally {
      await store.close();
    }
    const again = migrate('--from', dir, '--to', url);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the target database already holds lablog data; migrate-store copies into an empty one/);
  });

  it('an interrupted copy resumes where it stopped and copies nothing twice; a changed source needs --restart', T, async () => {
    const url = await fresh();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // A real failure in the target halfway through the chunks (the third chunk row refused, so the whole batch).
      await createDatabaseTables(url);
      await client.query(`CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF (SELECT count(*) FROM metric_chunks) >= 2 THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
      await client.query('CREATE TRIGGER refuse BEFORE INSERT ON metric_chunks FOR EACH ROW EXECUTE FUNCTION refuse()');
      const first = migrate('--from', dir, '--to', url);
      assert.equal(first.code, 1);
      assert.match(first.stderr, /disk on fire/);
      assert.match(first.stderr, /run the same command again to continue/);
      const progress = (await client.query('SELECT table_name, copied FROM lablog_migrate_store')).rows;
      assert.ok(progress.some((p) => p.table_name === 'runs' && Number(p.copied) === 22), JSON.stringify(progress));
      assert.ok(progress.some((p) => p.table_name === 'metric_chunks' && Number(p.copied) === 0), 'the failed batch is not counted');

      await client.query('DROP TRIGGER refuse ON metric_chunks');
      const second = migrate('--from', dir, '--to', url);
      assert.equal(second.code, 0, second.stderr + second.stdout);
      assert.match(second.stderr, /resuming: \d+ of \d+ rows were copied before/);
      assert.deepEqual(await pgRows(url), sqliteRows(dir));
      assert.equal((await client.query(`SELECT to_regclass('lablog_migrate_store') AS t`)).rows[0].t, null, 'the bookkeeping is gone after a verified copy');
    } finally {
      await client.end();
    }

    // Interrupted again into another database, then the source changes (a server ran on it meanwhile).
    const other = await fresh();
    const c2 = new pg.Client({ connectionString: other });
    await c2.connect();
    try {
      await createDatabaseTables(other);
      await c2.query(`CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$ LANGUAGE plpgsql`);
      await c2.query('CREATE TRIGGER refuse BEFORE INSERT ON params FOR EACH ROW EXECUTE FUNCTION refuse()');
      assert.equal(migrate('--from', dir, '--to', other).code, 1);
      await c2.query('DROP TRIGGER refuse ON params');
    } finally {
      await c2.end();
    }
    const store = openSqliteStore(dir);
    await store.logBatch(runId, { metrics: [], params: [{ key: 'late', value: '1' }], tags: [] });
    await store.close();
    const refused = migrate('--from', dir, '--to', other);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the source changed since this copy began \(params\); stop the server using it, then run again with --restart/);
    const restarted = migrate('--from', dir, '--to', other, '--restart');
    assert.equal(restarted.code, 0, restarted.stderr + restarted.stdout);
    assert.deepEqual(await pgRows(other), sqliteRows(dir));
  });

  it('--artifacts-to copies every artifact file into the bucket, skipping what an earlier run already copied', T, async () => {
    const loc = await freshBucket('team/artifacts');
    const url = await fresh();
    // As if an interrupted run had copied one file already.
    await loc.client.send(new PutObjectCommand({ Bucket: loc.bucket, Key: `team/artifacts/${artifactRoot}/notes.txt`, Body: ARTIFACTS['notes.txt'] }));
    const r = migrateWith(loc.server.env, '--from', dir, '--to', url, '--artifacts-to', loc.uri);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /; 3 artifact files \(.*, 1 already there\) copied to s3:\/\/.*\/team\/artifacts\n$/);
    const objects = await bucketObjects(loc, 'team/artifacts/');
    assert.deepEqual(
      objects.map((o) => [o.key, o.size]),
      Object.entries(ARTIFACTS)
        .map(([name, bytes]) => [`team/artifacts/${artifactRoot}/${name}`, bytes.length])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const got = await loc.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: `team/artifacts/${artifactRoot}/model/weights.bin` }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(ARTIFACTS['model/weights.bin']), 'byte for byte');
  });

  it('refuses bad arguments with the usage (exit 2), naming what is wrong', T, () => {
    const cases: [string[], RegExp][] = [
      [['--to', 'postgres://x@y/z'], /name the SQLite data dir to copy with --from/],
      [['--from', dir], /name the PostgreSQL database with --to/],
      [['--from', dir, '--to', 'mysql://u:hunter2@h/db'], /--to: 'mysql:\/\/u:\*\*\*@h\/db' is not a postgres:\/\/ URL/],
      [['--from', '/nonexistent', '--to', 'postgres://x@y/z'], /--from: there is no lablog.db in '\/nonexistent'/],
      [['--from', dir, '--to', 'postgres://x@y/z', '--bogus'], /unknown option '--bogus'/],
      [['--from', dir, '--to', 'postgres://x@y/z', '--artifacts-to', '/srv/artifacts'], /--artifacts-to: '\/srv\/artifacts' is not an s3:\/\/bucket\/prefix URI/],
    ];
    for (const [args, message] of cases) {
      const r = migrate(...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /hunter2/);
    }
  });
});

/** Runs lablog's migrations on a database, as the command would, so a trigger can be put on a table first. */
async function createDatabaseTables(url: string): Promise<void> {
  const store = await openPostgresStore(url, { poolSize: 1 });
  await store.close();
}
