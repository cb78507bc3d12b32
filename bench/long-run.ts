// Long runs: a week of logging in one run (10,000,000 points of one metric, 1,000 metric keys), read
// back: the sampled curve of the long series, and its full history streamed over HTTP to a client that
// drains it, with the server's RSS sampled meanwhile. `node dist/bench/long-run.js [--points=N]
// [--keys=K]` after `npm run build`. The run is written through the store's bulk path (what an import
// uses) into a fresh data dir before the server starts on it; logging 10M points over HTTP would only
// measure ingest again.
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSqliteStore } from '../server/store/sqlite/index.js';
import { Client, log, machineInfo, percentile, textTable } from './lib.js';
import { serverMemory, startLocalServer } from './local-server.js';

const flags = new Map(process.argv.slice(2).map((a) => /^--([a-z]+)=(\d+)$/.exec(a)).filter((m) => m !== null).map((m) => [m![1], Number(m![2])]));
const POINTS = flags.get('points') ?? 10_000_000;
const KEYS = flags.get('keys') ?? 1000;
/** Points of each of the run's other keys (an eval metric every so many steps). */
const OTHER_POINTS = 1000;
const WEEK_MS = 7 * 24 * 3600 * 1000;
const T0 = 1_700_000_000_000;

function series(n: number, every: number) {
  const steps = new Float64Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    steps[i] = i * every;
    timestamps[i] = T0 + Math.floor(((i * every) / POINTS) * WEEK_MS);
    values[i] = 2 / (1 + (i * every) / 1e5) + 0.05 * Math.sin(i);
  }
  return { steps, timestamps, values };
}

async function fill(dataDir: string): Promise<string> {
  const store = openSqliteStore(dataDir);
  const experimentId = await store.createExperiment({ name: 'long-run', artifactLocation: null, tags: [], now: T0 });
  const runUuid = 'f'.repeat(32);
  await store.createRun({ runUuid, experimentId, userId: 'bench', runName: 'a-week', startTime: T0, tags: [], artifactUri: (loc) => `${loc}/${runUuid}/artifacts` });
  let t = performance.now();
  await store.replaceMetricHistory(runUuid, 'loss', series(POINTS, 1));
  log(`long-run: stored ${POINTS.toLocaleString('en-US')} points of 'loss' in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  for (let k = 1; k < KEYS; k++) await store.replaceMetricHistory(runUuid, `metric_${k}`, series(OTHER_POINTS, Math.floor(POINTS / OTHER_POINTS)));
  log(`long-run: stored ${KEYS - 1} more keys of ${OTHER_POINTS} points in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await store.close();
  return runUuid;
}

/** Drains the whole answer, counting its points (one `}` each, plus the body's own). */
function drainHistory(base: string, p: string): Promise<{ status: number; bytes: number; points: number }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: p }, (res) => {
        let bytes = 0;
        let braces = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          for (let i = c.indexOf(0x7d); i >= 0; i = c.indexOf(0x7d, i + 1)) braces++;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, points: braces - 1 }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  console.log(machineInfo());
  console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lablog-long-run-'));
  const runId = await fill(dataDir);
  const server = await startLocalServer({ dataDir });
  try {
    const c = new Client(server.url);
    const sampledPath = `/api/2.0/lablog/metrics/sampled?run_ids=${runId}&keys=loss&buckets=1000`;
    let last = await c.raw('GET', sampledPath);
    for (let i = 0; i < 5; i++) last = await c.raw('GET', sampledPath);
    const lat: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      last = await c.raw('GET', sampledPath);
      lat.push(performance.now() - t);
    }
    const counts = (JSON.parse(last.body.toString()) as { series: { count: number[] }[] }).series[0].count;
    const covered = counts.reduce((a, b) => a + b, 0);
    const runLat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const r = await c.raw('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`);
      if (r.status !== 200) throw new Error(`runs/get -> HTTP ${r.status}`);
      runLat.push(performance.now() - t);
    }
    c.close();

    const before = serverMemory(server.pid);
    let peak = before;
    const sampler = setInterval(() => {
      const m = serverMemory(server.pid);
      if (m && (!peak || m.rss > peak.rss)) peak = m;
    }, 50);
    const t = performance.now();
    const streamed = await drainHistory(server.url, `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`);
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    const after = serverMemory(server.pid);
    const mib = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(0)} MiB`);
    const rows = [
      [`lablog metrics/sampled, ${POINTS.toLocaleString('en-US')}-point series, 1000 buckets`, `p50 ${percentile(lat, 50).toFixed(1)} ms, p95 ${percentile(lat, 95).toFixed(1)} ms`, `${counts.length} buckets covering ${covered.toLocaleString('en-US')} points${covered === POINTS ? '' : ' - WRONG'}`],
      [`runs/get of the run (${KEYS} metric keys)`, `p50 ${percentile(runLat, 50).toFixed(1)} ms`, ''],
      [
        `metrics/get-history, all ${POINTS.toLocaleString('en-US')} points, drained`,
        `${seconds.toFixed(1)} s, ${(streamed.bytes / 2 ** 20 / seconds).toFixed(0)} MiB/s`,
        `${(streamed.bytes / 2 ** 20).toFixed(0)} MiB, ${streamed.points.toLocaleString('en-US')} points${streamed.status === 200 && streamed.points === POINTS ? '' : ` - WRONG (HTTP ${streamed.status})`}`,
      ],
      [
        'server RSS: before the stream / peak during / after',
        `${mib(before?.rss)} / ${mib(peak?.rss)} / ${mib(after?.rss)}`,
        `sampled every 50 ms; anon ${mib(before?.anon)} / ${mib(peak?.anon)} / ${mib(after?.anon)}, file ${mib(before?.file)} / ${mib(peak?.file)} / ${mib(after?.file)}`,
      ],
    ];
    console.log(textTable(['figure', 'measured', 'notes'], rows));
  } finally {
    await server.stop();
    server.cleanup();
  }
}

await main();
