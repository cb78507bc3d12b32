// A real training script logging to lablog: a small MLP learns three interleaved spirals (generated,
// seeded), with SGD + momentum and the SDK's cosine learning-rate schedule with linear warmup. It logs
// its params, the loss, accuracy and learning rate of every step, validation figures every epoch, and a
// picture of its decision regions every few epochs.
//
//   npm start                   # a server on http://127.0.0.1:5000 (or set LABLOG_TRACKING_URI)
//   npm run example             # in another terminal; options: -- --epochs 60 --lr 0.2 --hidden 64 --seed 1
import { Lablog } from 'lablog-client';
import { numberOption as option, prepare, requireServer, train, type SpiralConfig } from './spirals.js';

const config: SpiralConfig & { dataset: string } = {
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

async function main(): Promise<void> {
  const setup = prepare(config);
  const lab = new Lablog();
  await requireServer(lab);
  const run = await lab.startRun({
    experiment: 'examples/mlp-spirals',
    name: `mlp-${config.hidden}x${config.layers}-seed${config.seed}`,
    params: {
      ...config,
      optimizer: 'sgd+momentum',
      schedule: 'cosine+warmup',
      parameters: setup.model.parameterCount,
      train_size: setup.train.y.length,
      val_size: setup.val.y.length,
    },
    tags: { example: 'train-mlp' },
  });
  console.log(`run ${run.id} (experiment ${run.experimentId}) on ${lab.url}`);
  const started = Date.now();
  try {
    const last = await train(setup, config, run, (e) => {
      if (e.epoch % 10 === 0 || e.epoch === config.epochs - 1) {
        console.log(`epoch ${String(e.epoch).padStart(3)}  loss ${e.trainLoss.toFixed(4)}  train_acc ${e.trainAcc.toFixed(3)}  val_acc ${e.valAcc.toFixed(3)}`);
      }
    });
    await run.end('FINISHED');
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${last.step} steps logged`);
  } catch (err) {
    await run.end('FAILED').catch(() => undefined);
    throw err;
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
