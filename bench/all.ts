// The whole suite: `node dist/bench/all.js [URL]`. Without URL it starts (and removes) its own lablog
// server, which adds the figures only a local server has: server CPU, RSS and disk per point.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import * as artifacts from './artifacts.js';
import * as auth from './auth.js';
import * as history from './history.js';
import * as ingest from './ingest.js';
import { log, machineInfo, markdownTable, QUICK, verdict, type Ctx, type Figure, type Outcome } from './lib.js';
import { checkpoint, serverMemory, sqliteBytes, startLocalServer, tableSizes, type LocalServer } from './local-server.js';
import * as logMetric from './log-metric.js';
import * as sampled from './sampled.js';
import * as sdk from './sdk.js';
import * as search from './search.js';
import * as sweeps from './sweeps.js';
import * as sweepsServer from './sweeps-server.js';

const MiB = 2 ** 20;

/** RSS after each benchmark, to tell which one grows the server (figure 8 is read only at the end). */
function memoryLine(ctx: Ctx): string {
  const m = ctx.serverPid ? serverMemory(ctx.serverPid) : null;
  return m ? `; server RSS ${m.rss.toFixed(0)} MiB (anon ${m.anon.toFixed(0)}, file ${m.file.toFixed(0)}), peak ${m.peak.toFixed(0)} MiB` : '';
}

async function attempt(name: string, ids: string[], ctx: Ctx, bench: { run(ctx: Ctx): Promise<Outcome> }, figures: Figure[]): Promise<number> {
  const t0 = performance.now();
  log(`--- ${name}`);
  try {
    const out = await bench.run(ctx);
    figures.push(...out.figures);
    log(`--- ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s${memoryLine(ctx)}`);
    return out.points;
  } catch (err) {
    // One broken endpoint should not hide every other figure.
    process.exitCode = 1;
    log(`--- ${name} FAILED: ${(err as Error).stack ?? err}`);
    for (const id of ids) figures.push({ id, name, value: null, unit: '', note: `FAILED: ${(err as Error).message.slice(0, 200)}` });
    return 0;
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const url = process.argv[2]?.replace(/\/+$/, '');
  console.log(`# lablog benchmarks${QUICK ? ' (BENCH_QUICK=1: reduced sizes, figures not comparable)' : ''}`);
  console.log(machineInfo());
  console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews every figure)`);
  console.log('Client: node:http, one keep-alive connection per client, loopback; client and server share the machine.');

  let server: LocalServer | null = null;
  if (!url) {
    server = await startLocalServer();
    console.log(`Server: lablog started by the suite (pid ${server.pid}, ${server.url}, data dir ${server.dataDir})`);
  } else {
    console.log(`Server: ${url} (external: no server CPU, RSS or disk figures)`);
  }
  const ctx: Ctx = { url: url ?? server!.url, serverPid: server?.pid, dataDir: server?.dataDir };
  const figures: Figure[] = [];
  const info: string[] = [];
  try {
    // First, on the fresh server: after the search seeding the server already holds ~190 MiB, and A3
    // would then measure that rather than what streaming 2 GiB adds. Figure 8 still comes last.
    await attempt('artifacts', ['A1', 'A2', 'A3', 'B'], ctx, artifacts, figures);
    info.push(
      'Artifacts (A1-A3, B): run first, on the fresh server, through PUT/GET /api/2.0/mlflow-artifacts/artifacts/0/<run_id>/artifacts/<name>, ' +
        'one connection per transfer without keep-alive; the data is an AES-CTR keystream generated while sending and sha256-hashed both ways; ' +
        'the artifacts are deleted afterwards. A3 samples VmRSS every 100 ms and takes VmHWM when it rose during the transfer. ' +
        'B shows only that no timeout shorter than its duration applies (Node\'s default requestTimeout is 300 s: BENCH_SLOW_SECONDS=310 checks that one).',
    );

    if (server) checkpoint(server.dataDir);
    const baseline = server ? sqliteBytes(server.dataDir) : 0;

    // The metric-heavy figures first, so disk growth up to here is metric points (few runs, no search seed).
    let points = 0;
    points += await attempt('ingest', ['1', '2'], ctx, ingest, figures);
    points += await attempt('log-metric', ['3', '3b'], ctx, logMetric, figures);
    points += await attempt('get-history', ['6'], ctx, history, figures);
    points += await attempt('sampled', ['7'], ctx, sampled, figures);
    points += await attempt('sdk', ['S1', 'S2'], ctx, sdk, figures);

    const disk: Figure = { id: '9', name: 'disk per stored metric point', value: null, unit: 'B/point', target: { op: '<=', value: 40 } };
    if (server) {
      checkpoint(server.dataDir);
      const grown = sqliteBytes(server.dataDir) - baseline;
      disk.value = grown / points;
      disk.note = `${(grown / MiB).toFixed(1)} MiB growth / ${points.toLocaleString('en-US')} points (method below)`;
      info.push(
        'Disk method (#9): sizes of the data dir\'s *.db and *.db-wal files, each read right after PRAGMA wal_checkpoint(TRUNCATE) ' +
          'from a second connection while the server is idle: once before the first benchmark, once after figures 1-3, 6, 7 and S1-S2 ' +
          '(which log only metric points, into a handful of runs). Growth / points those figures logged, warm-up included; ' +
          'their runs, series rows and indexes are counted. The search figures run afterwards so that their runs and params do not count.',
      );
    } else {
      disk.note = 'n/a: only measured on a server the suite started';
    }
    figures.push(disk);

    const searchPoints = await attempt('search', ['4', '5'], ctx, search, figures);
    points += searchPoints;
    // Pure computation (the sweep samplers), no server involved.
    await attempt('sweeps', ['T1', 'T2'], ctx, sweeps, figures);
    await attempt('sweeps-server', ['T3', 'T4', 'T5'], ctx, sweepsServer, figures);
    // On two servers of its own (auth off, auth on), whatever server the suite runs against.
    await attempt('auth', ['H1', 'H2', 'H3', 'H3b', 'H4'], ctx, auth, figures);
    info.push(
      'Auth (H1-H4): bench/auth.ts starts two fresh servers, LABLOG_AUTH=off and =on, and alternates rounds of log-batch ingest ' +
        '(the batch of figure 1, one client) between them, with credentials on every request for the auth-on server.',
    );

    const rss: Figure = { id: '8', name: 'server RSS after all of the above', value: null, unit: 'MiB', target: { op: '<', value: 200 } };
    const mem = server ? serverMemory(server.pid) : null;
    if (mem) {
      rss.value = mem.rss;
      rss.note = `VmRSS: anon ${mem.anon.toFixed(0)} MiB + file-backed ${mem.file.toFixed(0)} MiB (SQLite mmap counts here); peak VmHWM ${mem.peak.toFixed(0)} MiB`;
    } else {
      rss.note = 'n/a: only measured on a server the suite started';
    }
    figures.push(rss);

    if (server) {
      await server.stop();
      // A graceful close checkpoints and deletes the WAL: what is left is the data at rest.
      const all = sqliteBytes(server.dataDir);
      info.push(`Data at rest after stop: ${(all / MiB).toFixed(1)} MiB for ${points.toLocaleString('en-US')} points in all, incl. the search figures' runs with their params (${(all / points).toFixed(1)} B per point, not the figure).`);
      const sizes = tableSizes(server.dataDir);
      if (sizes) {
        info.push('Largest tables/indexes (dbstat): ' + sizes.slice(0, 8).map((t) => `${t.name} ${(t.bytes / MiB).toFixed(1)} MiB`).join(', '));
      }
    }
  } finally {
    if (server) {
      await server.stop();
      server.cleanup();
    }
  }

  const order = ['1', '2', '3', '3b', '4', '5', '6', '7', 'S1', 'S2', 'A1', 'A2', 'A3', 'B', '8', '9', 'T1', 'T2', 'T3', 'T4', 'T5', 'H1', 'H2', 'H3', 'H3b', 'H4'];
  figures.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  console.log('');
  console.log(`## Results (${new Date().toISOString().slice(0, 10)}, suite took ${((performance.now() - started) / 60000).toFixed(1)} min)`);
  console.log('');
  console.log(machineInfo());
  console.log('');
  console.log(markdownTable(figures));
  console.log('');
  console.log(`Load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; CPU % are of one core.`);
  for (const line of info) console.log(line);
  const missed = figures.filter((f) => verdict(f) === 'MISS');
  console.log(missed.length ? `Missed: ${missed.map((f) => `#${f.id}`).join(', ')}` : 'Every measured figure meets its target.');
}

await main();
