// `npm run build && node dist/bench/import-mlflow.js [POINTS] [RUNS] [--postgres]`: imports an MLflow
// source (the test suite's fake MLflow 2.x server, over a real socket on this machine) into a fresh data
// dir with the `lablog import-mlflow` code path, and prints the figures: a first import, a second
// (resuming) import that finds everything present, and --verify. Defaults: one run of 100,000 points
// of one metric, plus 9 runs of 1,000 points. With --postgres the rows go to a fresh database on a
// throwaway PostgreSQL cluster (test/support/postgres.ts), or to LABLOG_DATABASE_URL when it is set.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLocalArtifactStore } from '../server/artifacts/local.js';
import { importFromMlflow, verifyFromMlflow } from '../server/import/import.service.js';
import { createSourceClient } from '../server/import/source.client.js';
import { openPostgresStore } from '../server/store/postgres/index.js';
import { openSqliteStore } from '../server/store/sqlite/index.js';
import { startFakeMlflow, type FakeRun } from '../test/import/fake-mlflow.js';
import { createDatabase, dropDatabase, postgresSkip } from '../test/support/postgres.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const POSTGRES = process.argv.includes('--postgres');
const POINTS = Number(args[0] ?? 100_000);
const RUNS = Number(args[1] ?? 10);

/** Where the rows go: the data dir's SQLite file, or a PostgreSQL database (dropped afterwards when it was made here). */
async function openTarget(dir: string) {
  if (!POSTGRES) return { store: openSqliteStore(dir), label: 'sqlite', drop: async () => {} };
  const given = process.env.LABLOG_DATABASE_URL;
  if (!given && postgresSkip()) throw new Error(`--postgres: ${postgresSkip()}`);
  const url = given ?? (await createDatabase());
  return { store: await openPostgresStore(url), label: 'postgres', drop: () => (given ? Promise.resolve() : dropDatabase(url)) };
}
const T0 = Date.UTC(2024, 0, 1);

function run(i: number, points: number): FakeRun {
  const runId = i.toString(16).padStart(32, '0');
  return {
    info: { run_id: runId, run_name: `run-${i}`, experiment_id: '1', user_id: 'bench', status: 'FINISHED', start_time: T0 + i, end_time: T0 + i + 1, artifact_uri: `mlflow-artifacts:/1/${runId}/artifacts`, lifecycle_stage: 'active' },
    params: [['i', String(i)]],
    tags: [['mlflow.runName', `run-${i}`]],
    datasets: [],
    metrics: new Map([['loss', Array.from({ length: points }, (_, k) => ({ step: k, timestamp: T0 + k, value: Math.sin(k / 100) + k * 1e-6 }))]]),
    artifacts: new Map(),
  };
}

const fake = await startFakeMlflow(
  {
    experiments: [{ experiment_id: '1', name: 'bench', lifecycle_stage: 'active', creation_time: T0, last_update_time: T0, artifact_location: 'mlflow-artifacts:/1', tags: [] }],
    runs: [run(0, POINTS), ...Array.from({ length: RUNS - 1 }, (_, i) => run(i + 1, 1000))],
    models: [],
  },
  { pageSizes: { runs: 1000 } },
);
const dir = mkdtempSync(path.join(os.tmpdir(), 'lablog-bench-import-'));
const { store, label, drop } = await openTarget(dir);
const artifacts = createLocalArtifactStore(path.join(dir, 'artifacts'));
const deps = { source: createSourceClient({ url: fake.url }), store, artifacts };
const opts = { experiments: [], since: null };
const total = POINTS + (RUNS - 1) * 1000;
try {
  let t = performance.now();
  const first = await importFromMlflow(deps, opts);
  const s1 = (performance.now() - t) / 1000;
  t = performance.now();
  const second = await importFromMlflow(deps, opts);
  const s2 = (performance.now() - t) / 1000;
  t = performance.now();
  const verified = await verifyFromMlflow(deps, opts);
  const s3 = (performance.now() - t) / 1000;
  console.log(`source: ${RUNS} runs, ${total} points (one run of ${POINTS}) into ${label}; node ${process.version}, ${os.cpus().length} cpus`);
  console.log(`first import:  ${first.metricPoints.created} points in ${s1.toFixed(2)} s = ${Math.round(first.metricPoints.created / s1)} points/s (fetch + parse + store)`);
  console.log(`second import: ${second.metricPoints.present} points found present, ${second.metricPoints.created} copied, in ${s2.toFixed(2)} s`);
  console.log(`verify:        ${verified.metricPoints} points compared, ${verified.mismatches.length} mismatches, in ${s3.toFixed(2)} s`);
} finally {
  await store.close();
  await drop();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
}
