/**
 * A before/after of log-batch ingest that a shared machine cannot blur: servers of two or more builds
 * (or node flags) run side by side, each with 4 clients of its own, and take turns in short rounds,
 * so whatever else the machine does weighs on all of them alike. Prints, per server, the median over
 * rounds of its CPU per 1,000 points and of its rate. On the 2-core development machine one build's
 * CPU per 1,000 points moved by ±20 % between whole `floor.js` runs; in alternating rounds a 20 %
 * change stands out. (Issue #14; the servers are started as bench/local-server.ts starts them.)
 *
 *   npm run build && node dist/bench/ab-ingest.js [--rounds 10] [--seconds 3] NAME=MAIN[@FLAGS] ...
 *
 *   node dist/bench/ab-ingest.js before=../old/dist/server/main.js after=dist/server/main.js
 *   node dist/bench/ab-ingest.js s4=dist/server/main.js@--max-semi-space-size=4 s8=dist/server/main.js
 *
 * FLAGS (after @, space-separated in one argument) are node flags added to npm start's.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cliArg, Client, createExperiment, median, serverCpuMs } from './lib.js';
import { Logger, POINTS_PER_REQUEST } from './ingest.js';
import { serverMemory, startLocalServer, type LocalServer } from './local-server.js';

const CLIENTS = 4;
const WARMUP_REQUESTS = 20;

function option(name: string, fallback: number): number {
  const v = Number(cliArg(name) ?? fallback);
  if (!(v > 0)) throw new Error(`--${name} takes a positive number`);
  return v;
}

interface Side {
  name: string;
  server: LocalServer;
  loggers: Logger[];
  cpuPer1000: number[];
  rate: number[];
}

async function open(spec: string): Promise<Side> {
  const [name, rest] = spec.split(/=(.*)/s, 2);
  const [main, flags = ''] = (rest ?? '').split('@');
  if (!name || !main) throw new Error(`expected NAME=MAIN[@FLAGS], got ${spec}`);
  const server = await startLocalServer({ main: path.resolve(main), nodeArgs: flags.split(' ').filter(Boolean) });
  const setup = new Client(server.url);
  const experimentId = await createExperiment(setup, `ab-${name}`);
  setup.close();
  const loggers = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => Logger.open(server.url, experimentId, `ab-${name}-${i}`)));
  await Promise.all(loggers.map(async (l) => {
    for (let i = 0; i < WARMUP_REQUESTS; i++) await l.send();
  }));
  return { name, server, loggers, cpuPer1000: [], rate: [] };
}

async function round(side: Side, seconds: number): Promise<void> {
  let requests = 0;
  const cpu0 = serverCpuMs(side.server.pid)!;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(side.loggers.map(async (l) => {
    while (performance.now() < end) {
      await l.send();
      requests++;
    }
  }));
  const wallMs = performance.now() - t0;
  const points = requests * POINTS_PER_REQUEST;
  side.cpuPer1000.push((serverCpuMs(side.server.pid)! - cpu0) / (points / 1000));
  side.rate.push(points / (wallMs / 1000));
}

async function main(): Promise<void> {
  const rounds = option('rounds', 10);
  const seconds = option('seconds', 3);
  const specs = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  if (specs.length < 2) {
    console.error('usage: node dist/bench/ab-ingest.js [--rounds N] [--seconds S] NAME=MAIN[@FLAGS] NAME=MAIN[@FLAGS] ...');
    process.exit(2);
  }
  const sides: Side[] = [];
  try {
    for (const spec of specs) sides.push(await open(spec));
    // Every other round runs the sides in reverse, so none always follows the same neighbour.
    for (let r = 0; r < rounds; r++) for (const side of r % 2 ? [...sides].reverse() : sides) await round(side, seconds);
    console.log(`${rounds} rounds of ${seconds} s, ${CLIENTS} clients each, log-batch of ${POINTS_PER_REQUEST} points; medians over rounds`);
    for (const s of sides) {
      console.log(
        `${s.name}: server CPU per 1,000 points ${median(s.cpuPer1000).toFixed(3)} ms (rounds: ${s.cpuPer1000.map((v) => v.toFixed(2)).join(' ')}), ` +
          `${Math.round(median(s.rate)).toLocaleString('en-US')} points/s, RSS ${serverMemory(s.server.pid)?.rss.toFixed(0) ?? '?'} MiB`,
      );
    }
  } finally {
    for (const s of sides) {
      s.loggers.forEach((l) => l.close());
      await s.server.stop();
      s.server.cleanup();
    }
  }
}

await main();
