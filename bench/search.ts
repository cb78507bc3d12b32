// Figures 4-5: runs/search with a 2-condition filter and a metric order, over 2,000 and 100,000 runs.
import { performance } from 'node:perf_hooks';
import { Client, cpuMeter, createExperiment, log, percentile, prng, QUICK, standalone, timeLoop, type Ctx, type Figure, type Outcome } from './lib.js';

export const FILTER = "metrics.m0 < 0.5 AND params.p1 = 'b'";
export const ORDER_BY = ['metrics.m2 DESC'];
export const MAX_RESULTS = 100;
/** Parallel seeding loops: enough to keep the server busy between one loop's request and the next. */
const SEED_CONCURRENCY = 8;

export interface Seeded {
  experimentId: string;
  /** m2 of every run that matches FILTER, to check the server's answer. */
  matchingM2: number[];
  seconds: number;
  points: number;
}

/** A run's data, a pure function of its index: reruns and other servers get the very same runs. */
function runData(i: number) {
  const r = prng(i + 1);
  const params = [
    { key: 'p0', value: String([0.1, 0.01, 0.001, 0.0001][Math.floor(r() * 4)]) },
    { key: 'p1', value: 'abcd'[Math.floor(r() * 4)] },
    { key: 'p2', value: String(Math.floor(r() * 100)) },
    { key: 'p3', value: ['adam', 'sgd', 'rmsprop'][Math.floor(r() * 3)] },
    { key: 'p4', value: `batch-${2 ** Math.floor(r() * 6 + 4)}` },
  ];
  const metrics = ['m0', 'm1', 'm2'].map((key) => ({ key, value: r(), timestamp: 1_700_000_000_000 + i, step: 0 }));
  return { params, metrics };
}

export async function seed(ctx: Ctx, runs: number): Promise<Seeded> {
  const setup = new Client(ctx.url);
  const experimentId = await createExperiment(setup, `bench-search-${runs}`);
  setup.close();
  const matchingM2: number[] = [];
  let next = 0;
  const t0 = performance.now();
  let lastReport = t0;
  await Promise.all(
    Array.from({ length: SEED_CONCURRENCY }, async () => {
      const c = new Client(ctx.url);
      for (let i = next++; i < runs; i = next++) {
        const { params, metrics } = runData(i);
        if (metrics[0].value < 0.5 && params[1].value === 'b') matchingM2.push(metrics[2].value);
        const created = await c.post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: experimentId, run_name: `r${i}`, start_time: 1_700_000_000_000 + i });
        await c.post('runs/log-batch', { run_id: created.run.info.run_id, metrics, params, tags: [] });
        if (performance.now() - lastReport > 15_000) {
          lastReport = performance.now();
          log(`  seeding ${runs} runs: ${i} done after ${((lastReport - t0) / 1000).toFixed(0)} s`);
        }
      }
      c.close();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  log(`seeded ${runs} runs in ${seconds.toFixed(1)} s (${(runs / seconds).toFixed(0)} runs/s, 2 requests per run, ${SEED_CONCURRENCY} loops)`);
  return { experimentId, matchingM2: matchingM2.sort((a, b) => b - a), seconds, points: runs * 3 };
}

/** Checks the page against the seeded data: the right count, and the top m2 values in order. */
function check(body: Buffer, s: Seeded): string | null {
  const res = JSON.parse(body.toString()) as { runs?: { data: { metrics?: { key: string; value: number }[] } }[] };
  const runs = res.runs ?? [];
  const want = s.matchingM2.slice(0, MAX_RESULTS);
  if (runs.length !== want.length) return `expected ${want.length} runs, got ${runs.length}`;
  for (let i = 0; i < runs.length; i++) {
    const m2 = runs[i].data.metrics?.find((m) => m.key === 'm2')?.value;
    if (m2 !== want[i]) return `run #${i}: m2 ${m2}, expected ${want[i]}`;
  }
  return null;
}

async function query(ctx: Ctx, s: Seeded, warmup: number, count: number, seconds: number) {
  const c = new Client(ctx.url);
  const body = JSON.stringify({ experiment_ids: [s.experimentId], filter: FILTER, order_by: ORDER_BY, max_results: MAX_RESULTS });
  let last: Buffer = Buffer.alloc(0);
  const once = async () => {
    const res = await c.raw('POST', '/api/2.0/mlflow/runs/search', body);
    if (res.status !== 200) throw new Error(`runs/search -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
    last = res.body;
  };
  for (let i = 0; i < warmup; i++) await once();
  const meter = cpuMeter(ctx.serverPid);
  const lat = await timeLoop(once, count, seconds);
  const cpu = meter();
  c.close();
  const problem = check(last, s);
  return { p50: percentile(lat, 50), p95: percentile(lat, 95), n: lat.length, problem, cpu: cpu.note };
}

async function figure(ctx: Ctx, id: string, runs: number, targetMs: number, loops: { warmup: number; count: number; seconds: number }) {
  const s = await seed(ctx, runs);
  const q = await query(ctx, s, loops.warmup, loops.count, loops.seconds);
  log(`search over ${runs} runs: p50 ${q.p50.toFixed(2)} ms, p95 ${q.p95.toFixed(2)} ms (${q.n} queries, ${s.matchingM2.length} matching runs)`);
  if (q.problem) log(`  WRONG ANSWER: ${q.problem}`);
  const fig: Figure = {
    id,
    name: `runs/search p50, ${runs.toLocaleString('en-US')} runs, 2-cond filter, order by metric, 100 results`,
    value: q.p50,
    unit: 'ms',
    target: { op: '<', value: targetMs },
    note:
      `p95 ${q.p95.toFixed(1)} ms, ${q.n} queries, ${s.matchingM2.length} runs match; seeding ${s.seconds.toFixed(0)} s; ${q.cpu}` +
      (q.problem ? `; WRONG ANSWER: ${q.problem}` : ''),
  };
  return { fig, points: s.points };
}

export async function run(ctx: Ctx): Promise<Outcome> {
  const small = await figure(ctx, '4', QUICK ? 200 : 2000, 5, { warmup: 20, count: QUICK ? 50 : 500, seconds: QUICK ? 2 : 10 });
  const large = await figure(ctx, '5', QUICK ? 2000 : 100_000, 50, { warmup: 5, count: QUICK ? 20 : 200, seconds: QUICK ? 2 : 30 });
  return { figures: [small.fig, large.fig], points: small.points + large.points };
}

await standalone(import.meta.url, run);
