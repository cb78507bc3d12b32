// The same figures on SQLite and on PostgreSQL, side by side (issue #13): log-batch ingest, runs/search
// over 2,000 and 100,000 runs, a 100,000-point get-history and the sampled read of a 1,000,000-point
// metric, each against a lablog server as users run it; then log-batch ingest with two servers on one
// PostgreSQL database, clients spread over both. `node dist/bench/postgres.js [postgres://...]` after
// `npm run build` (BENCH_QUICK=1 for reduced sizes); without a URL it starts a throwaway cluster as the
// tests do (Debian's postgresql package installed). Each server gets a fresh database.
import os from 'node:os';
import * as history from './history.js';
import * as ingestBench from './ingest.js';
import { log, machineInfo, QUICK, textTable, type Ctx, type Figure } from './lib.js';
import { startLocalServer, type LocalServer } from './local-server.js';
import { cpuNote, pgIngest } from './postgres-ingest.js';
import * as sampled from './sampled.js';
import * as search from './search.js';
import { createDatabase, dropDatabase, postgresSkip } from '../test/support/postgres.js';

const given = process.argv[2];
const databases: string[] = [];

/** A fresh database: a new one on the throwaway cluster, or the given URL (used once, then reused). */
async function freshDatabase(): Promise<string> {
  if (given) return given;
  const skip = postgresSkip();
  if (skip) throw new Error(`no PostgreSQL to benchmark: ${skip}`);
  const url = await createDatabase();
  databases.push(url);
  return url;
}

async function figuresOn(server: LocalServer): Promise<Figure[]> {
  const ctx: Ctx = { url: server.url, serverPid: server.pid };
  const out: Figure[] = [];
  for (const [name, bench] of [['ingest', ingestBench], ['search', search], ['history', history], ['sampled', sampled]] as const) {
    log(`--- ${name}`);
    out.push(...(await bench.run(ctx)).figures);
  }
  return out;
}

const show = (f: Figure | undefined) => (f?.value == null ? 'n/a' : `${f.value >= 1000 ? Math.round(f.value).toLocaleString('en-US') : f.value.toFixed(1)} ${f.unit}`);

console.log(`# lablog on SQLite and on PostgreSQL${QUICK ? ' (BENCH_QUICK=1: reduced sizes)' : ''}`);
console.log(machineInfo());
console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const results: Record<string, Figure[]> = {};
try {
  for (const backend of ['SQLite', 'PostgreSQL'] as const) {
    log(`=== ${backend}`);
    const env = backend === 'PostgreSQL' ? { LABLOG_DATABASE_URL: await freshDatabase() } : undefined;
    const server = await startLocalServer({ env });
    try {
      results[backend] = await figuresOn(server);
    } finally {
      await server.stop();
      server.cleanup();
    }
  }

  log('=== two servers on one PostgreSQL database');
  const both = await pgIngest(await freshDatabase(), 2, 8);

  const rows = results.SQLite.map((f) => [f.name, show(f), show(results.PostgreSQL.find((g) => g.id === f.id))]);
  rows.push(['log-batch ingest, 1000 pts/req, 8 clients over two servers', 'n/a (one writer)', `${Math.round(both.rate).toLocaleString('en-US')} points/s`]);
  console.log(textTable(['figure', 'SQLite', 'PostgreSQL'], rows));
  console.log(`two servers: ${both.note}; ${cpuNote(both)}`);
} finally {
  for (const url of databases) await dropDatabase(url);
}
process.exit(0);
