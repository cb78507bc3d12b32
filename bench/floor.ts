// How close a call to lablog comes to the wire's floor (issue #14). The floor is bench/floor-server.ts:
// a process that answers the same calls from memory (what lablog answered the first time; log-metric
// answers `{}`). The same client loops run against lablog and against the floor in one run, alternating
// in rounds, and each figure is printed as a ratio to the floor; the loops run in Node (one keep-alive
// connection) and in Python's http.client (bench/floor_client.py, what a call costs the stock client),
// when python3 is there. Ingest is compared with a bare SQLite insert loop of the same points on the same
// disk (bench/raw-sqlite.ts). `npm run build && node dist/bench/floor.js` (BENCH_QUICK=1: a short run;
// BENCH_ONLY=search,history: only those figures, of logMetric, search, history, python and ingest;
// BENCH_ONLY=ingest alone skips the search seed and the floor server).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ingest } from './ingest.js';
import { Client, createExperiment, createRun, log, logSeries, machineInfo, median, percentile, QUICK, textTable, timeLoop } from './lib.js';
import { startLocalServer } from './local-server.js';
import { rawInsertRate } from './raw-sqlite.js';
import { FILTER, MAX_RESULTS, ORDER_BY, seed } from './search.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = QUICK ? 1 : 3;
const SECONDS = QUICK ? 1 : 5;
const HISTORY_POINTS = QUICK ? 10_000 : 100_000;
const SEARCH_RUNS = QUICK ? 200 : 2_000;
const TARGETS = { logMetric: 2, search: 2, history: 1.3, ingest: 0.6 };
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
/** Whether a figure (a TARGETS key, or 'python') is measured in this run. */
const wanted = (what: keyof typeof TARGETS | 'python') => ONLY === null || ONLY.includes(what);
type Loop = 'logMetric' | 'search' | 'history';
const LOOPS = (['logMetric', 'search', 'history'] as const).filter(wanted);
/** The reads whose answers the server may keep: also timed on a server that keeps none. */
const READS = LOOPS.filter((k) => k !== 'logMetric');

interface Fixture {
  runId: string;
  searchBody: string;
  historyPath: string;
}

/** The floor server as its own process; resolves with its URL once it listens. */
function startFloor(lablogUrl: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(HERE, 'floor-server.js'), lablogUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)));
    child.stdout!.once('data', (line: Buffer) => resolve({ url: JSON.parse(line.toString()).url as string, child }));
  });
}

/** p50 (ms) of each call kind, from one Node client with one keep-alive connection. */
async function nodeLoops(url: string, f: Fixture, stepFrom: number, kinds: readonly Loop[]) {
  const wanted = (k: Loop) => kinds.includes(k);
  const c = new Client(url);
  const t0 = Date.now();
  const ok = async (p: Promise<{ status: number; body: Buffer }>, what: string) => {
    const res = await p;
    if (res.status !== 200) throw new Error(`${what} -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
  };
  let step = stepFrom;
  const logMetric = () => ok(c.raw('POST', '/api/2.0/mlflow/runs/log-metric', `{"run_id":"${f.runId}","key":"loss","value":${Math.random()},"timestamp":${t0 + step},"step":${step++}}`), 'log-metric');
  const search = () => ok(c.raw('POST', '/api/2.0/mlflow/runs/search', f.searchBody), 'search');
  const history = () => ok(c.raw('GET', f.historyPath), 'get-history');
  if (wanted('logMetric')) for (let i = 0; i < 200; i++) await logMetric();
  if (wanted('search')) for (let i = 0; i < 20; i++) await search();
  if (wanted('history')) for (let i = 0; i < 2; i++) await history();
  const out = {
    logMetric: wanted('logMetric') ? percentile(await timeLoop(logMetric, 100_000, SECONDS), 50) : NaN,
    search: wanted('search') ? percentile(await timeLoop(search, 100_000, SECONDS), 50) : NaN,
    history: wanted('history') ? percentile(await timeLoop(history, QUICK ? 5 : 40, SECONDS * 2), 50) : NaN,
  };
  c.close();
  return { ...out, steps: step - stepFrom };
}

/** The same loops from Python's http.client; null without python3. */
function pythonLoops(url: string, f: Fixture, stepFrom: number) {
  const cfg = { url, run_id: f.runId, log_metric_step0: stepFrom, search: JSON.parse(f.searchBody), history_path: f.historyPath, seconds: SECONDS, history_calls: QUICK ? 5 : 40 };
  const r = spawnSync('python3', [path.resolve(HERE, '../../bench/floor_client.py'), JSON.stringify(cfg)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error || r.status !== 0) {
    log(`python3 loops skipped: ${r.error?.message ?? r.stderr.trim().slice(0, 300)}`);
    return null;
  }
  const o = JSON.parse(r.stdout) as Record<'log_metric' | 'search' | 'history', { p50: number }>;
  return { logMetric: o.log_metric.p50, search: o.search.p50, history: o.history.p50 };
}

/**
 * The ingest rows: lablog's log-batch rate from 4 clients against the bare loop of as many points, and
 * the CPU each spends per 1,000 points (the server process, all threads; the bench process, which runs
 * the loop alone by then): on a machine shared with other work the rates follow the cores each got,
 * the CPU per point does not.
 */
async function ingestRows(ctx: { url: string; serverPid: number }, dataDir: string, experimentId: string): Promise<string[][]> {
  const ingested = await ingest(ctx, experimentId, 4);
  const cpu0 = process.cpuUsage();
  const raw = rawInsertRate(dataDir, ingested.points);
  const cpu = process.cpuUsage(cpu0);
  const rawCpuMsPer1000 = (cpu.user + cpu.system) / 1000 / (ingested.points / 1000);
  log(`raw SQLite insert loop: ${Math.round(raw).toLocaleString('en-US')} points/s`);
  const share = ingested.rate / raw;
  const rows = [[
    'log-batch ingest, 1,000 points per request, 4 clients',
    `${Math.round(ingested.rate).toLocaleString('en-US')} points/s`,
    `${Math.round(raw).toLocaleString('en-US')} points/s (bare SQLite loop)`,
    `${(share * 100).toFixed(0)} %`,
    `>= ${TARGETS.ingest * 100} %`,
    share >= TARGETS.ingest ? 'PASS' : 'MISS',
  ]];
  const mine = ingested.serverCpuMsPer1000;
  if (mine !== null) {
    rows.push(['the same, CPU per 1,000 points (server; bare loop)', ms(mine), `${ms(rawCpuMsPer1000)} (bare SQLite loop)`, `${((rawCpuMsPer1000 / mine) * 100).toFixed(0)} %`, '-', '-']);
  }
  return rows;
}

const ms = (v: number) => `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;

console.log(`# lablog against the floor${QUICK ? ' (BENCH_QUICK=1)' : ''}`);
console.log(machineInfo());
console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
// The server as deployed keeps repeated answers until the next write (LABLOG_ANSWER_CACHE_MB); a
// second server on the same data dir keeps none, so the cost of computing an answer shows beside it.
const server = await startLocalServer({ env: { LABLOG_ANSWER_CACHE_MB: '64' } });
let floor: Awaited<ReturnType<typeof startFloor>> | null = null;
let computing: Awaited<ReturnType<typeof startLocalServer>> | null = null;
try {
  const ctx = { url: server.url, serverPid: server.pid };
  if (ONLY?.length === 1 && ONLY[0] === 'ingest') {
    const c = new Client(server.url);
    const experimentId = await createExperiment(c, 'bench-floor');
    c.close();
    console.log(textTable(['figure', 'lablog', 'floor', 'ratio', 'target', 'result'], await ingestRows(ctx, server.dataDir, experimentId)));
    await server.stop();
    server.cleanup();
    process.exit(0);
  }
  const seeded = await seed(ctx, SEARCH_RUNS);
  const c = new Client(server.url);
  const experimentId = await createExperiment(c, 'bench-floor');
  const historyRun = await createRun(c, experimentId, 'history');
  await logSeries(c, historyRun, 'loss', 0, HISTORY_POINTS);
  const fixture: Fixture = {
    runId: await createRun(c, experimentId, 'log-metric'),
    searchBody: JSON.stringify({ experiment_ids: [seeded.experimentId], filter: FILTER, order_by: ORDER_BY, max_results: MAX_RESULTS }),
    historyPath: `/api/2.0/mlflow/metrics/get-history?run_id=${historyRun}&metric_key=loss`,
  };
  c.close();
  floor = await startFloor(server.url);
  if (READS.length > 0) computing = await startLocalServer({ dataDir: server.dataDir, env: { LABLOG_ANSWER_CACHE_MB: '0' } });
  log(`lablog ${server.url}, lablog keeping no answer ${computing?.url ?? '-'}, floor ${floor.url}`);

  type Loops = Awaited<ReturnType<typeof nodeLoops>>;
  const node = { lablog: [] as Loops[], computed: [] as Loops[], floor: [] as Loops[] };
  const servers = [['lablog', server.url, LOOPS], ...(computing ? [['computed', computing.url, READS] as const] : []), ['floor', floor.url, LOOPS]] as const;
  let step = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, url, kinds] of servers) {
      const got = await nodeLoops(url, fixture, step, kinds);
      step += got.steps;
      node[name].push(got);
      log(`round ${r + 1}, ${name}: ${kinds.map((k) => `${k} ${ms(got[k])}`).join(', ')}`);
    }
  }
  const py = wanted('python') ? { lablog: pythonLoops(server.url, fixture, 10_000_000), floor: pythonLoops(floor.url, fixture, 10_000_000) } : { lablog: null, floor: null };

  const rows: string[][] = [];
  const row = (name: string, mine: number, base: number, target: number) => {
    const ratio = mine / base;
    rows.push([name, ms(mine), ms(base), `${ratio.toFixed(2)}x`, `<= ${target}x`, ratio <= target ? 'PASS' : 'MISS']);
  };
  for (const [kind, name] of [['logMetric', 'runs/log-metric, one point'], ['search', `runs/search over ${SEARCH_RUNS.toLocaleString('en-US')} runs, filtered, ordered`], ['history', `metrics/get-history, ${HISTORY_POINTS.toLocaleString('en-US')} points`]] as const) {
    if (!wanted(kind)) continue;
    row(`${name} (Node client, p50)`, median(node.lablog.map((x) => x[kind])), median(node.floor.map((x) => x[kind])), TARGETS[kind]);
    if (kind !== 'logMetric' && node.computed.length > 0) {
      row(`${name}, answer computed, not kept (Node client, p50)`, median(node.computed.map((x) => x[kind])), median(node.floor.map((x) => x[kind])), TARGETS[kind]);
    }
    if (py.lablog && py.floor) row(`${name} (Python http.client, p50)`, py.lablog[kind], py.floor[kind], TARGETS[kind]);
  }
  if (wanted('ingest')) rows.push(...(await ingestRows(ctx, server.dataDir, experimentId)));
  console.log(textTable(['figure', 'lablog', 'floor', 'ratio', 'target', 'result'], rows));
} finally {
  floor?.child.kill('SIGTERM');
  // The data dir is the first server's: cleanup() below removes it.
  await computing?.stop();
  await server.stop();
  server.cleanup();
}
process.exit(0);
