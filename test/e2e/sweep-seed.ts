import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Env } from './browser.js';

/** Sweeps made through the real API, as workers make them, for the sweep page's browser tests. */
export const SWEEPS = '/api/2.0/lablog/sweeps';

export type Outcome = 'FINISHED' | 'FAILED' | 'STOPPED' | 'RUNNING';
export interface SeedTrial {
  outcome: Outcome;
  /** The objective logged at steps 0, 1, ... ('NaN' as MLflow's wire writes it); none: nothing logged. */
  values?: (number | 'NaN')[];
  /** The worker label asked with (decided before the trial is known, so a plan function cannot set it). */
  worker?: string;
}
export interface WireTrial {
  number: number;
  run_id: string;
  status: string;
  params: Record<string, string | number | boolean>;
  worker: string;
  value?: number | 'NaN';
}

const T0 = Date.UTC(2026, 10, 20, 9, 0);

export async function createSweep(env: Env, name: string, config: Record<string, unknown>) {
  const { experiment_id } = await env.api('POST', 'experiments/create', { name: `${name}-exp` });
  const { sweep } = await env.api('POST', `${SWEEPS}/create`, { experiment_id, name, ...config });
  return { sweep, experimentId: experiment_id as string, id: sweep.sweep_id as string };
}

/** Asks for the next trial and plays it out: values logged, then the run ended (or left running). */
export async function playTrial(env: Env, sweepId: string, metric: string, plan: SeedTrial | ((t: WireTrial) => SeedTrial), worker = 'w'): Promise<WireTrial> {
  const { trial } = await env.api('POST', `${SWEEPS}/${sweepId}/next`, { worker: typeof plan === 'function' ? worker : (plan.worker ?? worker) });
  assert.ok(trial, 'the sweep handed out a trial');
  const p = typeof plan === 'function' ? plan(trial) : plan;
  const metrics = (p.values ?? []).map((value, step) => ({ key: metric, value, step, timestamp: T0 + step * 1000 }));
  if (metrics.length) await env.api('POST', 'runs/log-batch', { run_id: trial.run_id, metrics });
  if (p.outcome === 'STOPPED') assert.equal((await env.api('POST', `${SWEEPS}/${sweepId}/should-stop`, { run_id: trial.run_id })).should_stop, true);
  if (p.outcome !== 'RUNNING') await env.api('POST', 'runs/update', { run_id: trial.run_id, status: p.outcome === 'STOPPED' ? 'KILLED' : p.outcome, end_time: T0 + 60_000 });
  return trial;
}

export async function playTrials(env: Env, sweepId: string, metric: string, plans: SeedTrial[]): Promise<WireTrial[]> {
  const out: WireTrial[] = [];
  for (const p of plans) out.push(await playTrial(env, sweepId, metric, p));
  return out;
}

export const getTrials = async (env: Env, id: string) => (await env.api('GET', `${SWEEPS}/${id}/trials`)).trials as WireTrial[];
export const getSweep = async (env: Env, id: string) => (await env.api('GET', `${SWEEPS}/${id}`)).sweep;

/** The UI's number format (web/src/components/chart-colors.ts fmtNum). */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

/** The trials table's cells, row by row, as shown. */
export const rowTexts = (page: Page) => page.$$eval('.sweep-trials .vt-row', (els) => els.map((e) => [...e.querySelectorAll('.vt-cell')].map((c) => c.textContent ?? '')));
/** A column of the trials table by its header id (params.<name>, value, ...). */
export async function columnTexts(page: Page, col: string): Promise<string[]> {
  const heads = await page.$$eval('.sweep-trials .vt-head .vt-cell', (els) => els.map((e) => e.querySelector('[data-col]')?.getAttribute('data-col') ?? ''));
  const i = heads.indexOf(col);
  assert.ok(i >= 0, `column ${col} in ${heads.join(',')}`);
  return (await rowTexts(page)).map((r) => r[i]);
}
/** The tick labels of a parallel-coordinates axis, bottom to top as drawn. */
export const axisTicks = (page: Page, key: string) =>
  page.$$eval(`.sweep-pcoords .pc-axis[data-axis="${key}"] text`, (els) => els.slice(0, -1).map((e) => ({ y: Number(e.getAttribute('y')), t: e.textContent ?? '' })).sort((a, b) => b.y - a.y).map((x) => x.t));

/**
 * How many pixels of the element's first canvas are close to the colour (composited over white), inside
 * the canvas region given in CSS pixels relative to the element's plot overlay (all of it by default).
 */
export function countColour(page: Page, selector: string, rgb: [number, number, number], region: 'all' | 'left-of-plot' = 'all', tolerance = 40): Promise<number> {
  return page.locator(selector).evaluate(
    (el, { rgb, region, tolerance }) => {
      const canvas = el.querySelector('canvas')!;
      const cb = canvas.getBoundingClientRect();
      const over = el.querySelector('.u-over')!.getBoundingClientRect();
      const k = canvas.width / cb.width;
      const x1 = region === 'all' ? canvas.width : Math.floor((over.left - cb.left) * k) - 1;
      const data = canvas.getContext('2d')!.getImageData(0, 0, Math.max(1, x1), canvas.height).data;
      const white = (c: number, a: number) => 255 - ((255 - c) * a) / 255;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        const a = data[i + 3];
        if (a === 0) continue;
        const d = Math.abs(white(data[i], a) - rgb[0]) + Math.abs(white(data[i + 1], a) - rgb[1]) + Math.abs(white(data[i + 2], a) - rgb[2]);
        if (d < tolerance) n++;
      }
      return n;
    },
    { rgb, region, tolerance },
  );
}
