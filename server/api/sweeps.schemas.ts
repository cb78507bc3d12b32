import { z } from 'zod';
import { LIMITS } from '../tracking/validation.js';
import { EX, experimentId, int64, queryInt, requiredString, withExamples } from './schemas.js';

// The sweep config's shape; its meaning (bounds, conditions, grid limits) is checked by server/sweeps.

const scalar = z.union([z.number(), z.string(), z.boolean()]);
const intBetween = (min: number, max: number) => int64.refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);
const positiveInt = (max: number) => intBetween(1, max);

const paramSpec = z.object({
  values: z.array(scalar).optional(),
  value: scalar.optional(),
  distribution: z.enum(['uniform', 'log_uniform', 'int_uniform', 'q_uniform', 'normal']).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  q: z.number().optional(),
  mu: z.number().optional(),
  sigma: z.number().optional(),
  when: z.record(z.string(), z.union([scalar, z.array(scalar)])).optional(),
});

export const createSweepBody = withExamples(z.object({
  experiment_id: experimentId,
  name: z.string(),
  method: z.enum(['grid', 'random', 'bayes']),
  metric: z.object({ name: z.string().min(1).max(LIMITS.keyLength), goal: z.enum(['minimize', 'maximize']).default('minimize') }),
  parameters: z.record(z.string(), paramSpec),
  run_cap: positiveInt(1_000_000).optional(),
  early_terminate: z
    .object({
      type: z.enum(['asha', 'median']),
      min_iter: positiveInt(1e12).optional(),
      eta: positiveInt(1000).optional(),
      min_trials: positiveInt(1_000_000).optional(),
    })
    .optional(),
  seed: int64.optional(),
  heartbeat_timeout_ms: positiveInt(7 * 24 * 3600 * 1000).optional(),
  tpe: z
    .object({
      n_startup_trials: intBetween(0, 10_000).optional(),
      n_ei_candidates: positiveInt(10_000).optional(),
    })
    .optional(),
}),
  { experiment_id: EX.experiment, name: 'lr-search', method: 'bayes', metric: { name: 'val_loss', goal: 'minimize' }, parameters: { lr: { distribution: 'log_uniform', min: 1e-5, max: 1 }, optimizer: { values: ['sgd', 'adam'] } }, run_cap: 50, early_terminate: { type: 'asha', min_iter: 3 } },
);

export const sweepIdParams = z.object({ sweep_id: z.string() });
export const listSweepsQuery = withExamples(
  z.object({ experiment_id: experimentId.optional(), max_results: queryInt, page_token: z.string().optional() }),
  { experiment_id: EX.experiment, max_results: '20' },
);
export const nextBody = withExamples(z.object({
  worker: z.string().max(250).default(''),
  /** The worker's id for this request, kept across its retries: a lost answer is not a lost trial. */
  request_id: z.string().min(1).max(255).optional(),
  /** Who runs the trial: the run's user_id and mlflow.user tag. */
  user: z.string().max(250).optional(),
}), { worker: 'gpu-box-1', request_id: 'req-42' });
export const trialBody = withExamples(z.object({ run_id: requiredString }), { run_id: EX.run });
