/**
 * TensorBoard's debiased exponential moving average: last = last * w + (1 - w) * v, divided by
 * 1 - w^n (n = finite points so far) so the start is not pulled towards zero. Non-finite values
 * pass through unchanged and do not enter the average.
 */
export function ema(values: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  if (w === 0) return values.slice();
  const out = new Array<number>(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * w + (1 - w) * v;
    n++;
    out[i] = last / (1 - Math.pow(w, n));
  }
  return out;
}
