// Figure 3: single runs/log-metric calls (one point per request), 1 sequential client and 4 concurrent.
import { performance } from 'node:perf_hooks';
import { Client, cpuMeter, createExperiment, createRun, log, percentile, QUICK, standalone, type Ctx, type Outcome } from './lib.js';

const WARMUP_CALLS = QUICK ? 50 : 500;
const MAX_CALLS = QUICK ? 500 : 100_000;
const SECONDS = QUICK ? 2 : 8;
const TARGET = 3000;

async function loop(ctx: Ctx, experimentId: string, clients: number) {
  const conns = await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const client = new Client(ctx.url);
      return { client, runId: await createRun(client, experimentId, `log-metric-${clients}c-${i}`), step: 0 };
    }),
  );
  const t0 = Date.now();
  const call = async (c: (typeof conns)[number]) => {
    const step = c.step++;
    const body = `{"run_id":"${c.runId}","key":"loss","value":${Math.random()},"timestamp":${t0 + step},"step":${step}}`;
    const res = await c.client.raw('POST', '/api/2.0/mlflow/runs/log-metric', body);
    if (res.status !== 200) throw new Error(`log-metric -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
  };
  await Promise.all(conns.map(async (c) => {
    for (let i = 0; i < WARMUP_CALLS; i++) await call(c);
  }));

  const lat: number[] = [];
  const meter = cpuMeter(ctx.serverPid);
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(conns.map(async (c) => {
    for (let i = 0; i < MAX_CALLS / clients && performance.now() < deadline; i++) {
      const t = performance.now();
      await call(c);
      lat.push(performance.now() - t);
    }
  }));
  const cpu = meter();
  conns.forEach((c) => c.client.close());
  const rate = lat.length / (cpu.wallMs / 1000);
  const note = `${lat.length.toLocaleString('en-US')} calls, p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms; ${cpu.note}`;
  log(`log-metric ${clients} client(s): ${rate.toFixed(0)} calls/s; ${note}`);
  return { rate, note, points: lat.length + clients * WARMUP_CALLS };
}

export async function run(ctx: Ctx): Promise<Outcome> {
  const setup = new Client(ctx.url);
  const experimentId = await createExperiment(setup, 'bench-log-metric');
  setup.close();
  const one = await loop(ctx, experimentId, 1);
  const four = await loop(ctx, experimentId, 4);
  return {
    figures: [
      { id: '3', name: 'runs/log-metric, sequential, 1 client', value: one.rate, unit: 'calls/s', target: { op: '>=', value: TARGET }, note: one.note },
      { id: '3b', name: 'runs/log-metric, 4 concurrent clients', value: four.rate, unit: 'calls/s', target: { op: '>=', value: TARGET }, note: four.note },
    ],
    points: one.points + four.points,
  };
}

await standalone(import.meta.url, run);
