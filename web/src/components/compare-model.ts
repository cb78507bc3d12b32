import { mlflow, num, type Run } from '../api.js';
import type { ChartRun, ChartX } from './chart.js';
import { colorOf } from './chart-colors.js';

export const MAX_COMPARE = 100;

/** A compared run, flattened for the tables and plots. */
export interface CRun {
  id: string;
  label: string;
  color: string;
  status: string;
  params: Map<string, string>;
  metrics: Map<string, number>;
}

export async function fetchRuns(ids: string[]): Promise<{ runs: Run[]; missing: string[] }> {
  const got = await Promise.all(
    ids.map((id) =>
      mlflow<{ run: Run }>('GET', 'runs/get', undefined, { run_id: id }).then(
        (r) => r.run,
        () => null,
      ),
    ),
  );
  return { runs: got.filter((r): r is Run => r !== null), missing: ids.filter((_, i) => got[i] === null) };
}

export function toCRuns(runs: Run[]): CRun[] {
  const names = new Map<string, number>();
  for (const r of runs) names.set(r.info.run_name ?? '', (names.get(r.info.run_name ?? '') ?? 0) + 1);
  return runs.map((r, i) => {
    const name = r.info.run_name || r.info.run_id.slice(0, 8);
    const dup = (names.get(r.info.run_name ?? '') ?? 0) > 1;
    return {
      id: r.info.run_id,
      label: dup ? `${name} (${r.info.run_id.slice(0, 6)})` : name,
      color: colorOf(i),
      status: r.info.status,
      params: new Map((r.data.params ?? []).map((p) => [p.key, p.value])),
      metrics: new Map((r.data.metrics ?? []).map((m) => [m.key, num(m.value)])),
    };
  });
}

export const chartRuns = (runs: CRun[]): ChartRun[] => runs.map((r) => ({ runId: r.id, label: r.label, color: r.color, status: r.status }));

/** Keys present in most runs first, then by name. */
export function keysByCommonness(runs: CRun[], pick: (r: CRun) => Iterable<string>): string[] {
  const n = new Map<string, number>();
  for (const r of runs) for (const k of pick(r)) n.set(k, (n.get(k) ?? 0) + 1);
  return [...n.keys()].sort((a, b) => n.get(b)! - n.get(a)! || a.localeCompare(b));
}

/** Whether a key's value differs between the runs (a missing value counts as a value). */
export function differs(runs: CRun[], get: (r: CRun) => string | undefined): boolean {
  const first = get(runs[0]);
  return runs.some((r) => get(r) !== first);
}

export function parseX(v: string | null): ChartX {
  if (v === 'time' || v === 'relative' || v === 'step') return v;
  if (v && v.startsWith('metric:') && v.length > 7) return { metric: v.slice(7) };
  return 'step';
}

/** Parses a parameter for plotting: a finite number, or null for a categorical value. */
export function numeric(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** An axis over runs' values: numeric (linear) when every present value is a number, else categorical. */
export interface Axis {
  key: string;
  label: string;
  kind: 'param' | 'metric';
  value(r: CRun): string | number | undefined;
  /** 0 (bottom) .. 1 (top), or null when the run has no value. */
  pos(r: CRun): number | null;
  ticks: { at: number; text: string }[];
}

export function makeAxis(runs: CRun[], key: string, kind: 'param' | 'metric'): Axis {
  const value = (r: CRun) => (kind === 'param' ? r.params.get(key) : r.metrics.get(key));
  const vals = runs.map(value).filter((v): v is string | number => v !== undefined);
  const nums = vals.map((v) => (typeof v === 'number' ? v : numeric(v)));
  const label = kind === 'metric' ? `${key} (metric)` : key;
  if (nums.length > 0 && nums.every((n) => n !== null && Number.isFinite(n))) {
    const lo = Math.min(...(nums as number[]));
    const hi = Math.max(...(nums as number[]));
    const span = hi - lo || 1;
    const at = (v: number) => (hi === lo ? 0.5 : (v - lo) / span);
    const ticks = hi === lo ? [{ at: 0.5, text: fmt(lo) }] : [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: f, text: fmt(lo + f * span) }));
    return { key, label, kind, value, ticks, pos: (r) => { const v = value(r); const n = typeof v === 'number' ? v : numeric(v); return n === null || !Number.isFinite(n) ? null : at(n); } };
  }
  const cats = [...new Set(vals.map(String))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const at = (i: number) => (cats.length === 1 ? 0.5 : i / (cats.length - 1));
  return { key, label, kind, value, ticks: cats.map((c, i) => ({ at: at(i), text: c })), pos: (r) => { const v = value(r); if (v === undefined) return null; return at(cats.indexOf(String(v))); } };
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}
