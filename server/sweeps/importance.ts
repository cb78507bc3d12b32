import type { Assignment, Goal, Param, ParamValue, Space } from './types.js';

/**
 * Which parameters matter: a main-effect measure in the spirit of fANOVA (the share of the objective's
 * variance a parameter explains on its own), cheap enough to recompute on every page load.
 *
 * For each parameter, the trials where it is present are grouped by its value (categorical) or into
 * quantile bins (numeric; rank-based, so a log scale needs no special case), and we take the correlation
 * ratio η² = 1 − SS_within / SS_total of the objective's ranks. Unlike a rank correlation it sees
 * non-monotonic effects: a U-shaped learning rate has a Spearman ρ near 0 but a large η².
 *
 * η² is bias-corrected (Kelley's ε² = 1 − MS_within / MS_total, clipped at 0): raw η² of pure noise is
 * about (groups − 1)/(n − 1), e.g. 0.2 for 8 bins over 36 trials, which would both hand a noise parameter
 * a real share and favour parameters with more groups over a two-valued choice. Corrected, noise sits
 * near 0 whatever the number of groups.
 */

const MAX_BINS = 10;
const MIN_TRIALS = 3;

export interface Importance {
  name: string;
  importance: number;
}

/** Every parameter of the space, most important first, summing to 1 (all 0 when nothing stands out). */
export function parameterImportance(
  space: Space,
  trials: { params: Assignment; value: number }[],
  goal: Goal,
): Importance[] {
  const raw = space.map((param) => ({
    name: param.name,
    importance: trials.length < MIN_TRIALS || param.kind === 'constant' ? 0 : mainEffect(param, trials, goal),
  }));
  const total = raw.reduce((sum, r) => sum + r.importance, 0);
  const out = raw.map((r) => ({ name: r.name, importance: total > 0 ? r.importance / total : 0 }));
  // Array.prototype.sort is stable: equal importances keep the space's declaration order.
  return out.sort((a, b) => b.importance - a.importance);
}

function mainEffect(param: Param, trials: { params: Assignment; value: number }[], goal: Goal): number {
  const numeric = param.kind !== 'categorical';
  const present = trials.filter((t) => {
    const v = t.params[param.name];
    return v !== undefined && (!numeric || (typeof v === 'number' && Number.isFinite(v)));
  });
  const n = present.length;
  if (n < MIN_TRIALS) return 0;
  const groups = numeric
    ? quantileBins(present.map((t) => t.params[param.name] as number))
    : valueGroups(present.map((t) => t.params[param.name]!));
  return epsilonSquared(objectiveRanks(present.map((t) => t.value), goal), groups);
}

/** Group index per trial, one group per distinct value (1 and "1" are different values). */
function valueGroups(values: ParamValue[]): number[] {
  const index = new Map<string, number>();
  return values.map((v) => {
    const key = `${typeof v}:${String(v)}`;
    if (!index.has(key)) index.set(key, index.size);
    return index.get(key)!;
  });
}

/**
 * Bin index per trial: about √n equal-count bins (at most 10, at least 2) over the sorted values, with
 * equal values always in the same bin; few distinct values get one group each.
 */
function quantileBins(values: number[]): number[] {
  const n = values.length;
  const distinct = new Set(values).size;
  if (distinct <= MAX_BINS) return valueGroups(values);
  const bins = Math.min(MAX_BINS, Math.max(2, Math.ceil(Math.sqrt(n))));
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Array<number>(n);
  for (let pos = 0; pos < n; pos++) {
    const i = order[pos]!;
    const prev = pos > 0 ? order[pos - 1]! : -1;
    out[i] = prev >= 0 && values[prev] === values[i] ? out[prev]! : Math.floor((pos * bins) / n);
  }
  return out;
}

/** Ranks 1..n, best first, ties sharing their average rank; NaN is the worst value. */
function objectiveRanks(values: number[], goal: Goal): number[] {
  const key = (v: number) => (goal === 'minimize' ? v : -v);
  const order = values.map((_, i) => i).sort((a, b) => compareKeys(values[a]!, values[b]!, key));
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && compareKeys(values[order[start]!]!, values[order[end]!]!, key) === 0) end++;
    for (let j = start; j < end; j++) ranks[order[j]!] = (start + 1 + end) / 2;
    start = end;
  }
  return ranks;
}

/** Orders by key, NaN last (after +Infinity, which the key cannot tell from it). */
function compareKeys(a: number, b: number, key: (v: number) => number): number {
  const na = Number.isNaN(a);
  const nb = Number.isNaN(b);
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Kelley's ε²: the between-group share of variance, less what the groups would explain by chance. */
function epsilonSquared(y: number[], group: number[]): number {
  const n = y.length;
  const sums = new Map<number, { sum: number; count: number }>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += y[i]!;
    const g = sums.get(group[i]!) ?? { sum: 0, count: 0 };
    g.sum += y[i]!;
    g.count++;
    sums.set(group[i]!, g);
  }
  // Ranks are multiples of 1/2, so these sums are exact and equal ranks give exactly zero spread.
  const mean = total / n;
  const k = sums.size;
  // One group says nothing; one trial per group leaves no within-group spread to compare against.
  if (k < 2 || n - k < 1) return 0;
  let ssTotal = 0;
  let ssWithin = 0;
  for (let i = 0; i < n; i++) {
    const g = sums.get(group[i]!)!;
    ssTotal += (y[i]! - mean) ** 2;
    ssWithin += (y[i]! - g.sum / g.count) ** 2;
  }
  if (ssTotal <= 0) return 0;
  const eps = 1 - ssWithin / (n - k) / (ssTotal / (n - 1));
  return Math.min(1, Math.max(0, eps));
}
