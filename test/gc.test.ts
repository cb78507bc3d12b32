import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { createLocalArtifactStore } from '../server/artifacts/local.js';
import { formatBytes, parseGcArgs, parseOlderThan, renderProgress } from '../server/gc-command.js';
import { collectGarbage, executeGc, planGc } from '../server/tracking/gc.service.js';
import { manualClock, tableCountsOf } from './api/api.helpers.js';
import { backends, buildTestApp, type Backend, type TestApp } from './helper.js';
import { CLI_JS } from './support/lablog-process.js';

const DAY = 86_400_000;
// Ages are days or hours apart from the 7d cutoff, so the seconds a test takes cannot matter.
const NOW = Date.now();

let open: TestApp[] = [];
afterEach(async () => {
  for (const t of open) await t.close();
  open = [];
});

function put(t: TestApp, rel: string, size: number): number {
  const file = path.join(t.dir, 'artifacts', rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.alloc(size, 7));
  return size;
}

/** Every file and directory under the artifact root with its size: the disk as gc could change it. */
function disk(t: TestApp): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(t.dir, 'artifacts', rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const s = lstatSync(path.join(t.dir, 'artifacts', r));
      out.push(`${r}:${s.isDirectory() ? 'dir' : s.size}`);
      if (s.isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}

/** Rows per table that belong to these runs and experiments (what gc must remove, no more). */
async function owned(t: TestApp, runIds: string[], experimentIds: string[]): Promise<Record<string, number>> {
  const runs = `(${runIds.map(() => '?').join(', ')})`;
  const exps = `(${experimentIds.map(() => '?').join(', ')})`;
  const inRuns = `(SELECT id FROM runs WHERE run_uuid IN ${runs})`;
  const series = `(SELECT id FROM metric_series WHERE run_id IN ${inRuns})`;
  const n = async (sql: string, args: unknown[]) => (await t.sql<{ n: number }>(sql, ...args))[0].n;
  const keys = experimentIds.map(Number);
  return {
    runs: await n(`SELECT COUNT(*) AS n FROM runs WHERE id IN ${inRuns}`, runIds),
    params: await n(`SELECT COUNT(*) AS n FROM params WHERE run_id IN ${inRuns}`, runIds),
    tags: await n(`SELECT COUNT(*) AS n FROM tags WHERE run_id IN ${inRuns}`, runIds),
    metric_series: await n(`SELECT COUNT(*) AS n FROM metric_series WHERE run_id IN ${inRuns}`, runIds),
    metric_tail: await n(`SELECT COUNT(*) AS n FROM metric_tail WHERE series_id IN ${series}`, runIds),
    metric_chunks: await n(`SELECT COUNT(*) AS n FROM metric_chunks WHERE series_id IN ${series}`, runIds),
    // SQLite's page summaries of long series (PostgreSQL has no such table).
    ...(t.backend === 'sqlite' ? { metric_chunk_pages: await n(`SELECT COUNT(*) AS n FROM metric_chunk_pages WHERE series_id IN ${series}`, runIds) } : {}),
    inputs: await n(`SELECT COUNT(*) AS n FROM inputs WHERE run_id IN ${inRuns}`, runIds),
    input_tags: await n(`SELECT COUNT(*) AS n FROM input_tags WHERE input_id IN (SELECT id FROM inputs WHERE run_id IN ${inRuns})`, runIds),
    experiments: await n(`SELECT COUNT(*) AS n FROM experiments WHERE experiment_id IN ${exps}`, keys),
    experiment_tags: await n(`SELECT COUNT(*) AS n FROM experiment_tags WHERE experiment_id IN ${exps}`, keys),
    datasets: await n(`SELECT COUNT(*) AS n FROM datasets WHERE experiment_id IN ${exps}`, keys),
  };
}

function minus(before: Record<string, number>, gone: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v - (gone[k] ?? 0)]));
}

/**
 * Experiments A (1), B (2, deleted 10 days ago with its runs B1, B2) and C (3, artifacts on S3).
 * In A: R1 active, D1 and D2 deleted 10 days ago (D2 has no folder), Y deleted an hour ago; N1 in C
 * deleted 10 days ago. Folders are written with fs, as an upload would leave them.
 */
async function world(backend: Backend) {
  const clock = manualClock(NOW - 11 * DAY);
  const t = await buildTestApp({ backend, now: clock.now });
  open.push(t);
  const ok = async (route: string, body: unknown) => {
    const res = await t.post(route, body);
    assert.equal(res.status, 200, `${route}: ${res.body}`);
    return res.json;
  };
  const exp = async (name: string, extra: object = {}) =>
    (await ok('experiments/create', { name, tags: [{ key: 'team', value: 'vision' }], ...extra })).experiment_id as string;
  const a = await exp('gc-a');
  const b = await exp('gc-b');
  const c = await exp('gc-c', { artifact_location: 's3://bucket/c' });
  const dataset = { name: 'mnist', digest: 'd1', source_type: 'local', source: '{}' };
  const run = async (experimentId: string, name: string) => {
    const id = (await ok('runs/create', { experiment_id: experimentId, run_name: name })).run.info.run_id as string;
    const metrics = (from: number) => Array.from({ length: 700 }, (_, i) => ({ key: 'loss', value: 1 / (from + i + 1), timestamp: clock.ms, step: from + i }));
    await ok('runs/log-batch', { run_id: id, params: [{ key: 'lr', value: '0.1' }], tags: [{ key: 'k', value: 'v' }], metrics: metrics(0) });
    await ok('runs/log-batch', { run_id: id, metrics: metrics(700) });
    await ok('runs/log-inputs', { run_id: id, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset }] });
    return id;
  };
  const ids = { R1: await run(a, 'r1'), D1: await run(a, 'd1'), D2: await run(a, 'd2'), Y: await run(a, 'y'), B1: await run(b, 'b1'), B2: await run(b, 'b2'), N1: await run(c, 'n1') };
  const bytes = {
    R1: put(t, `${a}/${ids.R1}/artifacts/model.bin`, 1000) + put(t, `${a}/${ids.R1}/artifacts/plots/loss.png`, 234),
    // Anything in the run directory belongs to the run, not only its artifacts/ folder.
    D1: put(t, `${a}/${ids.D1}/artifacts/model.ckpt`, 5000) + put(t, `${a}/${ids.D1}/artifacts/eval/preds.json`, 321) + put(t, `${a}/${ids.D1}/notes.txt`, 17),
    Y: put(t, `${a}/${ids.Y}/artifacts/small.txt`, 50),
    B1: put(t, `${b}/${ids.B1}/artifacts/x.bin`, 300),
    B: put(t, `${b}/readme.txt`, 7),
  };
  clock.ms = NOW - 10 * DAY;
  for (const id of [ids.D1, ids.D2, ids.N1]) await ok('runs/delete', { run_id: id });
  await ok('experiments/delete', { experiment_id: b });
  clock.ms = NOW - 3_600_000;
  await ok('runs/delete', { run_id: ids.Y });
  return { t, clock, exps: { a, b, c }, ids, bytes };
}

function cli(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LABLOG_')));
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'lablog-gc-cwd-'));
  try {
    const r = spawnSync(process.execPath, [CLI_JS, 'gc', ...args], { cwd, env: { ...clean, ...env }, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** The database a gc process is to open: the app's PostgreSQL database, or none (the data dir's SQLite file). */
const db = (t: TestApp) => (t.databaseUrl ? ['--database-url', t.databaseUrl] : []);

// The command and the service on each backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('lablog gc (command)', () => {
    it('--dry-run prints what would go and changes nothing on disk or in the database', async () => {
      const w = await world(backend);
      const { t, ids } = w;
      const [filesBefore, countsBefore] = [disk(t), await tableCountsOf(t)];
      const r = cli(['--dry-run'], { LABLOG_DATA_DIR: t.dir, ...(t.databaseUrl ? { LABLOG_DATABASE_URL: t.databaseUrl } : {}) });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.slice(0, -1).sort(), [
        `would remove run ${ids.D1} (experiment 1), 5338 bytes (5.2 KiB) would be freed`,
        `would remove run ${ids.D2} (experiment 1), 0 bytes would be freed (no artifact folder)`,
        `would remove run ${ids.Y} (experiment 1), 50 bytes would be freed`,
        `would remove run ${ids.B1} (experiment 2), 300 bytes would be freed`,
        `would remove run ${ids.B2} (experiment 2), 0 bytes would be freed (no artifact folder)`,
        `would remove run ${ids.N1} (experiment 3), 0 bytes would be freed (artifacts at 's3://bucket/c/${ids.N1}/artifacts' are not stored by lablog; left in place)`,
        'would remove experiment 2 (2 runs), 7 bytes would be freed',
      ].sort());
      assert.equal(r.stdout.at(-1), '6 runs, 1 experiment would be removed, 5695 bytes (5.6 KiB) would be freed (dry run: nothing was changed)');
      assert.deepEqual(disk(t), filesBefore);
      assert.deepEqual(await tableCountsOf(t), countsBefore);
    });

    it('--older-than 7d removes the old deleted runs and experiments, rows and folders, and reports exact bytes', async () => {
      const { t, ids, bytes } = await world(backend);
      const gone = await owned(t, [ids.D1, ids.D2, ids.B1, ids.B2, ids.N1], ['2']);
      for (const table of Object.keys(gone)) assert.ok(gone[table] > 0, `the world has ${table} rows to remove`);
      const expected = minus(await tableCountsOf(t), gone);
      const filesBefore = disk(t);

      const r = cli(['--older-than', '7d', '--data-dir', t.dir, ...db(t)]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.slice(0, -1).sort(), [
        `removed run ${ids.D1} (experiment 1), 5338 bytes (5.2 KiB) freed`,
        `removed run ${ids.D2} (experiment 1), 0 bytes freed (no artifact folder)`,
        `removed run ${ids.B1} (experiment 2), 300 bytes freed`,
        `removed run ${ids.B2} (experiment 2), 0 bytes freed (no artifact folder)`,
        `removed run ${ids.N1} (experiment 3), 0 bytes freed (artifacts at 's3://bucket/c/${ids.N1}/artifacts' are not stored by lablog; left in place)`,
        'removed experiment 2 (2 runs), 7 bytes freed',
      ].sort());
      assert.equal(bytes.D1 + bytes.B1 + bytes.B, 5645);
      assert.equal(r.stdout.at(-1), '5 runs, 1 experiment removed, 5645 bytes (5.5 KiB) freed');
      assert.deepEqual(await tableCountsOf(t), expected);
      // The young deleted run and the active one are untouched; the removed folders are gone entirely.
      assert.deepEqual(disk(t), filesBefore.filter((f) => !f.startsWith(`1/${ids.D1}`) && !f.startsWith('2')));
      assert.equal((await t.get('runs/get', { run_id: ids.Y })).json.run.info.lifecycle_stage, 'deleted');
      assert.equal((await t.get('runs/get', { run_id: ids.D1 })).status, 404);
      assert.equal((await t.get('experiments/get', { experiment_id: '2' })).status, 404);

      // Without a cutoff the hour-old run goes too; a second pass finds nothing left.
      const again = cli(['--data-dir', t.dir, ...db(t)]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(again.stdout, [`removed run ${ids.Y} (experiment 1), 50 bytes freed`, '1 run, 0 experiments removed, 50 bytes freed']);
      assert.equal(existsSync(path.join(t.dir, 'artifacts', '1', ids.Y)), false);
      assert.deepEqual(cli(['--data-dir', t.dir, ...db(t)]).stdout, ['0 runs, 0 experiments removed, 0 bytes freed']);
      assert.deepEqual(disk(t), filesBefore.filter((f) => f.startsWith(`1/${ids.R1}`) || f === '1:dir'));
    });

    it('--run-ids naming an active run is an error and removes nothing', async () => {
      const { t, ids } = await world(backend);
      const [filesBefore, countsBefore] = [disk(t), await tableCountsOf(t)];
      const r = cli(['--data-dir', t.dir, ...db(t), `--run-ids=${ids.D1},${ids.R1}`]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`Run ${ids.R1} is not in the deleted lifecycle stage`));
      assert.match(r.stderr, /nothing was removed/);
      assert.deepEqual(r.stdout, []);
      const missing = cli(['--data-dir', t.dir, ...db(t), '--run-ids', 'nope']);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /Run with id=nope not found/);
      assert.deepEqual(disk(t), filesBefore);
      assert.deepEqual(await tableCountsOf(t), countsBefore);
    });

    it('reports a run whose folder cannot be removed, goes on with the others and exits 1', async () => {
      const { t, ids } = await world(backend);
      // A run directory that is a symlink out of the artifact root: the store refuses to follow it.
      const outside = mkdtempSync(path.join(os.tmpdir(), 'lablog-gc-outside-'));
      try {
        mkdirSync(path.join(outside, 'artifacts'));
        writeFileSync(path.join(outside, 'artifacts', 'precious.txt'), 'keep me');
        symlinkSync(outside, path.join(t.dir, 'artifacts', '1', ids.D2));
        const r = cli(['--data-dir', t.dir, ...db(t), '--run-ids', `${ids.D2},${ids.D1}`]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`failed to remove run ${ids.D2} \\(experiment 1\\): its rows were removed but not its artifact folder`));
        assert.deepEqual(r.stdout, [`removed run ${ids.D1} (experiment 1), 5338 bytes (5.2 KiB) freed`, '1 run, 0 experiments removed, 5338 bytes (5.2 KiB) freed']);
        assert.equal(existsSync(path.join(outside, 'artifacts', 'precious.txt')), true);
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    it('refuses bad arguments with exit 2', async () => {
      const { t } = await world(backend);
      for (const [args, message] of [
        [['--older-than', '7 days'], /could not read '7 days' as a duration/],
        [['--older-than'], /needs a value/],
        [['--experiment-ids', 'abc'], /'abc' is not an experiment id/],
        [['--run-ids', ','], /needs at least one id/],
        [['--dry-run=yes'], /takes no value/],
        [['--force'], /unknown option '--force'/],
        [['--database-url', 'mysql://db/lablog'], /database URL must look like postgres:\/\//],
      ] as const) {
        const r = cli(['--data-dir', t.dir, ...db(t), ...args]);
        assert.equal(r.code, 2, args.join(' '));
        assert.match(r.stderr, message);
      }
      const r = cli(['--data-dir', path.join(t.dir, 'typo')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no lablog data in/);
      // A database that cannot be reached: said so, exit 1, nothing touched.
      const down = cli(['--data-dir', t.dir, '--database-url', 'postgres://lablog@127.0.0.1:1/none']);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /^lablog gc: cannot open the database: .*ECONNREFUSED/);
    });
  });

  describe('gc service', () => {
    const deps = (t: TestApp) => ({ store: t.store, artifacts: createLocalArtifactStore(path.join(t.dir, 'artifacts')) });

    it('--experiment-ids removes that deleted experiment with its runs and folders, and nothing else', async () => {
      const { t, ids } = await world(backend);
      const expected = minus(await tableCountsOf(t), await owned(t, [ids.B1, ids.B2], ['2']));
      const filesBefore = disk(t);
      const report = await collectGarbage(deps(t), { olderThanMs: null, runIds: [], experimentIds: ['2'], dryRun: false, now: NOW });
      assert.deepEqual(
        report.runs.map((r) => [r.id, r.status, r.bytes]),
        [[ids.B1, 'removed', 300], [ids.B2, 'removed', 0]],
      );
      assert.deepEqual(report.experiments, [{ id: '2', status: 'removed', bytes: 7, runs: 2, note: undefined }]);
      assert.equal(report.bytes, 307);
      assert.equal(report.failed, 0);
      assert.deepEqual(await tableCountsOf(t), expected);
      assert.deepEqual(disk(t), filesBefore.filter((f) => !f.startsWith('2')));
      // The dataset of experiment 1 stays although its deleted runs' inputs will go later.
      assert.deepEqual(await t.sql('SELECT COUNT(*) AS n FROM datasets WHERE experiment_id = 1'), [{ n: 1 }]);
    });

    it('refuses, before removing anything, ids that are active, too young, unknown or the Default experiment', async () => {
      const { t, ids } = await world(backend);
      const countsBefore = await tableCountsOf(t);
      const req = { olderThanMs: 7 * DAY, runIds: [] as string[], experimentIds: [] as string[], dryRun: false, now: NOW };
      await assert.rejects(planGc(t.store, { ...req, runIds: [ids.D1, ids.Y] }), new RegExp(`Run ${ids.Y} is not old enough. Only what was deleted at least 7d ago`));
      await assert.rejects(planGc(t.store, { ...req, experimentIds: ['1'] }), /Experiment 1 is not in the deleted lifecycle stage/);
      await assert.rejects(planGc(t.store, { ...req, experimentIds: ['0', '99'] }), (err: Error) => {
        assert.match(err.message, /Default experiment \(id 0\) cannot be removed/);
        assert.match(err.message, /No Experiment with id=99 exists/);
        return true;
      });
      assert.deepEqual(await tableCountsOf(t), countsBefore);
      // Named ids narrow the selection: only D1, although other deleted runs are old enough.
      const plan = await planGc(t.store, { ...req, runIds: [ids.D1] });
      assert.deepEqual([plan.runs.map((r) => r.runId), plan.experiments], [[ids.D1], []]);
    });

    it('keeps a run restored between planning and removal', async () => {
      const { t, ids } = await world(backend);
      const plan = await planGc(t.store, { olderThanMs: null, runIds: [ids.D1], experimentIds: [], dryRun: false, now: NOW });
      assert.equal((await t.post('runs/restore', { run_id: ids.D1 })).status, 200);
      const report = await executeGc(deps(t), plan, { dryRun: false });
      assert.deepEqual(report.runs.map((r) => [r.status, r.note]), [['kept', 'it is no longer in the deleted stage']]);
      assert.equal(existsSync(path.join(t.dir, 'artifacts', '1', ids.D1, 'artifacts', 'model.ckpt')), true);
    });
  });
});

describe('gc arguments and output', () => {
  it('reads MLflow durations', () => {
    assert.equal(parseOlderThan('7d'), 7 * DAY);
    assert.equal(parseOlderThan('1d2h3m4s'), DAY + 2 * 3_600_000 + 3 * 60_000 + 4000);
    assert.equal(parseOlderThan('1.5h'), 5_400_000);
    assert.equal(parseOlderThan('90s'), 90_000);
    for (const bad of ['', '7', 'd', '1h2d', '-1d', '7 d']) assert.throws(() => parseOlderThan(bad), /could not read/, bad);
  });

  it('parses ids, flags and both option spellings', () => {
    assert.deepEqual(parseGcArgs(['--run-ids', 'a, b,a', '--experiment-ids=3', '--dry-run', '--older-than=1d', '--data-dir', 'D', '--artifacts-uri=s3://b/p']), {
      olderThanMs: DAY,
      experimentIds: ['3'],
      runIds: ['a', 'b'],
      dryRun: true,
      dataDir: 'D',
      databaseUrl: undefined,
      artifactsUri: 's3://b/p',
      help: false,
    });
    assert.throws(() => parseGcArgs(['--data-dir', '--dry-run']), /needs a value/);
  });

  it('formats bytes and the progress bar', () => {
    assert.equal(formatBytes(1), '1 byte');
    assert.equal(formatBytes(1023), '1023 bytes');
    assert.equal(formatBytes(1258291), '1258291 bytes (1.2 MiB)');
    assert.equal(renderProgress({ phase: 'runs', done: 12, total: 40 }, 10), '\r[###.......] 12/40 runs');
    assert.equal(renderProgress({ phase: 'experiments', done: 0, total: 0 }, 4), '\r[####] 0/0 experiments');
  });
});
