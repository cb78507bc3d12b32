/**
 * Fills a lablog data dir with a synthetic year of a 20-person team (bench/year-plan.ts): at scale 1,
 * 200 experiments, 1,000,000 runs of 50 params and 20 metric keys, 100,000,000 metric points (series of
 * 1 to 1,000,000 points), 1,000,000 artifacts and the runs' tags. Measure it with bench/year-check.ts.
 *
 *   npm run build && node dist/bench/year.js --data-dir DIR [--scale F] [--seed N]
 *
 * It writes in-process through the TrackingStore the server opens on a data dir (openSqliteStore with
 * the server's options), not over HTTP: the import path (importRun, replaceMetricHistory), which stores
 * a series in the layout appends leave. Runs are written in batches, each batch one transaction, and
 * DIR/bench-year.progress.json records the batches done: killed, it is started again with the same
 * command and carries on (a batch cut short is written again, identically). Artifacts are files under
 * DIR/artifacts, as the server keeps them, created sparse: their sizes are real, their bytes take no disk.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { openSqliteStore } from '../server/store/sqlite/index.js';
import { sqliteBytes } from './local-server.js';
import { cliArg, machineInfo } from './lib.js';
import { CURVE_KEYS, lengthHistogram, makePlan, SUMMARY_KEYS, type Plan } from './year-plan.js';
import type { ArtifactBatch } from './year-artifacts.js';
import { experimentTraits, runContent } from './year-runs.js';
import { MANIFEST, type Manifest, sampleSeries } from './year-manifest.js';

const PROGRESS = 'bench-year.progress.json';
/** A batch (one transaction) ends after this many points or runs, whichever comes first. */
const BATCH_POINTS = 200_000;
const BATCH_RUNS = 500;
/** The generator's page cache: the indexes being filled stay in memory (the server keeps its own 16 MB). */
const CACHE_KIB = 1 << 20;

const dataDir = cliArg('data-dir');
const scale = Number(cliArg('scale') ?? 1);
const seed = Number(cliArg('seed') ?? 1);
if (!dataDir || !(scale > 0 && scale <= 1) || !Number.isInteger(seed)) {
  console.error('usage: node dist/bench/year.js --data-dir DIR [--scale F (0 < F <= 1)] [--seed N]');
  process.exit(2);
}

const writeJson = (file: string, value: unknown) => {
  writeFileSync(`${file}.tmp`, JSON.stringify(value, null, 1));
  renameSync(`${file}.tmp`, file);
};

const rate = (n: number, ms: number) => Math.round((n * 1000) / Math.max(ms, 1)).toLocaleString('en-US');
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

async function main(plan: Plan): Promise<void> {
  mkdirSync(dataDir!, { recursive: true });
  const manifestFile = path.join(dataDir!, MANIFEST);
  const progressFile = path.join(dataDir!, PROGRESS);
  let manifest: Manifest | null = existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest) : null;
  if (manifest && (manifest.seed !== seed || manifest.scale !== scale)) {
    throw new Error(`${dataDir} holds the year of --seed ${manifest.seed} --scale ${manifest.scale}; use another data dir`);
  }
  const store = openSqliteStore(dataDir!, { backgroundCheckpoints: true });
  store.db.pragma(`cache_size = -${CACHE_KIB}`);
  try {
    const traits = Array.from({ length: plan.experiments }, (_, e) => experimentTraits(plan, e));
    if (!manifest) {
      const ids: string[] = [];
      for (const t of traits) {
        const first = plan.startOf[plan.runsOf[t.index][0]];
        const created = await store.importExperiment({
          name: t.name,
          lifecycleStage: 'active',
          creationTime: first - 3_600_000,
          lastUpdateTime: first - 3_600_000,
          tags: [
            { key: 'mlflow.note.content', value: `${t.model} on ${t.dataset}, owned by ${t.owner}.` },
            { key: 'team', value: 'research' },
          ],
        });
        ids.push(created.experimentId);
      }
      manifest = { seed, scale, experimentIds: ids, ...sampleSeries(plan, traits, ids) };
      writeJson(manifestFile, manifest);
    }
    const ids = manifest.experimentIds;
    let next = existsSync(progressFile) ? (JSON.parse(readFileSync(progressFile, 'utf8')) as { nextRun: number }).nextRun : 0;
    if (next > 0) console.log(`resuming at run ${next.toLocaleString('en-US')} of ${plan.runs.toLocaleString('en-US')}`);

    const t0 = performance.now();
    const first = next;
    let points = 0;
    let artifacts = 0;
    let lastReport = t0;
    const writer = new Worker(new URL('./year-artifacts.js', import.meta.url));
    let filed = next;
    const allFiled = new Promise<void>((resolve, reject) => {
      writer.on('message', (n: number) => (filed = n) === plan.runs && resolve());
      writer.on('error', reject);
    });
    while (next < plan.runs) {
      const batch: ArtifactBatch = { dataDir: dataDir!, progressFile, nextRun: 0, runs: [] };
      let batchPoints = 0;
      // Each store call is its own transaction; inside this one they become savepoints, so a batch
      // costs one commit instead of one per series (20 per run).
      store.db.exec('BEGIN');
      try {
        while (next < plan.runs && batch.runs.length < BATCH_RUNS && batchPoints < BATCH_POINTS) {
          const e = plan.expOf[next];
          const c = runContent(plan, next, traits[e], ids[e]);
          const imported = await store.importRun(c.run);
          for (const s of c.series) {
            await store.replaceMetricHistory(c.run.runUuid, s.key, s.points);
            batchPoints += s.points.values.length;
          }
          batch.runs.push({ artifactUri: imported.artifactUri, list: c.artifacts });
          artifacts += c.artifacts.length;
          next++;
        }
        store.db.exec('COMMIT');
      } catch (err) {
        if (store.db.inTransaction) store.db.exec('ROLLBACK');
        throw err;
      }
      batch.nextRun = next;
      writer.postMessage(batch);
      points += batchPoints;
      // A turn of the event loop: the checkpointer thread's requests are answered between batches.
      await turn();
      const now = performance.now();
      if (now - lastReport > 15_000 || next === plan.runs) {
        lastReport = now;
        const done = next - first;
        const eta = ((plan.runs - next) * (now - t0)) / Math.max(done, 1) / 60_000;
        console.log(
          `${next.toLocaleString('en-US')} runs (${((100 * next) / plan.runs).toFixed(1)} %), ${rate(done, now - t0)} runs/s, ` +
            `${rate(points, now - t0)} points/s, db ${gib(sqliteBytes(dataDir!))}, artifacts filed to run ${filed.toLocaleString('en-US')}, ` +
            `${((now - t0) / 60_000).toFixed(1)} min, about ${eta.toFixed(0)} min to go`,
        );
      }
    }
    const dbMs = performance.now() - t0;
    if (first < plan.runs) await allFiled;
    await writer.terminate();
    const ms = performance.now() - t0;
    console.log(`\nwrote ${(next - first).toLocaleString('en-US')} runs, ${points.toLocaleString('en-US')} points, ${artifacts.toLocaleString('en-US')} artifacts in ${(ms / 60_000).toFixed(1)} min`);
    console.log(`ingest: ${rate(next - first, ms)} runs/s, ${rate(points, ms)} points/s (the database writes alone: ${rate(next - first, dbMs)} runs/s; the artifact files were written beside them)`);
  } finally {
    // Folds the WAL into the database file, so its size below is the stored data.
    await store.close();
  }
  const du = (dir: string) => Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]) * 1024;
  const art = path.join(dataDir!, 'artifacts');
  console.log(`disk: database ${gib(sqliteBytes(dataDir!))}, artifacts ${existsSync(art) ? gib(du(art)) : '0'} on disk, data dir ${gib(du(dataDir!))} in all`);
}

console.log(machineInfo());
const tp = performance.now();
const plan = makePlan(seed, scale);
let planned = plan.runs * SUMMARY_KEYS.length;
for (const l of plan.curveLength) planned += l;
console.log(
  `year at scale ${scale} (seed ${seed}): ${plan.experiments} experiments, ${plan.runs.toLocaleString('en-US')} runs, ` +
    `${planned.toLocaleString('en-US')} points, ${plan.artifacts.toLocaleString('en-US')} artifacts (planned in ${((performance.now() - tp) / 1000).toFixed(1)} s)`,
);
console.log(`series by length (${CURVE_KEYS.length} curves and ${SUMMARY_KEYS.length} final metrics per run): ${lengthHistogram(plan.curveLength, plan.runs * SUMMARY_KEYS.length)}`);
await main(plan);
