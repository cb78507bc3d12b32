/**
 * Start-up and restart after a crash, each as a user (or a supervisor) sees it: from spawning the
 * built server (dist/server/main.js with `npm start`'s node flags) to its first 200 from /health, with
 * the CPU the server used until then beside it (on a shared machine the wall time also measures the
 * neighbours; the CPU does not).
 *
 *   npm run build && node dist/bench/startup.js [--runs N] [--data-dir DIR] [--main OTHER/dist/server/main.js]
 *
 * Starts: N starts and SIGTERMs on the data dir (a fresh one unless --data-dir; the first start, which
 * creates or migrates the database, is not counted). Restarts: N times, writes in flight, SIGKILL, start
 * (bench/kill-in-flight.ts, as bench/year-check.ts does them). --main measures another build the same
 * way, e.g. main's checkout, for a before/after on the same machine at the same load.
 */
import os from 'node:os';
import { killWithWritesInFlight } from './kill-in-flight.js';
import { cliArg, machineInfo, percentile, serverCpuMs } from './lib.js';
import { startLocalServer, type LocalServer } from './local-server.js';

const runs = Number(cliArg('runs') ?? 7);
const main = cliArg('main');
const given = cliArg('data-dir');
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function start(dataDir?: string): Promise<{ server: LocalServer; ms: number; cpu: number }> {
  const server = await startLocalServer({ dataDir, pollMs: 5, main, timeoutMs: 3_600_000 });
  return { server, ms: server.startMs, cpu: serverCpuMs(server.pid) ?? NaN };
}

const line = (what: string, xs: { ms: number; cpu: number }[], summary: 'median' | 'worst') => {
  const wall = xs.map((x) => x.ms);
  const figure = summary === 'median' ? percentile(wall, 50) : Math.max(...wall);
  return `${what}: ${figure.toFixed(0)} ms (${summary} of ${xs.length}), CPU median ${percentile(xs.map((x) => x.cpu), 50).toFixed(0)} ms; each: ${xs.map((x) => `${x.ms.toFixed(0)}/${x.cpu.toFixed(0)}`).join(', ')} ms wall/CPU`;
};

console.log(machineInfo());
console.log(`server: ${main ?? 'this build'}; load average at start: ${load()}`);
const first = await start(given);
const dataDir = first.server.dataDir;
await first.server.stop();
const starts = [];
for (let i = 0; i < runs; i++) {
  const s = await start(dataDir);
  starts.push(s);
  await s.server.stop();
}
console.log(line('start-up, spawn to /health 200', starts, 'median'));
let server = (await start(dataDir)).server;
const restarts = [];
for (let i = 0; i < runs; i++) {
  await killWithWritesInFlight(server);
  const s = await start(dataDir);
  restarts.push(s);
  server = s.server;
}
await server.stop();
console.log(line('restart after SIGKILL with writes in flight, to /health 200', restarts, 'worst'));
console.log(`load average at end: ${load()}`);
if (!given) server.cleanup();
