// Figure 7: lablog's sampled read (1000 buckets of min/max/last) of a 1,000,000-point metric.
import { performance } from 'node:perf_hooks';
import { Client, cpuMeter, createExperiment, createRun, log, logSeries, percentile, QUICK, standalone, timeLoop, type Ctx, type Figure, type Outcome } from './lib.js';

const POINTS = QUICK ? 50_000 : 1_000_000;
const KEY = 'acc';
const BUCKETS = 1000;

export async function run(ctx: Ctx): Promise<Outcome> {
  const c = new Client(ctx.url);
  const runId = await createRun(c, await createExperiment(c, 'bench-sampled'), 'sampled');
  const path = `/api/2.0/lablog/metrics/sampled?run_ids=${runId}&keys=${KEY}&buckets=${BUCKETS}`;
  const fig: Figure = {
    id: '7',
    name: `lablog metrics/sampled, ${POINTS.toLocaleString('en-US')}-point metric, ${BUCKETS} buckets`,
    value: null,
    unit: 'ms',
    target: { op: '<', value: 20 },
  };

  // Probed before seeding a million points that only lablog could read back.
  const probe = await c.raw('GET', path);
  if (probe.status === 404) {
    c.close();
    fig.note = 'skipped: the server has no /api/2.0/lablog/metrics/sampled (not lablog)';
    log(`sampled: ${fig.note}`);
    return { figures: [fig], points: 0 };
  }
  if (probe.status !== 200) throw new Error(`sampled probe -> HTTP ${probe.status}: ${probe.body.toString().slice(0, 300)}`);

  const t0 = performance.now();
  await logSeries(c, runId, KEY, 0, POINTS);
  const seedSeconds = (performance.now() - t0) / 1000;
  log(`sampled: logged ${POINTS} points in ${seedSeconds.toFixed(1)} s (${(POINTS / seedSeconds).toFixed(0)} points/s, 1 key, 1 client)`);

  let last = probe;
  const once = async () => {
    last = await c.raw('GET', path);
    if (last.status !== 200) throw new Error(`sampled -> HTTP ${last.status}: ${last.body.toString().slice(0, 300)}`);
  };
  for (let i = 0; i < 5; i++) await once();
  const meter = cpuMeter(ctx.serverPid);
  const lat = await timeLoop(once, QUICK ? 20 : 200, QUICK ? 3 : 15);
  const cpu = meter();
  c.close();

  const res = JSON.parse(last.body.toString()) as { series?: { count: number[] }[] };
  const counts = res.series?.[0]?.count ?? [];
  const total = counts.reduce((a, b) => a + b, 0);
  const problem = total === POINTS && counts.length <= BUCKETS ? '' : `; WRONG ANSWER: ${counts.length} buckets covering ${total} points`;
  fig.value = percentile(lat, 50);
  fig.note = `p95 ${percentile(lat, 95).toFixed(1)} ms, ${lat.length} calls, ${counts.length} buckets, ${(last.body.length / 1024).toFixed(0)} KiB per response; ${cpu.note}${problem}`;
  log(`sampled ${POINTS} points: p50 ${fig.value.toFixed(2)} ms; ${fig.note}`);
  return { figures: [fig], points: POINTS };
}

await standalone(import.meta.url, run);
