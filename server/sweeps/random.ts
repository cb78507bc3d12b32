import type { Assignment, Param, ParamValue, Rng, Space } from './types.js';

/** Whether a parameter exists under the values chosen so far for the parameters before it. */
export function isActive(param: Param, chosen: Assignment): boolean {
  if (param.when === null) return true;
  for (const [parent, allowed] of Object.entries(param.when)) {
    if (!(parent in chosen) || !allowed.includes(chosen[parent]!)) return false;
  }
  return true;
}

/** q_uniform's grid: min + k·q for k = 0..n-1, never above max. */
export function quantizedCount(min: number, max: number, q: number): number {
  return Math.floor((max - min) / q + 1e-9) + 1;
}

export function quantized(min: number, q: number, k: number): number {
  // Rounded to q's decimals (plus guard digits) so 0.1 steps print as 0.3, not 0.30000000000000004,
  // but never coarser than min itself: min = 1e-7 with q = 1 must not round down to 0, below min.
  const stepDecimals = -Math.floor(Math.log10(Math.abs(q))) + 6;
  const decimals = Math.min(100, Math.max(0, stepDecimals, decimalPlaces(min)));
  return Number((min + k * q).toFixed(decimals));
}

/** Digits after the point in the shortest form of x ("1.25e-7" has 9). */
function decimalPlaces(x: number): number {
  const [mantissa, exponent] = String(x).split('e');
  const fraction = mantissa!.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/** One draw from a parameter's prior. */
export function sampleParam(param: Param, rng: Rng): ParamValue {
  switch (param.kind) {
    case 'categorical':
      return param.values[rng.int(0, param.values.length - 1)]!;
    case 'constant':
      return param.value;
    case 'uniform':
      return rng.uniform(param.min, param.max);
    case 'log_uniform':
      return Math.exp(rng.uniform(Math.log(param.min), Math.log(param.max)));
    case 'int_uniform':
      return rng.int(param.min, param.max);
    case 'q_uniform':
      return quantized(param.min, param.q, rng.int(0, quantizedCount(param.min, param.max, param.q) - 1));
    case 'normal':
      return rng.normal(param.mu, param.sigma);
  }
}

/** Random search: every active parameter drawn independently from its prior. */
export function sampleRandom(space: Space, rng: Rng): Assignment {
  const out: Assignment = {};
  for (const param of space) {
    if (isActive(param, out)) out[param.name] = sampleParam(param, rng);
  }
  return out;
}
