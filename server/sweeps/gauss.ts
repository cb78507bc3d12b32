/**
 * Normal-distribution masses in log space, for the truncated (and discretised) Gaussian kernels of the
 * Parzen estimators. Kernels sit anywhere in their interval with bandwidths down to 1/100 of it, so a
 * candidate can lie 100σ from a kernel: plain Φ(b) − Φ(a) would round to 0 (log −∞) or lose every
 * digit, hence the log-space tails.
 */

const SQRT1_2 = Math.SQRT1_2;
const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * erf for |x| < 2 by its all-positive series erf(x) = 2/√π · e^(−x²) · Σ (2x²)^n · x / (1·3·…·(2n+1)):
 * no cancellation, so full double precision.
 */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/**
 * log erfc(x) for x ≥ 2 by the continued fraction erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))),
 * evaluated bottom-up. It converges faster the larger x is: measured, 8 + 110/x levels reach double
 * precision (60 are needed at x = 2, 10 at x = 10).
 */
function logErfcFraction(x: number): number {
  let tail = x;
  for (let n = Math.ceil(8 + 110 / x); n >= 1; n--) tail = x + n / 2 / tail;
  return -x * x - LOG_SQRT_PI - Math.log(tail);
}

/** log Φc(z) = log P(Z > z), accurate far into both tails. */
function logUpperTail(z: number): number {
  const x = z * SQRT1_2;
  if (x >= 2) return Math.log(0.5) + logErfcFraction(x);
  if (x > -2) return Math.log(0.5 * (1 - erfSeries(x)));
  // Far below: Φc(z) = 1 − Φ(z) with Φ(z) tiny.
  return Math.log1p(-0.5 * Math.exp(logErfcFraction(-x)));
}

/** log(1 − e^d) for d ≤ 0, without cancellation near either end. */
function log1mexp(d: number): number {
  return d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d));
}

/** log P(a < Z < b) for a standard normal Z and a ≤ b; −∞ when a = b. */
export function logNormalMass(a: number, b: number): number {
  if (a >= 0) {
    const la = logUpperTail(a);
    return la + log1mexp(logUpperTail(b) - la);
  }
  if (b <= 0) return logNormalMass(-b, -a);
  // a < 0 < b: the mass is at least that of one half's core, no precision trouble.
  return Math.log1p(-(Math.exp(logUpperTail(b)) + Math.exp(logUpperTail(-a))));
}

/** log of the standard normal density at z. */
export function logNormalDensity(z: number): number {
  return -0.5 * z * z - LOG_SQRT_2PI;
}

/** log Σ e^(x_i), stable for entries of −∞ and for large magnitudes. */
export function logSumExp(xs: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i]! > max) max = xs[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += Math.exp(xs[i]! - max);
  return max + Math.log(sum);
}
