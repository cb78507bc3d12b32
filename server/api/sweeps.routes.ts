import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { invalid } from '../errors.js';
import type { Sweep, SweepService, Trial } from '../sweeps/sweeps.service.js';
import type { TrialService } from '../sweeps/trials.service.js';
import { LABLOG_PREFIX } from './prefixes.js';
import { createSweepBody, listSweepsQuery, nextBody, sweepIdParams, trialBody } from './sweeps.schemas.js';
import { decodePageToken, wireDouble, withToken } from './wire.js';

const MAX_LIST = 1000;

/** Written as MLflow writes metric values: "NaN", and infinities as ±DBL_MAX. */
const wireValue = (v: number | null) => (v === null ? undefined : wireDouble(v));

function trialJson(t: Trial) {
  return {
    number: t.number,
    run_id: t.runId,
    status: t.status,
    params: t.params,
    worker: t.worker,
    start_time: t.startTime,
    end_time: t.endTime ?? undefined,
    last_heartbeat_time: t.heartbeatTime,
    value: wireValue(t.value),
    step: t.step ?? undefined,
    stop_reason: t.stopReason ?? undefined,
  };
}

function sweepJson(s: Sweep) {
  return {
    sweep_id: s.sweepId,
    experiment_id: s.experimentId,
    name: s.name,
    status: s.status,
    config: s.config,
    parent_run_id: s.parentRunId ?? undefined,
    creation_time: s.creationTime,
    last_update_time: s.lastUpdateTime,
    grid_size: s.gridSize ?? undefined,
    counts: s.counts,
    best_trial: s.bestTrial ? trialJson(s.bestTrial) : undefined,
  };
}

export async function sweepRoutes(app: FastifyInstance, opts: { sweeps: SweepService; trials: TrialService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { sweeps, trials } = opts;
  const base = `${LABLOG_PREFIX}/sweeps`;
  const byId = { params: sweepIdParams };

  r.post(`${base}/create`, { schema: { body: createSweepBody } }, async (req) => {
    const { experiment_id, name, ...config } = req.body;
    return { sweep: sweepJson((await sweeps.create(req.caller!, experiment_id, name, config)).sweep) };
  });
  r.get(`${base}/list`, { schema: { querystring: listSweepsQuery } }, async (req) => {
    const limit = req.query.max_results ?? 100;
    if (limit < 1 || limit > MAX_LIST) throw invalid(`max_results must be between 1 and ${MAX_LIST}, got ${limit}`);
    const page = await sweeps.list(req.caller!, req.query.experiment_id ?? null, decodePageToken(req.query.page_token), limit);
    return withToken({ sweeps: page.items.map(sweepJson) }, page.nextOffset);
  });
  r.get(`${base}/:sweep_id`, { schema: byId }, async (req) => ({ sweep: sweepJson(await sweeps.get(req.caller!, req.params.sweep_id)) }));
  r.get(`${base}/:sweep_id/trials`, { schema: byId }, async (req) => ({ trials: (await sweeps.trials(req.caller!, req.params.sweep_id)).map(trialJson) }));
  r.get(`${base}/:sweep_id/importance`, { schema: byId }, async (req) => {
    const out = await trials.importance(req.caller!, req.params.sweep_id);
    return { importance: out.importance, method: 'rank correlation ratio (epsilon squared)', trials: out.trials };
  });
  for (const action of ['pause', 'resume', 'stop'] as const) {
    r.post(`${base}/:sweep_id/${action}`, { schema: byId }, async (req) => ({ sweep: sweepJson(await sweeps[action](req.caller!, req.params.sweep_id)) }));
  }
  r.post(`${base}/:sweep_id/next`, { schema: { params: sweepIdParams, body: nextBody.optional() } }, async (req) => {
    const body = req.body;
    const out = await sweeps.next(req.caller!, req.params.sweep_id, { worker: body?.worker ?? '', requestId: body?.request_id, user: body?.user || undefined });
    return {
      sweep: sweepJson(out.sweep),
      trial: 'trial' in out ? trialJson(out.trial) : undefined,
      retry_after_ms: 'retryAfterMs' in out ? out.retryAfterMs : undefined,
    };
  });
  r.post(`${base}/:sweep_id/heartbeat`, { schema: { params: sweepIdParams, body: trialBody } }, async (req) => {
    const out = await trials.heartbeat(req.caller!, req.params.sweep_id, req.body.run_id);
    return { trial: trialJson(out.trial), sweep_status: out.sweepStatus };
  });
  r.post(`${base}/:sweep_id/should-stop`, { schema: { params: sweepIdParams, body: trialBody } }, async (req) => {
    const a = await trials.shouldStop(req.caller!, req.params.sweep_id, req.body.run_id);
    return { should_stop: a.shouldStop, trial_status: a.trialStatus, reason: a.reason, step: a.step ?? undefined };
  });
}
