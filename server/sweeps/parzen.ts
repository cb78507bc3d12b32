/**
 * The univariate Parzen estimators of TPE, with the settings of Optuna's default TPESampler: a prior
 * component of weight 1, the "magic clip" of bandwidths, consider_endpoints off, and the default weights
 * (older observations ramp down once there are more than 25).
 */
import { logNormalDensity, logNormalMass, logSumExp } from './gauss.js';
import type { Rng } from './types.js';

const PRIOR_WEIGHT = 1;

/** One estimator: draw candidates from it, and score candidates under it. */
export interface Parzen {
  sample(rng: Rng, count: number): number[];
  logPdf(xs: number[]): number[];
}

/**
 * Weights of observations in trial order, oldest first: all 1 below 25; from 25 on, the oldest n − 25
 * ramp linearly from 1/n up to 1 and the newest 25 stay at 1, so the estimator follows the search.
 */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

/** Observation weights plus the prior's, normalised; only the prior when nothing was observed. */
function mixtureWeights(n: number): number[] {
  const w = n === 0 ? [1] : [...defaultWeights(n), PRIOR_WEIGHT];
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/**
 * A numeric parameter in the space TPE works in (the log for log-uniform ones). With a step the values
 * are the grid low, low + step, …, high, and each kernel is a Gaussian over [low − step/2, high + step/2]
 * whose mass is summed per grid cell (Optuna ≥ 3's discrete kernel).
 */
export interface NumericDomain {
  low: number;
  high: number;
  step: number | null;
  /** The prior component's bandwidth; Optuna's is the whole interval (high − low). */
  priorSigma?: number;
}

export function numericParzen(observations: number[], domain: NumericDomain): Parzen {
  const half = domain.step === null ? 0 : domain.step / 2;
  const low = domain.low - half;
  const high = domain.high + half;
  const range = high - low;
  const obs = observations.map((x) => Math.min(high, Math.max(low, x)));
  const n = obs.length;
  const priorMu = 0.5 * (low + high);

  // Each observation's bandwidth is its larger gap to a neighbour among the observations and the
  // prior's centre, with the interval ends as outer neighbours; consider_endpoints off means the
  // outermost two look only inwards.
  const points = [...obs, priorMu];
  const order = points.map((_, i) => i).sort((a, b) => points[a]! - points[b]!);
  const sorted = [low, ...order.map((i) => points[i]!), high];
  const m = points.length;
  const bySorted: number[] = [];
  for (let i = 1; i <= m; i++) bySorted.push(Math.max(sorted[i]! - sorted[i - 1]!, sorted[i + 1]! - sorted[i]!));
  if (sorted.length >= 4) {
    bySorted[0] = sorted[2]! - sorted[1]!;
    bySorted[m - 1] = sorted[m]! - sorted[m - 1]!;
  }
  const sigmaOf = new Array<number>(m);
  order.forEach((pointIndex, rank) => (sigmaOf[pointIndex] = bySorted[rank]!));
  // The magic clip: no kernel narrower than the interval over (number of kernels + 1), at most 100ths.
  const minSigma = range / Math.min(100, n + 2);
  const mus = [...obs, priorMu];
  const sigmas = obs.map((_, i) => Math.min(range, Math.max(minSigma, sigmaOf[i]!)));
  sigmas.push(domain.priorSigma ?? range);

  const weights = mixtureWeights(n);
  const logWeights = weights.map(Math.log);
  const logMass = mus.map((mu, k) => logNormalMass((low - mu) / sigmas[k]!, (high - mu) / sigmas[k]!));

  const snap = (x: number): number => {
    if (domain.step === null) return x;
    const cells = Math.round((domain.high - domain.low) / domain.step);
    const k = Math.min(cells, Math.max(0, Math.round((x - domain.low) / domain.step)));
    return domain.low + k * domain.step;
  };

  return {
    sample(rng, count) {
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const k = rng.weighted(weights);
        // Rejection from the untruncated kernel: every centre lies inside [low, high] and no bandwidth
        // exceeds its width, so at least a third of the draws are kept.
        let x: number;
        do x = rng.normal(mus[k]!, sigmas[k]!);
        while (x < low || x > high);
        out.push(snap(x));
      }
      return out;
    },
    logPdf(xs) {
      const terms = new Array<number>(mus.length);
      // Discrete candidates repeat (a few grid values among n_ei_candidates): each is scored once.
      const seen = new Map<number, number>();
      return xs.map((x) => {
        const known = seen.get(x);
        if (known !== undefined) return known;
        for (let k = 0; k < mus.length; k++) {
          const mu = mus[k]!;
          const s = sigmas[k]!;
          const inCell =
            domain.step === null
              ? logNormalDensity((x - mu) / s) - Math.log(s)
              : logNormalMass((x - half - mu) / s, (x + half - mu) / s);
          terms[k] = logWeights[k]! + inCell - logMass[k]!;
        }
        const logP = logSumExp(terms);
        seen.set(x, logP);
        return logP;
      });
    },
  };
}

/**
 * A categorical parameter by choice index: each observation is a kernel that puts weight 1 on its
 * choice plus the prior weight / (observations + 1) spread over all choices; the prior kernel is uniform.
 */
export function categoricalParzen(observations: number[], choices: number): Parzen {
  const n = observations.length;
  const kernels = n + 1;
  const rows = observations.map((c) => {
    const row = new Array<number>(choices).fill(PRIOR_WEIGHT / kernels);
    row[c]! += 1;
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((x) => x / total);
  });
  rows.push(new Array<number>(choices).fill(1 / choices));
  const weights = mixtureWeights(n);
  // The mixture collapses to one probability per choice.
  const probs = new Array<number>(choices).fill(0);
  rows.forEach((row, k) => row.forEach((p, c) => (probs[c]! += weights[k]! * p)));
  return {
    sample(rng, count) {
      const out: number[] = [];
      // Kernel first, then a choice within it, as Optuna draws from the mixture.
      for (let i = 0; i < count; i++) out.push(rng.weighted(rows[rng.weighted(weights)]!));
      return out;
    },
    logPdf: (xs) => xs.map((c) => Math.log(probs[c]!)),
  };
}
