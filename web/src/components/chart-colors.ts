/** Run colours: distinct, and stable by position in the run list. */
export const PALETTE = ['#2f6fdb', '#e4572e', '#17a673', '#9b59b6', '#f0a202', '#00a6c7', '#d6336c', '#6c8a00', '#8d6e63', '#5c6bc0', '#ef6c00', '#2e7d32', '#ad1457', '#00897b', '#7b1fa2', '#546e7a'];
export const colorOf = (i: number, given?: string) => given ?? PALETTE[i % PALETTE.length];
export function alpha(hex: string, a: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return '–';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}
export function fmtDuration(s: number): string {
  if (s < 60) return `${Number(s.toPrecision(3))}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.round(s % 60) ? `${Math.round(s % 60)}s` : ''}`;
  return `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`;
}
/** Axis ticks: short, "1e-5" rather than "1.000e-5". */
export function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return Number(v.toPrecision(3)).toExponential();
  return String(Number(v.toPrecision(4)));
}
