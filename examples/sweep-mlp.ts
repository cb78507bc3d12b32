// A hyperparameter sweep over the spiral MLP of train-mlp.ts, coordinated by the lablog server: TPE
// (method "bayes") picks the learning rate, momentum and width of each trial; ASHA stops trials that fall
// behind at 2, 6 and 18 epochs. Every trial is a run of its own (a child of the sweep's run) logging
// loss, acc and lr every step and val_loss (the objective) every epoch.
//
//   npm start                        # a server on http://127.0.0.1:5000 (or set LABLOG_TRACKING_URI)
//   npm run example:sweep            # options: -- --trials 12 --count 4 --name mlp-spirals-bayes
//
// Start it in several terminals at once: each process attaches to the same sweep (same name, same
// config) and works on it as one more worker. --count caps the trials of one process.
import { Lablog } from 'lablog-client';
import { numberOption, prepare, requireServer, stepsPerEpoch, train, type SpiralConfig } from './spirals.js';

function stringOption(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const fixed = {
  points_per_class: 150,
  layers: 2,
  epochs: 18,
  batch_size: 32,
  warmup_epochs: 2,
  weight_decay: 1e-4,
  seed: 7, // the same data and split for every trial, so their val_loss compare
  image_every_epochs: 0,
};

async function main(): Promise<void> {
  const lab = new Lablog();
  await requireServer(lab);
  const perEpoch = stepsPerEpoch(fixed);
  const count = process.argv.includes('--count') ? numberOption('count', 0) : undefined;
  const sweep = await lab.sweep({
    experiment: 'examples/mlp-spirals-sweep',
    name: stringOption('name', 'mlp-spirals-bayes'),
    method: 'bayes',
    metric: { name: 'val_loss', goal: 'minimize' },
    parameters: {
      lr: { distribution: 'log_uniform', min: 0.003, max: 1 },
      momentum: { distribution: 'uniform', min: 0, max: 0.95 },
      hidden: { values: [16, 32, 64] },
    },
    runCap: numberOption('trials', 12),
    // val_loss is logged at the step ending each epoch: rungs at 2, 6 and 18 epochs.
    earlyTerminate: { type: 'asha', minIter: 2 * perEpoch, eta: 3 },
    tpe: { nStartupTrials: 5 },
    seed: 1,
  });
  console.log(`sweep ${sweep.id} "${sweep.name}" (experiment ${sweep.experimentId}) on ${lab.url}: ${sweep.last.status}`);

  const summary = await sweep.agent(
    async (params, run, trial) => {
      // Typed from the search space: lr and momentum are numbers, hidden is 16 | 32 | 64.
      const config: SpiralConfig = { ...fixed, lr: params.lr, momentum: params.momentum, hidden: params.hidden, min_lr: params.lr / 100 };
      const setup = prepare(config);
      // The trial's own params are already on the run (params are write-once): log the rest.
      const { lr: _lr, momentum: _m, hidden: _h, ...rest } = config;
      run.logParams({ ...rest, parameters: setup.model.parameterCount, schedule: 'cosine+warmup' });
      run.setTags({ example: 'sweep-mlp' });
      const last = await train(setup, config, run, () => trial.shouldStop());
      const how = trial.stopped ? `stopped at epoch ${last.epoch} (${trial.stopReason})` : 'completed';
      console.log(
        `trial ${String(trial.number).padStart(2)}  lr ${config.lr.toExponential(2)}  momentum ${config.momentum.toFixed(2)}  hidden ${String(config.hidden).padStart(2)}` +
          `  val_loss ${last.valLoss.toFixed(4)}  val_acc ${last.valAcc.toFixed(3)}  ${how}`,
      );
    },
    { count, worker: `sweep-mlp-${process.pid}` },
  );

  const info = await sweep.info();
  console.log(`ran ${summary.trials} trials here (${summary.stopped} stopped early, ${summary.failed} failed); sweep ${info.status}:`, info.counts);
  const best = info.best_trial;
  if (best) console.log(`best: trial ${best.number}, val_loss ${best.value}, params ${JSON.stringify(best.params)}`);
  const { importance } = await sweep.importance();
  console.log(`importance: ${importance.map((i) => `${i.name} ${i.importance.toFixed(2)}`).join(', ')}`);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
