// Figure 6: metrics/get-history of one 100,000-point metric (every point, one response).
import { performance } from 'node:perf_hooks';
import { Client, cpuMeter, createExperiment, createRun, log, logSeries, percentile, QUICK, standalone, timeLoop, type Ctx, type Outcome } from './lib.js';

const POINTS = QUICK ? 10_000 : 100_000;
const KEY = 'loss';

export async function run(ctx: Ctx): Promise<Outcome> {
  const c = new Client(ctx.url);
  const runId = await createRun(c, await createExperiment(c, 'bench-history'), 'history');
  const t0 = performance.now();
  await logSeries(c, runId, KEY, 0, POINTS);
  log(`history: logged ${POINTS} points in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const path = `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=${KEY}`;
  let last: { status: number; body: Buffer } = { status: 0, body: Buffer.alloc(0) };
  const once = async () => {
    last = await c.raw('GET', path);
    if (last.status !== 200) throw new Error(`get-history -> HTTP ${last.status}: ${last.body.toString().slice(0, 300)}`);
  };
  for (let i = 0; i < 3; i++) await once();
  const meter = cpuMeter(ctx.serverPid);
  const lat = await timeLoop(once, QUICK ? 5 : 40, QUICK ? 3 : 20);
  const cpu = meter();
  c.close();

  // Parsed once, outside the timed loop: the figure is the server's, not the client's JSON.parse.
  const res = JSON.parse(last.body.toString()) as { metrics?: { step: number }[]; next_page_token?: string };
  const got = res.metrics?.length ?? 0;
  let problem = got === POINTS ? '' : `; WRONG ANSWER: ${got} points, expected ${POINTS}`;
  if (!problem && res.metrics!.some((m, i) => m.step !== i)) problem = '; WRONG ANSWER: steps not 0..N-1 in order';
  if (res.next_page_token) problem += '; server paginated the answer';
  const p50 = percentile(lat, 50);
  const mib = (last.body.length / 2 ** 20).toFixed(1);
  log(`get-history ${POINTS} points: p50 ${p50.toFixed(1)} ms, p95 ${percentile(lat, 95).toFixed(1)} ms, ${mib} MiB per response${problem}`);
  return {
    figures: [
      {
        id: '6',
        name: `metrics/get-history, ${POINTS.toLocaleString('en-US')}-point metric`,
        value: p50,
        unit: 'ms',
        target: { op: '<', value: 150 },
        note: `p95 ${percentile(lat, 95).toFixed(1)} ms, ${lat.length} calls, ${got.toLocaleString('en-US')} points / ${mib} MiB per response; ${cpu.note}${problem}`,
      },
    ],
    points: POINTS,
  };
}

await standalone(import.meta.url, run);
