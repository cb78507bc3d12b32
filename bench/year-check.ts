/**
 * Measures lablog on a data dir that bench/year.ts filled: start-up and restart after SIGKILL,
 * runs/search over one big experiment and over all of them, the web UI's runs table first screen,
 * a streamed get-history of the longest series with the server's memory watched, the sampled read of
 * series of several lengths, and the server's RSS throughout. Prints a table against the targets.
 *
 *   npm run build && node dist/bench/year-check.js DIR [--only start,search,ui,history,sampled]
 *
 * The server is the built one (dist/server/main.js, with npm start's node flags), on DIR itself; the
 * restarts after SIGKILL need writes in flight, so they leave one experiment "year-check scratch" in it.
 * Server flags such as --cpu-prof go in BENCH_SERVER_NODE_ARGS.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import { API, cliArg, Client, cpuMeter, type CpuReading, machineInfo, markdownTable, percentile, serverCpuMs, timeLoop, type Figure } from './lib.js';
import { sqliteBytes, startLocalServer, type LocalServer } from './local-server.js';
import { killWithWritesInFlight } from './kill-in-flight.js';
import { MANIFEST, type Manifest } from './year-manifest.js';
import { RssWatch, runsPageFirstScreen, streamHistory } from './year-probes.js';

const dir = process.argv[2];
if (!dir || dir.startsWith('--')) {
  console.error('usage: node dist/bench/year-check.js DIR [--only start,search,ui,history,sampled]');
  process.exit(2);
}
const onlyArg = cliArg('only');
const only = onlyArg === undefined ? null : new Set(onlyArg.split(','));
const wanted = (part: string) => only === null || only.has(part);
const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
const n = (v: number) => v.toLocaleString('en-US');
const figures: Figure[] = [];
const watches: RssWatch[] = [];
const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');

/** CPU the server processes used until they answered /health, in start order. */
const startCpu: number[] = [];

async function start(timeoutMs?: number): Promise<LocalServer> {
  const server = await startLocalServer({ dataDir: dir, pollMs: 5, timeoutMs });
  startCpu.push(serverCpuMs(server.pid) ?? NaN);
  watches.push(new RssWatch(server.pid));
  return server;
}

/** Writes in flight, SIGKILL, then a start: the time the server needs to recover. */
async function restartAfterKill(server: LocalServer): Promise<LocalServer> {
  await killWithWritesInFlight(server);
  return start();
}

async function startFigures(): Promise<LocalServer> {
  // The first start on a data dir written by an older lablog runs its pending migrations.
  const first = await start(3_600_000);
  const starts: number[] = [];
  await first.stop();
  for (let i = 0; i < 5; i++) {
    const s = await start();
    starts.push(s.startMs);
    await s.stop();
  }
  const cpu = percentile(startCpu.slice(1), 50);
  let server = await start();
  const restarts: number[] = [];
  for (let i = 0; i < 3; i++) {
    server = await restartAfterKill(server);
    restarts.push(server.startMs);
  }
  figures.push(
    { id: 'Y1', name: 'start-up, spawn to /health 200 (median of 5)', value: percentile(starts, 50), unit: 'ms', target: { op: '<', value: 1000 }, note: `each: ${ms(starts)} ms, using ${cpu.toFixed(0)} ms of CPU (median); the first start on this dir (with any pending migrations): ${first.startMs.toFixed(0)} ms; page cache warm` },
    { id: 'Y2', name: 'restart after SIGKILL with writes in flight, to /health 200 (worst of 3)', value: Math.max(...restarts), unit: 'ms', target: { op: '<', value: 1000 }, note: `each: ${ms(restarts)} ms` },
  );
  return server;
}

/** The meter's note, with the server's CPU time per call: on a busy machine, what the server itself spent. */
function perCall(r: CpuReading, calls: number): string {
  const server = r.serverPct === null ? '' : `server CPU ${((r.serverPct / 100) * r.wallMs / calls).toFixed(1)} ms per call; `;
  return server + r.note;
}

interface Search {
  name: string;
  filter: string;
  order: string;
  /** Whether a returned run satisfies the filter, and the value it is ordered by. */
  matches: (p: Map<string, string>, m: Map<string, number>) => boolean;
  by: (m: Map<string, number>) => number;
  descending: boolean;
}

const SEARCHES: Search[] = [
  {
    name: 'selective (~2 % of runs)',
    filter: "params.optimizer = 'adam' AND metrics.val_acc > 0.9",
    order: 'metrics.test_acc DESC',
    matches: (p, m) => p.get('optimizer') === 'adam' && (m.get('val_acc') ?? 0) > 0.9,
    by: (m) => m.get('test_acc')!,
    descending: true,
  },
  {
    name: 'broad (~26 % of runs)',
    filter: "params.precision = 'bf16' AND metrics.val_acc > 0.6",
    order: 'metrics.test_loss ASC',
    matches: (p, m) => p.get('precision') === 'bf16' && (m.get('val_acc') ?? 0) > 0.6,
    by: (m) => m.get('test_loss')!,
    descending: false,
  },
];

type WireRun = { data: { params?: { key: string; value: string }[]; metrics?: { key: string; value: number }[] } };

/** A page is right when every run matches and the order holds (NaN values sort last, as MLflow does). */
function checkPage(body: Buffer, s: Search): { count: number; problem: string } {
  const runs = (JSON.parse(body.toString()) as { runs?: WireRun[] }).runs ?? [];
  let prev: number | null = null;
  for (const r of runs) {
    const p = new Map((r.data.params ?? []).map((x) => [x.key, x.value]));
    const m = new Map((r.data.metrics ?? []).map((x) => [x.key, typeof x.value === 'number' ? x.value : NaN]));
    if (!s.matches(p, m)) return { count: runs.length, problem: 'a run that does not match the filter' };
    const v = s.by(m);
    if (prev !== null && !Number.isNaN(v) && (Number.isNaN(prev) || (s.descending ? v > prev : v < prev))) return { count: runs.length, problem: 'runs out of order' };
    prev = v;
  }
  return { count: runs.length, problem: '' };
}

async function searchFigures(url: string, pid: number): Promise<void> {
  const scopes = [
    { ids: [manifest.big.experimentId], what: `one experiment (${n(manifest.big.runs)} runs)`, target: 50 },
    { ids: manifest.experimentIds, what: `all ${manifest.experimentIds.length} experiments (${n(manifest.runs)} runs)`, target: 200 },
  ];
  const c = new Client(url);
  for (const scope of scopes) {
    for (const s of SEARCHES) {
      const body = JSON.stringify({ experiment_ids: scope.ids, filter: s.filter, order_by: [s.order], max_results: 100 });
      let last: Buffer = Buffer.alloc(0);
      const once = async () => {
        const res = await c.raw('POST', `${API}/runs/search`, body);
        if (res.status !== 200) throw new Error(`runs/search -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
        last = res.body;
      };
      for (let i = 0; i < 3; i++) await once();
      const meter = cpuMeter(pid);
      const lat = await timeLoop(once, 40, 20);
      const cpu = perCall(meter(), lat.length);
      const { count, problem } = checkPage(last, s);
      figures.push({
        id: `Y3${figures.filter((f) => f.id.startsWith('Y3')).length + 1}`,
        name: `runs/search p50, ${scope.what}, ${s.name}, order by metric, 100 results`,
        value: percentile(lat, 50),
        unit: 'ms',
        target: { op: '<', value: scope.target },
        note: `p95 ${percentile(lat, 95).toFixed(1)} ms, ${lat.length} queries, ${count} runs on the page; \`${s.filter}\` by ${s.order}; ${cpu}${problem ? `; WRONG ANSWER: ${problem}` : ''}`,
      });
    }
  }
  c.close();
}

async function uiFigures(url: string): Promise<void> {
  const scopes = [
    { ids: [manifest.big.experimentId], what: `one experiment (${n(manifest.big.runs)} runs)` },
    { ids: manifest.experimentIds, what: `all ${manifest.experimentIds.length} experiments` },
  ];
  for (const [k, scope] of scopes.entries()) {
    await runsPageFirstScreen(url, scope.ids);
    const times: number[] = [];
    let runs = 0;
    for (let i = 0; i < 7; i++) {
      const r = await runsPageFirstScreen(url, scope.ids);
      times.push(r.ms);
      runs = r.runs;
    }
    const requests = 3 + Math.min(5, scope.ids.length) + Math.min(20, scope.ids.length);
    figures.push({ id: `Y4${'ab'[k]}`, name: `web UI runs table, first screen's API calls, ${scope.what} (median of 7)`, value: percentile(times, 50), unit: 'ms', target: { op: '<', value: 1000 }, note: `${requests} requests, 6 connections, as the runs page makes them; ${runs} runs on the first page` });
  }
}

/** The largest RSS rise over `times` streamed reads of a series (the first, which starts the JSON worker, not counted). */
async function historyRise(url: string, watch: RssWatch, s: { runId: string; key: string }, times: number) {
  const reads: Awaited<ReturnType<typeof streamHistory>>[] = [];
  let rise = 0;
  for (let i = 0; i <= times; i++) {
    await sleep(200);
    const before = watch.sample();
    watch.peak = before;
    const got = await streamHistory(url, s.runId, s.key);
    if (i > 0) {
      reads.push(got);
      rise = Math.max(rise, watch.peak - before);
    }
  }
  return { reads, rise };
}

async function historyFigures(url: string, pid: number): Promise<void> {
  const longest = manifest.series[manifest.series.length - 1];
  const shorter = manifest.series[manifest.series.length - 2];
  const watch = new RssWatch(pid, 5);
  watches.push(watch);
  const small = await historyRise(url, watch, shorter, 3);
  const { reads, rise } = await historyRise(url, watch, longest, 3);
  const got = reads[reads.length - 1];
  const mib = got.bytes / 2 ** 20;
  const problem = got.points === longest.points ? '' : `; WRONG ANSWER: ${n(got.points)} points`;
  figures.push(
    { id: 'Y5', name: `metrics/get-history, ${n(longest.points)}-point series, whole answer (median of 3)`, value: percentile(reads.map((r) => r.ms), 50), unit: 'ms', note: `${mib.toFixed(1)} MiB, first byte after ${got.firstByteMs.toFixed(0)} ms${problem}` },
    {
      id: 'Y5b',
      name: `server RSS rise during that get-history (flat: < 32 MiB, well under the ${mib.toFixed(0)} MiB answer)`,
      value: rise,
      unit: 'MiB',
      target: { op: '<', value: 32 },
      note: `peak during a read minus RSS just before, sampled every 5 ms, worst of 3 after a first read; the same for the ${n(shorter.points)}-point series: ${small.rise.toFixed(1)} MiB`,
    },
  );
}

async function sampledFigures(url: string, pid: number): Promise<void> {
  const c = new Client(url);
  for (const s of manifest.series) {
    const path = `/api/2.0/lablog/metrics/sampled?run_ids=${s.runId}&keys=${s.key}&x=step&buckets=1000`;
    let last: Buffer = Buffer.alloc(0);
    const once = async () => {
      const res = await c.raw('GET', path);
      if (res.status !== 200) throw new Error(`sampled -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
      last = res.body;
    };
    for (let i = 0; i < 3; i++) await once();
    const meter = cpuMeter(pid);
    const lat = await timeLoop(once, 60, 10);
    const cpu = perCall(meter(), lat.length);
    const counts = (JSON.parse(last.toString()) as { series: { count: number[] }[] }).series[0]?.count ?? [];
    const total = counts.reduce((a, b) => a + b, 0);
    const problem = total === s.points ? '' : `; WRONG ANSWER: buckets hold ${n(total)} points`;
    figures.push({ id: `Y6${'abcdefg'[figures.filter((f) => f.id.startsWith('Y6')).length]}`, name: `lablog metrics/sampled p50, ${n(s.points)}-point series, 1000 buckets`, value: percentile(lat, 50), unit: 'ms', target: { op: '<', value: 20 }, note: `p95 ${percentile(lat, 95).toFixed(1)} ms, ${lat.length} calls, ${counts.length} buckets; ${cpu}${problem}` });
  }
  c.close();
}

console.log(machineInfo());
console.log(
  `data dir ${dir}: the year at scale ${manifest.scale} (seed ${manifest.seed}): ${manifest.experimentIds.length} experiments, ${n(manifest.runs)} runs, ` +
    `${n(manifest.points)} metric points, ${n(manifest.artifacts)} artifacts; database ${(sqliteBytes(dir) / 2 ** 30).toFixed(2)} GiB`,
);
console.log(`load average at the start: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (${os.availableParallelism()} cores)`);
const server = wanted('start') ? await startFigures() : await start(3_600_000);
try {
  if (wanted('search')) await searchFigures(server.url, server.pid);
  if (wanted('ui')) await uiFigures(server.url);
  if (wanted('history')) await historyFigures(server.url, server.pid);
  if (wanted('sampled')) await sampledFigures(server.url, server.pid);
} finally {
  for (const w of watches) w.stop();
  await server.stop();
}
const peak = watches.reduce((a, w) => (w.peak > a.peak ? w : a));
figures.push({ id: 'Y7', name: 'server RSS, highest seen throughout', value: peak.peak, unit: 'MiB', target: { op: '<', value: 300 }, note: `${peak.peakAnon.toFixed(0)} MiB of it anonymous (the rest file-backed pages of the database)` });
console.log(`\n${markdownTable(figures)}`);
console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (${os.availableParallelism()} cores)`);
