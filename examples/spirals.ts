// The spiral-classification task of the examples: data, a training loop that logs to a lablog Run,
// and a picture of the decision regions. train-mlp.ts trains it once; sweep-mlp.ts once per trial.
import { cosineWithWarmup, type Lablog, type Run } from 'lablog-client';
import { gaussian, Mlp, rng } from './mlp.js';
import { encodePng } from './png.js';

export const CLASSES = 3;

export interface SpiralConfig {
  points_per_class: number;
  hidden: number;
  layers: number;
  epochs: number;
  batch_size: number;
  /** Peak learning rate, reached after the warmup. */
  lr: number;
  min_lr: number;
  warmup_epochs: number;
  momentum: number;
  weight_decay: number;
  /** Seeds the data, the split, the initial weights and the batch order. */
  seed: number;
  /** Log a picture of the decision regions every this many epochs (0: never). */
  image_every_epochs: number;
}

type Data = { x: Float64Array; y: Int32Array };

/** Three arms of a spiral in [-1, 1]², one per class, with Gaussian angle noise (cs231n's toy set). */
export function spirals(perClass: number, rand: () => number): Data {
  const n = perClass * CLASSES;
  const x = new Float64Array(n * 2);
  const y = new Int32Array(n);
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < perClass; i++) {
      const k = c * perClass + i;
      const r = i / perClass;
      const t = c * 4 + r * 4 + gaussian(rand) * 0.2;
      x[2 * k] = r * Math.sin(t);
      x[2 * k + 1] = r * Math.cos(t);
      y[k] = c;
    }
  }
  return { x, y };
}

const PALETTE = [
  [230, 97, 1],
  [94, 60, 153],
  [27, 158, 119],
];

/** The decision regions (tinted by confidence) and the data points, as a PNG. */
export function renderPredictions(model: Mlp, data: Data, size = 200): Buffer {
  const span = 1.15;
  const grid = new Float64Array(size * size * 2);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const k = py * size + px;
      grid[2 * k] = ((px + 0.5) / size) * 2 * span - span;
      grid[2 * k + 1] = span - ((py + 0.5) / size) * 2 * span;
    }
  }
  const probs = model.forward(grid, size * size).at(-1)!;
  const rgb = new Uint8Array(size * size * 3);
  for (let k = 0; k < size * size; k++) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (probs[k * CLASSES + c] > probs[k * CLASSES + best]) best = c;
    const alpha = 0.15 + 0.4 * probs[k * CLASSES + best];
    for (let ch = 0; ch < 3; ch++) rgb[k * 3 + ch] = Math.round(255 * (1 - alpha) + PALETTE[best][ch] * alpha);
  }
  const n = data.y.length;
  for (let i = 0; i < n; i++) {
    const cx = ((data.x[2 * i] + span) / (2 * span)) * size;
    const cy = ((span - data.x[2 * i + 1]) / (2 * span)) * size;
    for (let py = Math.floor(cy - 3); py <= Math.ceil(cy + 3); py++) {
      for (let px = Math.floor(cx - 3); px <= Math.ceil(cx + 3); px++) {
        if (px < 0 || py < 0 || px >= size || py >= size) continue;
        const d = Math.hypot(px + 0.5 - cx, py + 0.5 - cy);
        if (d > 2.6) continue;
        const color = d > 1.8 ? [40, 40, 40] : PALETTE[data.y[i]];
        for (let ch = 0; ch < 3; ch++) rgb[(py * size + px) * 3 + ch] = color[ch];
      }
    }
  }
  return encodePng(size, size, rgb);
}

function shuffled(n: number, rand: () => number): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

function subset(data: Data, idx: ArrayLike<number>): Data {
  const x = new Float64Array(idx.length * 2);
  const y = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    x[2 * k] = data.x[2 * idx[k]];
    x[2 * k + 1] = data.x[2 * idx[k] + 1];
    y[k] = data.y[idx[k]];
  }
  return { x, y };
}

/** The data (80/20 split) and a freshly initialised model; everything drawn from `config.seed`. */
export function prepare(config: SpiralConfig) {
  const rand = rng(config.seed);
  const all = spirals(config.points_per_class, rand);
  const order = shuffled(all.y.length, rand);
  const nVal = Math.round(all.y.length * 0.2);
  const val = subset(all, order.subarray(0, nVal));
  const train = subset(all, order.subarray(nVal));
  const model = new Mlp([2, ...Array(config.layers).fill(config.hidden), CLASSES], rand);
  return { rand, all, train, val, model, stepsPerEpoch: stepsPerEpoch(config) };
}

/** Optimizer steps in one epoch (the training split is 80% of the points). */
export function stepsPerEpoch(config: Pick<SpiralConfig, 'points_per_class' | 'batch_size'>): number {
  const n = config.points_per_class * CLASSES;
  return Math.ceil((n - Math.round(n * 0.2)) / config.batch_size);
}

export interface EpochReport {
  epoch: number;
  /** The step the epoch's validation figures were logged at. */
  step: number;
  valLoss: number;
  valAcc: number;
  trainLoss: number;
  trainAcc: number;
}

/**
 * Trains with SGD + momentum under the SDK's cosine-with-warmup schedule, logging `loss`, `acc` and `lr`
 * every step and `val_loss`, `val_acc`, `train_acc`, `epoch` after every epoch. `afterEpoch` returning
 * true ends the training there (early stopping).
 */
export async function train(
  setup: ReturnType<typeof prepare>,
  config: SpiralConfig,
  run: Run,
  afterEpoch?: (report: EpochReport) => Promise<boolean | void> | boolean | void,
): Promise<EpochReport & { stopped: boolean }> {
  const { rand, all, train: data, val, model, stepsPerEpoch: perEpoch } = setup;
  const warmupSteps = perEpoch * config.warmup_epochs;
  const lrAt = cosineWithWarmup({
    lr: config.lr,
    warmupSteps,
    totalSteps: perEpoch * config.epochs,
    minLr: config.min_lr,
    warmupStartLr: config.lr / Math.max(1, warmupSteps),
  });
  let step = 0;
  let report: EpochReport | null = null;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const idx = shuffled(data.y.length, rand);
    for (let s = 0; s < perEpoch; s++) {
      const batch = subset(data, idx.subarray(s * config.batch_size, (s + 1) * config.batch_size));
      const lr = lrAt(step);
      const { loss, acc } = model.step(batch.x, batch.y, lr, config.momentum, config.weight_decay);
      run.log({ loss, acc, lr }, { step }); // synchronous: buffered and sent in the background
      step++;
    }
    const valScore = Mlp.score(model.forward(val.x, val.y.length).at(-1)!, val.y, CLASSES);
    const trainScore = Mlp.score(model.forward(data.x, data.y.length).at(-1)!, data.y, CLASSES);
    run.log({ val_loss: valScore.loss, val_acc: valScore.acc, train_acc: trainScore.acc, epoch }, { step });
    report = { epoch, step, valLoss: valScore.loss, valAcc: valScore.acc, trainLoss: trainScore.loss, trainAcc: trainScore.acc };
    const last = epoch === config.epochs - 1;
    if (config.image_every_epochs > 0 && (epoch % config.image_every_epochs === 0 || last)) {
      await run.logImage('predictions', renderPredictions(model, all), { step });
    }
    if ((await afterEpoch?.(report)) === true) return { ...report, stopped: !last };
  }
  return { ...report!, stopped: false };
}

/** Exits with a hint when no server answers (startRun and sweep would keep retrying for 30 s). */
export async function requireServer(lab: Lablog): Promise<void> {
  const health = await fetch(`${lab.url}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
  if (!health?.ok) {
    console.error(`no lablog server at ${lab.url}: start one with \`npm start\` (or set LABLOG_TRACKING_URI)`);
    process.exit(1);
  }
}

/** `--name value` from the command line as a number, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}
