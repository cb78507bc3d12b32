// Sweeps against a live server (T3-T5): what a worker waits for at `next` and `should-stop`, and how
// many trials 8 workers get through a grid. `node dist/bench/sweeps-server.js [URL] [--postgres]` (see
// standalone() in lib.ts for --postgres; BENCH_SWEEPS=T3,T5 for some figures only), or part of bench/all.ts.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, cpuMeter, createExperiment, fmt, log, percentile, prng, QUICK, standalone, type CpuReading, type Ctx, type Figure, type Outcome } from './lib.js';

const SWEEPS = '/api/2.0/lablog/sweeps';
const BAYES_TRIALS = QUICK ? 100 : 500;
const ASHA_TRIALS = QUICK ? 200 : 2000;
const STEPS = 100;
/** Grid axes: 50 x 40 = 2,000 points (QUICK: 10 x 20). */
const GRID = QUICK ? { a: 10, b: 20 } : { a: 50, b: 40 };
const WORKERS = 8;
const T0 = 1_700_000_000_000;

interface TrialJson {
  number: number;
  run_id: string;
  status: string;
  params: Record<string, unknown>;
}
interface NextJson {
  sweep: { sweep_id: string; status: string; counts: Record<string, number> };
  trial?: TrialJson;
  retry_after_ms?: number;
}

const sweepPost = <T>(c: Client, path: string, body: unknown): Promise<T> => c.postTo<T>(`${SWEEPS}/${path}`, body);

async function createSweep(c: Client, prefix: string, config: Record<string, unknown>): Promise<string> {
  const experimentId = await createExperiment(c, prefix);
  const out = await sweepPost<NextJson>(c, 'create', { experiment_id: experimentId, name: prefix, metric: { name: 'loss', goal: 'minimize' }, seed: 1, ...config });
  return out.sweep.sweep_id;
}

/** A trial's curve: decays towards `final`, so the last value (the objective) is `final`. */
function curve(final: number, from: number, to: number, t0: number) {
  const metrics = [];
  for (let s = from; s < to; s++) metrics.push({ key: 'loss', value: final + Math.exp(-s / 30), timestamp: t0 + s, step: s });
  return metrics;
}

async function finish(c: Client, runId: string, metrics: unknown[]): Promise<void> {
  await c.post('runs/log-batch', { run_id: runId, metrics, params: [], tags: [] });
  await c.post('runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
}

const ms = (v: number) => fmt(v, 'ms');

// ---- T3: next on a growing bayes sweep ----

/** A smooth objective over the 4 parameters, best near lr 3e-3, sgd with momentum 0.9, 2 layers. */
function objective(p: Record<string, unknown>, noise: number): number {
  const lr = Math.log10(p.lr as number) + 2.5;
  const opt = p.optimizer === 'sgd' ? ((p.momentum as number) - 0.9) ** 2 : 0.05;
  return lr * lr + opt + 0.1 * Math.abs((p.layers as number) - 2) + noise;
}

async function nextLatency(ctx: Ctx): Promise<{ fig: Figure; points: number }> {
  const c = new Client(ctx.url);
  const id = await createSweep(c, 'bench-sweep-bayes', {
    method: 'bayes',
    parameters: {
      optimizer: { values: ['sgd', 'adam'] },
      lr: { distribution: 'log_uniform', min: 1e-5, max: 1 },
      momentum: { distribution: 'uniform', min: 0, max: 0.99, when: { optimizer: ['sgd'] } },
      layers: { distribution: 'int_uniform', min: 1, max: 4 },
    },
  });
  const noise = prng(3);
  const lat: number[] = [];
  const meter = cpuMeter(ctx.serverPid);
  for (let i = 0; i < BAYES_TRIALS; i++) {
    const t = performance.now();
    const out = await sweepPost<NextJson>(c, `${id}/next`, { worker: 'bench' });
    lat.push(performance.now() - t);
    if (!out.trial) throw new Error(`bayes sweep gave no trial at ${i}: ${JSON.stringify(out).slice(0, 200)}`);
    await finish(c, out.trial.run_id, curve(objective(out.trial.params, noise() * 0.05), 0, STEPS, T0 + i * STEPS));
  }
  const cpu = meter();
  c.close();
  const late = lat.slice(-Math.ceil(BAYES_TRIALS / 5));
  log(`T3 next (bayes, 0..${BAYES_TRIALS} trials): p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}, p50 of the last ${late.length} ${ms(percentile(late, 50))}`);
  const fig: Figure = {
    id: 'T3',
    name: `sweeps/next p50, bayes (TPE, 4 params incl. 1 conditional), sweep growing to ${BAYES_TRIALS} trials`,
    value: percentile(lat, 50),
    unit: 'ms',
    target: { op: '<', value: 20 },
    note:
      `p99 ${ms(percentile(lat, 99))}; p50 of the last ${late.length} calls ${ms(percentile(late, 50))}, max ${ms(Math.max(...lat))}; ` +
      `each trial then logs ${STEPS} steps in one log-batch and ends FINISHED (untimed); ${cpu.note} over the whole loop`,
  };
  return { fig, points: BAYES_TRIALS * STEPS };
}

// ---- T4: should-stop over 2,000 finished trials ----

/** WORKERS loops that each take a trial and finish it with `metrics(trial)`, until the sweep ends or `want` trials were taken. */
async function drive(ctx: Ctx, id: string, want: number, maxWaitMs: number, metrics: (t: TrialJson) => unknown[], meter?: () => CpuReading) {
  // Claimed before the call, so concurrent loops do not overshoot `want`.
  let claimed = 0;
  let waits = 0;
  let lastFinish = 0;
  // Read at each finish, so the last reading covers the work and not the final wait for the sweep's end.
  let cpu: CpuReading | undefined;
  const trials: TrialJson[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const c = new Client(ctx.url);
      while (claimed < want) {
        claimed++;
        const out = await sweepPost<NextJson>(c, `${id}/next`, { worker: `bench-${w}` });
        if (out.trial) {
          trials.push(out.trial);
          await finish(c, out.trial.run_id, metrics(out.trial));
          lastFinish = performance.now();
          cpu = meter?.();
        } else if (out.retry_after_ms !== undefined) {
          claimed--;
          waits++;
          await sleep(Math.min(out.retry_after_ms, maxWaitMs));
        } else {
          break; // the sweep is over
        }
      }
      c.close();
    }),
  );
  return { trials, waits, cpu, seconds: (lastFinish - t0) / 1000, wallSeconds: (performance.now() - t0) / 1000 };
}

async function shouldStopLatency(ctx: Ctx): Promise<{ fig: Figure; points: number }> {
  const c = new Client(ctx.url);
  const id = await createSweep(c, 'bench-sweep-asha', {
    method: 'random',
    parameters: { x: { distribution: 'uniform', min: 0, max: 1 }, y: { distribution: 'uniform', min: 0, max: 1 } },
    early_terminate: { type: 'asha', min_iter: 1, eta: 3 },
  });
  // Seeding is not measured, so a worker told to wait does not sleep the server's full 5 s.
  const seeded = await drive(ctx, id, ASHA_TRIALS, 20, (t) => curve((t.params.x as number) + (t.params.y as number), 0, STEPS, T0 + t.number * STEPS));
  log(`T4 seeded ${seeded.trials.length} finished trials x ${STEPS} steps in ${seeded.wallSeconds.toFixed(1)} s (${WORKERS} workers, ${seeded.waits} waits)`);

  // The probe logs better values than every finished trial, so ASHA keeps promoting it and each call
  // takes the full decision path rather than the short answer for a trial that was already stopped.
  const probe = await sweepPost<NextJson>(c, `${id}/next`, { worker: 'probe' });
  if (!probe.trial) throw new Error(`no probe trial: ${JSON.stringify(probe).slice(0, 200)}`);
  const runId = probe.trial.run_id;
  const half = STEPS / 2;
  await c.post('runs/log-batch', { run_id: runId, metrics: curve(-1, 0, half, T0 * 2), params: [], tags: [] });
  const stopped: string[] = [];
  const ask = async () => {
    const t = performance.now();
    const a = await sweepPost<{ should_stop: boolean; reason: string }>(c, `${id}/should-stop`, { run_id: runId });
    const took = performance.now() - t;
    if (a.should_stop) stopped.push(a.reason);
    return took;
  };
  const first = await ask();
  const lat: number[] = [];
  const count = QUICK ? 50 : 300;
  const deadline = performance.now() + (QUICK ? 3 : 30) * 1000;
  // A worker asks once per epoch: one new value of the probe's own curve before each (untimed) call.
  for (let k = 0; k < count && performance.now() < deadline && stopped.length === 0; k++) {
    await c.post('runs/log-metric', { run_id: runId, key: 'loss', value: -1 - k * 1e-3, timestamp: T0 * 2 + half + k, step: half + k });
    lat.push(await ask());
  }
  await c.post('runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
  c.close();
  const problem = stopped.length ? `; WRONG ANSWER: the probe was told to stop (${stopped[0]!.slice(0, 120)})` : '';
  log(`T4 should-stop over ${seeded.trials.length} trials: first ${ms(first)}, then p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))} (${lat.length} calls)${problem}`);
  const fig: Figure = {
    id: 'T4',
    name: `sweeps/should-stop p50, ASHA (eta 3), running trial vs ${ASHA_TRIALS.toLocaleString('en-US')} finished trials x ${STEPS} steps`,
    value: lat.length ? percentile(lat, 50) : null,
    unit: 'ms',
    target: { op: '<', value: 50 },
    note:
      `p99 ${ms(percentile(lat, 99))}, ${lat.length} calls, one new step logged before each (untimed); ` +
      `first call after seeding (no curve cached) ${ms(first)}; seeding ${seeded.wallSeconds.toFixed(0)} s${problem}`,
  };
  return { fig, points: ASHA_TRIALS * STEPS + half + lat.length };
}

// ---- T5: 8 workers through a grid ----

async function gridThroughput(ctx: Ctx): Promise<{ fig: Figure; points: number }> {
  const c = new Client(ctx.url);
  const size = GRID.a * GRID.b;
  const id = await createSweep(c, 'bench-sweep-grid', {
    method: 'grid',
    parameters: {
      a: { distribution: 'int_uniform', min: 1, max: GRID.a },
      b: { values: Array.from({ length: GRID.b }, (_, i) => `b${i}`) },
    },
  });
  // Measured: workers wait as long as the server says, as the SDK's agent does by default.
  const run = await drive(ctx, id, Infinity, Infinity, (t) => curve(t.number * 1e-3, 0, 10, T0 + t.number * 10), cpuMeter(ctx.serverPid));
  const end = await sweepPost<NextJson>(c, `${id}/next`, { worker: 'check' });
  c.close();
  const seen = new Map<string, number>();
  for (const t of run.trials) seen.set(JSON.stringify(t.params), (seen.get(JSON.stringify(t.params)) ?? 0) + 1);
  const twice = [...seen.values()].filter((n) => n > 1).length;
  const rate = run.trials.length / run.seconds;
  const check =
    `${run.trials.length} trials, ${seen.size} distinct points of ${size}, ${twice} given more than once; ` +
    `sweep ${end.sweep.status}, ${end.sweep.counts.completed} completed`;
  log(`T5 grid of ${size}: ${rate.toFixed(0)} trials/s with ${WORKERS} workers; ${check}; ${run.waits} waits, wall ${run.wallSeconds.toFixed(1)} s`);
  const fig: Figure = {
    id: 'T5',
    name: `sweeps: grid of ${size.toLocaleString('en-US')} points, ${WORKERS} concurrent workers (next, log-batch of 10, FINISHED)`,
    value: rate,
    unit: 'trials/s',
    note:
      `${check}; ${run.seconds.toFixed(1)} s to the last FINISHED, ${run.wallSeconds.toFixed(1)} s until every worker saw the end ` +
      `(${run.waits} retry_after_ms answers, each slept in full); ${run.cpu?.note ?? ''} until the last FINISHED`,
  };
  return { fig, points: run.trials.length * 10 };
}

/** BENCH_SWEEPS=T3,T5 measures only those figures (T4's seeding alone takes minutes on a busy machine). */
const ONLY = process.env.BENCH_SWEEPS?.split(',').map((f) => f.trim().toUpperCase());

export async function run(ctx: Ctx): Promise<Outcome> {
  const out: Outcome = { figures: [], points: 0 };
  for (const [id, bench] of [['T3', nextLatency], ['T4', shouldStopLatency], ['T5', gridThroughput]] as const) {
    if (ONLY && !ONLY.includes(id)) continue;
    const { fig, points } = await bench(ctx);
    out.figures.push(fig);
    out.points += points;
  }
  return out;
}

await standalone(import.meta.url, run);
