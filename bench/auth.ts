// Figures H1-H4: what auth costs on the hottest path. Log-batch ingest (the batch of bench/ingest.ts:
// 1000 points per request, 10 keys x 100 steps, one client) into a server with auth off and into one
// with LABLOG_AUTH=on, credentials on every request: a Bearer token (what LABLOG_TRACKING_TOKEN and
// MLFLOW_TRACKING_TOKEN send) and Basic user:token, user:password (MLFLOW_TRACKING_USERNAME/_PASSWORD).
// Both servers are started here, side by side, the same way (whatever URL the suite was given: an
// external server's auth setting is not known); rounds alternate between them so that other work on
// the machine weighs on both alike. Target: auth on within 10 % of auth off, in throughput (H3) and in
// server CPU per request (H3b, the steadier of the two on a busy machine).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Logger, POINTS_PER_REQUEST } from './ingest.js';
import { pathToFileURL } from 'node:url';
import { Client, cpuMeter, createExperiment, log, machineInfo, markdownTable, QUICK, type Figure, type Outcome } from './lib.js';
import { startLocalServer, type LocalServer } from './local-server.js';

const ROUNDS = QUICK ? 1 : 10;
const SECONDS_PER_ROUND = QUICK ? 1 : 1.5;
const WARMUP_REQUESTS = QUICK ? 5 : 30;
const ADMIN = 'admin';

interface Mode {
  name: string;
  server: LocalServer;
  headers: Record<string, string>;
  logger?: Logger;
  requests: number;
  ms: number;
  serverCpuMs: number;
}

const signed = (v: number) => `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(0)}`;
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** A token for the admin, created as the docs say: POST /api/2.0/lablog/tokens/create with Basic admin:password. */
async function createToken(url: string, password: string): Promise<string> {
  const c = new Client(url, { authorization: basic(ADMIN, password) });
  try {
    const res = await c.postTo<{ token: { value: string } }>('/api/2.0/lablog/tokens/create', { name: 'bench-auth' });
    return res.token.value;
  } finally {
    c.close();
  }
}

/** One timed slice of ingest through `mode`'s logger. */
async function slice(mode: Mode, seconds: number, serverPid: number): Promise<void> {
  const meter = cpuMeter(serverPid);
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < deadline) {
    await mode.logger!.send();
    n++;
  }
  const cpu = meter();
  mode.requests += n;
  mode.ms += cpu.wallMs;
  mode.serverCpuMs += ((cpu.serverPct ?? 0) * cpu.wallMs) / 100;
}

export async function run(): Promise<Outcome> {
  const password = randomBytes(18).toString('base64url');
  const off = await startLocalServer({ env: { LABLOG_AUTH: 'off' } });
  let on: LocalServer | null = null;
  try {
    on = await startLocalServer({ env: { LABLOG_AUTH: 'on', LABLOG_ADMIN_USERNAME: ADMIN, LABLOG_ADMIN_PASSWORD: password } });
    const token = await createToken(on.url, password);
    const modes: Mode[] = (
      [
        { name: 'auth off', server: off, headers: {} },
        { name: 'auth on, Bearer token', server: on, headers: { authorization: `Bearer ${token}` } },
        { name: 'auth on, Basic user:token', server: on, headers: { authorization: basic(ADMIN, token) } },
        { name: 'auth on, Basic user:password', server: on, headers: { authorization: basic(ADMIN, password) } },
      ] as Pick<Mode, 'name' | 'server' | 'headers'>[]
    ).map((m) => ({ ...m, requests: 0, ms: 0, serverCpuMs: 0 }));

    for (const m of modes) {
      const setup = new Client(m.server.url, m.headers);
      const experimentId = await createExperiment(setup, 'bench-auth');
      setup.close();
      m.logger = await Logger.open(m.server.url, experimentId, m.name, m.headers);
      for (let i = 0; i < WARMUP_REQUESTS; i++) await m.logger.send();
    }
    for (let r = 0; r < ROUNDS; r++) for (const m of modes) await slice(m, SECONDS_PER_ROUND, m.server.pid);
    for (const m of modes) m.logger!.close();

    const rate = (m: Mode) => (m.requests * POINTS_PER_REQUEST) / (m.ms / 1000);
    const cpuPerRequest = (m: Mode) => (m.serverCpuMs * 1000) / m.requests; // µs of server CPU per request
    for (const m of modes) {
      log(`auth ${m.name}: ${m.requests} requests in ${(m.ms / 1000).toFixed(1)} s, ${Math.round(rate(m)).toLocaleString('en-US')} points/s, server CPU ${cpuPerRequest(m).toFixed(0)} µs/request`);
    }
    const note = (m: Mode) =>
      `${m.requests} req in ${(m.ms / 1000).toFixed(1)} s (${ROUNDS} alternating rounds); server ${cpuPerRequest(m).toFixed(0)} µs CPU/req`;
    const [base, bearer, basicToken, basicPassword] = modes;
    const figures: Figure[] = [
      { id: 'H1', name: 'log-batch ingest, 1000 pts/req, 1 client, auth off', value: rate(base), unit: 'points/s', note: note(base) },
      { id: 'H2', name: 'the same, auth on, Authorization: Bearer <token>', value: rate(bearer), unit: 'points/s', note: note(bearer) },
      {
        id: 'H3',
        name: 'auth on (Bearer) / auth off',
        value: (100 * rate(bearer)) / rate(base),
        unit: '%',
        target: { op: '>=', value: 90 },
        note: `server CPU per request ${signed(cpuPerRequest(bearer) - cpuPerRequest(base))} µs with auth`,
      },
      {
        id: 'H3b',
        name: 'server CPU per log-batch request, auth on (Bearer) / auth off',
        value: (100 * cpuPerRequest(bearer)) / cpuPerRequest(base),
        unit: '%',
        target: { op: '<=', value: 110 },
        note: `${cpuPerRequest(bearer).toFixed(0)} vs ${cpuPerRequest(base).toFixed(0)} µs; steadier than H3 when the machine is busy`,
      },
      {
        id: 'H4',
        name: 'auth on, Basic user:token / user:password, vs auth off',
        value: (100 * Math.min(rate(basicToken), rate(basicPassword))) / rate(base),
        unit: '%',
        note: `user:token ${((100 * rate(basicToken)) / rate(base)).toFixed(0)} %, user:password ${((100 * rate(basicPassword)) / rate(base)).toFixed(0)} % (the lower is the figure)`,
      },
    ];
    const points = modes.reduce((sum, m) => sum + (m.requests + WARMUP_REQUESTS) * POINTS_PER_REQUEST, 0);
    return { figures, points };
  } finally {
    await Promise.all([off.stop(), on?.stop()]);
    off.cleanup();
    on?.cleanup();
  }
}

// `node dist/bench/auth.js`: it always starts its own two servers, so it takes no URL.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(machineInfo());
  console.log(markdownTable((await run()).figures));
}
