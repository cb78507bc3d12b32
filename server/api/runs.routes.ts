import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RUN_ID, type RunService } from '../tracking/runs.service.js';
import { lookupAnswer, type AnswerCache } from './answer-cache.js';
import { LIMITS } from '../tracking/validation.js';
import { checkMaxResults, LABLOG_PREFIX, MLFLOW_PREFIXES, runIdOf, SEARCH_MAX_RESULTS } from './prefixes.js';
import { double, EX, experimentId, int64, keyValues, nonNegInt64, requiredString, runRef, runStatus, viewType, withExamples } from './schemas.js';
import { decodePageToken, runInfoJson, runJson, withToken } from './wire.js';
import { logBatchBody, logBatchValidator } from './log-batch.schema.js';

// Each body lists its fields in the order of MLflow's handler schema dict: the first failing field is
// the one MLflow reports (see server/http/validation-messages.ts).
const createRunFields = {
  experiment_id: experimentId.default('0'),
  start_time: int64.optional(),
  run_name: z.string().optional(),
  user_id: z.string().optional(),
  tags: keyValues,
};
export const createRunBody = withExamples(
  z.object(createRunFields),
  { experiment_id: EX.experiment, run_name: 'bright-owl-7', start_time: 1700000000000, tags: [{ key: 'mlflow.user', value: 'ada' }] },
);
/** lablog's runs/create: MLflow's fields plus the run's id, made by the client (32 lowercase hex digits). */
export const createRunWithIdBody = withExamples(
  z.object({ run_id: requiredString.regex(RUN_ID), ...createRunFields }),
  { run_id: EX.run, experiment_id: EX.experiment, run_name: 'offline-owl-3', start_time: 1700000000000, tags: [{ key: 'mlflow.user', value: 'ada' }] },
);
const runQuery = withExamples(z.object(runRef), { run_id: EX.run });
const runBody = withExamples(z.object(runRef), { run_id: EX.run });
const updateBody = withExamples(
  z.object({ ...runRef, end_time: int64.optional(), status: runStatus.optional(), run_name: z.string().optional() }),
  { run_id: EX.run, status: 'FINISHED', end_time: 1700000360000 },
);
const logMetricBody = withExamples(
  z.object({ ...runRef, key: requiredString, value: double, timestamp: nonNegInt64, step: int64.default(0) }),
  { run_id: EX.run, key: 'val_loss', value: 0.42, timestamp: 1700000060000, step: 3 },
);
const logParamBody = withExamples(
  z.object({ ...runRef, key: requiredString, value: z.string().default('') }),
  { run_id: EX.run, key: 'lr', value: '0.001' },
);
const setTagBody = withExamples(
  z.object({ ...runRef, key: requiredString, value: z.string().default('') }),
  { run_id: EX.run, key: 'stage', value: 'tuning' },
);
const logModelBody = withExamples(
  z.object({ ...runRef, model_json: requiredString }),
  { run_id: EX.run, model_json: JSON.stringify({ artifact_path: 'model', flavors: { python_function: {} }, utc_time_created: '2024-01-01 00:00:00.000000', run_id: EX.run }) },
);
const deleteTagBody = withExamples(z.object({ ...runRef, key: requiredString }), { run_id: EX.run, key: 'stage' });
const dataset = z.object({
  name: z.string().max(500),
  digest: z.string().max(36),
  source_type: z.string(),
  source: z.string().max(65535),
  schema: z.string().max(1048575).optional(),
  profile: z.string().max(16777215).optional(),
});
const logInputsBody = withExamples(z.object({
  ...runRef,
  datasets: z.array(z.object({ tags: keyValues, dataset })),
}),
  { run_id: EX.run, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'mnist', digest: 'a1b2c3d4', source_type: 'local', source: '{"uri": "/data/mnist"}' } }] },
);
export const searchRunsBody = withExamples(z.object({
  experiment_ids: z.array(experimentId).default([]),
  filter: z.string().optional(),
  // The handler's own bound (_assert_less_than_or_equal), worded as a schema failure; the store checks >= 1.
  max_results: int64.refine((n) => n <= SEARCH_MAX_RESULTS).optional(),
  order_by: z.array(z.string()).default([]),
  run_view_type: viewType,
  page_token: z.string().optional(),
}),
  { experiment_ids: [EX.experiment], filter: "metrics.val_loss < 0.5 and params.lr = '0.001'", max_results: 100, order_by: ['metrics.val_loss ASC'] },
);

/** What Fastify names a JSON answer it serialized itself, so a kept answer looks the same. */
const JSON_TYPE = 'application/json; charset=utf-8';

export async function runRoutes(app: FastifyInstance, opts: { runs: RunService; answers?: AnswerCache | null }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const svc = opts.runs;
  const done = async (work: Promise<unknown>) => {
    await work;
    return {};
  };

  const createRun = (b: z.output<typeof createRunBody>) => ({
    experimentId: b.experiment_id,
    userId: b.user_id,
    runName: b.run_name,
    startTime: b.start_time,
    tags: b.tags,
  });

  // Idempotent: the same id in the same experiment answers the run as it is, with Idempotent-Replayed.
  r.post(`${LABLOG_PREFIX}/runs/create`, { schema: { body: createRunWithIdBody } }, async (req, reply) => {
    const { run, created } = await svc.createWithId(req.caller!, req.body.run_id, createRun(req.body));
    if (!created) reply.header('Idempotent-Replayed', 'true');
    return { run: runJson(run) };
  });

  for (const p of MLFLOW_PREFIXES) {
    r.post(`${p}/runs/create`, { schema: { body: createRunBody } }, async (req) => ({ run: runJson(await svc.create(req.caller!, createRun(req.body))) }));
    r.get(`${p}/runs/get`, { schema: { querystring: runQuery } }, async (req) => ({ run: runJson(await svc.get(req.caller!, runIdOf(req.query))) }));
    r.post(`${p}/runs/update`, { schema: { body: updateBody } }, async (req) => ({
      run_info: runInfoJson(
        await svc.update(req.caller!, runIdOf(req.body), { status: req.body.status, endTime: req.body.end_time, runName: req.body.run_name }),
      ),
    }));
    r.post(`${p}/runs/delete`, { schema: { body: runBody } }, (req) => done(svc.delete(req.caller!, runIdOf(req.body))));
    r.post(`${p}/runs/restore`, { schema: { body: runBody } }, (req) => done(svc.restore(req.caller!, runIdOf(req.body))));
    r.post(`${p}/runs/log-metric`, { schema: { body: logMetricBody } }, async (req) => {
      const { key, value, timestamp, step } = req.body;
      await svc.logBatch(req.caller!, runIdOf(req.body), { metrics: [{ key, value, timestamp, step }], params: [], tags: [] });
      return {};
    });
    r.post(`${p}/runs/log-parameter`, { schema: { body: logParamBody } }, async (req) => {
      await svc.logBatch(req.caller!, runIdOf(req.body), { metrics: [], params: [{ key: req.body.key, value: req.body.value }], tags: [] });
      return {};
    });
    r.post(`${p}/runs/set-tag`, { schema: { body: setTagBody } }, async (req) => {
      await svc.logBatch(req.caller!, runIdOf(req.body), { metrics: [], params: [], tags: [{ key: req.body.key, value: req.body.value }] });
      return {};
    });
    r.post(`${p}/runs/delete-tag`, { schema: { body: deleteTagBody } }, (req) => done(svc.deleteTag(req.caller!, runIdOf(req.body), req.body.key)));
    // lablog extension: an Idempotency-Key header makes retries safe (a repeat is answered, not written).
    r.post(`${p}/runs/log-batch`, { schema: { body: logBatchBody }, validatorCompiler: logBatchValidator, bodyLimit: LIMITS.batchBytes }, async (req, reply) => {
      const key = req.headers['idempotency-key'];
      const { replayed } = await svc.logBatch(
        req.caller!,
        runIdOf(req.body),
        { metrics: req.body.metrics, params: req.body.params, tags: req.body.tags },
        Array.isArray(key) ? key[0] : key,
      );
      if (replayed) reply.header('Idempotent-Replayed', 'true');
      return {};
    });
    r.post(`${p}/runs/log-model`, { schema: { body: logModelBody } }, (req) =>
      done(svc.logModel(req.caller!, runIdOf(req.body), req.body.model_json)),
    );
    r.post(`${p}/runs/log-inputs`, { schema: { body: logInputsBody } }, async (req) => {
      await svc.logInputs(
        req.caller!,
        runIdOf(req.body),
        req.body.datasets.map((d) => ({
          tags: d.tags,
          dataset: {
            name: d.dataset.name,
            digest: d.dataset.digest,
            sourceType: d.dataset.source_type,
            source: d.dataset.source,
            schema: d.dataset.schema,
            profile: d.dataset.profile,
          },
        })),
      );
      return {};
    });
    r.post(`${p}/runs/search`, { schema: { body: searchRunsBody } }, async (req, reply) => {
      const { hit, keep } = lookupAnswer(opts.answers, 'search', req.caller!, req.body);
      if (hit !== undefined) return reply.type(JSON_TYPE).send(hit);
      const page = await svc.search(req.caller!, {
        experimentIds: req.body.experiment_ids,
        filter: req.body.filter,
        orderBy: req.body.order_by,
        viewType: req.body.run_view_type,
        offset: decodePageToken(req.body.page_token),
        limit: checkMaxResults(req.body.max_results),
      });
      const answer = withToken({ runs: page.items.map(runJson) }, page.nextOffset);
      if (keep === null) return answer;
      const bytes = Buffer.from(JSON.stringify(answer));
      keep(bytes);
      return reply.type(JSON_TYPE).send(bytes);
    });
  }
}
