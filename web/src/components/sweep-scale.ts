/**
 * Bounds for plotting values of which a few may be wild (a diverged trial logs 1e30, or ±1.8e308 for an
 * infinite loss): one such value would squeeze every other point into a line, and near ±DBL_MAX the
 * chart's own padding overflows to Infinity and nothing is drawn at all.
 */

/** Beyond this magnitude nothing is plotted where it is: scales and paddings must stay finite. */
export const PLOT_LIMIT = 1e300;
/** How many robust spreads from the median a value may be and still set the scale. */
const FENCE = 20;

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/**
 * The smallest and largest of the values that are not outliers, or null when no value is finite. An
 * outlier is farther from the median than FENCE times the spread, the spread being the larger of the
 * scaled median absolute deviation (robust to up to half the values being wild) and |median| (so values
 * on one order of magnitude are never cut, however tightly most of them cluster). Values beyond
 * ±PLOT_LIMIT are outliers too.
 */
export function inlierBounds(values: number[]): [number, number] | null {
  const ok = values.filter((v) => Number.isFinite(v) && Math.abs(v) <= PLOT_LIMIT).sort((a, b) => a - b);
  if (ok.length === 0) return null;
  const med = median(ok);
  const mad = median(ok.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
  const spread = Math.max(1.4826 * mad, Math.abs(med));
  if (spread === 0) return [ok[0], ok[ok.length - 1]];
  const lo = med - FENCE * spread;
  const hi = med + FENCE * spread;
  const inside = ok.filter((v) => v >= lo && v <= hi);
  return [inside[0], inside[inside.length - 1]];
}

/** The value clamped into [lo, hi] (NaN stays NaN). */
export const clamp = (v: number, [lo, hi]: [number, number]) => (v < lo ? lo : v > hi ? hi : v);
