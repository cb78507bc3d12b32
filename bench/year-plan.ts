/**
 * The shape of a synthetic year of a 20-person team (bench/year.ts writes it, bench/year-check.ts reads
 * its manifest): how many experiments, runs, points and artifacts there are, which experiment each run
 * belongs to and when it started, and how long every metric series is. A pure function of (seed, scale),
 * so a restarted generator rebuilds exactly the plan it was following.
 */
import { prng } from './lib.js';

export const FULL = { experiments: 200, runs: 1_000_000, points: 100_000_000, artifacts: 1_000_000 };
export const USERS = ['ada', 'alan', 'barbara', 'claude', 'donald', 'edsger', 'frances', 'grace', 'hedy', 'john', 'ken', 'leslie', 'margaret', 'niklaus', 'radia', 'shafi', 'sophie', 'tim', 'tony', 'yann'];
/** Metric keys logged as curves, one point per step (the long series are all `loss`). */
export const CURVE_KEYS = ['loss', 'val_loss'] as const;
/** Metric keys logged once, at the end of a run: with the curves, 20 keys per run. */
export const SUMMARY_KEYS = [
  'test_acc', 'test_loss', 'val_acc', 'best_val_acc', 'best_val_loss', 'f1', 'precision', 'recall', 'auc', 'epoch_time_s',
  'train_time_s', 'gpu_mem_gb', 'throughput', 'params_m', 'flops_g', 'final_lr', 'grad_norm', 'best_epoch',
] as const;
/** The shortest curve; summary metrics are single points (see the README for why both exist). */
export const MIN_CURVE = 10;
/** The longest series (1,000,000 at full scale) and how many of them there are. */
export const TOP_SERIES = 5;
const YEAR_MS = 365 * 24 * 3600 * 1000;
export const YEAR_START = Date.UTC(2026, 0, 1);
/** Share of the runs in the one big experiment (100,000 runs at full scale). */
const BIG_SHARE = 0.1;

export interface Plan {
  seed: number;
  scale: number;
  experiments: number;
  runs: number;
  points: number;
  artifacts: number;
  topLength: number;
  /** Experiment (index into the plan's experiments) of each run, runs in start-time order. */
  expOf: Uint16Array;
  startOf: Float64Array;
  /** Runs of each experiment in start-time order (global run indexes). */
  runsOf: Int32Array[];
  /** Each run's place in its experiment's list. */
  positionOf: Int32Array;
  /** Length of curve c = 2 * run + k (k indexes CURVE_KEYS). */
  curveLength: Int32Array;
  artifactCount: Int32Array;
}

/** A well-mixed 32-bit seed for item `i` of stream `stream`, so every run draws its own numbers. */
export function mix(seed: number, stream: number, i: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(stream + 1, 0xc2b2ae35) + Math.imul(i + 1, 0x27d4eb2f)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function scaled(scale: number) {
  const runs = Math.max(200, Math.round(FULL.runs * scale));
  return {
    experiments: Math.max(2, Math.round(FULL.experiments * scale)),
    runs,
    points: Math.max(runs * 60, Math.round(FULL.points * scale)),
    artifacts: Math.round(FULL.artifacts * scale),
  };
}

/**
 * Splits `total` over `weights` in whole numbers (each at most `cap`), exactly: floors of the scaled
 * weights, then one more each for the largest remainders. The scale factor is found by bisection so
 * that capped items give their excess to the others.
 */
function apportion(weights: Float64Array, total: number, cap: number): Int32Array {
  const out = new Int32Array(weights.length);
  let lo = 0;
  let hi = 1;
  const sumAt = (f: number) => {
    let s = 0;
    for (let i = 0; i < weights.length; i++) s += Math.min(cap, Math.floor(weights[i] * f));
    return s;
  };
  while (sumAt(hi) < total) hi *= 2;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (sumAt(mid) <= total) lo = mid;
    else hi = mid;
  }
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += out[i] = Math.min(cap, Math.floor(weights[i] * lo));
  // The rest, one each, to the items closest to their next whole number (still under the cap).
  const order = Array.from(weights.keys()).filter((i) => out[i] < cap);
  order.sort((a, b) => ((weights[b] * lo) % 1) - ((weights[a] * lo) % 1) || a - b);
  for (let k = 0; sum < total; k = (k + 1) % order.length) {
    if (out[order[k]] < cap) {
      out[order[k]]++;
      sum++;
    }
  }
  return out;
}

/** Pareto draw with minimum 1 and tail index `alpha`: most draws near 1, a few enormous. */
const pareto = (r: () => number, alpha: number) => Math.pow(1 - r(), -1 / alpha);

export function makePlan(seed: number, scale: number): Plan {
  const n = scaled(scale);
  const r = prng(mix(seed, 0, 0));

  // Experiments: one holding a tenth of the runs, the others Zipf-sized, each active for a while.
  const sizes = new Float64Array(n.experiments);
  sizes[0] = BIG_SHARE;
  for (let e = 1; e < n.experiments; e++) sizes[e] = 1 / Math.pow(e, 0.8);
  let rest = 0;
  for (let e = 1; e < n.experiments; e++) rest += sizes[e];
  for (let e = 1; e < n.experiments; e++) sizes[e] = ((1 - BIG_SHARE) * sizes[e]) / rest;
  const counts = apportion(sizes, n.runs, n.runs);
  const starts: number[] = [];
  const span: [number, number][] = [];
  for (let e = 0; e < n.experiments; e++) {
    const from = e === 0 ? 0 : r() * 0.9 * YEAR_MS;
    const length = e === 0 ? YEAR_MS : Math.min(YEAR_MS - from, (14 + r() * 170) * 24 * 3600 * 1000);
    span.push([YEAR_START + from, YEAR_START + from + length]);
    for (let k = 0; k < counts[e]; k++) starts.push(e, span[e][0] + (length * (k + r())) / counts[e]);
  }
  // Runs in start-time order across experiments, as a team creates them over the year.
  const order = Array.from({ length: n.runs }, (_, i) => i).sort((a, b) => starts[2 * a + 1] - starts[2 * b + 1] || a - b);
  const expOf = new Uint16Array(n.runs);
  const startOf = new Float64Array(n.runs);
  order.forEach((from, i) => {
    expOf[i] = starts[2 * from];
    startOf[i] = Math.floor(starts[2 * from + 1]);
  });
  const lists: number[][] = Array.from({ length: n.experiments }, () => []);
  const positionOf = new Int32Array(n.runs);
  for (let i = 0; i < n.runs; i++) positionOf[i] = lists[expOf[i]].push(i) - 1;
  const runsOf = lists.map((l) => Int32Array.from(l));

  // Curves: a few of the longest `loss` series in the big experiment, the rest heavy-tailed.
  const topLength = Math.min(1_000_000, Math.floor(n.points / 20));
  const curves = n.runs * CURVE_KEYS.length;
  const curveLength = new Int32Array(curves);
  const top = new Set<number>();
  while (top.size < TOP_SERIES) top.add(CURVE_KEYS.length * runsOf[0][Math.floor(r() * runsOf[0].length)]);
  const weights = new Float64Array(curves);
  // Tail indexes near 1 give every decade of length a similar share of the points; the cap keeps one
  // draw from taking them all.
  for (let c = 0; c < curves; c++) weights[c] = top.has(c) ? 0 : Math.min(30_000 * (0.5 + r()), pareto(r, c % 2 === 0 ? 1 : 1.5)) - 1;
  const extra = n.points - n.runs * SUMMARY_KEYS.length - TOP_SERIES * topLength - (curves - TOP_SERIES) * MIN_CURVE;
  if (extra < 0) throw new Error(`scale ${scale}: too few points for the runs`);
  const extras = apportion(weights, extra, topLength - 1 - MIN_CURVE);
  for (let c = 0; c < curves; c++) curveLength[c] = top.has(c) ? topLength : MIN_CURVE + extras[c];

  // Artifacts: most runs keep one or a few, many none, a few hundreds of checkpoints.
  const aw = new Float64Array(n.runs);
  for (let i = 0; i < n.runs; i++) aw[i] = r() < 0.4 ? 0 : pareto(r, 2.2);
  const artifactCount = apportion(aw, n.artifacts, 500);
  return { seed, scale, ...n, topLength, expOf, startOf, runsOf, positionOf, curveLength, artifactCount };
}

/** Counts per length decade, for the generator's summary line. */
export function lengthHistogram(lengths: Int32Array, singles: number): string {
  const bins = new Map<number, number>([[1, singles]]);
  for (const l of lengths) {
    const d = 10 ** Math.floor(Math.log10(l));
    bins.set(d, (bins.get(d) ?? 0) + 1);
  }
  return [...bins].sort((a, b) => a[0] - b[0]).map(([d, c]) => `${d.toLocaleString('en-US')}+: ${c.toLocaleString('en-US')}`).join(', ');
}
