/**
 * Bayesian search: the Tree-structured Parzen Estimator as Optuna's default TPESampler runs it
 * (independent, univariate). The finished trials are split into the best γ(n) ("below") and the rest
 * ("above"); for each parameter a Parzen estimator l(x) is fitted to the below values and g(x) to the
 * above ones, n_ei_candidates are drawn from l, and the one with the largest log l(x) − log g(x) wins.
 */
import { categoricalParzen, numericParzen, type NumericDomain, type Parzen } from './parzen.js';
import { isActive, quantized, quantizedCount, sampleRandom } from './random.js';
import type { Assignment, Goal, Param, ParamValue, Rng, Space, TrialRecord } from './types.js';

export const TPE_DEFAULTS = { nStartupTrials: 10, nEiCandidates: 24 } as const;

/** How far from mu a `normal` parameter may go: beyond 5σ lies less than one draw in a million. */
const NORMAL_SPAN = 5;

export interface TpeOptions {
  goal: Goal;
  rng: Rng;
  nStartupTrials?: number;
  nEiCandidates?: number;
}

/** Size of the "below" set: the best 10 %, rounded up, at most 25 (Optuna's default_gamma). */
export function gamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Lower is better, whatever the goal; NaN is the worst of all. */
function loss(value: number, goal: Goal): number {
  if (Number.isNaN(value)) return Infinity;
  return goal === 'minimize' ? value : -value;
}

/** A trial TPE learns from: completed or pruned, with a value. */
function usable(trial: TrialRecord): boolean {
  return (trial.state === 'complete' || trial.state === 'pruned') && trial.value !== null;
}

/**
 * The best γ(n) trials and the rest, each in trial order (the weights favour later trials). Completed
 * trials rank by value; pruned ones come after every completed one, the deeper-stopped first, then by
 * value (a pruned trial with no step ranks last). Running and failed trials, and any without a value,
 * take no part.
 */
export function splitTrials(history: TrialRecord[], goal: Goal): { below: TrialRecord[]; above: TrialRecord[] } {
  const ranked = history.map((trial, index) => ({ trial, index })).filter(({ trial }) => usable(trial));
  const complete = ranked
    .filter(({ trial }) => trial.state === 'complete')
    .sort((a, b) => loss(a.trial.value!, goal) - loss(b.trial.value!, goal) || 0);
  const pruned = ranked
    .filter(({ trial }) => trial.state === 'pruned')
    .sort((a, b) => {
      const depth = (b.trial.step ?? -Infinity) - (a.trial.step ?? -Infinity);
      if (depth !== 0 && !Number.isNaN(depth)) return depth;
      return loss(a.trial.value!, goal) - loss(b.trial.value!, goal) || 0;
    });
  const best = [...complete, ...pruned];
  const nBelow = gamma(best.length);
  const inOrder = (list: typeof best) => list.sort((a, b) => a.index - b.index).map(({ trial }) => trial);
  return { below: inOrder(best.slice(0, nBelow)), above: inOrder(best.slice(nBelow)) };
}

/**
 * How one parameter maps to the estimators' space and back. int_uniform and q_uniform use Optuna's
 * discrete kernels (Gaussian mass per grid cell), not a continuous fit rounded afterwards.
 */
interface Codec {
  fit(observations: number[]): Parzen;
  /** The internal value of an observed parameter value, or null when it does not fit the space. */
  encode(value: ParamValue): number | null;
  decode(x: number): ParamValue;
}

const finite = (v: ParamValue): v is number => typeof v === 'number' && Number.isFinite(v);
const clamp = (x: number, low: number, high: number) => Math.min(high, Math.max(low, x));

function numericCodec(domain: NumericDomain, encode: (v: number) => number | null, decode: (x: number) => ParamValue): Codec {
  return {
    fit: (observations) => numericParzen(observations, domain),
    encode: (v) => (finite(v) ? encode(v) : null),
    decode,
  };
}

function codecFor(param: Exclude<Param, { kind: 'constant' }>): Codec {
  switch (param.kind) {
    case 'categorical':
      return {
        fit: (observations) => categoricalParzen(observations, param.values.length),
        encode: (v) => {
          const i = param.values.indexOf(v);
          return i < 0 ? null : i;
        },
        decode: (i) => param.values[i]!,
      };
    case 'uniform':
      return numericCodec({ low: param.min, high: param.max, step: null }, (v) => v, (x) => clamp(x, param.min, param.max));
    case 'log_uniform': {
      const low = Math.log(param.min);
      const high = Math.log(param.max);
      return numericCodec(
        { low, high, step: null },
        (v) => (v > 0 ? Math.log(v) : null),
        // exp(log(max)) may land one ulp outside the bounds.
        (x) => clamp(Math.exp(x), param.min, param.max),
      );
    }
    case 'int_uniform':
      return numericCodec({ low: param.min, high: param.max, step: 1 }, (v) => v, (x) => clamp(Math.round(x), param.min, param.max));
    case 'q_uniform': {
      const cells = quantizedCount(param.min, param.max, param.q) - 1;
      return numericCodec(
        { low: param.min, high: param.min + cells * param.q, step: param.q },
        (v) => v,
        (x) => quantized(param.min, param.q, clamp(Math.round((x - param.min) / param.q), 0, cells)),
      );
    }
    case 'normal': {
      // Not an Optuna distribution: TPE searches mu ± 5σ as if it were uniform there, except that the
      // prior component is the parameter's own N(mu, σ²) (truncated), not one spanning the interval.
      const low = param.mu - NORMAL_SPAN * param.sigma;
      const high = param.mu + NORMAL_SPAN * param.sigma;
      return numericCodec({ low, high, step: null, priorSigma: param.sigma }, (v) => v, (x) => clamp(x, low, high));
    }
  }
}

/** Internal values of the parameter in the trials that had it (conditional parameters come and go). */
function observed(trials: TrialRecord[], name: string, codec: Codec): number[] {
  const out: number[] = [];
  for (const trial of trials) {
    if (!(name in trial.params)) continue;
    const x = codec.encode(trial.params[name]!);
    if (x !== null) out.push(x);
  }
  return out;
}

/** The candidate drawn from l(x) with the largest log l(x) − log g(x); the first one on ties. */
function bestCandidate(below: Parzen, above: Parzen, rng: Rng, count: number): number {
  const candidates = below.sample(rng, count);
  const l = below.logPdf(candidates);
  const g = above.logPdf(candidates);
  let best = 0;
  let bestScore = -Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const score = l[i]! - g[i]!;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return candidates[best]!;
}

/**
 * The next trial's parameters. With fewer than n_startup_trials usable trials (completed or pruned,
 * with a value) it is a random-search draw from the same rng. The history must be in trial order.
 */
export function suggestTpe(space: Space, history: TrialRecord[], opts: TpeOptions): Assignment {
  const nStartup = opts.nStartupTrials ?? TPE_DEFAULTS.nStartupTrials;
  const nCandidates = Math.max(1, opts.nEiCandidates ?? TPE_DEFAULTS.nEiCandidates);
  if (history.filter(usable).length < nStartup) return sampleRandom(space, opts.rng);

  const { below, above } = splitTrials(history, opts.goal);
  const out: Assignment = {};
  for (const param of space) {
    if (!isActive(param, out)) continue;
    if (param.kind === 'constant') {
      out[param.name] = param.value;
      continue;
    }
    const codec = codecFor(param);
    const l = codec.fit(observed(below, param.name, codec));
    const g = codec.fit(observed(above, param.name, codec));
    out[param.name] = codec.decode(bestCandidate(l, g, opts.rng, nCandidates));
  }
  return out;
}
