// Figures 1-2: log-batch ingest, 1000 points per request (10 keys x 100 steps), 1 and 4 clients.
import { performance } from 'node:perf_hooks';
import { Client, cpuMeter, createExperiment, createRun, log, QUICK, standalone, type Ctx, type Figure, type Outcome } from './lib.js';

const KEYS = 10;
const STEPS_PER_REQUEST = 100;
export const POINTS_PER_REQUEST = KEYS * STEPS_PER_REQUEST;
const WARMUP_REQUESTS = QUICK ? 5 : 30;
const MAX_REQUESTS = QUICK ? 50 : 3000;
const SECONDS = QUICK ? 2 : 10;
const TARGET = 150_000;
/** Values for the bodies, formatted once (see Logger.body); every logger walks the pool from where the last left it. */
const VALUES = Array.from({ length: 4093 }, () => String(Math.random()));
const KEY_PREFIXES = Array.from({ length: KEYS }, (_, k) => `{"key":"metric_${k}","value":`);
let valueAt = 0;

/** One training process: its own connection and run, logging successive steps of 10 keys. */
export class Logger {
  private step = 0;
  private readonly t0 = Date.now();
  private constructor(
    private readonly client: Client,
    private readonly runId: string,
  ) {}

  /** `headers`: sent with every request (bench/auth.ts: credentials). */
  static async open(url: string, experimentId: string, name: string, headers: Record<string, string> = {}): Promise<Logger> {
    const client = new Client(url, headers);
    return new Logger(client, await createRun(client, experimentId, name));
  }

  /**
   * The body is built per request, with new steps and timestamps, as a real client would, but cheaply:
   * the values come from a pool formatted once. Formatting 1,000 random doubles per request cost the
   * client 0.5-2.9 ms a request here, on the two cores the server shares, which showed up in the
   * server's figure; building from the pool costs about 50 us.
   */
  private body(): string {
    let out = `{"run_id":"${this.runId}","metrics":[`;
    for (let s = 0; s < STEPS_PER_REQUEST; s++, this.step++) {
      const rest = `,"timestamp":${this.t0 + this.step * 5},"step":${this.step}}`;
      for (let k = 0; k < KEYS; k++) out += `${s + k === 0 ? '' : ','}${KEY_PREFIXES[k]}${VALUES[valueAt++ % VALUES.length]}${rest}`;
    }
    return `${out}],"params":[],"tags":[]}`;
  }

  async send(): Promise<void> {
    const res = await this.client.raw('POST', '/api/2.0/mlflow/runs/log-batch', this.body());
    if (res.status !== 200) throw new Error(`log-batch -> HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
  }

  close(): void {
    this.client.close();
  }
}

/**
 * `clients` loops in parallel until each sent MAX_REQUESTS / clients or SECONDS passed; points/s overall.
 * With `urls` (several servers on one store), client i talks to urls[i % urls.length].
 */
export async function ingest(
  ctx: Ctx,
  experimentId: string,
  clients: number,
  urls: string[] = [ctx.url],
): Promise<{ rate: number; points: number; note: string; serverCpuMsPer1000: number | null }> {
  const loggers = await Promise.all(Array.from({ length: clients }, (_, i) => Logger.open(urls[i % urls.length], experimentId, `ingest-${clients}c-${i}`)));
  await Promise.all(loggers.map(async (l) => {
    for (let i = 0; i < WARMUP_REQUESTS; i++) await l.send();
  }));
  const warmupPoints = clients * WARMUP_REQUESTS * POINTS_PER_REQUEST;
  const meter = cpuMeter(ctx.serverPid);
  const deadline = performance.now() + SECONDS * 1000;
  let requests = 0;
  await Promise.all(loggers.map(async (l) => {
    for (let i = 0; i < MAX_REQUESTS / clients && performance.now() < deadline; i++) {
      await l.send();
      requests++;
    }
  }));
  const cpu = meter();
  loggers.forEach((l) => l.close());
  const points = requests * POINTS_PER_REQUEST;
  const rate = points / (cpu.wallMs / 1000);
  log(`ingest ${clients} client(s): ${requests} requests, ${points} points in ${(cpu.wallMs / 1000).toFixed(1)} s; ${cpu.note}`);
  // The server's CPU per point does not depend on how much of the shared cores other processes took.
  const serverCpuMsPer1000 = cpu.serverPct === null || points === 0 ? null : ((cpu.serverPct / 100) * cpu.wallMs) / (points / 1000);
  return { rate, points: points + warmupPoints, note: `${points.toLocaleString('en-US')} pts in ${(cpu.wallMs / 1000).toFixed(1)} s; ${cpu.note}`, serverCpuMsPer1000 };
}

export async function run(ctx: Ctx): Promise<Outcome> {
  const setup = new Client(ctx.url);
  const experimentId = await createExperiment(setup, 'bench-ingest');
  setup.close();
  const one = await ingest(ctx, experimentId, 1);
  const four = await ingest(ctx, experimentId, 4);
  const figures: Figure[] = [
    { id: '1', name: 'log-batch ingest, 1000 pts/req, 1 client', value: one.rate, unit: 'points/s', target: { op: '>=', value: TARGET }, note: one.note },
    { id: '2', name: 'log-batch ingest, 1000 pts/req, 4 clients', value: four.rate, unit: 'points/s', target: { op: '>=', value: TARGET }, note: four.note },
  ];
  return { figures, points: one.points + four.points };
}

await standalone(import.meta.url, run);
