// Mixed load: training scripts writing while colleagues read. `node dist/bench/load.js [URL] [flags]`
// (after `npm run build`); without URL it starts its own lablog server, which adds server CPU and RSS.
// Flags: --seconds=60 --warmup=5 --writers=24 --loggers=16 --searchers=12 --readers=8 --sampled=4
// --batch=100 --history=200000, or --clients=N to scale the default mix of 64 clients to N.
// Each client is one keep-alive connection looping without pause; every call's latency is recorded.
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { API, Client, cpuMeter, createExperiment, createRun, log, logSeries, machineInfo, percentile, textTable } from './lib.js';
import { serverMemory, startLocalServer } from './local-server.js';
import { FILTER, MAX_RESULTS, ORDER_BY, seed } from './search.js';

const MIX = { writers: 24, loggers: 16, searchers: 12, readers: 8, sampled: 4 };
type Kind = keyof typeof MIX;
const LABEL: Record<Kind, string> = {
  writers: 'runs/log-batch',
  loggers: 'runs/log-metric',
  searchers: 'runs/search',
  readers: 'metrics/get-history (full)',
  sampled: 'lablog metrics/sampled',
};

export interface LoadOptions {
  seconds: number;
  warmup: number;
  mix: Record<Kind, number>;
  /** Points per log-batch request (10 keys x batch/10 steps). */
  batch: number;
  /** Points in the history the readers fetch whole. */
  history: number;
  searchRuns: number;
}

export function parseLoadArgs(argv: string[]): { url?: string; opts: LoadOptions } {
  const flags = new Map<string, number>();
  let url: string | undefined;
  for (const a of argv) {
    const m = /^--([a-z]+)=(\d+)$/.exec(a);
    if (m) flags.set(m[1], Number(m[2]));
    else if (!a.startsWith('--')) url = a.replace(/\/+$/, '');
    else throw new Error(`unknown flag ${a} (flags look like --seconds=60)`);
  }
  const total = Object.values(MIX).reduce((a, b) => a + b, 0);
  const scale = (flags.get('clients') ?? total) / total;
  const mix = Object.fromEntries(
    (Object.keys(MIX) as Kind[]).map((k) => [k, flags.get(k) ?? Math.max(1, Math.round(MIX[k] * scale))]),
  ) as Record<Kind, number>;
  return {
    url,
    opts: {
      seconds: flags.get('seconds') ?? 60,
      warmup: flags.get('warmup') ?? 5,
      mix,
      batch: flags.get('batch') ?? 100,
      history: flags.get('history') ?? 200_000,
      searchRuns: flags.get('runs') ?? 2000,
    },
  };
}

/** Like Client.raw, but counts the body instead of keeping it: a 17 MB history per call would cost the client more than the server. */
function drain(agent: http.Agent, url: URL, path: string, onBytes: (n: number) => void): Promise<{ status: number; bytes: number; error: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, agent }, (res) => {
      let bytes = 0;
      let error = '';
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        onBytes(c.length);
        if (res.statusCode !== 200 && error.length < 300) error += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, error }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Tally {
  lat: number[];
  errors: string[];
  points: number;
  /** Bytes received after warm-up, answers still in flight at the end included. */
  bytes: number;
}

export async function runLoad(base: string, opts: LoadOptions, serverPid?: number) {
  const setup = new Client(base);
  const experimentId = await createExperiment(setup, 'bench-load');
  const historyRun = await createRun(setup, experimentId, 'long-history');
  let t = performance.now();
  await logSeries(setup, historyRun, 'loss', 0, opts.history);
  log(`load: seeded a ${opts.history.toLocaleString('en-US')}-point history in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const searched = await seed({ url: base }, opts.searchRuns);
  const runs = await Promise.all(Array.from({ length: opts.mix.writers + opts.mix.loggers }, (_, i) => createRun(setup, experimentId, `writer-${i}`)));
  setup.close();

  const tally = Object.fromEntries((Object.keys(MIX) as Kind[]).map((k) => [k, { lat: [], errors: [], points: 0, bytes: 0 } as Tally])) as Record<Kind, Tally>;
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmup * 1000;
  const end = measureFrom + opts.seconds * 1000;
  const u = new URL(base);
  const historyPath = `${API}/metrics/get-history?run_id=${historyRun}&metric_key=loss`;
  const sampledPath = `/api/2.0/lablog/metrics/sampled?run_ids=${historyRun}&keys=loss&buckets=1000`;
  const searchBody = JSON.stringify({ experiment_ids: [searched.experimentId], filter: FILTER, order_by: ORDER_BY, max_results: MAX_RESULTS });

  /** One client: a connection calling `call` back to back until the end; calls started after warm-up count. */
  const loop = async (kind: Kind, call: (c: Client, agent: http.Agent) => Promise<{ status: number; bytes: number; error: string }>, points: number) => {
    const c = new Client(base);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const tl = tally[kind];
    while (performance.now() < end) {
      const start = performance.now();
      let res: { status: number; bytes: number; error: string };
      try {
        res = await call(c, agent);
      } catch (err) {
        res = { status: 0, bytes: 0, error: (err as Error).message };
      }
      if (start < measureFrom) continue;
      tl.lat.push(performance.now() - start);
      if (res.status === 200) tl.points += points;
      else tl.errors.push(`HTTP ${res.status}: ${res.error.slice(0, 200)}`);
    }
    c.close();
    agent.destroy();
  };
  const counted = (kind: Kind) => (n: number) => {
    if (performance.now() >= measureFrom) tally[kind].bytes += n;
  };
  const post = async (c: Client, path: string, body: string) => {
    const r = await c.raw('POST', path, body);
    return { status: r.status, bytes: r.body.length, error: r.status === 200 ? '' : r.body.toString() };
  };

  const loops: Promise<void>[] = [];
  const stepsPerBatch = Math.max(1, Math.floor(opts.batch / 10));
  for (let i = 0; i < opts.mix.writers; i++) {
    const runId = runs[i];
    let step = 0;
    loops.push(loop('writers', (c) => {
      const parts: string[] = [];
      for (let s = 0; s < stepsPerBatch; s++, step++) {
        for (let k = 0; k < 10; k++) parts.push(`{"key":"m${k}","value":${Math.random()},"timestamp":${1_700_000_000_000 + step},"step":${step}}`);
      }
      return post(c, `${API}/runs/log-batch`, `{"run_id":"${runId}","metrics":[${parts.join(',')}]}`);
    }, stepsPerBatch * 10));
  }
  for (let i = 0; i < opts.mix.loggers; i++) {
    const runId = runs[opts.mix.writers + i];
    let step = 0;
    loops.push(loop('loggers', (c) => {
      step++;
      return post(c, `${API}/runs/log-metric`, `{"run_id":"${runId}","key":"loss","value":${Math.random()},"timestamp":${1_700_000_000_000 + step},"step":${step}}`);
    }, 1));
  }
  for (let i = 0; i < opts.mix.searchers; i++) loops.push(loop('searchers', (c) => post(c, `${API}/runs/search`, searchBody), 0));
  for (let i = 0; i < opts.mix.readers; i++) loops.push(loop('readers', (_, agent) => drain(agent, u, historyPath, counted('readers')), 0));
  for (let i = 0; i < opts.mix.sampled; i++) loops.push(loop('sampled', (_, agent) => drain(agent, u, sampledPath, counted('sampled')), 0));

  await new Promise((r) => setTimeout(r, Math.max(0, measureFrom - performance.now())));
  const rssWarm = serverPid ? serverMemory(serverPid) : null;
  const meter = cpuMeter(serverPid);
  await Promise.all(loops);
  const cpu = meter();
  const rssEnd = serverPid ? serverMemory(serverPid) : null;
  t = (performance.now() - measureFrom) / 1000;
  return { tally, seconds: t, rssWarm, rssEnd, cpu };
}

export function report(r: Awaited<ReturnType<typeof runLoad>>, opts: LoadOptions): string {
  const rows = (Object.keys(MIX) as Kind[]).map((k) => {
    const tl = r.tally[k];
    const rate = tl.lat.length / r.seconds;
    return [
      LABEL[k],
      String(opts.mix[k]),
      tl.lat.length.toLocaleString('en-US'),
      `${rate.toFixed(0)}/s`,
      `${percentile(tl.lat, 50).toFixed(1)} ms`,
      `${percentile(tl.lat, 99).toFixed(1)} ms`,
      `${Math.max(0, ...tl.lat).toFixed(0)} ms`,
      String(tl.errors.length),
    ];
  });
  const points = r.tally.writers.points + r.tally.loggers.points;
  const mib = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(0)} MiB`);
  const errors = (Object.keys(MIX) as Kind[]).flatMap((k) => r.tally[k].errors.slice(0, 3).map((e) => `  ${LABEL[k]}: ${e}`));
  return [
    textTable(['call', 'clients', 'calls', 'rate', 'p50', 'p99', 'max', 'errors'], rows),
    `ingest: ${Math.round(points / r.seconds).toLocaleString('en-US')} points/s (log-batch of ${opts.batch} points + log-metric), ` +
      `history reads: ${(r.tally.readers.bytes / 2 ** 20 / r.seconds).toFixed(1)} MiB/s received (answers in flight included)`,
    `server RSS after warm-up ${mib(r.rssWarm?.rss)}, at the end ${mib(r.rssEnd?.rss)} (peak ${mib(r.rssEnd?.peak)}); ${r.cpu.note}`,
    ...(errors.length ? ['errors (first 3 per call):', ...errors] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const { url, opts } = parseLoadArgs(process.argv.slice(2));
  console.log(machineInfo());
  console.log(`Load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`${opts.seconds} s after ${opts.warmup} s warm-up; clients: ${JSON.stringify(opts.mix)}; log-batch ${opts.batch} points; history ${opts.history} points`);
  const server = url ? null : await startLocalServer();
  try {
    const r = await runLoad(url ?? server!.url, opts, server?.pid);
    console.log(report(r, opts));
  } finally {
    await server?.stop();
    server?.cleanup();
  }
}

if (process.argv[1]?.endsWith('/bench/load.js')) await main();
