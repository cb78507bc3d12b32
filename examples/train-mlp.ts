// A real training script logging to lablog: a small MLP learns three interleaved spirals (generated,
// seeded), with SGD + momentum and a cosine learning-rate schedule with linear warmup. It logs its
// params, the loss, accuracy and learning rate of every step, validation figures every epoch, and a
// picture of its decision regions every few epochs.
//
//   npm start                   # a server on http://127.0.0.1:5000 (or set LABLOG_TRACKING_URI)
//   npm run example             # in another terminal; options: -- --epochs 60 --lr 0.2 --hidden 64 --seed 1
import { Lablog } from 'lablog-client';
import { encodePng } from './png.js';
import { gaussian, Mlp, rng } from './mlp.js';

const CLASSES = 3;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

const config = {
  dataset: 'spirals-3',
  points_per_class: option('points', 300),
  hidden: option('hidden', 64),
  layers: 2,
  epochs: option('epochs', 60),
  batch_size: option('batch-size', 32),
  lr: option('lr', 0.2),
  min_lr: 0.002,
  warmup_epochs: 3,
  momentum: 0.9,
  weight_decay: 1e-4,
  seed: option('seed', 7),
  image_every_epochs: 10,
};

/** Three arms of a spiral in [-1, 1]², one per class, with Gaussian angle noise (cs231n's toy set). */
function spirals(perClass: number, rand: () => number): { x: Float64Array; y: Int32Array } {
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

/** Linear warmup to `peak`, then cosine decay to `min` at `total` steps. */
function cosineWithWarmup(step: number, total: number, warmup: number, peak: number, min: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return min + ((peak - min) * (1 + Math.cos(Math.PI * progress))) / 2;
}

const PALETTE = [
  [230, 97, 1],
  [94, 60, 153],
  [27, 158, 119],
];

/** The decision regions (tinted by confidence) and the data points, as a PNG. */
function renderPredictions(model: Mlp, data: { x: Float64Array; y: Int32Array }, size = 200): Buffer {
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

function subset(data: { x: Float64Array; y: Int32Array }, idx: ArrayLike<number>) {
  const x = new Float64Array(idx.length * 2);
  const y = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    x[2 * k] = data.x[2 * idx[k]];
    x[2 * k + 1] = data.x[2 * idx[k] + 1];
    y[k] = data.y[idx[k]];
  }
  return { x, y };
}

async function main(): Promise<void> {
  const rand = rng(config.seed);
  const all = spirals(config.points_per_class, rand);
  const order = shuffled(all.y.length, rand);
  const nVal = Math.round(all.y.length * 0.2);
  const val = subset(all, order.subarray(0, nVal));
  const train = subset(all, order.subarray(nVal));
  const model = new Mlp([2, ...Array(config.layers).fill(config.hidden), CLASSES], rand);
  const stepsPerEpoch = Math.ceil(train.y.length / config.batch_size);
  const totalSteps = stepsPerEpoch * config.epochs;
  const warmupSteps = stepsPerEpoch * config.warmup_epochs;

  const lab = new Lablog();
  // Fail fast with a hint when no server is listening (startRun would keep retrying for 30 s).
  const health = await fetch(`${lab.url}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
  if (!health?.ok) {
    console.error(`no lablog server at ${lab.url}: start one with \`npm start\` (or set LABLOG_TRACKING_URI)`);
    process.exit(1);
  }
  const run = await lab.startRun({
    experiment: 'examples/mlp-spirals',
    name: `mlp-${config.hidden}x${config.layers}-seed${config.seed}`,
    params: { ...config, optimizer: 'sgd+momentum', schedule: 'cosine+warmup', parameters: model.parameterCount, train_size: train.y.length, val_size: val.y.length },
    tags: { example: 'train-mlp' },
  });
  console.log(`run ${run.id} (experiment ${run.experimentId}) on ${lab.url}`);
  const started = Date.now();
  try {
    let step = 0;
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const idx = shuffled(train.y.length, rand);
      for (let s = 0; s < stepsPerEpoch; s++) {
        const batch = subset(train, idx.subarray(s * config.batch_size, (s + 1) * config.batch_size));
        const lr = cosineWithWarmup(step, totalSteps, warmupSteps, config.lr, config.min_lr);
        const { loss, acc } = model.step(batch.x, batch.y, lr, config.momentum, config.weight_decay);
        run.log({ loss, acc, lr }, { step }); // synchronous: buffered and sent in the background
        step++;
      }
      const valScore = Mlp.score(model.forward(val.x, val.y.length).at(-1)!, val.y, CLASSES);
      const trainScore = Mlp.score(model.forward(train.x, train.y.length).at(-1)!, train.y, CLASSES);
      run.log({ val_loss: valScore.loss, val_acc: valScore.acc, train_acc: trainScore.acc, epoch }, { step });
      const last = epoch === config.epochs - 1;
      if (epoch % config.image_every_epochs === 0 || last) {
        await run.logImage('predictions', renderPredictions(model, all), { step });
      }
      if (epoch % 10 === 0 || last) {
        console.log(`epoch ${String(epoch).padStart(3)}  loss ${trainScore.loss.toFixed(4)}  train_acc ${trainScore.acc.toFixed(3)}  val_acc ${valScore.acc.toFixed(3)}`);
      }
    }
    await run.end('FINISHED');
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${step} steps logged`);
  } catch (err) {
    await run.end('FAILED').catch(() => undefined);
    throw err;
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
