import { num, type Run } from '../api.js';
import type { KeySets } from './column-chooser.js';

/** One run flattened for the table: params, latest metric values and tags by key. */
export interface Row {
  run: Run;
  id: string;
  p: Map<string, string>;
  m: Map<string, number>;
  t: Map<string, string>;
  parent: string | null;
  /** When this copy of the run was read (the duration of a RUNNING run is measured up to it). */
  seen: number;
}

export const BASE_COLUMNS = ['attributes.run_name', 'attributes.status', 'attributes.user_id', 'attributes.start_time', 'duration'];
export const BASE_LABELS: Record<string, string> = {
  'attributes.run_name': 'Run',
  'attributes.status': 'Status',
  'attributes.user_id': 'User',
  'attributes.start_time': 'Start',
  duration: 'Duration',
};

export function toRow(run: Run, seen = Date.now()): Row {
  const p = new Map<string, string>();
  const m = new Map<string, number>();
  const t = new Map<string, string>();
  for (const x of run.data.params ?? []) p.set(x.key, x.value);
  for (const x of run.data.metrics ?? []) m.set(x.key, num(x.value));
  for (const x of run.data.tags ?? []) t.set(x.key, x.value);
  return { run, id: run.info.run_id, p, m, t, parent: t.get('mlflow.parentRunId') ?? null, seen };
}

export function collectKeys(rows: Row[]): KeySets {
  const p = new Set<string>();
  const m = new Set<string>();
  const t = new Set<string>();
  for (const r of rows) {
    for (const k of r.p.keys()) p.add(k);
    for (const k of r.m.keys()) m.add(k);
    for (const k of r.t.keys()) t.add(k);
  }
  const sort = (s: Set<string>) => [...s].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return { params: sort(p), metrics: sort(m), tags: sort(t) };
}

/**
 * Params whose values differ between the runs that have them (all params when no param differs,
 * e.g. a single run), then every metric.
 */
export function defaultColumns(rows: Row[], keys: KeySets): string[] {
  const differ = keys.params.filter((k) => {
    let first: string | undefined;
    for (const r of rows) {
      const v = r.p.get(k);
      if (v === undefined) continue;
      if (first === undefined) first = v;
      else if (v !== first) return true;
    }
    return false;
  });
  const params = differ.length || rows.length > 1 ? differ : keys.params;
  return [...params.map((k) => `params.${k}`), ...keys.metrics.map((k) => `metrics.${k}`)];
}

export function cellValue(r: Row, col: string): string | number | undefined {
  const info = r.run.info;
  switch (col) {
    case 'attributes.run_name':
      return info.run_name ?? info.run_id;
    case 'attributes.status':
      return info.status;
    case 'attributes.user_id':
      return info.user_id;
    case 'attributes.start_time':
      return info.start_time;
    case 'duration':
      if (info.start_time && info.end_time) return info.end_time - info.start_time;
      // A run still RUNNING: the time elapsed so far (refreshed by the live poll).
      return info.start_time && info.status === 'RUNNING' ? Math.max(0, r.seen - info.start_time) : undefined;
  }
  const dot = col.indexOf('.');
  const kind = col.slice(0, dot);
  const key = col.slice(dot + 1);
  if (kind === 'params') return r.p.get(key);
  if (kind === 'metrics') return r.m.get(key);
  if (kind === 'tags') return r.t.get(key);
  return undefined;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Local time as YYYY-MM-DD HH:MM:SS (sortable, compact). */
export function formatTime(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function formatCell(col: string, v: string | number | undefined): string {
  if (v === undefined) return '';
  if (col === 'attributes.start_time') return formatTime(v as number);
  if (col === 'duration') return formatDuration(v as number);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  return v;
}

/** The order_by clause for a column the server can sort by, or null (sorted client-side). */
export function serverOrder(col: string, desc: boolean): string | null {
  if (col === 'duration') return null;
  const dot = col.indexOf('.');
  const kind = col.slice(0, dot);
  const key = col.slice(dot + 1);
  const dir = desc ? 'DESC' : 'ASC';
  if (kind === 'attributes') return `attributes.${key} ${dir}`;
  if (kind === 'metrics' || kind === 'params' || kind === 'tags') return `${kind}.\`${key.replace(/`/g, '')}\` ${dir}`;
  return null;
}

/** Client-side sort (missing values last, like the server). */
export function sortRows(rows: Row[], col: string, desc: boolean): Row[] {
  const sign = desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = cellValue(a, col);
    const y = cellValue(b, col);
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * String(x).localeCompare(String(y), undefined, { numeric: true });
  });
}

export interface Shown {
  row: Row;
  depth: number;
  children: number;
}

/** Whether `next` has a param, metric or tag key that `prev` lacks (a new column may exist). */
export function hasNewKeys(prev: Row, next: Row): boolean {
  for (const k of next.m.keys()) if (!prev.m.has(k)) return true;
  for (const k of next.p.keys()) if (!prev.p.has(k)) return true;
  for (const k of next.t.keys()) if (!prev.t.has(k)) return true;
  return false;
}

/** Nested runs folded under their parent (tag mlflow.parentRunId); `open` holds the expanded parents. */
export function foldRows(rows: Row[], open: Set<string>): Shown[] {
  const ids = new Set(rows.map((r) => r.id));
  const kids = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.parent && r.parent !== r.id && ids.has(r.parent)) {
      const list = kids.get(r.parent) ?? [];
      list.push(r);
      kids.set(r.parent, list);
    }
  }
  const out: Shown[] = [];
  const seen = new Set<string>();
  const visit = (r: Row, depth: number) => {
    if (seen.has(r.id)) return;
    seen.add(r.id);
    const children = kids.get(r.id) ?? [];
    out.push({ row: r, depth, children: children.length });
    if (open.has(r.id)) for (const c of children) visit(c, depth + 1);
  };
  for (const r of rows) if (!(r.parent && r.parent !== r.id && ids.has(r.parent))) visit(r, 0);
  return out;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as shown: the visible columns in their order, the shown rows (raw values, ISO times). */
export function toCsv(cols: string[], shown: Shown[]): string {
  const head = cols.map((c) => csvField(BASE_LABELS[c] ?? c));
  const lines = [head.join(',')];
  for (const s of shown) {
    lines.push(
      cols
        .map((c) => {
          const v = cellValue(s.row, c);
          if (v === undefined) return '';
          if (c === 'attributes.start_time') return new Date(v as number).toISOString();
          if (c === 'duration') return String((v as number) / 1000);
          return csvField(String(v));
        })
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
