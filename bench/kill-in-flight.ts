import { setTimeout as sleep } from 'node:timers/promises';
import { API, Client, HttpError } from './lib.js';
import type { LocalServer } from './local-server.js';

/**
 * Writes in flight into a run of the experiment "year-check scratch" (made once per data dir), then
 * SIGKILL: what a crash leaves is a WAL the next start must recover, and requests cut off mid-write.
 * Resolves once the process is gone; the caller times the next start.
 */
export async function killWithWritesInFlight(server: LocalServer): Promise<void> {
  const c = new Client(server.url);
  const name = 'year-check scratch';
  let exp: string;
  try {
    exp = (await c.get<{ experiment: { experiment_id: string } }>(`${API}/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`)).experiment.experiment_id;
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 404) throw err;
    exp = (await c.post<{ experiment_id: string }>('experiments/create', { name })).experiment_id;
  }
  const run = (await c.post<{ run: { info: { run_id: string } } }>('runs/create', { experiment_id: exp, start_time: Date.now() })).run.info.run_id;
  const batch = (b: number) => ({ run_id: run, metrics: Array.from({ length: 1000 }, (_, k) => ({ key: 'loss', value: Math.random(), timestamp: Date.now(), step: b * 1000 + k })) });
  for (let b = 0; b < 20; b++) await c.post('runs/log-batch', batch(b));
  const inFlight = [20, 21, 22, 23].map((b) => c.post('runs/log-batch', batch(b)).catch(() => undefined));
  await sleep(2);
  process.kill(server.pid, 'SIGKILL');
  await Promise.all(inFlight);
  c.close();
  await server.stop();
}
