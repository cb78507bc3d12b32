/**
 * What one run of the synthetic year holds (bench/year-plan.ts decides how many and how long): its info,
 * 50 params, tags, 2 curves and 18 final metrics, and its artifacts' names and sizes. A pure function of
 * (plan, run index), so a restarted generator writes the same run again.
 */
import { createHash } from 'node:crypto';
import type { ImportedRun } from '../server/store/import-types.js';
import type { KeyValue, RunStatus, Series } from '../server/store/types.js';
import { prng } from './lib.js';
import { CURVE_KEYS, mix, SUMMARY_KEYS, USERS, YEAR_START, type Plan } from './year-plan.js';

const MODELS = ['resnet18', 'resnet50', 'vit-s16', 'vit-b16', 'bert-base', 'bert-large', 'gpt2-small', 'gpt2-medium', 't5-small', 'llama-7b-lora', 'unet', 'efficientnet-b0'];
const DATASETS = ['cifar10', 'cifar100', 'imagenet-1k', 'imagenet-21k', 'mnist', 'glue-sst2', 'glue-mnli', 'squad-v2', 'wikitext-103', 'c4-en', 'coco-2017', 'librispeech'];
const STAGES = ['baseline', 'ablation', 'sweep', 'final'];

type Pick = (r: () => number, e: ExperimentTraits) => string;
const oneOf =
  (...values: (string | number | boolean)[]): Pick =>
  (r) =>
    String(values[Math.floor(r() * values.length)]);

export interface ExperimentTraits {
  index: number;
  name: string;
  model: string;
  dataset: string;
  owner: string;
  script: string;
}

/** 49 params (max_steps, the 50th, follows the run's length): mostly a handful of values each (as configs are), a few continuous or unique per run. */
const PARAMS: [string, Pick][] = [
  ['lr', (r) => (10 ** (-5 + 4 * r())).toPrecision(3)],
  ['batch_size', oneOf(16, 32, 64, 128, 256, 512, 1024)],
  ['optimizer', oneOf('adam', 'adamw', 'sgd', 'rmsprop', 'lion', 'adafactor')],
  ['weight_decay', oneOf(0, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1)],
  ['dropout', (r) => (r() * 0.5).toFixed(2)],
  ['epochs', oneOf(5, 10, 20, 50, 100, 200)],
  ['model', (r, e) => (r() < 0.9 ? e.model : oneOf(...MODELS)(r, e))],
  ['dataset', (r, e) => (r() < 0.95 ? e.dataset : oneOf(...DATASETS)(r, e))],
  ['seed', (r) => String(Math.floor(r() * 100_000))],
  ['scheduler', oneOf('cosine', 'linear', 'step', 'constant', 'onecycle', 'exponential')],
  ['warmup_steps', oneOf(0, 100, 500, 1000, 2000, 5000)],
  ['momentum', oneOf(0.8, 0.9, 0.95, 0.99)],
  ['beta1', oneOf(0.9, 0.95)],
  ['beta2', oneOf(0.98, 0.99, 0.999)],
  ['eps', oneOf(1e-8, 1e-6)],
  ['grad_clip', oneOf(0, 0.5, 1, 5)],
  ['precision', oneOf('fp32', 'fp16', 'bf16')],
  ['num_layers', oneOf(2, 4, 6, 8, 12, 24, 32)],
  ['hidden_dim', oneOf(128, 256, 512, 768, 1024, 2048, 4096)],
  ['num_heads', oneOf(4, 8, 12, 16, 32)],
  ['activation', oneOf('relu', 'gelu', 'silu', 'tanh')],
  ['norm', oneOf('batchnorm', 'layernorm', 'rmsnorm', 'groupnorm')],
  ['label_smoothing', oneOf(0, 0.05, 0.1, 0.2)],
  ['mixup_alpha', oneOf(0, 0.2, 0.4, 0.8, 1)],
  ['cutmix', oneOf(true, false)],
  ['augment', oneOf('none', 'basic', 'randaugment', 'autoaugment', 'trivialaugment')],
  ['image_size', oneOf(32, 64, 128, 224, 256, 384)],
  ['seq_len', oneOf(128, 256, 512, 1024, 2048, 4096)],
  ['vocab_size', oneOf(30522, 32000, 50257, 65536)],
  ['grad_accum', oneOf(1, 2, 4, 8, 16)],
  ['num_workers', oneOf(2, 4, 8, 16)],
  ['ema_decay', oneOf(0, 0.999, 0.9999)],
  ['lora_rank', oneOf(0, 4, 8, 16, 32, 64)],
  ['lora_alpha', oneOf(8, 16, 32, 64)],
  ['temperature', (r) => (0.01 + 2 * r()).toFixed(3)],
  ['loss', oneOf('cross_entropy', 'focal', 'mse', 'huber', 'bce')],
  ['init', oneOf('xavier', 'kaiming', 'normal', 'orthogonal')],
  ['pretrained', oneOf(true, false)],
  ['freeze_backbone', oneOf(true, false)],
  ['eval_every', oneOf(100, 500, 1000, 5000)],
  ['checkpoint_every', oneOf(1000, 5000, 10000)],
  ['gpus', oneOf(1, 2, 4, 8, 16, 32, 64)],
  ['cluster', oneOf('a100-pod-1', 'a100-pod-2', 'h100-pod-1', 'v100-legacy', 'local')],
  ['data_path', (r, e) => `/data/${e.dataset}/v${1 + Math.floor(r() * 5)}/train`],
  ['config', (r, e) => `configs/${e.name}/variant-${Math.floor(r() * 30)}.yaml`],
  ['git_branch', (r, e) => oneOf('main', `exp/${e.name}`, `exp/${e.name}-fix`)(r, e)],
  ['early_stopping_patience', oneOf(0, 3, 5, 10, 20)],
  ['sampler', oneOf('random', 'weighted', 'sequential')],
  ['compile', oneOf(true, false)],
];

export function experimentTraits(plan: Plan, e: number): ExperimentTraits {
  const r = prng(mix(plan.seed, 1, e));
  const model = MODELS[Math.floor(r() * MODELS.length)];
  const dataset = DATASETS[Math.floor(r() * DATASETS.length)];
  const name = e === 0 ? `${model}-${dataset}-pretraining` : `${model}-${dataset}-${e}`;
  return { index: e, name, model, dataset, owner: USERS[Math.floor(r() * USERS.length)], script: `train_${model.split('-')[0]}.py` };
}

/** A run id like MLflow's (32 hex digits), fixed by the seed and the run's index. */
export function runUuid(seed: number, i: number): string {
  return createHash('md5').update(`lablog-year:${seed}:${i}`).digest('hex');
}

export interface Artifact {
  path: string;
  bytes: number;
}

export interface RunContent {
  run: ImportedRun;
  /** Curves and final metrics, each a whole series as replaceMetricHistory takes it. */
  series: { key: string; points: Series }[];
  artifacts: Artifact[];
}

function curve(n: number, start: number, stepMs: number, every: number, floor: number, r: () => number, nanAt: number): Series {
  const steps = new Float64Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  const tau = n * every * (0.1 + 0.4 * r());
  const scale = 1 + 3 * r();
  for (let k = 0; k < n; k++) {
    const step = k * every;
    steps[k] = step;
    timestamps[k] = start + Math.floor(step * stepMs);
    values[k] = k >= nanAt ? NaN : floor + scale * Math.exp(-step / tau) + 0.05 * (r() - 0.5);
  }
  return { steps, timestamps, values };
}

function artifactList(count: number, r: () => number): Artifact[] {
  const mb = 2 ** 20;
  const fixed: Artifact[] = [
    { path: 'config.yaml', bytes: 1000 + Math.floor(r() * 3000) },
    { path: 'model/MLmodel', bytes: 400 + Math.floor(r() * 200) },
    { path: 'model/model.safetensors', bytes: Math.floor((50 + r() * 2000) * mb) },
    { path: 'plots/loss.png', bytes: 40_000 + Math.floor(r() * 80_000) },
    { path: 'plots/confusion.png', bytes: 40_000 + Math.floor(r() * 80_000) },
    { path: 'eval/predictions.csv', bytes: Math.floor((1 + r() * 20) * mb) },
  ];
  const out = fixed.slice(0, count);
  const ckpt = Math.floor((100 + r() * 900) * mb);
  for (let k = out.length; k < count; k++) out.push({ path: `checkpoints/step-${String((k - fixed.length + 1) * 1000).padStart(7, '0')}.pt`, bytes: ckpt });
  return out;
}

export function runContent(plan: Plan, i: number, exp: ExperimentTraits, experimentId: string): RunContent {
  const r = prng(mix(plan.seed, 2, i));
  const runId = runUuid(plan.seed, i);
  const start = plan.startOf[i];
  const lossLength = plan.curveLength[CURVE_KEYS.length * i];
  const valLength = plan.curveLength[CURVE_KEYS.length * i + 1];
  const stepMs = 50 + r() * 450;
  const duration = Math.max(60_000, lossLength * stepMs);
  // The last two weeks of the year are still in flight for some runs.
  const recent = start > YEAR_START + 351 * 86_400_000;
  const status: RunStatus = recent && r() < 0.5 ? 'RUNNING' : r() < 0.88 ? 'FINISHED' : r() < 0.6 ? 'FAILED' : 'KILLED';
  const end = status === 'RUNNING' ? null : Math.floor(start + duration);
  const user = r() < 0.8 ? exp.owner : USERS[Math.floor(r() * USERS.length)];
  const stage = STAGES[Math.floor(r() * STAGES.length)];
  const position = plan.positionOf[i];
  const name = `${exp.model}-${stage}-${position}`;

  const params: KeyValue[] = PARAMS.map(([key, pick]) => ({ key, value: pick(r, exp) }));
  params.push({ key: 'max_steps', value: String(lossLength) });
  const tags: KeyValue[] = [
    { key: 'mlflow.runName', value: name },
    { key: 'mlflow.user', value: user },
    { key: 'mlflow.source.name', value: exp.script },
    { key: 'mlflow.source.type', value: r() < 0.7 ? 'JOB' : 'LOCAL' },
    { key: 'mlflow.source.git.commit', value: createHash('sha1').update(`${exp.name}:${Math.floor(position / 40)}`).digest('hex') },
    { key: 'stage', value: stage },
  ];
  // Sweeps: runs of every third experiment come in blocks of 25 under the block's first run.
  if (exp.index % 3 === 1 && position % 25 !== 0) tags.push({ key: 'mlflow.parentRunId', value: runUuid(plan.seed, plan.runsOf[exp.index][position - (position % 25)]) });
  if (r() < 0.05) tags.push({ key: 'mlflow.note.content', value: `Tried ${params[2].value} with lr ${params[0].value}; see ${exp.name} notes.` });

  // A run that diverged keeps NaN losses from some step on.
  const diverged = status === 'FAILED' && r() < 0.3;
  const series: RunContent['series'] = [
    { key: CURVE_KEYS[0], points: curve(lossLength, start, stepMs, 1, 0.1 + 0.3 * r(), r, diverged ? Math.floor(lossLength * r()) : Infinity) },
    { key: CURVE_KEYS[1], points: curve(valLength, start, stepMs, Math.max(1, Math.floor(lossLength / valLength)), 0.2 + 0.3 * r(), r, Infinity) },
  ];
  const quality = r();
  for (const key of SUMMARY_KEYS) {
    const v = key.includes('acc') || key === 'f1' || key === 'precision' || key === 'recall' || key === 'auc' ? 0.5 + 0.49 * quality * (0.9 + 0.1 * r()) : key.includes('loss') ? (diverged ? NaN : 0.05 + (1 - quality) * 2 * r()) : r() * 1000;
    series.push({ key, points: { steps: Float64Array.of(0), timestamps: Float64Array.of(end ?? start), values: Float64Array.of(v) } });
  }

  const run: ImportedRun = {
    runUuid: runId,
    experimentId,
    userId: user,
    runName: name,
    status,
    startTime: start,
    endTime: end,
    lifecycleStage: r() < 0.03 ? 'deleted' : 'active',
    params,
    tags,
    inputs: [],
  };
  return { run, series, artifacts: artifactList(plan.artifactCount[i], r) };
}
