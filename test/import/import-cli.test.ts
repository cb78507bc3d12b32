import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseImportArgs } from '../../server/commands/import-mlflow.js';
import { ImportScopeError } from '../../server/import/experiments.phase.js';
import { importFromMlflow, verifyFromMlflow } from '../../server/import/import.service.js';
import { createSourceClient, sourceAuthHeaders, SourceError } from '../../server/import/source.client.js';
import { backends } from '../helper.js';
import { CLI_JS, cleanup, runToExit, spawnLablog, startLablog, stop, tempDir } from '../support/lablog-process.js';
import { startFakeMlflow } from './fake-mlflow.js';
import { RUN, sourceFixture, T0 } from './import.fixtures.js';
import { openTarget, rowCounts } from './import.helpers.js';

after(cleanup);

const text = (lines: Record<string, any>[]) => lines.map((l) => l.raw ?? JSON.stringify(l)).join('\n');

// Into either backend (SQLite, and PostgreSQL where a cluster can be started).
for (const { backend, skip } of backends()) describe(backend, { skip }, () => {
  describe('lablog import-mlflow: interruptions', () => {
    test('killed twice (in the metrics and in the artifacts phase) next to a running lablog server, the next run ends with the exact data', async () => {
      const src = sourceFixture();
      // The data dir holds the artifacts, and the rows too on SQLite; on PostgreSQL they go to target.url.
      const target = await openTarget(backend);
      const dir = target.dir;
      const database = target.url ? ['--database-url', target.url] : [];
      let victim: ReturnType<typeof spawnLablog> | null = null;
      let histories = 0;
      let downloads = 0;
      const fake = await startFakeMlflow(src, {
        onRequest: (req) => {
          // SIGKILL while the importer is mid-phase: a history page or an artifact download in flight.
          if (req.url!.startsWith('/api/2.0/mlflow/metrics/get-history') && ++histories === 3) victim?.child.kill('SIGKILL');
          if (req.url!.startsWith('/api/2.0/mlflow-artifacts/artifacts/') && ++downloads === 2) victim?.child.kill('SIGKILL');
        },
      });
      const server = await startLablog(['--port', '0', '--data-dir', dir, ...database]);
      try {
        const args = ['import-mlflow', '--from', fake.url, '--data-dir', dir, ...database];
        victim = spawnLablog(args, { script: CLI_JS });
        assert.equal((await victim.exited).signal, 'SIGKILL');
        victim = spawnLablog(args, { script: CLI_JS });
        assert.equal((await victim.exited).signal, 'SIGKILL');
        victim = null;
        const done = await runToExit(args, { script: CLI_JS });
        assert.equal(done.code, 0, done.stderr + text(done.lines));
        assert.match(text(done.lines), /runs\s+0 copied, 8 already present/);

        // LABLOG_DATABASE_URL names the database as well as --database-url does.
        const verified = await runToExit(['import-mlflow', '--from', fake.url, '--data-dir', dir, '--verify'], {
          script: CLI_JS,
          env: target.url ? { LABLOG_DATABASE_URL: target.url } : {},
        });
        assert.equal(verified.code, 0, text(verified.lines));
        assert.match(text(verified.lines), /verified 4 experiments, 8 runs, 100\d+ metric points, 9 artifact files, 2 models \(3 versions\) against .*: no difference/);

        // The same rows as one uninterrupted import.
        const clean = await openTarget(backend);
        await importFromMlflow({ source: createSourceClient({ url: fake.url }), store: clean.store, artifacts: clean.artifacts }, { experiments: [], since: null });
        assert.deepEqual(await rowCounts(target), await rowCounts(clean));
        await clean.close();

        // The running server serves what was imported under it.
        const run = await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${RUN.parent}`).then((r) => r.json());
        assert.equal(run.run.info.run_id, RUN.parent);
        assert.deepEqual(run.run.data.params.find((p: { key: string }) => p.key === 'optimizer'), { key: 'optimizer', value: 'adam' });
        const history = await fetch(`${server.url}/api/2.0/mlflow/metrics/get-history?run_id=${RUN.long}&metric_key=loss&max_results=5`).then((r) => r.json());
        assert.deepEqual(
          history.metrics.map((m: { step: number; value: number }) => [m.step, m.value]),
          src.runs.find((r) => r.info.run_id === RUN.long)!.metrics.get('loss')!.slice(0, 5).map((p) => [p.step, p.value]),
        );
        const uri = run.run.info.artifact_uri.replace('mlflow-artifacts:/', '');
        const weights = Buffer.from(await (await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${uri}/model/data/weights.bin`)).arrayBuffer());
        assert.ok(weights.equals(src.runs.find((r) => r.info.run_id === RUN.parent)!.artifacts.get('model/data/weights.bin')!));

        // A tampered value makes --verify fail and name the run.
        await target.sql("UPDATE tags SET value = 'robotics' WHERE key = 'team' AND run_id = (SELECT id FROM runs WHERE run_uuid = ?)", RUN.parent);
        const bad = await runToExit([...args, '--verify'], { script: CLI_JS });
        assert.equal(bad.code, 1);
        assert.match(text(bad.lines), new RegExp(`MISMATCH ${RUN.parent}: tags: source 4 \\(sha256 \\w+\\), lablog 4`));
        assert.match(text(bad.lines), /1 difference$/m);
      } finally {
        await stop(server);
        await fake.close();
        await target.close();
      }
    });

    test('authenticates to the source with MLFLOW_TRACKING_TOKEN, or with MLFLOW_TRACKING_USERNAME and _PASSWORD', async () => {
      for (const [authorization, env] of [
        ['Bearer s3cret-token', { MLFLOW_TRACKING_TOKEN: 's3cret-token' }],
        [`Basic ${Buffer.from('alice:pa:ss').toString('base64')}`, { MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: 'pa:ss' }],
      ] as const) {
        const fake = await startFakeMlflow(sourceFixture(), { authorization });
        const t = await openTarget(backend);
        try {
          const anonymous = createSourceClient({ url: fake.url, headers: sourceAuthHeaders({}) });
          await assert.rejects(importFromMlflow({ source: anonymous, store: t.store, artifacts: t.artifacts }, { experiments: ['tabular'], since: null }), (err: SourceError) => {
            assert.equal(err.status, 401);
            assert.match(err.message, /UNAUTHENTICATED .*MLFLOW_TRACKING_TOKEN/);
            return true;
          });
          const source = createSourceClient({ url: fake.url, headers: sourceAuthHeaders(env) });
          const s = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: ['tabular'], since: null });
          assert.deepEqual(s.runs, { created: 2, present: 0 });
          assert.deepEqual(s.artifactFiles, { created: 1, present: 0 });
          assert.equal((await t.store.getRun(RUN.s3)).info.runName, 'on-s3');
        } finally {
          await fake.close();
          await t.close();
        }
      }
    });

    test('429 and 5xx answers are retried with backoff; a 4xx is final', async () => {
      // Each distinct request fails twice (503, then 429) before it is answered, whatever else runs at once.
      const seen = new Map<string, number>();
      const fake = await startFakeMlflow(sourceFixture(), {
        onRequest: (req) => {
          const n = (seen.get(req.url!) ?? 0) + 1;
          seen.set(req.url!, n);
          return n === 1 ? 503 : n === 2 ? 429 : undefined;
        },
      });
      const t = await openTarget(backend);
      try {
        const source = createSourceClient({ url: fake.url, baseDelayMs: 1 });
        const s = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: [], since: null });
        assert.deepEqual(s.warnings, []);
        assert.equal(s.runs.created, 8);
        assert.equal(source.requests, fake.requests);
        assert.ok([...seen.values()].every((n) => n >= 3));
        assert.deepEqual((await verifyFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: [], since: null })).mismatches, []);
        const broken = createSourceClient({ url: `${fake.url}/nowhere`, baseDelayMs: 1 });
        await assert.rejects(broken.get('/api/2.0/mlflow/experiments/get', (await import('zod')).z.unknown(), {}), (err: SourceError) => err.status === 404);
      } finally {
        await fake.close();
        await t.close();
      }
    });

    test('a run whose artifacts or a metric the source cannot serve is named and skipped; the rest is copied, and the next import fills the gap', async () => {
      let broken = true;
      const fake = await startFakeMlflow(sourceFixture(), {
        onRequest: (req) => {
          if (!broken) return;
          if (req.url!.startsWith(`/api/2.0/mlflow/artifacts/list?run_id=${RUN.childB}`)) return 500;
          if (req.url!.includes(`run_id=${RUN.parent}&metric_key=val%2Facc`)) return 404;
        },
      });
      const t = await openTarget(backend);
      try {
        const source = createSourceClient({ url: fake.url, baseDelayMs: 1, attempts: 2 });
        const s = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: [], since: null });
        assert.equal(s.warnings.length, 2);
        assert.match(s.warnings.find((w) => w.includes('val/acc'))!, new RegExp(`^run ${RUN.parent}: metric 'val/acc' not copied: GET /api/2.0/mlflow/metrics/get-history: 404`));
        assert.match(s.warnings.find((w) => w.includes(RUN.childB))!, /artifacts not copied: .*500 .*gave up after 2 attempts/);
        assert.equal(s.artifactFiles.created, 8);
        assert.deepEqual([...(await t.store.seriesSummaries(RUN.parent)).keys()], ['loss']);
        const gaps = await verifyFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: [], since: null }).catch((err) => err);
        assert.ok(gaps instanceof SourceError, 'verify reads the same broken endpoints');

        broken = false;
        const again = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: [], since: null });
        assert.deepEqual(again.warnings, []);
        assert.deepEqual(again.artifactFiles, { created: 1, present: 8 });
        assert.equal(again.metricPoints.created, 12);
        assert.deepEqual((await verifyFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: [], since: null })).mismatches, []);
      } finally {
        await fake.close();
        await t.close();
      }
    });

    test('--experiments and --since narrow the import; an unknown name stops it before anything is written', async () => {
      const fake = await startFakeMlflow(sourceFixture());
      const t = await openTarget(backend);
      try {
        const source = createSourceClient({ url: fake.url });
        await assert.rejects(importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: ['vision', 'nope'], since: null }), ImportScopeError);
        assert.equal(await t.store.getExperimentByName('vision'), null);
        const s = await importFromMlflow({ source, store: t.store, artifacts: t.artifacts }, { experiments: ['vision', 'tabular'], since: T0 - 1000 });
        assert.deepEqual(s.experiments, { created: 2, present: 0 });
        assert.deepEqual(s.runs, { created: 5, present: 0 });
        await assert.rejects(t.store.getRun(RUN.old), /not found/);
        await assert.rejects(t.store.getRun(RUN.default), /not found/);
        assert.equal(await t.store.getExperimentByName('nlp (archived)'), null);

        // A server that refuses the start_time filter: the runs are filtered on this side.
        const old = await startFakeMlflow(sourceFixture(), { noStartTimeFilter: true });
        const u = await openTarget(backend);
        const again = await importFromMlflow({ source: createSourceClient({ url: old.url }), store: u.store, artifacts: u.artifacts }, { experiments: ['tabular'], since: T0 - 1000 });
        assert.deepEqual(again.runs, { created: 1, present: 0 });
        await old.close();
        await u.close();
      } finally {
        await fake.close();
        await t.close();
      }
    });
  });
});

describe('lablog import-mlflow: the command line', () => {
  test('flags', () => {
    assert.deepEqual(parseImportArgs(['--from', 'http://old:5000', '--experiments', 'a b', 'c', '--since', '2024-06-01', '--verify', '--data-dir=/d']), {
      from: 'http://old:5000',
      experiments: ['a b', 'c'],
      since: Date.UTC(2024, 5, 1),
      verify: true,
      dataDir: '/d',
      databaseUrl: undefined,
      concurrency: 4,
      help: false,
    });
    assert.deepEqual(parseImportArgs(['--experiments=x', '--from=https://m', '--since', '1700000000000']).experiments, ['x']);
    assert.equal(parseImportArgs(['--since', '1700000000000', '--from', 'http://m']).since, 1_700_000_000_000);
    assert.throws(() => parseImportArgs([]), /--from/);
    assert.throws(() => parseImportArgs(['--from', 'old:5000']), /not an http/);
    assert.throws(() => parseImportArgs(['--from', 'http://m', '--since', 'yesterday']), /not a date/);
    assert.throws(() => parseImportArgs(['--from', 'http://m', '--experiments']), /at least one name/);
    assert.throws(() => parseImportArgs(['--from', 'http://m', '--bogus']), /unknown option '--bogus'/);
    assert.equal(parseImportArgs(['--from', 'http://m', '--database-url', 'postgres://u@h/db']).databaseUrl, 'postgres://u@h/db');
  });

  test('the command prints usage and exits 2 on bad flags, and 1 when the source is unreachable', async () => {
    const help = await runToExit(['--help'], { script: CLI_JS });
    assert.match(text(help.lines), /import-mlflow --from URL/);
    const bad = await runToExit(['import-mlflow', '--from', 'nope'], { script: CLI_JS });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not an http\(s\) URL/);
    // The database URL is checked before anything is opened, from the flag or from LABLOG_DATABASE_URL.
    const notPg = await runToExit(['import-mlflow', '--from', 'http://m', '--database-url', 'mysql://db/lablog'], { script: CLI_JS });
    assert.equal(notPg.code, 2);
    assert.match(notPg.stderr, /database URL must look like postgres:\/\//);
    const notPgEnv = await runToExit(['import-mlflow', '--from', 'http://m'], { script: CLI_JS, env: { LABLOG_DATABASE_URL: 'sqlite:lablog.db' } });
    assert.equal(notPgEnv.code, 2);
    assert.match(notPgEnv.stderr, /database URL must look like postgres:\/\//);
    const dir = path.join(tempDir(), 'data');
    const fake = await startFakeMlflow(sourceFixture(), { authorization: 'Bearer x' });
    const denied = await runToExit(['import-mlflow', '--from', fake.url, '--data-dir', dir], { script: CLI_JS });
    await fake.close();
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /401 UNAUTHENTICATED/);
    assert.match(denied.stderr, /run the same command again to continue/);
  });
});
