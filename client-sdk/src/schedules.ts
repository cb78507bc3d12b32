/**
 * Learning-rate schedules as pure functions of the step.
 *
 * Each factory returns `(step) => lr`, where `step` is a non-negative integer: the number of
 * `scheduler.step()` calls made so far. `schedule(step)` equals PyTorch's `scheduler.get_last_lr()[0]`
 * after `step` calls (so `schedule(0)` is the learning rate the optimizer starts with). The values
 * follow the closed forms in the PyTorch documentation for `StepLR`, `ExponentialLR`,
 * `CosineAnnealingLR`, `CyclicLR` and `OneCycleLR`.
 *
 * Bad arguments throw a `RangeError` when the schedule is made; a bad step throws when it is asked for.
 * Browser-safe: no imports.
 */

/** A learning-rate schedule: the learning rate after `step` scheduler steps. */
export type Schedule = (step: number) => number;

function fail(name: string, message: string): never {
  throw new RangeError(`${name}: ${message}`);
}

function finite(name: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(name, `${key} must be a finite number (got ${String(v)})`);
  return v;
}

function nonNegative(name: string, key: string, v: unknown): number {
  const n = finite(name, key, v);
  if (n < 0) fail(name, `${key} must be >= 0 (got ${n})`);
  return n;
}

function positive(name: string, key: string, v: unknown): number {
  const n = finite(name, key, v);
  if (n <= 0) fail(name, `${key} must be > 0 (got ${n})`);
  return n;
}

function positiveInt(name: string, key: string, v: unknown): number {
  const n = positive(name, key, v);
  if (!Number.isInteger(n)) fail(name, `${key} must be an integer (got ${n})`);
  return n;
}

function nonNegativeInt(name: string, key: string, v: unknown): number {
  const n = nonNegative(name, key, v);
  if (!Number.isInteger(n)) fail(name, `${key} must be an integer (got ${n})`);
  return n;
}

function checkStep(name: string, step: unknown): number {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
    fail(name, `step must be a non-negative integer (got ${String(step)})`);
  }
  return step;
}

/** The same learning rate at every step. */
export function constantLr(opts: { lr: number }): Schedule {
  const name = 'constantLr';
  const lr = nonNegative(name, 'lr', opts?.lr);
  return (step) => {
    checkStep(name, step);
    return lr;
  };
}

/** PyTorch `StepLR`: `lr · gamma^⌊step / stepSize⌋`. */
export function stepLr(opts: { lr: number; stepSize: number; gamma?: number }): Schedule {
  const name = 'stepLr';
  const lr = nonNegative(name, 'lr', opts?.lr);
  const stepSize = positiveInt(name, 'stepSize', opts.stepSize);
  const gamma = nonNegative(name, 'gamma', opts.gamma ?? 0.1);
  return (step) => lr * gamma ** Math.floor(checkStep(name, step) / stepSize);
}

/** PyTorch `ExponentialLR`: `lr · gamma^step`. */
export function exponentialLr(opts: { lr: number; gamma: number }): Schedule {
  const name = 'exponentialLr';
  const lr = nonNegative(name, 'lr', opts?.lr);
  const gamma = nonNegative(name, 'gamma', opts.gamma);
  return (step) => lr * gamma ** checkStep(name, step);
}

/**
 * PyTorch `CosineAnnealingLR` (the documented closed form):
 * `etaMin + (lr − etaMin) · (1 + cos(π · step / tMax)) / 2`.
 * Like PyTorch, it does not stop at `tMax`: past it the learning rate climbs back up, with period
 * `2 · tMax`.
 */
export function cosineAnnealingLr(opts: { lr: number; tMax: number; etaMin?: number }): Schedule {
  const name = 'cosineAnnealingLr';
  const lr = nonNegative(name, 'lr', opts?.lr);
  const tMax = positiveInt(name, 'tMax', opts.tMax);
  const etaMin = nonNegative(name, 'etaMin', opts.etaMin ?? 0);
  return (step) => etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * checkStep(name, step)) / tMax))) / 2;
}

/**
 * Linear warmup, then cosine decay (not a PyTorch class; the common "warmup + cosine" recipe).
 *
 * - `step < warmupSteps`: linear from `warmupStartLr` (at step 0) towards `lr` (reached at
 *   `warmupSteps`): `warmupStartLr + (lr − warmupStartLr) · step / warmupSteps`.
 * - `warmupSteps ≤ step ≤ totalSteps`: cosine from `lr` down to `minLr`:
 *   `minLr + (lr − minLr) · (1 + cos(π · (step − warmupSteps) / (totalSteps − warmupSteps))) / 2`.
 * - `step > totalSteps`: stays at `minLr`.
 *
 * `warmupSteps` may be 0 (no warmup); `totalSteps` must be greater than `warmupSteps`.
 */
export function cosineWithWarmup(opts: {
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  minLr?: number;
  warmupStartLr?: number;
}): Schedule {
  const name = 'cosineWithWarmup';
  const lr = nonNegative(name, 'lr', opts?.lr);
  const warmupSteps = nonNegativeInt(name, 'warmupSteps', opts.warmupSteps);
  const totalSteps = positiveInt(name, 'totalSteps', opts.totalSteps);
  const minLr = nonNegative(name, 'minLr', opts.minLr ?? 0);
  const warmupStartLr = nonNegative(name, 'warmupStartLr', opts.warmupStartLr ?? 0);
  if (totalSteps <= warmupSteps) {
    fail(name, `totalSteps (${totalSteps}) must be greater than warmupSteps (${warmupSteps})`);
  }
  const decaySteps = totalSteps - warmupSteps;
  return (step) => {
    checkStep(name, step);
    if (step < warmupSteps) return warmupStartLr + ((lr - warmupStartLr) * step) / warmupSteps;
    const t = Math.min(step - warmupSteps, decaySteps) / decaySteps;
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * t))) / 2;
  };
}

export type CyclicMode = 'triangular' | 'triangular2' | 'exp_range';

/**
 * PyTorch `CyclicLR` (the learning rate only; momentum cycling is not modelled):
 *
 *     cycle = ⌊1 + step / (stepSizeUp + stepSizeDown)⌋
 *     x     = 1 + step / (stepSizeUp + stepSizeDown) − cycle
 *     f     = x ≤ r ? x / r : (x − 1) / (r − 1),   r = stepSizeUp / (stepSizeUp + stepSizeDown)
 *     lr    = baseLr + (maxLr − baseLr) · f · scale
 *
 * with `scale` = 1 (`triangular`), `1 / 2^(cycle − 1)` (`triangular2`) or `gamma^step` (`exp_range`).
 */
export function cyclicLr(opts: {
  baseLr: number;
  maxLr: number;
  stepSizeUp: number;
  stepSizeDown?: number;
  mode?: CyclicMode;
  gamma?: number;
}): Schedule {
  const name = 'cyclicLr';
  const baseLr = nonNegative(name, 'baseLr', opts?.baseLr);
  const maxLr = nonNegative(name, 'maxLr', opts.maxLr);
  const stepSizeUp = positive(name, 'stepSizeUp', opts.stepSizeUp);
  const stepSizeDown = positive(name, 'stepSizeDown', opts.stepSizeDown ?? stepSizeUp);
  const mode = opts.mode ?? 'triangular';
  if (mode !== 'triangular' && mode !== 'triangular2' && mode !== 'exp_range') {
    fail(name, `mode must be 'triangular', 'triangular2' or 'exp_range' (got ${String(mode)})`);
  }
  const gamma = positive(name, 'gamma', opts.gamma ?? 1);
  const totalSize = stepSizeUp + stepSizeDown;
  const stepRatio = stepSizeUp / totalSize;
  return (step) => {
    checkStep(name, step);
    const cycle = Math.floor(1 + step / totalSize);
    const x = 1 + step / totalSize - cycle;
    const scaleFactor = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
    const baseHeight = (maxLr - baseLr) * scaleFactor;
    const scale = mode === 'triangular' ? 1 : mode === 'triangular2' ? 1 / 2 ** (cycle - 1) : gamma ** step;
    return baseLr + baseHeight * scale;
  };
}

/**
 * PyTorch `OneCycleLR` (the learning rate only). It starts at `maxLr / divFactor`, rises to `maxLr`,
 * then falls to `maxLr / divFactor / finalDivFactor`. Phase boundaries, as in PyTorch:
 *
 * - two phases: up until step `pctStart · totalSteps − 1`, down until `totalSteps − 1`;
 * - three phases: up until `pctStart · totalSteps − 1`, back down to the initial lr until
 *   `2 · pctStart · totalSteps − 2`, then down to the minimum until `totalSteps − 1`.
 *
 * Within a phase, `pct = (step − phaseStart) / (phaseEnd − phaseStart)` and the lr is
 * `end + (start − end) / 2 · (cos(π · pct) + 1)` (`'cos'`) or `start + (end − start) · pct` (`'linear'`).
 * Like PyTorch, steps up to `totalSteps` are accepted; a larger step throws a `RangeError`.
 */
export function oneCycleLr(opts: {
  maxLr: number;
  totalSteps: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
}): Schedule {
  const name = 'oneCycleLr';
  const maxLr = nonNegative(name, 'maxLr', opts?.maxLr);
  const totalSteps = positiveInt(name, 'totalSteps', opts.totalSteps);
  const pctStart = finite(name, 'pctStart', opts.pctStart ?? 0.3);
  if (!(pctStart > 0 && pctStart < 1)) fail(name, `pctStart must be in (0, 1) (got ${pctStart})`);
  const strategy = opts.annealStrategy ?? 'cos';
  if (strategy !== 'cos' && strategy !== 'linear') {
    fail(name, `annealStrategy must be 'cos' or 'linear' (got ${String(strategy)})`);
  }
  const divFactor = positive(name, 'divFactor', opts.divFactor ?? 25);
  const finalDivFactor = positive(name, 'finalDivFactor', opts.finalDivFactor ?? 1e4);
  const threePhase = opts.threePhase ?? false;

  const initialLr = maxLr / divFactor;
  const minLr = initialLr / finalDivFactor;
  const upEnd = pctStart * totalSteps - 1;
  const phases: { end: number; start: number; to: number }[] = threePhase
    ? [
        { end: upEnd, start: initialLr, to: maxLr },
        { end: 2 * pctStart * totalSteps - 2, start: maxLr, to: initialLr },
        { end: totalSteps - 1, start: initialLr, to: minLr },
      ]
    : [
        { end: upEnd, start: initialLr, to: maxLr },
        { end: totalSteps - 1, start: maxLr, to: minLr },
      ];
  // Every phase must have a positive length, or PyTorch would divide by zero (or go backwards).
  let prev = 0;
  for (const [i, p] of phases.entries()) {
    if (!(p.end > prev)) {
      fail(
        name,
        `phase ${i + 1} of ${phases.length} would be empty (ends at step ${p.end}, after step ${prev}); ` +
          `increase totalSteps or adjust pctStart (${pctStart}) for totalSteps=${totalSteps}`,
      );
    }
    prev = p.end;
  }
  const anneal =
    strategy === 'cos'
      ? (start: number, end: number, pct: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (start: number, end: number, pct: number) => (end - start) * pct + start;

  return (step) => {
    checkStep(name, step);
    if (step > totalSteps) fail(name, `step ${step} is past totalSteps (${totalSteps})`);
    let phaseStart = 0;
    for (let i = 0; i < phases.length; i++) {
      const p = phases[i]!;
      if (step <= p.end || i === phases.length - 1) {
        return anneal(p.start, p.to, (step - phaseStart) / (p.end - phaseStart));
      }
      phaseStart = p.end;
    }
    /* c8 ignore next */
    throw new Error('unreachable');
  };
}
