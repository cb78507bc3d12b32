// The PostgreSQL ingest figures of bench/postgres.ts alone, so a change to the store can be measured in
// a minute: log-batch ingest (1,000 points per request) with 4 clients on one server and with 8 clients
// over two servers, each on a fresh database. Beside points/s it gives the CPU seconds PostgreSQL's
// processes and the lablog servers spent per million points, which other load on the machine moves
// much less than points/s. `node dist/bench/postgres-ingest.js [postgres://...]` after `npm run build`
// (BENCH_QUICK=1 for reduced sizes); without a URL it starts a throwaway cluster as the tests do.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { ingest } from './ingest.js';
import { Client, createExperiment, log, machineInfo, parentPid, treeCpuMs } from './lib.js';
import { startLocalServer } from './local-server.js';
import { createDatabase, dropDatabase, postgresSkip } from '../test/support/postgres.js';

export interface PgIngest {
  rate: number;
  points: number;
  /** CPU seconds per million points stored (warm-up included), or null where /proc cannot tell. */
  pgCpu: number | null;
  nodeCpu: number | null;
  note: string;
}

/** The postmaster's pid when the database runs on this machine (a backend's parent), else null. */
async function postmasterPid(url: string): Promise<number | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    return parentPid(backend);
  } finally {
    await client.end();
  }
}

/** `clients` loggers spread over `servers` lablog servers on the database at `url`. */
export async function pgIngest(url: string, servers: number, clients: number): Promise<PgIngest> {
  const started = await Promise.all(Array.from({ length: servers }, () => startLocalServer({ env: { LABLOG_DATABASE_URL: url } })));
  try {
    const setup = new Client(started[0].url);
    const experimentId = await createExperiment(setup, `bench-pg-ingest-${servers}`);
    setup.close();
    const postmaster = await postmasterPid(url);
    const cpu = () => {
      const pgMs = postmaster === null ? null : treeCpuMs(postmaster);
      const nodeMs = started.map((s) => treeCpuMs(s.pid));
      return { pgMs, nodeMs: nodeMs.includes(null) ? null : (nodeMs as number[]).reduce((a, b) => a + b, 0) };
    };
    const before = cpu();
    const ctx = { url: started[0].url, serverPid: servers === 1 ? started[0].pid : undefined };
    const out = await ingest(ctx, experimentId, clients, started.map((s) => s.url));
    const after = cpu();
    const perMillion = (a: number | null, b: number | null) => (a === null || b === null ? null : (b - a) / 1000 / (out.points / 1e6));
    return { rate: out.rate, points: out.points, pgCpu: perMillion(before.pgMs, after.pgMs), nodeCpu: perMillion(before.nodeMs, after.nodeMs), note: out.note };
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    started.forEach((s) => s.cleanup());
  }
}

export const cpuNote = (r: PgIngest) =>
  `CPU per million points: PostgreSQL ${r.pgCpu === null ? 'n/a' : `${r.pgCpu.toFixed(1)} s`}, lablog ${r.nodeCpu === null ? 'n/a' : `${r.nodeCpu.toFixed(1)} s`}`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const given = process.argv[2];
  console.log(machineInfo());
  console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (!given && postgresSkip()) throw new Error(`no PostgreSQL to benchmark: ${postgresSkip()}`);
  for (const [servers, clients] of [[1, 4], [2, 8]] as const) {
    const url = given ?? (await createDatabase());
    try {
      const r = await pgIngest(url, servers, clients);
      log(`${servers} server(s), ${clients} clients: ${Math.round(r.rate).toLocaleString('en-US')} points/s; ${cpuNote(r)}; ${r.note}`);
    } finally {
      if (!given) await dropDatabase(url);
    }
  }
  console.log(`Load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  process.exit(0);
}
