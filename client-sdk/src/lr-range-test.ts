/**
 * Learning-rate range test (Leslie Smith, "Cyclical Learning Rates for Training Neural Networks", 2017;
 * the fastai `lr_find` variant): train one mini-batch per step at a learning rate growing from `minLr` to
 * `maxLr`, watch the smoothed loss, stop once it diverges, and suggest a range of good learning rates.
 *
 * Browser-safe: no Node imports.
 */
import type { Run } from './run.js';

export type LrRangeMode = 'exp' | 'linear';

export interface LrRangeTestOptions {
  /** First learning rate (> 0). Default 1e-7. */
  minLr?: number;
  /** Last learning rate (> minLr). Default 10. */
  maxLr?: number;
  /** Number of steps (mini-batches), an integer >= 2; the lr reaches maxLr at the last one. Default 100. */
  steps?: number;
  /** 'exp': geometric growth (equal ratios; the default); 'linear': equal increments. */
  mode?: LrRangeMode;
  /** β of the debiased exponential moving average of the loss, in [0, 1). Default 0.98. */
  smoothing?: number;
  /** Stop once the smoothed loss exceeds divergeFactor × the best smoothed loss so far (> 1). Default 4. */
  divergeFactor?: number;
  /** Trains one mini-batch at `lr` and returns its loss. */
  step: (lr: number, i: number) => number | Promise<number>;
  /** When given: `lr`, `loss` and `loss_smoothed` are logged at step i, and the suggestion as tags and params. */
  run?: Run;
}

export interface LrRangeTestResult {
  /** The learning rates tried, one per step taken. */
  lrs: number[];
  /** The raw losses returned by `step`. */
  losses: number[];
  /** The debiased EMA of the losses. */
  smoothed: number[];
  /** The lr where the smoothed loss falls fastest (most negative slope w.r.t. ln lr in exp mode, lr in linear mode). */
  steepestLr: number;
  /** The lr with the lowest smoothed loss. */
  minLossLr: number;
  /** [min(steepestLr, minLossLr / 10), max(steepestLr, minLossLr / 10)]. */
  suggestedRange: [number, number];
  /** True when the test stopped before `steps` because the loss diverged (or was NaN/±Infinity). */
  stoppedEarly: boolean;
  /** The index of the step at which divergence was detected (it is included in the arrays). */
  divergedAt?: number;
}

/** The tags that record the suggestion on the run. */
export const LR_RANGE_TAGS = {
  steepest: 'lablog.lr_range.steepest',
  minLoss: 'lablog.lr_range.min_loss',
  suggestedMin: 'lablog.lr_range.suggested_min',
  suggestedMax: 'lablog.lr_range.suggested_max',
} as const;

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`lrRangeTest: ${message}`);
}

/** The learning rate of step i of n (i = 0 .. n-1). */
function lrAt(i: number, n: number, minLr: number, maxLr: number, mode: LrRangeMode): number {
  if (i === n - 1) return maxLr;
  const t = i / (n - 1);
  return mode === 'exp' ? minLr * Math.pow(maxLr / minLr, t) : minLr + (maxLr - minLr) * t;
}

/**
 * Index of the most negative slope of ys against xs, by central differences (one-sided at the ends),
 * ignoring the first and last few points (up to 10 at the start, 5 at the end; fewer for short series).
 */
function steepestIndex(xs: number[], ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const slope = (i: number): number => {
    const a = Math.max(0, i - 1);
    const b = Math.min(n - 1, i + 1);
    return (ys[b] - ys[a]) / (xs[b] - xs[a]);
  };
  const skipStart = Math.min(10, Math.floor(n / 10));
  const skipEnd = Math.min(5, Math.floor(n / 20));
  let best = skipStart;
  let bestSlope = Infinity;
  for (let i = skipStart; i < n - skipEnd; i++) {
    const s = slope(i);
    if (s < bestSlope) {
      bestSlope = s;
      best = i;
    }
  }
  return best;
}

/**
 * A loss that is not finite, or so large in magnitude that it is float overflow in the making (a loss
 * diving to -1e308 is as diverged as one rising to +Infinity, and must not count as the minimum).
 */
function blownUp(v: number): boolean {
  return !Number.isFinite(v) || Math.abs(v) > 1e300;
}

/**
 * Runs the learning-rate range test. The lr grows from minLr to maxLr over `steps` calls of `step(lr)`;
 * the smoothed loss is the debiased EMA avg = β·avg + (1−β)·loss, smoothed = avg / (1 − β^(i+1)). The test
 * stops early once smoothed > divergeFactor × the best smoothed loss so far (checked while that best is
 * positive) or the loss is NaN/±Infinity; that last step is still recorded and logged.
 *
 * The suggestion: steepestLr (the steepest descent of the smoothed loss), minLossLr (its minimum), and
 * suggestedRange = [min(steepestLr, minLossLr/10), max(steepestLr, minLossLr/10)]. Points where the
 * smoothed loss is not finite are left out of the analysis; if no point is finite, these are NaN and no
 * tags are set.
 *
 * With `run`: metrics `lr`, `loss`, `loss_smoothed` at step i; params `lr_range.min_lr`, `lr_range.max_lr`,
 * `lr_range.steps`, `lr_range.mode`, `lr_range.smoothing`, `lr_range.diverge_factor`; tags
 * `lablog.lr_range.steepest`, `.min_loss`, `.suggested_min`, `.suggested_max`. Logging is buffered: call
 * `run.flush()` or `run.end()` afterwards. If `step` throws, the error propagates (the points logged so far stay).
 */
export async function lrRangeTest(opts: LrRangeTestOptions): Promise<LrRangeTestResult> {
  check(typeof opts === 'object' && opts !== null, 'options are required');
  const { minLr = 1e-7, maxLr = 10, steps = 100, mode = 'exp', smoothing = 0.98, divergeFactor = 4, step, run } = opts;
  check(typeof step === 'function', 'step must be a function (lr) => loss');
  check(typeof minLr === 'number' && Number.isFinite(minLr) && minLr > 0, `minLr must be a finite number > 0, got ${minLr}`);
  check(typeof maxLr === 'number' && Number.isFinite(maxLr) && maxLr > minLr, `maxLr must be a finite number > minLr (${minLr}), got ${maxLr}`);
  check(Number.isSafeInteger(steps) && steps >= 2, `steps must be an integer >= 2, got ${steps}`);
  check(mode === 'exp' || mode === 'linear', `mode must be 'exp' or 'linear', got ${String(mode)}`);
  check(typeof smoothing === 'number' && smoothing >= 0 && smoothing < 1, `smoothing must be in [0, 1), got ${smoothing}`);
  check(typeof divergeFactor === 'number' && divergeFactor > 1, `divergeFactor must be > 1, got ${divergeFactor}`);
  check(run === undefined || (typeof run === 'object' && run !== null && typeof run.log === 'function'), 'run must be a Run');

  run?.logParams({
    'lr_range.min_lr': minLr,
    'lr_range.max_lr': maxLr,
    'lr_range.steps': steps,
    'lr_range.mode': mode,
    'lr_range.smoothing': smoothing,
    'lr_range.diverge_factor': divergeFactor,
  });

  const lrs: number[] = [];
  const losses: number[] = [];
  const smoothed: number[] = [];
  let avg = 0;
  let best = Infinity;
  let divergedAt: number | undefined;
  for (let i = 0; i < steps; i++) {
    const lr = lrAt(i, steps, minLr, maxLr, mode);
    const raw = await step(lr, i);
    const loss = typeof raw === 'number' ? raw : Number(raw);
    avg = smoothing * avg + (1 - smoothing) * loss;
    const s = avg / (1 - Math.pow(smoothing, i + 1));
    lrs.push(lr);
    losses.push(loss);
    smoothed.push(s);
    run?.log({ lr, loss, loss_smoothed: s }, { step: i });
    if (blownUp(loss) || blownUp(s) || (best > 0 && s > divergeFactor * best)) {
      divergedAt = i;
      break;
    }
    if (s < best) best = s;
  }

  // The analysis covers the points up to the first blown-up smoothed loss (only the last one can be).
  let n = smoothed.length;
  while (n > 0 && blownUp(smoothed[n - 1]!)) n--;
  let steepestLr = NaN;
  let minLossLr = NaN;
  if (n > 0) {
    const xs = lrs.slice(0, n).map((lr) => (mode === 'exp' ? Math.log(lr) : lr));
    const ys = smoothed.slice(0, n);
    steepestLr = lrs[steepestIndex(xs, ys)];
    let m = 0;
    for (let i = 1; i < n; i++) if (ys[i] < ys[m]) m = i;
    minLossLr = lrs[m];
  }
  const tenth = minLossLr / 10;
  const suggestedRange: [number, number] = [Math.min(steepestLr, tenth), Math.max(steepestLr, tenth)];

  if (run && n > 0) {
    run.setTags({
      [LR_RANGE_TAGS.steepest]: String(steepestLr),
      [LR_RANGE_TAGS.minLoss]: String(minLossLr),
      [LR_RANGE_TAGS.suggestedMin]: String(suggestedRange[0]),
      [LR_RANGE_TAGS.suggestedMax]: String(suggestedRange[1]),
    });
  }

  const result: LrRangeTestResult = { lrs, losses, smoothed, steepestLr, minLossLr, suggestedRange, stoppedEarly: divergedAt !== undefined };
  if (divergedAt !== undefined) result.divergedAt = divergedAt;
  return result;
}
