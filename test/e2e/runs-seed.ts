import type { Page } from 'playwright-core';
import type { Env } from './browser.js';

export interface SeedRun {
  name: string;
  params?: Record<string, string>;
  /** Each metric's values by step; the last one is the latest. */
  metrics?: Record<string, number[]>;
  tags?: Record<string, string>;
  parent?: string;
  status?: 'FINISHED' | 'FAILED' | 'RUNNING' | 'KILLED';
  user?: string;
  minutes?: number;
}

/** Creates an experiment and its runs through the API; returns the experiment id and run ids by name. */
export async function seedExperiment(env: Env, name: string, runs: SeedRun[], t0 = Date.UTC(2026, 10, 20, 9, 0)): Promise<{ id: string; runs: Record<string, string> }> {
  const { experiment_id: id } = await env.api('POST', 'experiments/create', { name });
  const ids: Record<string, string> = {};
  let i = 0;
  for (const r of runs) {
    const start = t0 + i++ * 7 * 60_000;
    const tags = Object.entries(r.tags ?? {}).map(([key, value]) => ({ key, value }));
    if (r.parent) tags.push({ key: 'mlflow.parentRunId', value: ids[r.parent] });
    const { run } = await env.api('POST', 'runs/create', { experiment_id: id, run_name: r.name, start_time: start, user_id: r.user ?? 'ada', tags });
    ids[r.name] = run.info.run_id;
    const metrics = Object.entries(r.metrics ?? {}).flatMap(([key, vs]) => vs.map((value, step) => ({ key, value, step, timestamp: start + step * 1000 })));
    const params = Object.entries(r.params ?? {}).map(([key, value]) => ({ key, value }));
    await env.api('POST', 'runs/log-batch', { run_id: run.info.run_id, metrics, params });
    const status = r.status ?? 'FINISHED';
    await env.api('POST', 'runs/update', { run_id: run.info.run_id, status, end_time: status === 'RUNNING' ? undefined : start + (r.minutes ?? 5) * 60_000 });
  }
  return { id, runs: ids };
}

/** Polls until `read` returns a value deep-equal (as JSON) to `want`; returns the last value read. */
export async function eventually<T>(read: () => Promise<T>, want: T, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let got = await read();
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    got = await read();
  }
  return got;
}

export const runNames = (page: Page) => page.$$eval('.vt-row .run-link', (els) => els.map((e) => e.textContent ?? ''));
