// Issue 4's SDK figures: the caller-thread cost of run.log() and one process's delivery rate.
import { performance } from 'node:perf_hooks';
import { Lablog } from 'lablog-client';
import { log, percentile, QUICK, standalone, type Ctx, type Figure, type Outcome } from './lib.js';

const KEYS = Array.from({ length: 10 }, (_, i) => `m${i}`);
const DELIVERY_POINTS = QUICK ? 100_000 : 1_000_000;

export async function run(ctx: Ctx): Promise<Outcome> {
  const lab = new Lablog({ url: ctx.url, handleExit: false, captureSource: false });
  const cost: Figure = { id: 'S1', name: 'SDK run.log() of 10 metrics, median on the caller thread', value: null, unit: 'µs', target: { op: '<', value: 2 } };
  const rate: Figure = { id: 'S2', name: 'SDK delivery from one process into one server', value: null, unit: 'points/s', target: { op: '>=', value: 100_000 } };

  // S1: many short timed slices, so timer flushes and GC land in some slices, not all (the median).
  const probe = await lab.startRun({ experiment: 'bench-sdk', name: 'log-cost' });
  const row: Record<string, number> = {};
  const perCall: number[] = [];
  let step = 0;
  for (let slice = 0; slice < (QUICK ? 100 : 500); slice++) {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      for (const k of KEYS) row[k] = Math.random();
      probe.log(row, { step: step++ });
    }
    perCall.push(((performance.now() - t0) * 1000) / 200);
  }
  await probe.end();
  cost.value = percentile(perCall, 50);
  cost.note = `${step.toLocaleString('en-US')} calls in slices of 200; p95 ${percentile(perCall, 95).toFixed(2)} µs; includes filling the 10-key object`;

  // S2: log as fast as possible, then wait until the server has acknowledged everything.
  const r = await lab.startRun({ experiment: 'bench-sdk', name: 'delivery' });
  const t0 = performance.now();
  for (let s = 0; s < DELIVERY_POINTS / KEYS.length; s++) {
    for (const k of KEYS) row[k] = s * 1e-6;
    r.log(row, { step: s });
    // Yield now and then, as a training loop does between mini-batches, so the sender gets the loop.
    if (s % 1000 === 999) await new Promise((res) => setImmediate(res));
  }
  await r.end();
  const seconds = (performance.now() - t0) / 1000;
  rate.value = DELIVERY_POINTS / seconds;
  rate.note = `${DELIVERY_POINTS.toLocaleString('en-US')} points in ${seconds.toFixed(1)} s, acknowledged by the server (end() waited for them)`;
  log(`sdk: log() p50 ${cost.value.toFixed(3)} µs; delivery ${rate.value.toFixed(0)} points/s`);
  return { figures: [cost, rate], points: DELIVERY_POINTS + step * KEYS.length };
}

await standalone(import.meta.url, run);
